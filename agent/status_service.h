// What the agent tells monitors: the state the algorithm thread publishes (PublicState), the Status
// service that serves it, and the neighbour counters and modelled energy that Status and the result
// share.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/counters.h"
#include "agent/log.h"
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
  std::condition_variable changed;  // notified on every state change (for WatchStatus)
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

class StatusService final : public pb::Status::Service {
 public:
  // With `tls`, a caller must present a certificate of the network (a node's or a monitor's).
  // Calls are paced: beyond kCallsPerSecond (with a burst of as many), and beyond kMaxWatches
  // concurrent watches, a call is refused with RESOURCE_EXHAUSTED at once, so that a flood of them
  // costs the algorithm thread as little as possible. Refusals are counted as rejected and logged
  // once per caller host and kind.
  static constexpr double kCallsPerSecond = 50.0;
  static constexpr int kMaxWatches = 16;
  StatusService(const Topology& topology, NodeId self, const RadioModel& radio, PublicState* state,
                SharedCounters* counters, std::shared_ptr<Tls> tls = nullptr, const Logger* log = nullptr)
      : topology_(topology),
        self_(self),
        radio_(radio),
        neighbours_(topology.neighbours(self)),
        state_(state),
        counters_(counters),
        tls_(std::move(tls)),
        log_(log) {}

  grpc::Status GetStatus(grpc::ServerContext* context, const pb::StatusRequest*, pb::StatusReply* reply) override;
  grpc::Status WatchStatus(grpc::ServerContext* context, const pb::WatchRequest* request,
                           grpc::ServerWriter<pb::StatusReply>* writer) override;

 private:
  void Fill(pb::StatusReply* reply);
  // OK, or why the call is refused.
  grpc::Status Admit(grpc::ServerContext* context);
  grpc::Status Refuse(grpc::ServerContext* context, grpc::StatusCode code, const std::string& kind,
                      const std::string& why);

  const Topology& topology_;
  const NodeId self_;
  const RadioModel radio_;
  const std::vector<NodeId> neighbours_;
  PublicState* const state_;
  SharedCounters* const counters_;
  const std::shared_ptr<Tls> tls_;
  const Logger* const log_;

  std::mutex pace_mu_;
  double tokens_ = kCallsPerSecond;
  Clock::time_point refilled_ = Clock::now();
  std::atomic<int> watches_{0};
  std::map<std::pair<std::string, std::string>, std::uint64_t> refusals_;  // by caller host and kind
};

}  // namespace dadmm::agent
