// LASSO, column partition (seed 000, (20), (22)-(24), Appendix B):
//   minimize ||x||_1  subject to  ||A x - b|| <= sigma,   A = [A_1 ... A_P],
// node p holding the columns A_p (and b, sigma, P). The network solves the dual of the regularized
// problem (22)-(24) over lambda in R^m,
//   minimize sum_p g_p(lambda),
//   g_p(lambda) = (b'lambda + sigma ||lambda||) / P + phi_p(lambda),
//   phi_p(lambda) = -inf_{x_p} ||x_p||_1 + (A_p'lambda)'x_p + (delta/2) ||x_p||^2                  (41)
//                 = sum_i (|r_i| - 1)_+^2 / (2 delta),   r = A_p'lambda,
// so the shared variable of (1) is lambda (n = m), and node p recovers its own block of x from its
// own estimate: x_p(lambda) = -S_1(A_p'lambda) / delta (S the soft threshold; Appendix B).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/network/topology.h"
#include "common/problems/bpdn.h"
#include "common/problems/instance.h"
#include "common/problems/problem.h"

namespace dadmm {

// Node p's g_p. The local problem (40),
//   argmin_lambda phi_p(lambda) + (b/P + v)'lambda + (sigma/P) ||lambda|| + (c/2) ||lambda||^2,
// is strongly convex and piecewise smooth (the norm is smooth away from 0, phi_p is piecewise
// quadratic). Appendix B solves it with FISTA on the epigraph form (42), 500 iterations, which is
// slow when delta is small (its Lipschitz constant is sigma_max(A_p)^2 / delta + 2c). Here: the
// optimality condition at 0 (||b/P + v|| <= sigma/P gives lambda = 0), else a semismooth Newton
// method from the previous lambda with an exact line search (bisection on the derivative along the
// direction, which needs one product with A_p' per step). Its generalized Hessian
//   H = (c + s/|lambda|) I - (s/|lambda|) u u' + A_S A_S' / delta,   s = sigma/P, u = lambda/|lambda|,
// S = {i : |r_i| > 1}, is inverted through the Gram matrix A_p'A_p on S (Woodbury) and a rank-one
// correction, so each step costs O(|S|^3) after O(m |S|) products, however large m.
class LassoDualProblem final : public LocalProblem {
 public:
  LassoDualProblem(Eigen::MatrixXd A_p, const Vector& b, double sigma, double delta, int num_nodes);

  absl::string_view kind() const override { return "lasso"; }
  Eigen::Index dimension() const override { return A_.rows(); }
  SolveInfo Solve(const Eigen::Ref<const Vector>& v, double c, Vector& lambda) override;
  double Objective(const Eigen::Ref<const Vector>& lambda) const override;
  Vector Subgradient(const Eigen::Ref<const Vector>& lambda) const override;

  // x_p(lambda) = -S_1(A_p'lambda) / delta: this node's block of the primal solution.
  Vector RecoverBlock(const Eigen::Ref<const Vector>& lambda) const;
  // The gradient of the objective of (40) at lambda != 0, to test the solver.
  Vector LocalGradient(const Vector& v, double c, const Vector& lambda) const;
  int last_iterations() const { return last_iterations_; }
  void SaveState(StateWriter& w) const override { w.U64(static_cast<std::uint64_t>(last_iterations_)); }
  void LoadState(StateReader& r) override { last_iterations_ = static_cast<int>(r.U64()); }

 private:
  Eigen::MatrixXd A_;
  Eigen::MatrixXd gram_;  // A_p'A_p
  Vector b_over_p_;       // b / P
  double s_;              // sigma / P
  double delta_;
  int last_iterations_ = 0;
};

struct LassoData {
  BpdnData problem;  // A, b and the signal x0, as for BPDN
  double sigma = 0.5;
  double delta = 1e-3;
};

// Like the paper's: the BPDN data with sigma = 0.5 (Gaussian, Sparco 7) or 0.1 (partial DCT, Sparco
// 902), delta = 1e-3.
LassoData MakeGaussianLasso(std::uint64_t seed);
LassoData MakeDctLasso(std::uint64_t seed);

// The centralized solution of (20), independent of the distributed method: bisection on beta of the
// penalized problem (21) (whose solution solves (20) for sigma = its residual) until the support and
// signs are those of (20), then (20) solved in closed form on that support. Accepted only when the
// KKT conditions of (20) hold to 1e-9 (Lasso20KktResidual). Fails otherwise, or if ||b|| <= sigma.
absl::StatusOr<Vector> SolveLassoCentralized(const LassoData& data);

// Largest violation of the optimality conditions of (20) at x: | ||Ax - b|| - sigma | / sigma, and
// with g = A'(Ax - b) and the multiplier nu >= 0 fitted on the support, |nu g_i + sign(x_i)| on the
// support and (nu |g_i| - 1)_+ off it.
double Lasso20KktResidual(const LassoData& data, const Vector& x);

class LassoInstance final : public ProblemInstance {
 public:
  // Columns split into contiguous blocks, as equal as possible, in node-id order.
  static absl::StatusOr<std::unique_ptr<LassoInstance>> Create(LassoData data, const Topology& topology);
  std::string kind() const override { return "lasso"; }
  Eigen::Index dimension() const override { return data_.problem.A.rows(); }
  std::unique_ptr<LocalProblem> MakeLocal(NodeId id) const override;
  // x* of (20) (dimension: the columns of A).
  const Vector& solution() const override { return solution_; }
  // ||[x_1(lambda_1); ...; x_P(lambda_P)] - x*|| / ||x*||: every node's recovered block against x*.
  ErrorMeasure error_measure() const override;
  const LassoData& data() const { return data_; }
  // Node `id`'s columns of A with b as the last column (common/node_data.h).
  absl::StatusOr<Eigen::MatrixXd> LocalData(NodeId id) const override;
  std::string AgentFlags() const override;
  // The primal x assembled from the nodes' blocks, nodes in topology order.
  Vector RecoverSolution(const std::vector<Vector>& lambdas) const;

 private:
  LassoData data_;
  std::vector<std::pair<Eigen::Index, Eigen::Index>> columns_;  // first column, count; topology order
  std::map<NodeId, std::size_t> index_;
  std::vector<std::shared_ptr<const LassoDualProblem>> blocks_;  // to recover x_p, topology order
  Vector solution_;
};

}  // namespace dadmm
