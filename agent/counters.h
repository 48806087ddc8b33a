// The agent's counters, shared between the algorithm thread and the link threads. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>

#include "common/accounting/counters.h"
#include "dadmm/proto/dadmm.pb.h"

namespace dadmm::agent {

struct WireBytes {
  std::uint64_t sent = 0;  // serialized PeerMessage bytes, all kinds
  std::uint64_t received = 0;
  std::uint64_t bootstrap_sent = 0;  // of which hello, colouring messages
  std::uint64_t bootstrap_received = 0;
};

// Delivery across broken streams, per neighbour (agent/peer_transport.h).
struct DeliveryCounters {
  std::uint64_t resent = 0;  // messages sent again on a reopened stream
  std::uint64_t resent_bytes = 0;
  std::uint64_t duplicates = 0;  // messages received a second time and dropped
  std::uint64_t reconnects = 0;  // streams reopened after breaking
};

struct CountersSnapshot {
  NodeCounters algorithm;  // estimates and their payload (8 bytes per entry)
  // Hello and colour announcements (messages and content bytes), and the stop bits piggybacked on
  // estimates (bytes only: they add no message).
  NodeCounters bootstrap;
  std::map<NodeId, WireBytes> message_bytes;
  std::uint64_t rejected = 0;  // peer messages that failed validation
  std::map<NodeId, DeliveryCounters> delivery;
  // Estimates this agent broadcast (one per step; each went to every neighbour) and their serialized
  // bits (one copy each): what a wireless broadcast medium would transmit.
  std::uint64_t broadcasts = 0;
  std::uint64_t broadcast_bits = 0;
};

// What one peer message costs, by kind.
struct MessageCost {
  std::uint64_t algorithm_messages = 0;
  std::uint64_t payload_bytes = 0;
  std::uint64_t bootstrap_messages = 0;
  std::uint64_t bootstrap_bytes = 0;
};
MessageCost CostOf(const dadmm::v1::PeerMessage& message);

class SharedCounters {
 public:
  void RecordSent(NodeId to, const MessageCost& cost, std::uint64_t message_bytes) {
    Record(/*sent=*/true, to, cost, message_bytes);
  }
  void RecordBroadcast(std::uint64_t message_bytes) {
    std::lock_guard lock(mu_);
    ++c_.broadcasts;
    c_.broadcast_bits += 8 * message_bytes;
  }
  void RecordReceived(NodeId from, const MessageCost& cost, std::uint64_t message_bytes) {
    Record(/*sent=*/false, from, cost, message_bytes);
  }
  void RecordResent(NodeId to, std::uint64_t message_bytes) {
    std::lock_guard lock(mu_);
    DeliveryCounters& d = c_.delivery[to];
    ++d.resent;
    d.resent_bytes += message_bytes;
  }
  void RecordDuplicate(NodeId from) {
    std::lock_guard lock(mu_);
    ++c_.delivery[from].duplicates;
  }
  void RecordReconnect(NodeId to) {
    std::lock_guard lock(mu_);
    ++c_.delivery[to].reconnects;
  }
  void RecordRejected() {
    std::lock_guard lock(mu_);
    ++c_.rejected;
  }
  CountersSnapshot Snapshot() const {
    std::lock_guard lock(mu_);
    return c_;
  }

 private:
  // One message to (`sent`) or from neighbour j: the algorithm's or the bootstrap's, and its bytes.
  void Record(bool sent, NodeId j, const MessageCost& cost, std::uint64_t message_bytes) {
    std::lock_guard lock(mu_);
    auto add = [&](NodeCounters& c, std::uint64_t messages, std::uint64_t bytes) {
      sent ? c.AddSent(j, messages, bytes) : c.AddReceived(j, messages, bytes);
    };
    add(c_.algorithm, cost.algorithm_messages, cost.payload_bytes);
    if (cost.bootstrap_messages + cost.bootstrap_bytes > 0) {
      add(c_.bootstrap, cost.bootstrap_messages, cost.bootstrap_bytes);
    }
    WireBytes& w = c_.message_bytes[j];
    (sent ? w.sent : w.received) += message_bytes;
    if (cost.algorithm_messages == 0) (sent ? w.bootstrap_sent : w.bootstrap_received) += message_bytes;
  }

  mutable std::mutex mu_;
  CountersSnapshot c_;
};

}  // namespace dadmm::agent
