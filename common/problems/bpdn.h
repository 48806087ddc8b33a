// Basis pursuit denoising, row partition (seed 000, (21), (25)-(26)):
//   minimize ||A x - b||^2 + beta ||x||_1,   A = [A_1; ...; A_P], b = [b_1; ...; b_P],
// node p holding the rows (A_p, b_p), so f_p(x) = ||A_p x - b_p||^2 + (beta / P) ||x||_1.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/network/topology.h"
#include "common/problems/instance.h"
#include "common/problems/problem.h"

namespace dadmm {

// A breakpoint of the exact line search in BpdnProblem::Solve.
struct LineSearchEvent {
  double t;
  Eigen::Index i;
  signed char after;
};

// Node p's f_p. The local problem (26),
//   argmin_x ||A_p x - b_p||^2 + lambda ||x||_1 + v'x + (c/2) ||x||^2,   lambda = beta / P,
// is solved through its dual, a concave piecewise-quadratic problem in mu in R^{m_p}:
//   max_mu -||mu||^2 / 4 - mu'b_p - ||S_lambda(v + A_p' mu)||^2 / (2c),
// with x = -S_lambda(v + A_p' mu) / c (S the soft threshold), by a semismooth Newton method with a
// backtracking line search, warm-started from the previous mu. With m_p rows (a dozen at 50 nodes)
// each Newton step is a tiny solve, and once the active set is found a full step is exact, so the
// local solution is accurate to rounding (its KKT conditions are tested).
class BpdnProblem final : public LocalProblem {
 public:
  BpdnProblem(Eigen::MatrixXd A, Vector b, double lambda);

  absl::string_view kind() const override { return "bpdn"; }
  Eigen::Index dimension() const override { return A_.cols(); }
  SolveInfo Solve(const Eigen::Ref<const Vector>& v, double c, Vector& x) override;
  double Objective(const Eigen::Ref<const Vector>& x) const override;
  Vector Subgradient(const Eigen::Ref<const Vector>& x) const override;

  // Newton iterations of the last Solve.
  int last_iterations() const { return last_iterations_; }
  void SaveState(StateWriter& w) const override {
    w.Vec(mu_);
    w.Integers(state_);
    w.U64(static_cast<std::uint64_t>(last_iterations_));
  }
  void LoadState(StateReader& r) override {
    mu_ = r.Vec(mu_.size(), "bpdn's dual warm start");
    state_ = r.Integers<signed char>();
    last_iterations_ = static_cast<int>(r.U64());
  }

 private:
  Eigen::MatrixXd A_;
  Vector b_;
  double lambda_;
  Vector mu_;                            // warm start
  std::vector<LineSearchEvent> events_;  // scratch space of the line search
  std::vector<signed char> state_;
  int last_iterations_ = 0;
};

// max_i of the violation of 0 in g + lambda d||x||_1 (componentwise: |g_i + lambda sign(x_i)| where
// x_i != 0, max(|g_i| - lambda, 0) where x_i = 0), for a gradient g of the smooth part.
double L1OptimalityResidual(const Vector& g, const Vector& x, double lambda);

struct BpdnData {
  std::string name;
  Eigen::MatrixXd A;
  Vector b;
  double beta = 1.0;
  Vector x0;  // the sparse signal b was made from
};

// Like Sparco problem 7: A 600 x 2560 with N(0, 1/600) entries, x0 with 20 entries +-1, b = A x0 +
// noise N(0, 0.01^2); beta = 1.
BpdnData MakeGaussianBpdn(std::uint64_t seed, Eigen::Index m = 600, Eigen::Index n = 2560);
// Like Sparco problem 902: 200 random rows of the orthonormal 1000-point DCT-II matrix, x0 with 20
// N(0, 1) entries, b = A x0 + noise N(0, 0.01^2); beta = 0.3.
BpdnData MakeDctBpdn(std::uint64_t seed, Eigen::Index m = 200, Eigen::Index n = 1000);
// Seed 002 §10.1's small dense lasso, (1/2)||Ax - b||^2 + lambda ||x||_1 (the same problem as (21) with
// beta = 2 lambda): A m x n with N(0, 1) entries, columns then normalized to unit norm; x_true with 100
// N(0, 1) entries; b = A x_true + v, v ~ N(0, 1e-3 I); lambda = 0.1 lambda_max, lambda_max = ||A'b||_inf.
BpdnData MakeDenseLasso(std::uint64_t seed, Eigen::Index m = 1500, Eigen::Index n = 5000);

// The centralized solution of (21): FISTA with adaptive restart until the support settles, then the
// reduced problem on the support solved exactly; accepted only when its KKT residual is below
// 1e-9 beta. Fails otherwise.
absl::StatusOr<Vector> SolveBpdnCentralized(const BpdnData& data);
// The same for any A, b, beta, from the start x, given ||A||_2^2.
absl::StatusOr<Vector> SolveL1Penalized(const Eigen::MatrixXd& A, const Vector& b, double beta, Vector x,
                                        double squared_norm);
// ||A||_2^2 by power iteration (LargestGramEigenvalue, common/base/numerics.h).
double SquaredSpectralNorm(const Eigen::MatrixXd& A);

class BpdnInstance final : public ProblemInstance {
 public:
  // Rows split into contiguous blocks, as equal as possible, in node-id order.
  static absl::StatusOr<std::unique_ptr<BpdnInstance>> Create(BpdnData data, const Topology& topology);
  std::string kind() const override { return "bpdn"; }
  Eigen::Index dimension() const override { return data_.A.cols(); }
  std::unique_ptr<LocalProblem> MakeLocal(NodeId id) const override;
  const Vector& solution() const override { return solution_; }
  ErrorMeasure error_measure() const override { return DistanceTo(solution_, rows_.size()); }
  const BpdnData& data() const { return data_; }
  // Node `id`'s rows of [A b].
  absl::StatusOr<Eigen::MatrixXd> LocalData(NodeId id) const override;
  std::string AgentFlags() const override;

 private:
  BpdnData data_;
  std::map<NodeId, std::pair<Eigen::Index, Eigen::Index>> rows_;  // first row, count
  double lambda_ = 0.0;
  Vector solution_;
};

}  // namespace dadmm
