// Support vector machine, row partition (seed 000, (27)-(28)): find (s, r) with d_i (a_i's - r) >= 1
// for every point, minimizing ||s||^2. Node p holds its points (A_p, d_p): f_p(s, r) = ||s||^2 and
// X_p = {(s, r) : D_p (A_p s - 1 r) >= 1}. The variable is y = (s, r) in R^{n+1}.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/instance.h"
#include "common/problem.h"
#include "common/topology.h"

namespace dadmm {

// The local problem argmin_{y in X_p} ||s||^2 + v'y + (c/2)||y||^2 is a strictly convex QP with m_p
// constraints G y >= 1, G's rows d_i (a_i', -1). It is solved through its dual, the non-negative QP
//   min_{alpha >= 0} alpha'M alpha / 2 - q'alpha,  M = G Q^-1 G', q = 1 + G Q^-1 v,
// Q = diag(2 + c, ..., 2 + c, c), y = Q^-1 (G'alpha - v): cyclic coordinate descent, warm-started,
// then polished by solving M_FF alpha_F = q_F on the free set F and keeping the polished point when
// it satisfies the KKT conditions (their residual is tested).
class SvmProblem final : public LocalProblem {
 public:
  // `points` one per row (m_p x n), `labels` +1 / -1.
  SvmProblem(Eigen::MatrixXd points, Vector labels);

  absl::string_view kind() const override { return "svm"; }
  Eigen::Index dimension() const override { return G_.cols(); }
  void Solve(const Eigen::Ref<const Vector>& v, double c, Vector& y) override;
  double Objective(const Eigen::Ref<const Vector>& y) const override;
  Vector Subgradient(const Eigen::Ref<const Vector>& y) const override;
  bool HasProjection() const override { return false; }

  const Eigen::MatrixXd& G() const { return G_; }
  // The multipliers of the last Solve.
  const Vector& alpha() const { return alpha_; }

 private:
  Eigen::MatrixXd G_;  // m_p x (n + 1)
  Vector alpha_;
};

struct SvmData {
  std::string name;
  Eigen::MatrixXd points;  // m x n
  Vector labels;           // +1 / -1
};

// The two linearly separable Iris classes, setosa (+1) and versicolor (-1): 100 points, 4 features,
// read from the sklearn-format CSV `path` (deploy/data/iris.csv).
absl::StatusOr<SvmData> LoadIrisSetosaVersicolor(const std::string& path);

// The solution of (27), by the proximal point method y <- argmin_{Gy >= 1} ||s||^2 + (1/2)||y - y_prev||^2
// with the local solver on all the points; fails if it does not settle or the data are not separable.
absl::StatusOr<Vector> SolveSvmCentralized(const SvmData& data);

// Largest violation of the KKT conditions of (27) at y with multipliers alpha >= 0:
// stationarity 2s = sum alpha_i d_i a_i and sum alpha_i d_i = 0, feasibility, complementarity.
double SvmKktResidual(const SvmData& data, const Vector& y, const Vector& alpha);

class SvmInstance final : public ProblemInstance {
 public:
  // Points shuffled with `seed`, then split into contiguous blocks, as equal as possible, in node-id order.
  static absl::StatusOr<std::unique_ptr<SvmInstance>> Create(SvmData data, const Topology& topology,
                                                             std::uint64_t seed);
  std::string kind() const override { return "svm"; }
  Eigen::Index dimension() const override { return data_.points.cols() + 1; }
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
