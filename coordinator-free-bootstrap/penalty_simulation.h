// A network whose penalty varies by a rule (stopping_program.h: the vote of seed 002 (3.13), or
// relative residual balancing), run in one process: the programs the agents run, wrapped in the
// agreed stop with the rule's votes, over the simulator, until a relative error or a maximum of steps.
// For dadmm-sim --vary_rho and dadmm-sweep --experiment=penalty.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "common/network/colouring.h"
#include "common/network/topology.h"
#include "common/problems/instance.h"
#include "common/sim/experiment.h"
#include "coordinator-free-bootstrap/stopping_program.h"

namespace dadmm {

struct PenaltyRunOutcome {
  RunOutcome run;             // run.rho is the starting penalty
  double final_rho = 0.0;     // the penalty at the end (of the nodes that sent the fewest estimates);
                              // per-edge penalties: their geometric mean over the edges
  std::uint32_t changes = 0;  // how many times the votes changed it (per edge: the changes, all edges)
  double rho_min = 0.0;       // per-edge penalties: the least and largest at the end
  double rho_max = 0.0;
};

// `spec.settings.rho` is the start, `rule.rho` must equal it. With PenaltyRule::kEdge the programs
// adapt per-edge penalties (spec.settings.edge.adaptive must be set) and no vote wraps them. Checks that the nodes
// agree: those that sent the same last estimate hold the same penalty (when the tolerance ends the run, nodes of early
// colours may be one estimate ahead, past a change); an internal error otherwise.
absl::StatusOr<PenaltyRunOutcome> RunWithPenaltyRule(const Topology& topology, const Colouring& colouring,
                                                     const ProblemInstance& instance, const RunSpec& spec,
                                                     const StopRule& rule);

}  // namespace dadmm
