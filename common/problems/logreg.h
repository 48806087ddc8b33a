// l1-regularized logistic regression, split across examples (seed 002, (45) of §10.2, and §7.1):
//   minimize  sum_i log(1 + exp(-b_i (a_i'w + v))) + lambda ||w||_1,   x = (w, v) in R^{n+1},
// the intercept v not penalized. Node p holds its examples (A_p, b_p) and
//   f_p(x) = sum_{i in p} log(1 + exp(-b_i (a_i'w + v))) + (lambda / P) ||w||_1,
// so that sum_p f_p is (45): model fitting by D-ADMM with no central collector.
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

// The local problem argmin_x f_p(x) + v'x + (c/2)||x||^2 is solved by the proximal Newton method: the
// smooth part g (logistic loss, v'x, (c/2)||x||^2) by its second-order model, the l1 term exactly;
// each model  min_d g'd + d'Hd/2 + mu ||w + d_w||_1  by cyclic coordinate descent, then a backtracking
// line search on the whole objective; warm-started, stopped when the proximal-gradient residual
// ||x - prox_{mu||.||_1}(x - grad g(x))|| is at rounding level. H = G'DG + cI with G = diag(b)[A 1]
// and D the logistic curvature: (n+1)^2 m_p per Newton step, for the n of model-fitting datasets.
class LogRegProblem final : public LocalProblem {
 public:
  // `features` one example per row (m_p x n), `labels` +1 / -1, `mu` the l1 weight (lambda / P).
  LogRegProblem(const Eigen::MatrixXd& features, const Vector& labels, double mu);

  absl::string_view kind() const override { return "logreg"; }
  Eigen::Index dimension() const override { return G_.cols(); }
  SolveInfo Solve(const Eigen::Ref<const Vector>& v, double c, Vector& x) override;
  double Objective(const Eigen::Ref<const Vector>& x) const override;
  Vector Subgradient(const Eigen::Ref<const Vector>& x) const override;

  // The gradient of the logistic loss alone (no l1 term), for the optimality conditions.
  Vector LossGradient(const Eigen::Ref<const Vector>& x) const;
  // Minimizes f_p(x) + v'x + (c/2)||x||^2 for any c >= 0 (c = 0: the centralized fit); returns the
  // final proximal-gradient residual, and the Newton steps taken in *steps.
  double Minimize(const Eigen::Ref<const Vector>& v, double c, Vector& x, int max_newton_steps,
                  int* steps = nullptr) const;
  int last_newton_steps() const { return last_newton_steps_; }

 private:
  Eigen::MatrixXd G_;  // m_p x (n + 1): rows b_i (a_i', 1)
  double mu_;
  int last_newton_steps_ = 0;
};

struct LogRegData {
  std::string name;
  Eigen::MatrixXd features;  // m x n, standardized
  Vector labels;             // +1 / -1
  double lambda = 0.0;       // the weight of ||w||_1 in (45), for the whole network
};

// lambda_max of (45) ([KKB07, §2.1], seed 002 §10.2): the smallest lambda for which w* = 0.
double LogRegLambdaMax(const Eigen::MatrixXd& features, const Vector& labels);

// The Wisconsin breast-cancer data (deploy/data/breast_cancer.csv: 569 x 30, malignant +1 / benign -1),
// every feature standardized (zero mean, unit variance over the whole set), lambda = 0.1 lambda_max.
absl::StatusOr<LogRegData> LoadBreastCancer(const std::string& path);

// The centralized fit of (45), by LogRegProblem::Minimize on all the examples with c = 0.
absl::StatusOr<Vector> SolveLogRegCentralized(const LogRegData& data);

// Largest violation of the optimality conditions of (45) at x = (w, v): the loss gradient's intercept
// entry is 0, and for each feature j, grad_j + lambda sign(w_j) = 0 if w_j != 0, |grad_j| <= lambda if
// w_j = 0.
double LogRegOptimalityResidual(const LogRegData& data, const Vector& x);

// The fraction of examples that x = (w, v) classifies right: sign(a_i'w + v) = b_i.
double LogRegAccuracy(const Eigen::MatrixXd& features, const Vector& labels, const Vector& x);

class LogRegInstance final : public ProblemInstance {
 public:
  // Examples shuffled with `seed`, then split into contiguous blocks, as equal as possible, in node-id order.
  static absl::StatusOr<std::unique_ptr<LogRegInstance>> Create(LogRegData data, const Topology& topology,
                                                                std::uint64_t seed);
  std::string kind() const override { return "logreg"; }
  Eigen::Index dimension() const override { return data_.features.cols() + 1; }
  std::unique_ptr<LocalProblem> MakeLocal(NodeId id) const override;
  const Vector& solution() const override { return solution_; }
  ErrorMeasure error_measure() const override { return DistanceTo(solution_, rows_.size()); }
  // Node `id`'s examples, one per row, the label (+1 / -1) last.
  absl::StatusOr<Eigen::MatrixXd> LocalData(NodeId id) const override;
  std::string AgentFlags() const override;
  const LogRegData& data() const { return data_; }

 private:
  LogRegData data_;
  std::map<NodeId, std::vector<Eigen::Index>> rows_;
  Vector solution_;
};

}  // namespace dadmm
