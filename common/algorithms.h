// One entry point to build any algorithm's node program for a node of a topology.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/colouring.h"
#include "common/node_program.h"
#include "common/problem.h"
#include "common/topology.h"

namespace dadmm {

enum class Algorithm {
  kDadmm,        // seed 000, Algorithm 2
  kAlgorithm3,   // seed 000, Algorithm 3 (Zhu, Giannakis, Cano [16])
  kSubgradient,  // seed 000, (14)
  kAveraging,    // seed 000, (17) with Olshevsky-Tsitsiklis weights [26]; consensus only
};

std::string AlgorithmName(Algorithm a);  // "d-admm", "algorithm3", "subgradient", "averaging"
absl::StatusOr<Algorithm> ParseAlgorithm(absl::string_view name);
// Whether the algorithm has the parameter rho (for the subgradient method it is the step scale).
bool HasRho(Algorithm a);

struct AlgorithmSettings {
  Algorithm algorithm = Algorithm::kDadmm;
  double rho = 1.0;  // D-ADMM, Algorithm 3: the penalty; subgradient: step scale alpha_0
  std::uint64_t max_iterations = 100;
};

// The program of node `self`. The colouring is used by D-ADMM only; the degrees of the neighbours
// (for the averaging weights) come from the topology.
absl::StatusOr<std::unique_ptr<NodeProgram>> MakeNodeProgram(const Topology& topology, const Colouring& colouring,
                                                             NodeId self, std::unique_ptr<LocalProblem> problem,
                                                             const AlgorithmSettings& settings);

}  // namespace dadmm
