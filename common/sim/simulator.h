// The in-process driver: all node programs of a network in one process, messages delivered through
// the fake network (fake_network.h) in the order a stream per directed edge keeps (as in the agent).
// The next message delivered is either the oldest in flight (kFifo) or the head of an edge drawn at
// random (kShuffled, seeded), to show that results do not depend on arrival order. Nodes and edges
// can go silent from a step (Faults), to show what a stall looks like.
//
// For experiments the simulator can also play the oracle of seed 000, §V: given the solution x*, it
// measures the relative error of all nodes' estimates after every communication step and can stop
// the network at the first step where it is below a tolerance.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "common/accounting/counters.h"
#include "common/network/fake_network.h"
#include "common/network/topology.h"
#include "common/problems/error_measure.h"
#include "common/programs/node_program.h"

namespace dadmm {

struct SimulatorOptions {
  Delivery delivery = Delivery::kFifo;  // kFifo or kShuffled (programs rely on the order of an edge)
  std::uint64_t seed = 1;               // for kShuffled
  // Nodes or edges that go silent from a step (labels are iterations); the run then stalls, and the
  // error names the nodes still running and whom they wait for.
  Faults faults;
  // To measure the error after every step (empty: not measured).
  std::optional<ErrorMeasure> error;
  // With error: stop at the first step whose relative error is <= tolerance (0: never).
  double tolerance = 0.0;
  // Called once every node has completed step k, with all estimates after it (in topology order) and
  // each node's computation iterations (NodeProgram::computation_iterations) at that moment; true stops
  // the run at step k, as a reached tolerance does (seed 001's acc / cserr stop is one).
  std::function<bool(std::uint64_t k, const std::vector<Vector>& x, const std::vector<std::uint64_t>& computation)>
      monitor;
};

struct SimulatedNode {
  NodeId id = 0;
  Outcome outcome = Outcome::kRunning;
  Vector x;  // the estimate after `SimulationResult::steps` steps
  // computation iterations after those steps, with a monitor; else at the end of the run
  std::uint64_t computation_iterations = 0;
  NodeCounters counters;  // everything actually sent and received, to the end of the run
};

struct SimulationResult {
  std::vector<SimulatedNode> nodes;  // sorted by id
  // Communication steps of the run: the programs' maximum, or the step at which the tolerance was
  // reached.
  std::uint64_t steps = 0;
  bool reached_tolerance = false;
  // Some program's estimate stopped being finite (at step `steps`); the run was ended there.
  bool diverged = false;
  // Messages (each copy to each neighbour counts) and their payload bytes within those steps:
  // 2E x steps for the single-looped algorithms.
  std::uint64_t messages = 0;
  std::uint64_t payload_bytes = 0;
  // Control bytes piggybacked on those messages (Broadcast::control), apart from the payload.
  std::uint64_t control_bytes = 0;
  // With an error measure: errors[k - 1] is the error after k steps.
  std::vector<double> errors;
};

// The estimates a run sent, by iteration label: copies and their control bytes. Both simulators
// count with it, so that messages within the run's steps mean the same in both.
struct LabelTally {
  std::map<std::uint64_t, std::uint64_t> messages, control_bytes;

  void Add(std::uint64_t label, std::uint64_t copies, std::uint64_t control_per_copy) {
    messages[label] += copies;
    control_bytes[label] += copies * control_per_copy;
  }
  // Sets result.messages, payload_bytes and control_bytes to those of the labels first ..
  // first + result.steps - 1 (every estimate has the dimension of result.nodes' estimates).
  void CountSteps(std::uint64_t first, SimulationResult& result) const;
};

// Runs `programs` (one per node of `topology`) until every program is done or the tolerance is
// reached. Fails if a program rejects a message (simulated neighbours are correct, so it is a bug) or
// if the network stalls with programs still running (a deadlock).
absl::StatusOr<SimulationResult> Simulate(const Topology& topology,
                                          std::map<NodeId, std::unique_ptr<NodeProgram>>& programs,
                                          const SimulatorOptions& options = {});

}  // namespace dadmm
