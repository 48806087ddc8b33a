// The agent's counters, shared between the algorithm thread and the link threads. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>

#include "common/accounting/counters.h"
#include "common/base/state_codec.h"
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
  // A message written to neighbour `to` for the first time: its bytes, and, for the bootstrap's, its
  // counts. Estimates are counted when the session emits them (RecordEmitted), not here, so that
  // what a checkpoint holds counts each estimate once across a crash and its restart.
  void RecordSent(NodeId to, const MessageCost& cost, std::uint64_t message_bytes) {
    MessageCost bootstrap = cost;
    bootstrap.algorithm_messages = 0;
    bootstrap.payload_bytes = 0;
    Record(/*sent=*/true, to, bootstrap, message_bytes, /*estimate=*/cost.algorithm_messages > 0);
  }
  // One estimate for neighbour `to`, as the session emitted it (before it is queued or checkpointed).
  void RecordEmitted(NodeId to, std::uint64_t payload_bytes) {
    std::lock_guard lock(mu_);
    c_.algorithm.AddSent(to, 1, payload_bytes);
  }
  void RecordBroadcast(std::uint64_t message_bytes) {
    std::lock_guard lock(mu_);
    ++c_.broadcasts;
    c_.broadcast_bits += 8 * message_bytes;
  }
  void RecordReceived(NodeId from, const MessageCost& cost, std::uint64_t message_bytes) {
    Record(/*sent=*/false, from, cost, message_bytes, cost.algorithm_messages > 0);
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
  // The counts as exact bytes, for the checkpoint; Load replaces them (a resumed agent goes on from
  // what its checkpoint counted).
  void Save(StateWriter& w) const;
  void Load(StateReader& r);

 private:
  // One message to (`sent`) or from neighbour j: the algorithm's or the bootstrap's, and its bytes.
  void Record(bool sent, NodeId j, const MessageCost& cost, std::uint64_t message_bytes, bool estimate) {
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
    if (!estimate) (sent ? w.bootstrap_sent : w.bootstrap_received) += message_bytes;
  }

  mutable std::mutex mu_;
  CountersSnapshot c_;
};

namespace counters_state {

inline void SaveNode(StateWriter& w, const NodeCounters& c) {
  w.U64(c.per_neighbour().size());
  for (const auto& [j, l] : c.per_neighbour()) {
    for (std::uint64_t v :
         {std::uint64_t{j}, l.messages_sent, l.messages_received, l.payload_bytes_sent, l.payload_bytes_received}) {
      w.U64(v);
    }
  }
}

inline NodeCounters LoadNode(StateReader& r) {
  NodeCounters c;
  const std::uint64_t n = r.U64();
  for (std::uint64_t k = 0; r.ok() && k < n; ++k) {
    const NodeId j = static_cast<NodeId>(r.U64());
    const std::uint64_t sent = r.U64(), received = r.U64(), payload_sent = r.U64(), payload_received = r.U64();
    c.AddSent(j, sent, payload_sent);
    c.AddReceived(j, received, payload_received);
  }
  return c;
}

}  // namespace counters_state

inline void SharedCounters::Save(StateWriter& w) const {
  const CountersSnapshot c = Snapshot();
  counters_state::SaveNode(w, c.algorithm);
  counters_state::SaveNode(w, c.bootstrap);
  w.U64(c.message_bytes.size());
  for (const auto& [j, b] : c.message_bytes) {
    for (std::uint64_t v : {std::uint64_t{j}, b.sent, b.received, b.bootstrap_sent, b.bootstrap_received}) w.U64(v);
  }
  w.U64(c.rejected);
  w.U64(c.delivery.size());
  for (const auto& [j, d] : c.delivery) {
    for (std::uint64_t v : {std::uint64_t{j}, d.resent, d.resent_bytes, d.duplicates, d.reconnects}) w.U64(v);
  }
  w.U64(c.broadcasts);
  w.U64(c.broadcast_bits);
}

inline void SharedCounters::Load(StateReader& r) {
  CountersSnapshot c;
  c.algorithm = counters_state::LoadNode(r);
  c.bootstrap = counters_state::LoadNode(r);
  const std::uint64_t links = r.U64();
  for (std::uint64_t k = 0; r.ok() && k < links; ++k) {
    WireBytes& b = c.message_bytes[static_cast<NodeId>(r.U64())];
    b.sent = r.U64();
    b.received = r.U64();
    b.bootstrap_sent = r.U64();
    b.bootstrap_received = r.U64();
  }
  c.rejected = r.U64();
  const std::uint64_t delivery = r.U64();
  for (std::uint64_t k = 0; r.ok() && k < delivery; ++k) {
    DeliveryCounters& d = c.delivery[static_cast<NodeId>(r.U64())];
    d.resent = r.U64();
    d.resent_bytes = r.U64();
    d.duplicates = r.U64();
    d.reconnects = r.U64();
  }
  c.broadcasts = r.U64();
  c.broadcast_bits = r.U64();
  if (!r.ok()) return;
  std::lock_guard lock(mu_);
  c_ = std::move(c);
}

}  // namespace dadmm::agent
