#include "common/problems/svm.h"

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/portable_float.h"
#include "common/io/csv.h"
#include "common/problems/logreg.h"

namespace dadmm {

// Products here block the same way on every machine (common/portable_float.h).
[[maybe_unused]] static const bool kPortableBlocking = (UsePortableEigenBlocking(), true);

SvmProblem::SvmProblem(Eigen::MatrixXd points, Vector labels, double kappa, double hinge_weight)
    : kappa_(kappa), C_(hinge_weight) {
  const Eigen::Index m = points.rows(), n = points.cols();
  G_.resize(m, n + 1);
  for (Eigen::Index i = 0; i < m; ++i) {
    G_.row(i).head(n) = labels[i] * points.row(i);
    G_(i, n) = -labels[i];
  }
  alpha_ = Vector::Zero(m);
}

SolveInfo SvmProblem::Solve(const Eigen::Ref<const Vector>& v, double c, Vector& y) {
  const Eigen::Index m = G_.rows(), n1 = G_.cols();
  // Q^-1 = diag(1/(2 kappa + c), ..., 1/(2 kappa + c), 1/c).
  Vector q_inv = Vector::Constant(n1, 1.0 / (2.0 * kappa_ + c));
  q_inv[n1 - 1] = 1.0 / c;
  const Eigen::MatrixXd GQ = G_ * q_inv.asDiagonal();  // G Q^-1
  const Eigen::MatrixXd M = GQ * G_.transpose();
  const Vector q = Vector::Ones(m) + GQ * v;
  const double tol = 1e-12 * (1.0 + q.cwiseAbs().maxCoeff());

  auto projected_gradient = [&](const Vector& alpha, const Vector& Ma) {
    double worst = 0.0;
    for (Eigen::Index i = 0; i < m; ++i) {
      const double g = Ma[i] - q[i];
      worst = std::max(worst, alpha[i] <= 0.0 ? std::max(-g, 0.0) : (alpha[i] >= C_ ? std::max(g, 0.0) : std::abs(g)));
    }
    return worst;
  };
  // Cyclic coordinate descent on min alpha'M alpha / 2 - q'alpha, 0 <= alpha <= C, warm-started.
  Vector Ma = M * alpha_;
  constexpr int kMaxSweeps = 100000;
  int sweep = 0;
  for (; sweep < kMaxSweeps && projected_gradient(alpha_, Ma) > tol; ++sweep) {
    for (Eigen::Index i = 0; i < m; ++i) {
      if (M(i, i) <= 0.0) continue;
      const double updated = std::clamp(alpha_[i] - (Ma[i] - q[i]) / M(i, i), 0.0, C_);
      const double delta = updated - alpha_[i];
      if (delta != 0.0) {
        Ma += delta * M.col(i);
        alpha_[i] = updated;
      }
    }
  }
  // Polish: solve M_FF alpha_F = q_F - M_FU C on the free set F (those at the bound C, U, held there);
  // keep it if it is a KKT point at least as good.
  std::vector<Eigen::Index> F, U;
  for (Eigen::Index i = 0; i < m; ++i) {
    if (alpha_[i] >= C_) {
      U.push_back(i);
    } else if (alpha_[i] > 0.0) {
      F.push_back(i);
    }
  }
  if (!F.empty()) {
    const auto f = static_cast<Eigen::Index>(F.size());
    Eigen::MatrixXd MFF(f, f);
    Vector qF(f);
    for (Eigen::Index a = 0; a < f; ++a) {
      qF[a] = q[F[a]];
      for (Eigen::Index u : U) qF[a] -= M(F[a], u) * C_;
      for (Eigen::Index b = 0; b < f; ++b) MFF(a, b) = M(F[a], F[b]);
    }
    const Vector aF = MFF.ldlt().solve(qF);
    Vector polished = Vector::Zero(m);
    for (Eigen::Index u : U) polished[u] = C_;
    for (Eigen::Index a = 0; a < f; ++a) polished[F[a]] = aF[a];
    if (aF.allFinite() && (aF.array() >= 0.0).all() && (aF.array() <= C_).all()) {
      const Vector Mp = M * polished;
      if (projected_gradient(polished, Mp) <= projected_gradient(alpha_, Ma)) alpha_ = polished;
    }
  }
  y = q_inv.asDiagonal() * (G_.transpose() * alpha_ - v);
  return {.iterations = static_cast<std::uint64_t>(sweep), .converged = sweep < kMaxSweeps};
}

double SvmProblem::Objective(const Eigen::Ref<const Vector>& y) const {
  double f = kappa_ * y.head(y.size() - 1).squaredNorm();
  if (std::isfinite(C_)) f += C_ * (1.0 - (G_ * y).array()).max(0.0).sum();
  return f;
}

Vector SvmProblem::Subgradient(const Eigen::Ref<const Vector>& y) const {
  Vector g = 2.0 * kappa_ * y;
  g[g.size() - 1] = 0.0;
  if (std::isfinite(C_)) {
    const Vector margins = G_ * y;
    for (Eigen::Index i = 0; i < margins.size(); ++i) {
      if (margins[i] < 1.0) g -= C_ * G_.row(i).transpose();
    }
  }
  return g;
}

absl::StatusOr<SvmData> LoadIrisSetosaVersicolor(const std::string& path) {
  absl::StatusOr<Eigen::MatrixXd> iris = ReadSklearnCsv(path);  // 150 x (4 + class)
  if (!iris.ok()) return iris.status();
  if (iris->cols() != 5) return absl::InvalidArgumentError(absl::StrCat(path, ": expected 4 features and a class"));
  std::vector<Eigen::Index> rows;
  for (Eigen::Index i = 0; i < iris->rows(); ++i) {
    if ((*iris)(i, 4) == 0.0 || (*iris)(i, 4) == 1.0) rows.push_back(i);
  }
  if (rows.size() != 100) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": expected 100 setosa and versicolor rows, found ", rows.size()));
  }
  SvmData d{.name = "iris setosa/versicolor"};
  // setosa (class 0) +1, versicolor (class 1) -1
  std::tie(d.points, d.labels) = GatherExamples(iris->leftCols(4), (1.0 - 2.0 * iris->col(4).array()).matrix(), rows);
  return d;
}

double SvmKktResidual(const SvmData& data, const Vector& y, const Vector& alpha) {
  const Eigen::Index n = data.points.cols();
  const Vector s = y.head(n);
  const double r = y[n];
  Vector weighted = Vector::Zero(n);
  double balance = 0.0, worst = 0.0;
  for (Eigen::Index i = 0; i < data.points.rows(); ++i) {
    weighted += alpha[i] * data.labels[i] * data.points.row(i).transpose();
    balance += alpha[i] * data.labels[i];
    const double margin = data.labels[i] * (data.points.row(i).dot(s) - r) - 1.0;
    if (std::isfinite(data.hinge_weight)) {  // soft margin: the slack absorbs margins below 1
      const double C = data.hinge_weight;
      worst = std::max({worst, -alpha[i], alpha[i] - C, std::min(alpha[i], std::max(margin, 0.0)),
                        std::min(C - alpha[i], std::max(-margin, 0.0))});
    } else {
      worst = std::max({worst, -margin, std::abs(alpha[i] * margin), -alpha[i]});
    }
  }
  return std::max({worst, (2.0 * s - weighted).norm(), std::abs(balance)});
}

absl::StatusOr<Vector> SolveSvmCentralized(const SvmData& data) {
  SvmProblem all(data.points, data.labels, 1.0, data.hinge_weight);
  const double c = 1.0;
  Vector y = Vector::Zero(data.points.cols() + 1), y_prev;
  for (int it = 0; it < 200000; ++it) {
    y_prev = y;
    all.Solve(-c * y_prev, c, y);  // argmin ||s||^2 + (c/2)||y - y_prev||^2 over Gy >= 1
    if ((y - y_prev).norm() <= 1e-13 * (1.0 + y.norm())) {
      const double kkt = SvmKktResidual(data, y, all.alpha());
      if (kkt > 1e-8) {
        return absl::InternalError(
            absl::StrCat("svm: centralized solution has KKT residual ", kkt, " (data not linearly separable?)"));
      }
      return y;
    }
  }
  return absl::InternalError("svm: centralized proximal point method did not settle");
}

absl::StatusOr<std::unique_ptr<SvmInstance>> SvmInstance::Create(SvmData data, const Topology& topology,
                                                                 std::uint64_t seed) {
  const auto P = static_cast<Eigen::Index>(topology.size());
  const Eigen::Index m = data.points.rows();
  if (m < P) return absl::InvalidArgumentError(absl::StrCat("svm: ", m, " points cannot be split over ", P, " nodes"));
  absl::StatusOr<Vector> solution = SolveSvmCentralized(data);
  if (!solution.ok()) return solution.status();
  auto inst = std::unique_ptr<SvmInstance>(new SvmInstance());
  inst->rows_ = SplitExamples(m, topology, seed);
  inst->data_ = std::move(data);
  inst->solution_ = *std::move(solution);
  return inst;
}

std::unique_ptr<LocalProblem> SvmInstance::MakeLocal(NodeId id) const {
  auto [points, labels] = GatherExamples(data_.points, data_.labels, rows_.at(id));
  if (!std::isfinite(data_.hinge_weight)) return std::make_unique<SvmProblem>(std::move(points), std::move(labels));
  // Soft margin: ||s||^2 shared out, each example's hinge loss at its node.
  return std::make_unique<SvmProblem>(std::move(points), std::move(labels), 1.0 / static_cast<double>(rows_.size()),
                                      data_.hinge_weight);
}

std::string SvmInstance::AgentFlags() const {
  return std::isfinite(data_.hinge_weight) ? absl::StrFormat("--svm_c=%.17g", data_.hinge_weight) : "";
}

absl::StatusOr<SvmData> LoadBreastCancerSvm(const std::string& path) {
  absl::StatusOr<LogRegData> cancer = LoadBreastCancer(path);
  if (!cancer.ok()) return cancer.status();
  return SvmData{.name = "breast cancer (Wisconsin diagnostic), standardized, soft margin C = 1",
                 .points = std::move(cancer->features),
                 .labels = std::move(cancer->labels),
                 .hinge_weight = 1.0};
}

double SvmAccuracy(const SvmData& data, const Vector& y) {
  const Eigen::Index n = data.points.cols();
  return ClassificationAccuracy(data.points, data.labels, y.head(n), -y[n]);
}

absl::StatusOr<Eigen::MatrixXd> SvmInstance::LocalData(NodeId id) const {
  const std::vector<Eigen::Index>& rows = rows_.at(id);
  Eigen::MatrixXd data(static_cast<Eigen::Index>(rows.size()), data_.points.cols() + 1);
  for (std::size_t k = 0; k < rows.size(); ++k) {
    data.row(static_cast<Eigen::Index>(k)) << data_.points.row(rows[k]), data_.labels[rows[k]];
  }
  return data;
}

}  // namespace dadmm
