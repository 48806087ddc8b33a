// Support vector machine, row partition (seed 000, (27)-(28)): find (s, r) with d_i (a_i's - r) >= 1
// for every point, minimizing ||s||^2. Node p holds its points (A_p, d_p): f_p(s, r) = ||s||^2 and
// X_p = {(s, r) : D_p (A_p s - 1 r) >= 1}. The variable is y = (s, r) in R^{n+1}.
//
// Soft margin, for data that are not linearly separable (seed 002 §8.2.1, hinge loss): minimize
// ||s||^2 + C sum_i (1 - d_i (a_i's - r))_+, split across examples as f_p(s, r) = ||s||^2 / P +
// C sum_{i in p} (1 - d_i (a_i's - r))_+, X_p = R^{n+1}.
#pragma once

#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/network/topology.h"
#include "common/problems/instance.h"
#include "common/problems/problem.h"

namespace dadmm {

// The local problem argmin_{y in X_p} kappa ||s||^2 + v'y + (c/2)||y||^2 is a strictly convex QP with
// m_p constraints G y >= 1, G's rows d_i (a_i', -1). It is solved through its dual, the non-negative QP
//   min_{0 <= alpha <= C} alpha'M alpha / 2 - q'alpha,  M = G Q^-1 G', q = 1 + G Q^-1 v,
// Q = diag(2 kappa + c, ..., 2 kappa + c, c), y = Q^-1 (G'alpha - v) (C = infinity: the hard margin;
// with the hinge loss C sum_i (1 - g_i'y)_+ = max_{0 <= alpha <= C} alpha'(1 - Gy), the same dual with
// the bound C): cyclic coordinate descent, warm-started, then polished by solving the KKT system on the
// free set F = {0 < alpha < C} (those at C held there) and keeping the polished point when its KKT
// residual is no larger.
class SvmProblem final : public LocalProblem {
 public:
  // `points` one per row (m_p x n), `labels` +1 / -1; f_p = kappa ||s||^2 (+ the hinge loss with
  // weight `hinge_weight` C when finite).
  SvmProblem(Eigen::MatrixXd points, Vector labels, double kappa = 1.0,
             double hinge_weight = std::numeric_limits<double>::infinity());

  absl::string_view kind() const override { return "svm"; }
  Eigen::Index dimension() const override { return G_.cols(); }
  SolveInfo Solve(const Eigen::Ref<const Vector>& v, double c, Vector& y) override;
  double Objective(const Eigen::Ref<const Vector>& y) const override;
  Vector Subgradient(const Eigen::Ref<const Vector>& y) const override;
  bool HasProjection() const override { return std::isfinite(C_); }  // soft margin: X_p = R^{n+1}

  const Eigen::MatrixXd& G() const { return G_; }
  // The multipliers of the last Solve.
  const Vector& alpha() const { return alpha_; }
  void SaveState(StateWriter& w) const override { w.Vec(alpha_); }
  void LoadState(StateReader& r) override { alpha_ = r.Vec(alpha_.size(), "svm's multipliers"); }

 private:
  Eigen::MatrixXd G_;  // m_p x (n + 1)
  double kappa_;
  double C_;  // the hinge weight; infinity: the hard margin
  Vector alpha_;
};

struct SvmData {
  std::string name;
  Eigen::MatrixXd points;  // m x n
  Vector labels;           // +1 / -1
  // C of the soft margin, for the whole network; infinity: the hard margin (27).
  double hinge_weight = std::numeric_limits<double>::infinity();
};

// The two linearly separable Iris classes, setosa (+1) and versicolor (-1): 100 points, 4 features,
// read from the sklearn-format CSV `path` (deploy/data/iris.csv).
absl::StatusOr<SvmData> LoadIrisSetosaVersicolor(const std::string& path);

// The Wisconsin breast-cancer data (as LoadBreastCancer in common/logreg.h: standardized, malignant +1),
// with the soft margin C = 1: the two classes are not linearly separable.
absl::StatusOr<SvmData> LoadBreastCancerSvm(const std::string& path);

// The fraction of points y = (s, r) classifies right: sign(a_i's - r) = d_i.
double SvmAccuracy(const SvmData& data, const Vector& y);

// The solution of (27) (or of the soft margin), by the proximal point method y <- argmin_{Gy >= 1} ||s||^2 + (1/2)||y -
// y_prev||^2 with the local solver on all the points; fails if it does not settle or the data are not separable.
absl::StatusOr<Vector> SolveSvmCentralized(const SvmData& data);

// Largest violation of the KKT conditions of (27) at y with multipliers alpha >= 0:
// stationarity 2s = sum alpha_i d_i a_i and sum alpha_i d_i = 0, feasibility, complementarity.
// Soft margin: 0 <= alpha_i <= C, alpha_i = 0 where the margin exceeds 1, alpha_i = C where it is below.
double SvmKktResidual(const SvmData& data, const Vector& y, const Vector& alpha);

class SvmInstance final : public ProblemInstance {
 public:
  // Points shuffled with `seed`, then split into contiguous blocks, as equal as possible, in node-id order.
  static absl::StatusOr<std::unique_ptr<SvmInstance>> Create(SvmData data, const Topology& topology,
                                                             std::uint64_t seed);
  std::string kind() const override { return "svm"; }
  Eigen::Index dimension() const override { return data_.points.cols() + 1; }
  std::string AgentFlags() const override;
  const SvmData& data() const { return data_; }
  std::unique_ptr<LocalProblem> MakeLocal(NodeId id) const override;
  const Vector& solution() const override { return solution_; }
  ErrorMeasure error_measure() const override { return DistanceTo(solution_, rows_.size()); }
  // Node `id`'s points, one per row, the label (+1 / -1) last.
  absl::StatusOr<Eigen::MatrixXd> LocalData(NodeId id) const override;

 private:
  SvmData data_;
  std::map<NodeId, std::vector<Eigen::Index>> rows_;
  Vector solution_;
};

}  // namespace dadmm
