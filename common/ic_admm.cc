#include "common/ic_admm.h"

#include <algorithm>
#include <cmath>

#include "Eigen/Eigenvalues"
#include "absl/strings/str_cat.h"

namespace dadmm {

absl::Status IcAdmmSettings::Validate() const {
  if (!(c > 0.0) || !std::isfinite(c)) {
    return absl::InvalidArgumentError(absl::StrCat("c (rho) must be a finite number > 0, got ", c));
  }
  if (!(beta > 0.0) || !std::isfinite(beta)) {
    return absl::InvalidArgumentError(absl::StrCat("beta of IC-ADMM must be a finite number > 0, got ", beta));
  }
  if (max_iterations < 1) return absl::InvalidArgumentError("max_iterations must be >= 1");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<IcAdmmNode>> IcAdmmNode::Create(NodeId self, std::vector<NeighbourDegree> neighbours,
                                                               std::unique_ptr<LocalProblem> problem,
                                                               const IcAdmmSettings& settings) {
  if (absl::Status s = settings.Validate(); !s.ok()) return s;
  if (problem == nullptr || problem->dimension() < 1) {
    return absl::InvalidArgumentError("the algorithm needs a problem of dimension >= 1");
  }
  if (dynamic_cast<const CompositeProblem*>(problem.get()) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("IC-ADMM needs a problem with a gradient and a proximity "
                                                   "operator (sparse-lr); ", problem->kind(), " has none"));
  }
  std::sort(neighbours.begin(), neighbours.end(),
            [](const NeighbourDegree& a, const NeighbourDegree& b) { return a.id < b.id; });
  for (std::size_t i = 0; i < neighbours.size(); ++i) {
    if (neighbours[i].id == self || (i > 0 && neighbours[i - 1].id == neighbours[i].id)) {
      return absl::InvalidArgumentError(absl::StrCat("node ", self, ": neighbour ", neighbours[i].id,
                                                     " is itself or listed twice"));
    }
  }
  return std::unique_ptr<IcAdmmNode>(new IcAdmmNode(self, std::move(neighbours), std::move(problem), settings));
}

IcAdmmNode::IcAdmmNode(NodeId self, std::vector<NeighbourDegree> neighbours, std::unique_ptr<LocalProblem> problem,
                       const IcAdmmSettings& settings)
    : SynchronousNode(self, std::move(neighbours), problem->dimension(), /*first_label=*/2, settings.max_iterations),
      problem_(std::move(problem)),
      composite_(dynamic_cast<const CompositeProblem*>(problem_.get())),
      c_(settings.c),
      beta_(settings.beta),
      gamma_(settings.beta + 2.0 * settings.c * static_cast<double>(degree())),
      p_(Vector::Zero(problem_->dimension())),
      sum_(Vector::Zero(problem_->dimension())) {}

void IcAdmmNode::Step(const Vector& sum_neighbours) {
  // (10): s = (beta x - grad h(x) - p + c (D x + sum_j x_j)) / gamma, x <- prox_{g, gamma}(s).
  composite_->SmoothGradient(x_, gradient_);
  const double d = static_cast<double>(degree());
  s_ = ((beta_ + c_ * d) * x_ - gradient_ - p_ + c_ * sum_neighbours) / gamma_;
  composite_->Prox(s_, gamma_, x_);
  ++updates_;
}

void IcAdmmNode::Initialize() {
  // x^(0) = 0 at every node and p^(1) = p^(0) + c sum_j (0 - 0) = 0: x^(1) from (10) needs no message.
  x_.setZero();
  sum_.setZero();
  Step(sum_);
  estimate_step_ = 1;
}

void IcAdmmNode::Update(std::uint64_t label, bool last) {
  // Round `label` = k + 1 is complete: x_ = x_i^(k), next(j) = x_j^(k).
  sum_.setZero();
  for (std::size_t i = 0; i < degree(); ++i) sum_ += neighbours().next(i);
  // Step 4: p^(k+1) = p^(k) + c (D x_i^(k) - sum_j x_j^(k)).
  p_ += c_ * (static_cast<double>(degree()) * x_ - sum_);
  if (last) return;
  Step(sum_);  // step 5
  estimate_step_ = label;
}

double LambdaMinDegreePlusAdjacency(const Topology& topology) {
  const auto P = static_cast<Eigen::Index>(topology.size());
  Eigen::MatrixXd M = Eigen::MatrixXd::Zero(P, P);
  for (const auto& [a, b] : topology.edges()) {
    const auto i = static_cast<Eigen::Index>(topology.IndexOf(a)), j = static_cast<Eigen::Index>(topology.IndexOf(b));
    M(i, j) += 1.0;
    M(j, i) += 1.0;
    M(i, i) += 1.0;
    M(j, j) += 1.0;
  }
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(M, Eigen::EigenvaluesOnly);
  // D + W = sum over edges of (e_i + e_j)(e_i + e_j)' is positive semidefinite: round-off below 0 is 0.
  return std::max(0.0, solver.eigenvalues()[0]);
}

double IcAdmmBetaBound(const std::vector<CompositeProblem::Constants>& nodes, double c, double lambda_min_d_plus_w) {
  double lipschitz = 0.0, convexity = std::numeric_limits<double>::infinity(), gram = 0.0;
  for (const CompositeProblem::Constants& k : nodes) {
    lipschitz = std::max(lipschitz, k.lipschitz_f);
    convexity = std::min(convexity, k.convexity_f);
    gram = std::max(gram, k.gram_norm);
  }
  return lipschitz * lipschitz / convexity * gram - c * lambda_min_d_plus_w;
}

}  // namespace dadmm
