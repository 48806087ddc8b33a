#include "common/programs/ic_admm.h"

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
  if (absl::Status s = ValidateProblem(problem); !s.ok()) return s;
  if (dynamic_cast<const CompositeProblem*>(problem.get()) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("IC-ADMM needs a problem with a gradient and a proximity "
                     "operator (sparse-lr); ",
                     problem->kind(), " has none"));
  }
  if (absl::Status s = ValidateNeighbours(self, neighbours); !s.ok()) return s;
  return std::unique_ptr<IcAdmmNode>(new IcAdmmNode(self, neighbours, std::move(problem), settings));
}

IcAdmmNode::IcAdmmNode(NodeId self, const std::vector<NeighbourDegree>& neighbours,
                       std::unique_ptr<LocalProblem> problem, const IcAdmmSettings& settings)
    : SynchronousNode(self, neighbours, problem->dimension(), /*first_label=*/2, settings.max_iterations),
      problem_(std::move(problem)),
      composite_(dynamic_cast<const CompositeProblem*>(problem_.get())),
      c_(settings.c),
      beta_(settings.beta),
      p_(Vector::Zero(problem_->dimension())),
      sum_(Vector::Zero(problem_->dimension())) {}

void IcAdmmNode::Step(const Vector& sum_neighbours) {
  // (10): s = (beta x - grad h(x) - p + c (D x + sum_j x_j)) / gamma, x <- prox_{g, gamma}(s).
  composite_->SmoothGradient(x_, gradient_);
  const double d = static_cast<double>(degree());
  const double gamma = beta_ + 2.0 * c_ * d;  // gamma_i of (9)
  s_ = ((beta_ + c_ * d) * x_ - gradient_ - p_ + c_ * sum_neighbours) / gamma;
  composite_->Prox(s_, gamma, x_);
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

CompositeProblem::Constants NetworkConstants(const std::vector<CompositeProblem::Constants>& nodes) {
  CompositeProblem::Constants network{.convexity_f = std::numeric_limits<double>::infinity()};
  for (const CompositeProblem::Constants& k : nodes) {
    network.lipschitz_f = std::max(network.lipschitz_f, k.lipschitz_f);
    network.convexity_f = std::min(network.convexity_f, k.convexity_f);
    network.gram_norm = std::max(network.gram_norm, k.gram_norm);
  }
  return network;
}

double IcAdmmBetaBound(const CompositeProblem::Constants& network, double c, double lambda_min_d_plus_w) {
  return network.lipschitz_f * network.lipschitz_f / network.convexity_f * network.gram_norm - c * lambda_min_d_plus_w;
}

}  // namespace dadmm
