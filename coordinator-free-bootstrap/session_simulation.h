// A network of agents in one process: one NodeSession (node_session.h) per node, the very state
// machine each agent runs, with their hellos, colouring messages and estimates delivered through
// the fake network (common/fake_network.h). What the agents of a topology compute over gRPC, this
// computes bit for bit; tests and `dadmm-ctl report` compare the two.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/base/named_value.h"
#include "common/network/fake_network.h"
#include "common/network/topology.h"
#include "common/problems/problem.h"
#include "common/sim/simulator.h"
#include "coordinator-free-bootstrap/agent_pipeline.h"
#include "coordinator-free-bootstrap/colouring_simulation.h"

namespace dadmm {

// Broken streams and duplicated messages, as the agents' peer transport meets them: every message
// goes through the transport's delivery windows (delivery.h: sequence numbers, piggybacked acks,
// resends from the oldest unacknowledged message, duplicates dropped). Each transmission breaks its
// stream with probability `break_stream` (it and whatever of that stream is still in flight are
// lost; the sender resends what is not acknowledged on a new stream) or is delivered twice with
// probability `duplicate`. Seeded by `seed`; both at most 0.5.
struct LinkFaults {
  double break_stream = 0.0;
  double duplicate = 0.0;
  std::uint64_t seed = 1;
  bool any() const { return break_stream > 0.0 || duplicate > 0.0; }
};

// Crashes, as a node that dies and restarts from its checkpoint (node_session.h) meets them. Before
// a delivery to a node that has a checkpoint (from its Start on: in the bootstrap too), with probability `probability`
// (at most `max_crashes` in all) the node crashes: before it takes the message, after it took it but before its
// checkpoint, or after its checkpoint but before it sent what followed; what it had not sent, and every message that
// reaches it while it is down, are lost. It restarts from its last checkpoint after up to `max_down`
// further deliveries (at once when nothing else is in flight). `problem` makes a node's local problem
// again for the restart. Seeded by `seed`. With LinkFaults as well, a restart breaks the node's
// streams and starts its edges' sequence numbers again, as the transports do (SenderWindow::Rebase).
struct CrashFaults {
  double probability = 0.0;
  // Besides: with this probability a node crashes in the very call in which its program finishes
  // (before the checkpoint of its end, or after it but before its last estimates and end message go),
  // when its neighbours may be done already; at most max_crashes such, besides the others.
  double at_end = 0.0;
  std::uint32_t max_crashes = 3;
  std::uint32_t max_down = 20;
  std::uint64_t seed = 1;
  std::function<std::unique_ptr<LocalProblem>(NodeId)> problem;
  bool any() const { return (probability > 0.0 || at_end > 0.0) && max_crashes > 0; }
};

struct SessionSimulationOptions {
  // kShuffled: each edge keeps its order, as a gRPC stream does; the edges interleave at random.
  Delivery delivery = Delivery::kShuffled;
  std::uint64_t seed = 1;
  // Silences (labels: 0 for the bootstrap messages, the iteration for estimates). The run then
  // stalls, and the error names every node still waiting and for whom.
  Faults faults;
  // The problem's parameters for the hellos (common/node_data.h: ProblemSpec::Parameters); empty:
  // just the kind of node's problem. Every node is given the same, so the handshakes pass.
  std::vector<NamedValue> problem_parameters;
  LinkFaults link_faults;
  CrashFaults crashes;
};

struct SimulatedNetwork {
  ColouringRun colouring;   // what the colouring protocol agreed (independent of timing)
  SimulationResult result;  // what the programs computed: estimates, steps, algorithm messages
  // Estimates that reached a node before its program started (kept by its session, given later).
  std::uint64_t early_estimates = 0;
  // With link faults: streams broken, messages resent on a new stream, and copies dropped as
  // duplicates at the receiver (resends of what had arrived, and the injected duplicates).
  std::uint64_t streams_broken = 0;
  std::uint64_t resent = 0;
  std::uint64_t duplicates_dropped = 0;
  // With crashes: how many, checkpoints written, messages lost with a crashed node, and the copies the
  // sessions dropped as heard already (resends after a restart).
  std::uint64_t crashes = 0;
  std::uint64_t crashes_in_bootstrap = 0;  // of them, before the node's program ran
  std::uint64_t crashes_at_end = 0;        // of them, once the node's program was done
  std::uint64_t checkpoints = 0;
  std::uint64_t lost_to_crashes = 0;
  std::uint64_t session_duplicates = 0;
  // The end: end messages sent (one per directed edge, resends apart), nodes that went away (every
  // node, in a run that ends), and messages that reached a node after it had gone.
  std::uint64_t end_messages = 0;
  std::uint64_t exits = 0;
  std::uint64_t lost_to_exited = 0;
};

absl::StatusOr<SimulatedNetwork> SimulateAgentNetwork(const Topology& topology,
                                                      std::map<NodeId, std::unique_ptr<LocalProblem>> problems,
                                                      const PipelineSettings& settings,
                                                      const SessionSimulationOptions& options = {});

}  // namespace dadmm
