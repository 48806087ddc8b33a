#include "common/programs/algorithms.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/problems/consensus.h"
#include "common/programs/dadmm_node.h"
#include "common/programs/ic_admm.h"
#include "common/programs/sync_nodes.h"

namespace dadmm {

namespace {

struct AlgorithmEntry {
  Algorithm algorithm;
  const char* name;
  const char* what;  // for --help
};

// Every algorithm once: its name on the command line and in results, and what it is.
constexpr AlgorithmEntry kAlgorithms[] = {
    {Algorithm::kDadmm, "d-admm", "seed 000's Algorithm 2"},
    {Algorithm::kAlgorithm3, "algorithm3", "Zhu et al., seed 000's Algorithm 3; also named c-admm"},
    {Algorithm::kSubgradient, "subgradient", "seed 000's (14)"},
    {Algorithm::kAveraging, "averaging", "seed 000's (17); consensus only"},
    {Algorithm::kIcAdmm, "ic-admm", "seed 001's Algorithm 2; problems with a gradient and a prox"},
};

}  // namespace

std::string AlgorithmName(Algorithm a) {
  for (const AlgorithmEntry& entry : kAlgorithms) {
    if (entry.algorithm == a) return entry.name;
  }
  return "";
}

std::string AlgorithmHelp() {
  std::string help;
  for (const AlgorithmEntry& entry : kAlgorithms) {
    absl::StrAppend(&help, help.empty() ? "" : ", ", entry.name, " (", entry.what, ")");
  }
  return help;
}

absl::StatusOr<Algorithm> ParseAlgorithm(absl::string_view name) {
  std::string names;
  for (const AlgorithmEntry& entry : kAlgorithms) {
    if (name == entry.name) return entry.algorithm;
    absl::StrAppend(&names, names.empty() ? "" : ", ", entry.name);
  }
  if (name == "c-admm") return Algorithm::kAlgorithm3;
  return absl::InvalidArgumentError(absl::StrCat("unknown algorithm '", name, "' (expected ", names, " or c-admm)"));
}

std::string DescribeAlgorithm(const AlgorithmSettings& settings) {
  if (settings.algorithm == Algorithm::kIcAdmm) {
    return absl::StrFormat("%s beta=%.17g", AlgorithmName(settings.algorithm), settings.beta);
  }
  return AlgorithmName(settings.algorithm) + settings.edge.Describe();
}

bool HasRho(Algorithm a) { return a != Algorithm::kAveraging; }

absl::StatusOr<NodeView> ViewOf(const Topology& topology, const Colouring& colouring, NodeId self) {
  if (!topology.Contains(self)) return absl::NotFoundError(absl::StrCat("node ", self, " is not in the topology"));
  auto colour_of = [&](NodeId id) -> std::uint32_t {
    auto it = colouring.find(id);
    return it == colouring.end() ? NodeView::kNoColour : it->second;
  };
  NodeView view{.id = self, .colour = colour_of(self)};
  for (NodeId j : topology.neighbours(self)) {
    view.neighbours.push_back({.id = j, .colour = colour_of(j), .degree = topology.degree(j)});
  }
  return view;
}

absl::StatusOr<std::unique_ptr<NodeProgram>> MakeNodeProgram(const Topology& topology, const Colouring& colouring,
                                                             NodeId self, std::unique_ptr<LocalProblem> problem,
                                                             const AlgorithmSettings& settings) {
  absl::StatusOr<NodeView> view = ViewOf(topology, colouring, self);
  if (!view.ok()) return view.status();
  return MakeNodeProgram(*view, std::move(problem), settings);
}

absl::StatusOr<std::unique_ptr<NodeProgram>> MakeNodeProgram(const NodeView& node,
                                                             std::unique_ptr<LocalProblem> problem,
                                                             const AlgorithmSettings& settings) {
  const NodeId self = node.id;
  std::vector<NeighbourDegree> neighbours;
  for (const NodeView::Neighbour& n : node.neighbours) neighbours.push_back({.id = n.id, .degree = n.degree});
  if (settings.edge.adaptive && settings.algorithm != Algorithm::kDadmm) {
    // Algorithm 3 was tried: its Jacobi iterates oscillate, the edges' residual ratios flip from step
    // to step, and the penalties ran to their bound of changes far apart (results/README.md).
    return absl::InvalidArgumentError(
        absl::StrCat("per-edge penalties apply to d-admm, not ", AlgorithmName(settings.algorithm)));
  }
  switch (settings.algorithm) {
    case Algorithm::kDadmm: {
      if (node.colour == NodeView::kNoColour) return absl::NotFoundError(absl::StrCat("node ", self, " has no colour"));
      std::vector<NeighbourColour> coloured;
      for (const NodeView::Neighbour& n : node.neighbours) {
        if (n.colour == NodeView::kNoColour) return absl::NotFoundError(absl::StrCat("node ", n.id, " has no colour"));
        coloured.push_back({.id = n.id, .colour = n.colour});
      }
      return DadmmNode::Create(self, node.colour, std::move(coloured), std::move(problem),
                               {.rho = settings.rho, .max_iterations = settings.max_iterations, .edge = settings.edge});
    }
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
