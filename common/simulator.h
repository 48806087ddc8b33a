// The in-process driver: all node programs of a network in one process, messages delivered through
// one FIFO queue per directed edge (as a stream per edge delivers them in the agent). The next message
// delivered is either the oldest in flight (kFifo) or one drawn at random among those in flight
// (kShuffled, seeded; the head of its edge is delivered, so per-edge order holds), to show that
// results do not depend on arrival order.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/counters.h"
#include "common/node_program.h"
#include "common/topology.h"

namespace dadmm {

enum class Delivery { kFifo, kShuffled };

struct SimulatorOptions {
  Delivery delivery = Delivery::kFifo;
  std::uint64_t seed = 1;  // for kShuffled
};

struct SimulatedNode {
  NodeId id = 0;
  Outcome outcome = Outcome::kRunning;
  std::uint64_t steps = 0;
  Vector x;
  NodeCounters counters;
};

struct SimulationResult {
  std::vector<SimulatedNode> nodes;  // sorted by id
  std::uint64_t messages = 0;        // total transmissions (each copy to each neighbour counts)
  std::uint64_t payload_bytes = 0;
};

// Runs `programs` (one per node of `topology`) until every program is done. Fails if a program
// rejects a message (a bug: simulated neighbours are correct) or if the network stalls with programs
// still running (a deadlock).
absl::StatusOr<SimulationResult> Simulate(const Topology& topology,
                                          std::map<NodeId, std::unique_ptr<NodeProgram>>& programs,
                                          const SimulatorOptions& options = {});

// sqrt(sum_p ||x_p - x*||^2) / (sqrt(P) ||x*||): the paper's relative error (seed 000, §V).
double RelativeError(const std::vector<Vector>& estimates, const Vector& x_star);

}  // namespace dadmm
