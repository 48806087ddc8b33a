// Exact counts of what a node transmitted and received, per neighbour. Both drivers record every
// copy of every estimate here, so that simulator and agent report the same figures.
#pragma once

#include <cstdint>
#include <map>

#include "common/types.h"

namespace dadmm {

struct LinkCounters {
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_received = 0;
  std::uint64_t payload_bytes_sent = 0;      // 8 bytes per vector entry
  std::uint64_t payload_bytes_received = 0;

  LinkCounters& operator+=(const LinkCounters& o) {
    messages_sent += o.messages_sent;
    messages_received += o.messages_received;
    payload_bytes_sent += o.payload_bytes_sent;
    payload_bytes_received += o.payload_bytes_received;
    return *this;
  }
};

class NodeCounters {
 public:
  void RecordSent(NodeId to, std::uint64_t payload_bytes) {
    LinkCounters& c = per_neighbour_[to];
    ++c.messages_sent;
    c.payload_bytes_sent += payload_bytes;
  }
  void RecordReceived(NodeId from, std::uint64_t payload_bytes) {
    LinkCounters& c = per_neighbour_[from];
    ++c.messages_received;
    c.payload_bytes_received += payload_bytes;
  }
  const std::map<NodeId, LinkCounters>& per_neighbour() const { return per_neighbour_; }
  LinkCounters Total() const {
    LinkCounters t;
    for (const auto& [id, c] : per_neighbour_) t += c;
    return t;
  }

 private:
  std::map<NodeId, LinkCounters> per_neighbour_;
};

}  // namespace dadmm
