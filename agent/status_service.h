// What the agent tells monitors: the state the algorithm thread publishes (PublicState), the Status
// service that serves it, and the neighbour counters and modelled energy that Status and the result
// share.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/counters.h"
#include "agent/log.h"
#include "agent/peer_transport.h"
#include "agent/tls.h"
#include "common/accounting/energy.h"
#include "common/network/topology.h"
#include "dadmm/proto/dadmm.grpc.pb.h"

namespace dadmm::agent {

namespace pb = ::dadmm::v1;
using Clock = std::chrono::steady_clock;

struct NeighbourLiveness {
  bool connected = false;                    // both streams of the edge up
  Clock::time_point changed = Clock::now();  // when `connected` last changed
  std::uint64_t last_label = 0;
  std::optional<Clock::time_point> last_heard;
};

struct PublicState {
  std::mutex mu;
  // Fixed at start.
  Clock::time_point started = Clock::now();
  std::string problem, algorithm;
  std::uint64_t max_iterations = 0;
  double tolerance = 0.0;
  // Updated by the algorithm thread.
  pb::AgentState state = pb::AGENT_STATE_CONNECTING;
  std::uint64_t iteration = 0;
  std::string waiting_for;
  std::uint32_t colour = 0;
  std::map<NodeId, std::uint32_t> neighbour_colours;
  std::map<NodeId, NeighbourLiveness> liveness;
  double change = 0.0;
  double disagreement = 0.0;
  double primal_residual = 0.0, dual_residual = 0.0, rho = 0.0;
  std::map<NodeId, double> edge_rho;  // per-edge penalties (--vary_rho_rule=edge), by neighbour
  std::string stop_rule;
  std::uint64_t computation_iterations = 0;
  std::uint64_t local_solves = 0, local_solves_capped = 0;
  std::uint64_t incarnation = 0;  // restarts from the checkpoint
  double objective = 0.0;
  std::uint64_t dimension = 0;
  double x_norm = 0.0;
  std::vector<double> x_head;
  std::string error;
};

// The per-neighbour counters of `c` for `neighbours`, with their colours where known.
void FillNeighbourCounters(const CountersSnapshot& c, const std::map<NodeId, std::uint32_t>& colours,
                           google::protobuf::RepeatedPtrField<pb::NeighbourCounters>* out,
                           const std::vector<NodeId>& neighbours);

// Adds the modelled radio energy to `neighbours` (filled by FillNeighbourCounters) and returns the totals.
pb::Energy FillEnergy(const CountersSnapshot& c, const Topology& topology, NodeId self, const RadioModel& radio,
                      google::protobuf::RepeatedPtrField<pb::NeighbourCounters>* neighbours);

// What Status and the metrics (agent/metrics.h) show, read from the state the algorithm thread
// publishes and the counters, under their locks: Fill may be called from any thread.
class StatusSource {
 public:
  StatusSource(const Topology& topology, NodeId self, const RadioModel& radio, PublicState* state,
               SharedCounters* counters);
  void Fill(pb::StatusReply* reply) const;
  const Topology& topology() const { return topology_; }

 private:
  const Topology& topology_;
  const NodeId self_;
  const RadioModel radio_;
  const std::vector<NodeId> neighbours_;
  PublicState* const state_;
  SharedCounters* const counters_;
};

// The Status service, on gRPC's asynchronous API and on the peer transport's completion queue: its
// calls are served by the agent's own thread between messages. (On gRPC's synchronous server, a
// flood of calls started a thread per call; on a queue and thread of its own, the second thread
// polling the connections slowed every run by a third, flood or not: bench/README.md.) Each call
// costs the agent one Fill and one reply; beyond the pacing, a refusal costs less.
// Lifetime: AddTo before the server is built; Start after it started (the transport's queue then
// exists); Stop before the transport shuts the server and the queue down; the queue's drain
// (PeerTransport::Shutdown) completes what is in flight, and the destructor deletes what is left.
class StatusService {
 public:
  // With `tls`, a caller must present a certificate of the network (a node's or a monitor's).
  // Calls are paced: beyond kCallsPerSecond (with a burst of as many), and beyond kMaxWatches
  // concurrent watches, a call is refused with RESOURCE_EXHAUSTED at once. Refusals other than
  // pacing are counted as rejected and logged once per caller host and kind.
  static constexpr double kCallsPerSecond = 50.0;
  static constexpr int kMaxWatches = 16;
  StatusService(const Topology& topology, NodeId self, const RadioModel& radio, PublicState* state,
                SharedCounters* counters, std::shared_ptr<Tls> tls = nullptr, const Logger* log = nullptr);
  ~StatusService();
  StatusService(const StatusService&) = delete;
  StatusService& operator=(const StatusService&) = delete;

  void AddTo(grpc::ServerBuilder& builder);
  // Serves calls on `transport`'s queue, from now on.
  void Start(PeerTransport* transport);
  // The agent's state became final (done or failed): watches send it now rather than at their next
  // interval.
  void StateIsFinal();
  // No new calls; watches end (their last state goes out while the queue runs).
  void Stop();
  // Calls that have begun and not ended.
  int open_calls() const { return open_; }

 private:
  class Call;
  class UnaryCall;
  class WatchCall;

  // OK, or why the call is refused.
  grpc::Status Admit(grpc::ServerContext& context);
  grpc::Status Refuse(grpc::ServerContext& context, grpc::StatusCode code, const std::string& kind,
                      const std::string& why);
  bool Final();  // the agent is done or failed: watches end
  void Forget(Call* call);

  const StatusSource source_;
  const NodeId self_;
  PublicState* const state_;
  SharedCounters* const counters_;
  const std::shared_ptr<Tls> tls_;
  const Logger* const log_;

  pb::Status::AsyncService service_;
  PeerTransport* transport_ = nullptr;
  grpc::ServerCompletionQueue* cq_ = nullptr;  // the transport's
  // Everything below is used by the agent's thread only.
  bool stopping_ = false;  // no new operations but those that end a call
  std::set<Call*> calls_;
  double tokens_ = kCallsPerSecond;
  Clock::time_point refilled_ = Clock::now();
  int watches_ = 0;
  int open_ = 0;
  std::map<std::pair<std::string, std::string>, std::uint64_t> refusals_;  // by caller host and kind
};

}  // namespace dadmm::agent
