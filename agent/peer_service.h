// The Peer service: receives the streams neighbours open to this agent and queues their messages for
// the algorithm thread. Checks only who sends (a neighbour, the same one for a whole stream); the
// session (coordinator-free-bootstrap/node_session.h) checks the contents.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
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
  PeerService(const Topology& topology, NodeId self, Inbox<Incoming>* inbox, SharedCounters* counters,
              const Logger* log)
      : self_(self), inbox_(inbox), counters_(counters), log_(log) {
    for (NodeId j : topology.neighbours(self)) neighbours_.insert(j);
  }

  grpc::Status Exchange(grpc::ServerContext* context, grpc::ServerReader<pb::PeerMessage>* reader,
                        pb::ExchangeSummary* summary) override;

  // Waits until no neighbour has a stream open, or `timeout`. True if none has.
  bool WaitAllClosed(std::chrono::milliseconds timeout);

 private:
  const NodeId self_;
  std::set<NodeId> neighbours_;
  Inbox<Incoming>* const inbox_;
  SharedCounters* const counters_;
  const Logger* const log_;
  std::mutex mu_;
  std::condition_variable cv_;
  int active_ = 0;
};

}  // namespace dadmm::agent
