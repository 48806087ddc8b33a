// What a finished network computed, against an independent reference: the centralized solution of the
// whole problem, computed here from every node's data file put together (the agents never do this).
// One comparison per problem kind (common/problems/node_data.h: AgentProblemKinds), used by
// `dadmm-ctl report`.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/base/types.h"
#include "common/problems/node_data.h"

namespace dadmm {

struct NetworkOutcome {
  ProblemSpec spec;
  // Per node, in the topology's order: its data file, its final estimate, and (lasso) the block x_p of
  // the primal solution it recovered.
  std::vector<NodeId> nodes;
  std::vector<std::string> data_paths;
  std::vector<Vector> estimates;
  std::vector<std::vector<double>> primal_blocks;
};

// Lines for the report (each ending in '\n'): the reference and how far the estimates are from it.
// Errors name the data file that could not be read or does not fit the others.
absl::StatusOr<std::string> CompareWithReference(const NetworkOutcome& outcome);

// The network's solution as one vector: the primal blocks put together in node order where the
// nodes recovered blocks (lasso, split by columns), else the mean of the nodes' estimates (each is
// an estimate of the same x).
Vector AssembledSolution(const NetworkOutcome& outcome);

// Whether CompareWithReference knows `kind` (every kind agents run; checked by a test).
bool HasReference(const std::string& kind);

}  // namespace dadmm
