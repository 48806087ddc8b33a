#include "common/programs/algorithms.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/problems/consensus.h"
#include "common/programs/dadmm_node.h"
#include "common/programs/ic_admm.h"
#include "common/programs/sync_nodes.h"

namespace dadmm {

std::string AlgorithmName(Algorithm a) {
  switch (a) {
    case Algorithm::kDadmm:
      return "d-admm";
    case Algorithm::kAlgorithm3:
      return "algorithm3";
    case Algorithm::kSubgradient:
      return "subgradient";
    case Algorithm::kAveraging:
      return "averaging";
    case Algorithm::kIcAdmm:
      return "ic-admm";
  }
  return "";
}

absl::StatusOr<Algorithm> ParseAlgorithm(absl::string_view name) {
  for (Algorithm a : {Algorithm::kDadmm, Algorithm::kAlgorithm3, Algorithm::kSubgradient, Algorithm::kAveraging,
                      Algorithm::kIcAdmm}) {
    if (name == AlgorithmName(a)) return a;
  }
  if (name == "c-admm") return Algorithm::kAlgorithm3;
  return absl::InvalidArgumentError(absl::StrCat("unknown algorithm '", name,
                                                 "' (expected d-admm, algorithm3 (= c-admm), subgradient, averaging or "
                                                 "ic-admm)"));
}

std::string DescribeAlgorithm(const AlgorithmSettings& settings) {
  if (settings.algorithm == Algorithm::kIcAdmm) {
    return absl::StrFormat("%s beta=%.17g", AlgorithmName(settings.algorithm), settings.beta);
  }
  return AlgorithmName(settings.algorithm);
}

bool HasRho(Algorithm a) { return a != Algorithm::kAveraging; }

absl::StatusOr<std::unique_ptr<NodeProgram>> MakeNodeProgram(const Topology& topology, const Colouring& colouring,
                                                             NodeId self, std::unique_ptr<LocalProblem> problem,
                                                             const AlgorithmSettings& settings) {
  if (!topology.Contains(self)) return absl::NotFoundError(absl::StrCat("node ", self, " is not in the topology"));
  std::vector<NeighbourDegree> neighbours;
  for (NodeId j : topology.neighbours(self)) neighbours.push_back({.id = j, .degree = topology.degree(j)});
  switch (settings.algorithm) {
    case Algorithm::kDadmm:
      return MakeDadmmNode(topology, colouring, self, std::move(problem),
                           {.rho = settings.rho, .max_iterations = settings.max_iterations});
    case Algorithm::kAlgorithm3:
      return Algorithm3Node::Create(self, std::move(neighbours), std::move(problem),
                                    {.rho = settings.rho, .max_iterations = settings.max_iterations});
    case Algorithm::kSubgradient:
      return SubgradientNode::Create(self, std::move(neighbours), std::move(problem),
                                     {.step = settings.rho, .max_iterations = settings.max_iterations});
    case Algorithm::kAveraging: {
      const auto* consensus = dynamic_cast<const ConsensusProblem*>(problem.get());
      if (consensus == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("averaging solves the consensus problem only, not ", problem->kind()));
      }
      return AveragingNode::Create(self, std::move(neighbours), consensus->theta(), settings.max_iterations);
    }
    case Algorithm::kIcAdmm:
      return IcAdmmNode::Create(self, std::move(neighbours), std::move(problem),
                                {.c = settings.rho, .beta = settings.beta, .max_iterations = settings.max_iterations});
  }
  return absl::InvalidArgumentError("unknown algorithm");
}

}  // namespace dadmm
