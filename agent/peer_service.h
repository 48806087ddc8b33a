// The Peer service: receives the streams neighbours open to this agent and queues their messages for
// the algorithm thread. Checks only who sends (a neighbour, the same one for a whole stream); the
// session (coordinator-free-bootstrap/node_session.h) checks the contents.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "agent/counters.h"
#include "agent/inbox.h"
#include "agent/log.h"
#include "common/network/topology.h"
#include "dadmm/proto/dadmm.grpc.pb.h"

namespace dadmm::agent {

namespace pb = ::dadmm::v1;

struct Incoming {
  NodeId sender = 0;
  pb::PeerMessage message;
  std::uint64_t message_bytes = 0;
  std::string peer;  // transport address, for logs
};

class PeerService final : public pb::Peer::Service {
 public:
  using Clock = std::chrono::steady_clock;
  // `acknowledged(j, sequence)`: neighbour j has every message this agent sent it up to `sequence`
  // (the ack j piggybacked), for the link to j.
  PeerService(const Topology& topology, NodeId self, Inbox<Incoming>* inbox, SharedCounters* counters,
              const Logger* log, std::function<void(NodeId, std::uint64_t)> acknowledged)
      : self_(self), inbox_(inbox), counters_(counters), log_(log), acknowledged_(std::move(acknowledged)) {
    for (NodeId j : topology.neighbours(self)) inbound_[j];
  }

  grpc::Status Exchange(grpc::ServerContext* context, grpc::ServerReader<pb::PeerMessage>* reader,
                        pb::ExchangeSummary* summary) override;

  // Waits until no neighbour has a stream open, or `timeout`. True if none has.
  bool WaitAllClosed(std::chrono::milliseconds timeout);

  // The highest sequence number received in order from neighbour j (what this agent acknowledges).
  std::uint64_t Delivered(NodeId j) const;
  // Whether neighbour j's stream to this agent is open, and since when that holds.
  struct Liveness {
    bool open = false;
    Clock::time_point changed;
  };
  Liveness InboundLiveness(NodeId j) const;

 private:
  struct Inbound {
    std::uint64_t delivered = 0;  // sequence numbers 1..delivered passed on, exactly once each
    bool open = false;            // a stream from the neighbour is live
    Clock::time_point changed = Clock::now();
  };
  // Checks one message of the stream that `stream_sender` opened (nothing yet: the first); returns
  // why it is refused, or "" to pass it on, or "duplicate".
  std::string Admit(const pb::PeerMessage& message, std::optional<NodeId>& stream_sender, bool& refused_stream);

  const NodeId self_;
  Inbox<Incoming>* const inbox_;
  SharedCounters* const counters_;
  const Logger* const log_;
  const std::function<void(NodeId, std::uint64_t)> acknowledged_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<NodeId, Inbound> inbound_;  // one per neighbour, fixed at construction
  int active_ = 0;
};

}  // namespace dadmm::agent
