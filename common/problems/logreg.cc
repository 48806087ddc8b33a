#include "common/problems/logreg.h"

#include <Eigen/Cholesky>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/numerics.h"
#include "common/base/portable_float.h"
#include "common/io/csv.h"

namespace dadmm {

// Products here block the same way on every machine (common/portable_float.h).
[[maybe_unused]] static const bool kPortableBlocking = (UsePortableEigenBlocking(), true);

namespace {

// log(1 + e^t), without overflow.
double Softplus(double t) { return t > 0.0 ? t + std::log1p(std::exp(-t)) : std::log1p(std::exp(t)); }

// 1 / (1 + e^-t), without overflow.
double Sigmoid(double t) {
  if (t >= 0.0) return 1.0 / (1.0 + std::exp(-t));
  const double e = std::exp(t);
  return e / (1.0 + e);
}

// Coordinate descent is slow on an ill-conditioned model (correlated features). Its sign pattern is
// usually right long before its values: on the support F it found (w_j + d_j != 0, and the intercept),
// with the other d_j = -w_j, the model's minimizer solves H_FF d_F = -(grad_F + mu s_F + H_FZ d_Z),
// s = sign(w + d). Kept when it keeps those signs and the zero coordinates stay optimal
// (|grad_j + (Hd)_j| <= mu), i.e. when it is the model's exact minimizer; else d is left as it is.
void PolishModelStep(const Eigen::MatrixXd& H, const Vector& grad, const Vector& x, double mu, Vector& d) {
  const Eigen::Index n1 = x.size(), n = n1 - 1;
  std::vector<Eigen::Index> free;
  Vector polished = d;
  Vector sign = Vector::Zero(n1);
  for (Eigen::Index j = 0; j < n1; ++j) {
    if (j == n || x[j] + d[j] != 0.0) {
      free.push_back(j);
      if (j < n) sign[j] = x[j] + d[j] > 0.0 ? 1.0 : -1.0;
    } else {
      polished[j] = -x[j];
    }
  }
  const auto f = static_cast<Eigen::Index>(free.size());
  Eigen::MatrixXd H_ff(f, f);
  Vector rhs(f);
  for (Eigen::Index a = 0; a < f; ++a) {
    const Eigen::Index i = free[static_cast<std::size_t>(a)];
    rhs[a] = -(grad[i] + mu * sign[i]);
    for (Eigen::Index j = 0; j < n1; ++j) {
      if (j != n && x[j] + d[j] == 0.0) rhs[a] -= H(i, j) * polished[j];
    }
    for (Eigen::Index b = 0; b < f; ++b) H_ff(a, b) = H(i, free[static_cast<std::size_t>(b)]);
  }
  const Vector d_f = H_ff.ldlt().solve(rhs);
  for (Eigen::Index a = 0; a < f; ++a) polished[free[static_cast<std::size_t>(a)]] = d_f[a];
  const Vector H_d = H * polished;
  for (Eigen::Index j = 0; j < n; ++j) {
    const double w = x[j] + polished[j];
    if (sign[j] != 0.0 ? w * sign[j] <= 0.0 : std::abs(grad[j] + H_d[j]) > mu) return;
  }
  if (polished.allFinite()) d = polished;
}

}  // namespace

LogRegProblem::LogRegProblem(const Eigen::MatrixXd& features, const Vector& labels, double mu) : mu_(mu) {
  const Eigen::Index m = features.rows(), n = features.cols();
  G_.resize(m, n + 1);
  G_.leftCols(n) = labels.asDiagonal() * features;
  G_.col(n) = labels;
}

double LogRegProblem::Objective(const Eigen::Ref<const Vector>& x) const {
  const Vector u = G_ * x;
  double loss = 0.0;
  for (Eigen::Index i = 0; i < u.size(); ++i) loss += Softplus(-u[i]);
  return loss + mu_ * x.head(x.size() - 1).lpNorm<1>();
}

Vector LogRegProblem::LossGradient(const Eigen::Ref<const Vector>& x) const {
  const Vector u = G_ * x;
  Vector s(u.size());
  for (Eigen::Index i = 0; i < u.size(); ++i) s[i] = Sigmoid(-u[i]);
  return -(G_.transpose() * s);
}

Vector LogRegProblem::Subgradient(const Eigen::Ref<const Vector>& x) const {
  Vector g = LossGradient(x);
  const Eigen::Index n = x.size() - 1;
  for (Eigen::Index j = 0; j < n; ++j) g[j] += mu_ * (x[j] > 0.0 ? 1.0 : (x[j] < 0.0 ? -1.0 : 0.0));
  return g;
}

double LogRegProblem::Minimize(const Eigen::Ref<const Vector>& v, double c, Vector& x, int max_newton_steps,
                               int* steps) const {
  const Eigen::Index m = G_.rows(), n1 = G_.cols(), n = n1 - 1;
  if (x.size() != n1) x = Vector::Zero(n1);
  // The whole objective F = g + mu ||w||_1, g = loss + v'x + (c/2)||x||^2.
  auto F = [&](const Vector& y) { return Objective(y) + v.dot(y) + 0.5 * c * y.squaredNorm(); };
  Vector u(m), s(m), curvature(m), grad(n1), d(n1), Hd(n1), trial(n1);
  Eigen::MatrixXd H(n1, n1);
  double residual = 0.0;
  int k = 0;
  for (; k < max_newton_steps; ++k) {
    u.noalias() = G_ * x;
    for (Eigen::Index i = 0; i < m; ++i) {
      s[i] = Sigmoid(-u[i]);
      curvature[i] = Sigmoid(u[i]) * s[i];
    }
    grad.noalias() = -(G_.transpose() * s);
    grad += v + c * x;
    // Stop at the proximal-gradient residual ||x - prox(x - grad)||.
    residual = 0.0;
    for (Eigen::Index j = 0; j < n1; ++j) {
      const double step = j < n ? x[j] - SoftThreshold(x[j] - grad[j], mu_) : grad[j];
      residual += step * step;
    }
    residual = std::sqrt(residual);
    if (residual <= 1e-12 * (1.0 + x.norm())) break;

    // The model min_d grad'd + d'Hd/2 + mu ||w + d_w||_1, by cyclic coordinate descent.
    H.noalias() = G_.transpose() * curvature.asDiagonal() * G_;
    // c = 0 (the centralized fit) may leave H singular; a tiny ridge keeps every coordinate step defined.
    const double ridge = c > 0.0 ? c : 1e-12 * (1.0 + H.diagonal().maxCoeff());
    H.diagonal().array() += ridge;
    d.setZero();
    Hd.setZero();
    for (int sweep = 0; sweep < 500; ++sweep) {
      double largest = 0.0;
      for (Eigen::Index j = 0; j < n1; ++j) {
        const double a = H(j, j);
        const double b = grad[j] + Hd[j] - a * d[j];
        const double t = j < n ? SoftThreshold(x[j] - b / a, mu_ / a) - x[j] : -b / a;
        const double delta = t - d[j];
        if (delta != 0.0) {
          d[j] = t;
          Hd += delta * H.col(j);
          largest = std::max(largest, std::abs(delta));
        }
      }
      if (largest <= 1e-14 * (1.0 + d.lpNorm<Eigen::Infinity>())) break;
    }
    PolishModelStep(H, grad, x, mu_, d);
    // Backtracking on F along d (Armijo). The model's decrease, coordinate by coordinate (no
    // cancellation between two l1 norms); for the model's minimizer it is at most -d'Hd < 0 (Tseng
    // and Yun), which also holds where rounding hides it.
    double decrease = 0.0;
    for (Eigen::Index j = 0; j < n1; ++j) {
      decrease += grad[j] * d[j] + (j < n ? mu_ * (std::abs(x[j] + d[j]) - std::abs(x[j])) : 0.0);
    }
    decrease = std::min(decrease, -d.dot(H * d));
    if (!(decrease < 0.0)) break;  // d = 0: nothing left to do
    const double f0 = F(x);
    double t = 1.0;
    trial = x + d;
    // Where the model's decrease is below what F can resolve, the full Newton step is taken (the
    // method converges quadratically there; a comparison of F values would only compare rounding).
    if (-decrease > 1e-13 * (1.0 + std::abs(f0))) {
      while (F(trial) > f0 + 1e-4 * t * decrease) {
        t *= 0.5;
        if (t < 1e-12) break;
        trial = x + t * d;
      }
      if (t < 1e-12) break;
    }
    const double moved = t * d.norm();
    x = trial;
    if (moved <= 1e-14 * (1.0 + x.norm())) {  // the step no longer changes x beyond rounding
      ++k;
      break;
    }
  }
  if (steps != nullptr) *steps = k;
  return residual;
}

SolveInfo LogRegProblem::Solve(const Eigen::Ref<const Vector>& v, double c, Vector& x) {
  constexpr int kMaxNewtonSteps = 100;
  Minimize(v, c, x, kMaxNewtonSteps, &last_newton_steps_);
  // Every way out of Minimize's loop but its cap is its convergence test (or rounding).
  return {.iterations = static_cast<std::uint64_t>(last_newton_steps_),
          .converged = last_newton_steps_ < kMaxNewtonSteps};
}

double LogRegLambdaMax(const Eigen::MatrixXd& features, const Vector& labels) {
  const auto m = static_cast<double>(labels.size());
  const double pos = static_cast<double>((labels.array() > 0.0).count()) / m;
  const double neg = 1.0 - pos;
  Vector b_tilde(labels.size());
  for (Eigen::Index i = 0; i < labels.size(); ++i) b_tilde[i] = labels[i] > 0.0 ? neg : -pos;
  return (features.transpose() * b_tilde).lpNorm<Eigen::Infinity>();
}

absl::StatusOr<LogRegData> LoadBreastCancer(const std::string& path) {
  absl::StatusOr<Eigen::MatrixXd> cancer = ReadSklearnCsv(path);  // 569 x (30 + class)
  if (!cancer.ok()) return cancer.status();
  constexpr Eigen::Index kFeatures = 30;
  if (cancer->rows() != 569 || cancer->cols() != kFeatures + 1) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": expected 569 samples of 30 features"));
  }
  const Vector classes = cancer->col(kFeatures);
  if (!((classes.array() == 0.0) || (classes.array() == 1.0)).all()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": a class is neither 0 nor 1"));
  }
  LogRegData d{.name = "breast cancer (Wisconsin diagnostic), standardized",
               .features = cancer->leftCols(kFeatures),
               .labels = (1.0 - 2.0 * classes.array()).matrix()};  // malignant (0) +1, benign (1) -1
  const Eigen::Index m = d.features.rows();
  for (Eigen::Index k = 0; k < kFeatures; ++k) {
    const double mean = d.features.col(k).mean();
    d.features.col(k).array() -= mean;
    const double sd = std::sqrt(d.features.col(k).squaredNorm() / static_cast<double>(m));
    if (sd > 0.0) d.features.col(k) /= sd;
  }
  d.lambda = 0.1 * LogRegLambdaMax(d.features, d.labels);
  return d;
}

double LogRegOptimalityResidual(const LogRegData& data, const Vector& x) {
  const LogRegProblem all(data.features, data.labels, data.lambda);
  const Vector grad = all.LossGradient(x);
  const Eigen::Index n = data.features.cols();
  double worst = std::abs(grad[n]);
  for (Eigen::Index j = 0; j < n; ++j) {
    worst = std::max(worst, L1Violation(x[j], grad[j], data.lambda));
  }
  return worst;
}

double LogRegAccuracy(const Eigen::MatrixXd& features, const Vector& labels, const Vector& x) {
  const Eigen::Index n = features.cols();
  return ClassificationAccuracy(features, labels, x.head(n), x[n]);
}

absl::StatusOr<Vector> SolveLogRegCentralized(const LogRegData& data) {
  const LogRegProblem all(data.features, data.labels, data.lambda);
  Vector x = Vector::Zero(data.features.cols() + 1);
  int steps = 0;
  const double residual = all.Minimize(Vector::Zero(x.size()), 0.0, x, 500, &steps);
  const double optimality = LogRegOptimalityResidual(data, x);
  if (!(optimality <= 1e-8)) {
    return absl::InternalError(absl::StrFormat(
        "logreg: the centralized fit stopped after %d Newton steps with proximal-gradient residual %.3g "
        "and optimality residual %.3g",
        steps, residual, optimality));
  }
  return x;
}

absl::StatusOr<std::unique_ptr<LogRegInstance>> LogRegInstance::Create(LogRegData data, const Topology& topology,
                                                                       std::uint64_t seed) {
  const auto P = static_cast<Eigen::Index>(topology.size());
  const Eigen::Index m = data.features.rows();
  if (m < P)
    return absl::InvalidArgumentError(absl::StrCat("logreg: ", m, " examples cannot be split over ", P, " nodes"));
  absl::StatusOr<Vector> solution = SolveLogRegCentralized(data);
  if (!solution.ok()) return solution.status();
  auto inst = std::unique_ptr<LogRegInstance>(new LogRegInstance());
  inst->rows_ = SplitExamples(m, topology, seed);
  inst->data_ = std::move(data);
  inst->solution_ = *std::move(solution);
  return inst;
}

std::unique_ptr<LocalProblem> LogRegInstance::MakeLocal(NodeId id) const {
  auto [features, labels] = GatherExamples(data_.features, data_.labels, rows_.at(id));
  return std::make_unique<LogRegProblem>(std::move(features), std::move(labels),
                                         data_.lambda / static_cast<double>(rows_.size()));
}

absl::StatusOr<Eigen::MatrixXd> LogRegInstance::LocalData(NodeId id) const {
  const std::vector<Eigen::Index>& rows = rows_.at(id);
  const Eigen::Index n = data_.features.cols();
  Eigen::MatrixXd out(static_cast<Eigen::Index>(rows.size()), n + 1);
  for (std::size_t k = 0; k < rows.size(); ++k) {
    out.row(static_cast<Eigen::Index>(k)) << data_.features.row(rows[k]), data_.labels[rows[k]];
  }
  return out;
}

std::string LogRegInstance::AgentFlags() const { return absl::StrFormat("--lambda=%.17g", data_.lambda); }

}  // namespace dadmm
