// The agent's counters, shared between the algorithm thread and the link threads. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>

#include "common/counters.h"

namespace dadmm::agent {

struct WireBytes {
  std::uint64_t sent = 0;      // serialized PeerMessage bytes
  std::uint64_t received = 0;
};

struct CountersSnapshot {
  NodeCounters algorithm;
  std::map<NodeId, WireBytes> message_bytes;
  std::uint64_t rejected = 0;  // peer messages that failed validation
};

class SharedCounters {
 public:
  void RecordSent(NodeId to, std::uint64_t payload_bytes, std::uint64_t message_bytes) {
    std::lock_guard lock(mu_);
    c_.algorithm.RecordSent(to, payload_bytes);
    c_.message_bytes[to].sent += message_bytes;
  }
  void RecordReceived(NodeId from, std::uint64_t payload_bytes, std::uint64_t message_bytes) {
    std::lock_guard lock(mu_);
    c_.algorithm.RecordReceived(from, payload_bytes);
    c_.message_bytes[from].received += message_bytes;
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
  mutable std::mutex mu_;
  CountersSnapshot c_;
};

}  // namespace dadmm::agent
