// Exact counts of what a node transmitted and received, per neighbour. Both drivers record every
// copy of every estimate here, so that simulator and agent report the same figures.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "common/base/types.h"

namespace dadmm {

struct LinkCounters {
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_received = 0;
  std::uint64_t payload_bytes_sent = 0;  // 8 bytes per vector entry
  std::uint64_t payload_bytes_received = 0;

  LinkCounters& operator+=(const LinkCounters& o) {
    messages_sent += o.messages_sent;
    messages_received += o.messages_received;
    payload_bytes_sent += o.payload_bytes_sent;
    payload_bytes_received += o.payload_bytes_received;
    return *this;
  }
};

// Counters of one node, one entry per neighbour (neighbours sorted by id).
class NodeCounters {
 public:
  NodeCounters() = default;
  explicit NodeCounters(const std::vector<NodeId>& neighbours) {
    for (NodeId j : neighbours) per_neighbour_.push_back({j, {}});
  }

  void RecordSent(NodeId to, std::uint64_t payload_bytes) {
    LinkCounters& c = At(to);
    ++c.messages_sent;
    c.payload_bytes_sent += payload_bytes;
  }
  void RecordReceived(NodeId from, std::uint64_t payload_bytes) {
    LinkCounters& c = At(from);
    ++c.messages_received;
    c.payload_bytes_received += payload_bytes;
  }
  // Adds counts for neighbour j (the agent's bootstrap counters: a message may carry bytes only).
  void AddSent(NodeId to, std::uint64_t messages, std::uint64_t bytes) {
    LinkCounters& c = At(to);
    c.messages_sent += messages;
    c.payload_bytes_sent += bytes;
  }
  void AddReceived(NodeId from, std::uint64_t messages, std::uint64_t bytes) {
    LinkCounters& c = At(from);
    c.messages_received += messages;
    c.payload_bytes_received += bytes;
  }
  // Adds counts for the k-th neighbour given at construction (the simulator counts per edge).
  void AddSentToIndex(std::size_t k, std::uint64_t messages, std::uint64_t payload_bytes) {
    per_neighbour_[k].second.messages_sent += messages;
    per_neighbour_[k].second.payload_bytes_sent += payload_bytes;
  }
  void AddReceivedFromIndex(std::size_t k, std::uint64_t messages, std::uint64_t payload_bytes) {
    per_neighbour_[k].second.messages_received += messages;
    per_neighbour_[k].second.payload_bytes_received += payload_bytes;
  }
  // (neighbour, counters), sorted by neighbour id.
  const std::vector<std::pair<NodeId, LinkCounters>>& per_neighbour() const { return per_neighbour_; }
  // j's counters (zero if nothing was exchanged with j).
  LinkCounters of(NodeId j) const {
    auto it = std::lower_bound(per_neighbour_.begin(), per_neighbour_.end(), j,
                               [](const auto& e, NodeId id) { return e.first < id; });
    return it == per_neighbour_.end() || it->first != j ? LinkCounters{} : it->second;
  }
  LinkCounters Total() const {
    LinkCounters t;
    for (const auto& [id, c] : per_neighbour_) t += c;
    return t;
  }

 private:
  // Finds j's entry, adding it (in order) if j was not given at construction.
  LinkCounters& At(NodeId j) {
    auto it = std::lower_bound(per_neighbour_.begin(), per_neighbour_.end(), j,
                               [](const auto& e, NodeId id) { return e.first < id; });
    if (it == per_neighbour_.end() || it->first != j) it = per_neighbour_.insert(it, {j, {}});
    return it->second;
  }

  std::vector<std::pair<NodeId, LinkCounters>> per_neighbour_;
};

}  // namespace dadmm
