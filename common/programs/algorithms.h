// One entry point to build any algorithm's node program for a node of a topology.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/network/colouring.h"
#include "common/network/topology.h"
#include "common/problems/problem.h"
#include "common/programs/edge_penalties.h"
#include "common/programs/node_program.h"

namespace dadmm {

enum class Algorithm {
  kDadmm,        // seed 000, Algorithm 2
  kAlgorithm3,   // seed 000, Algorithm 3 (Zhu, Giannakis, Cano [16])
  kSubgradient,  // seed 000, (14)
  kAveraging,    // seed 000, (17) with Olshevsky-Tsitsiklis weights [26]; consensus only
  kIcAdmm,       // seed 001, Algorithm 2 (inexact consensus ADMM)
};

std::string AlgorithmName(Algorithm a);  // "d-admm", "algorithm3", "subgradient", "averaging", "ic-admm"
// Also takes "c-admm": seed 001's Algorithm 1 is seed 000's Algorithm 3 with c = rho (its (6) is step 3's
// minimization written with c sum_j ||x - (x_i + x_j)/2||^2), so it runs as kAlgorithm3.
absl::StatusOr<Algorithm> ParseAlgorithm(absl::string_view name);
// Every algorithm with what it is, for --help: "d-admm (seed 000's Algorithm 2), algorithm3 (...), ...".
std::string AlgorithmHelp();
// Whether the algorithm has the parameter rho (for the subgradient method it is the step scale).
bool HasRho(Algorithm a);

struct AlgorithmSettings {
  Algorithm algorithm = Algorithm::kDadmm;
  double rho = 1.0;  // D-ADMM, Algorithm 3, IC-ADMM: the penalty (c); subgradient: step scale alpha_0
  std::uint64_t max_iterations = 100;
  double beta = 1.2;         // IC-ADMM: the proximal weight beta of seed 001 (8)
  EdgePenaltySettings edge;  // D-ADMM only: per-edge penalties (edge_penalties.h)
};

// The algorithm and the parameters that all nodes must share besides rho, as the handshake compares
// them: "d-admm", "ic-admm beta=1.2", "d-admm edge-rho mu=2 tau=100 every=2 changes=100".
std::string DescribeAlgorithm(const AlgorithmSettings& settings);

// What a node knows that its program needs: itself, its colour, and each neighbour's id, colour and
// degree (the topology file every node holds gives the degrees; the colouring the colours).
struct NodeView {
  static constexpr std::uint32_t kNoColour = std::numeric_limits<std::uint32_t>::max();
  NodeId id = 0;
  std::uint32_t colour = kNoColour;  // the colouring is used by D-ADMM only
  struct Neighbour {
    NodeId id = 0;
    std::uint32_t colour = kNoColour;
    std::size_t degree = 0;
  };
  std::vector<Neighbour> neighbours;  // by id
};

// Node `self`'s view of a whole topology with a colouring (kNoColour where it has none): what the
// simulators hold.
absl::StatusOr<NodeView> ViewOf(const Topology& topology, const Colouring& colouring, NodeId self);

// The program of a node, built from its own view. D-ADMM needs its and its neighbours' colours; the
// averaging weights need the neighbours' degrees.
absl::StatusOr<std::unique_ptr<NodeProgram>> MakeNodeProgram(const NodeView& node,
                                                             std::unique_ptr<LocalProblem> problem,
                                                             const AlgorithmSettings& settings);
// The same for node `self` of a topology (ViewOf, then the above).
absl::StatusOr<std::unique_ptr<NodeProgram>> MakeNodeProgram(const Topology& topology, const Colouring& colouring,
                                                             NodeId self, std::unique_ptr<LocalProblem> problem,
                                                             const AlgorithmSettings& settings);

}  // namespace dadmm
