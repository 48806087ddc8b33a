#include "common/problems/lasso.h"

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/numerics.h"
#include "common/base/portable_float.h"

namespace dadmm {

// Products here block the same way on every machine (common/portable_float.h).
[[maybe_unused]] static const bool kPortableBlocking = (UsePortableEigenBlocking(), true);
namespace {

// S_1(r): soft threshold at 1.
Vector SoftThresholdOne(const Vector& r) { return SoftThreshold(r, 1.0); }

}  // namespace

LassoDualProblem::LassoDualProblem(Eigen::MatrixXd A_p, const Vector& b, double sigma, double delta, int num_nodes)
    : A_(std::move(A_p)),
      gram_(A_.transpose() * A_),
      b_over_p_(b / static_cast<double>(num_nodes)),
      s_(sigma / static_cast<double>(num_nodes)),
      delta_(delta) {}

Vector LassoDualProblem::LocalGradient(const Vector& v, double c, const Vector& lambda) const {
  const Vector q = SoftThresholdOne(A_.transpose() * lambda);
  return A_ * q / delta_ + b_over_p_ + v + c * lambda + s_ * lambda / lambda.norm();
}

SolveInfo LassoDualProblem::Solve(const Eigen::Ref<const Vector>& v, double c, Vector& lambda) {
  bool converged = false;
  const Eigen::Index m = A_.rows();
  last_iterations_ = 0;
  const Vector w = b_over_p_ + v;
  const double w_norm = w.norm();
  // 0 is optimal iff 0 is in w + s B (phi_p is flat around 0): then lambda = 0 exactly.
  if (w_norm <= s_) {
    lambda = Vector::Zero(m);
    return {};
  }
  // Otherwise lambda != 0. Start from the previous solution, or from the minimizer without phi_p.
  if (lambda.size() != m || lambda.norm() == 0.0) lambda = -((w_norm - s_) / c) * (w / w_norm);

  Vector r = A_.transpose() * lambda, lambda_try, d, grad, y1, y2;
  std::vector<Eigen::Index> S;
  for (int it = 0; it < 100; ++it) {
    const double norm = lambda.norm();
    const Vector q = SoftThresholdOne(r);
    const Vector Aq = A_ * q / delta_;
    grad = Aq + w + c * lambda + (s_ / norm) * lambda;
    const double scale = w_norm + s_ + c * norm + Aq.norm();
    if (grad.norm() <= 1e-13 * scale) {
      converged = true;
      break;
    }
    ++last_iterations_;

    // Newton direction: H = K - gamma u u', K = alpha I + A_S A_S' / delta, alpha = c + gamma.
    const double gamma = s_ / norm;
    const double alpha = c + gamma;
    S.clear();
    for (Eigen::Index i = 0; i < r.size(); ++i) {
      if (std::abs(r[i]) > 1.0) S.push_back(i);
    }
    const auto k = static_cast<Eigen::Index>(S.size());
    Eigen::MatrixXd M(k, k);  // alpha delta I + A_S'A_S
    Eigen::MatrixXd AS(m, k);
    for (Eigen::Index a = 0; a < k; ++a) {
      AS.col(a) = A_.col(S[static_cast<std::size_t>(a)]);
      for (Eigen::Index b = 0; b < k; ++b)
        M(a, b) = gram_(S[static_cast<std::size_t>(a)], S[static_cast<std::size_t>(b)]);
      M(a, a) += alpha * delta_;
    }
    const Eigen::LLT<Eigen::MatrixXd> llt(M);
    // K^{-1} g = (g - A_S M^{-1} A_S' g) / alpha (Woodbury).
    auto k_inverse = [&](const Vector& g) -> Vector {
      if (k == 0) return g / alpha;
      return (g - AS * llt.solve(AS.transpose() * g)) / alpha;
    };
    const Vector u = lambda / norm;
    y1 = k_inverse(grad);
    y2 = k_inverse(u);
    // Sherman-Morrison for the rank-one term; 1 - gamma u'K^{-1}u >= 1 - gamma/alpha = c/alpha > 0.
    d = -(y1 + (gamma * u.dot(y1) / (1.0 - gamma * u.dot(y2))) * y2);

    // Exact line search: F(lambda + t d) is convex in t, with derivative
    //   F'(t) = S_1(r + t g)'g / delta + w'd + c (lambda + t d)'d + s (lambda + t d)'d / |lambda + t d|,
    // g = A_p'd; each evaluation costs O(m + n_p) once g is known (one product per Newton step).
    const Vector g = A_.transpose() * d;
    const double wd = w.dot(d), ld = lambda.dot(d), dd = d.squaredNorm(), ll = lambda.squaredNorm();
    auto slope_at = [&](double t) {
      double phi = 0.0;
      for (Eigen::Index i = 0; i < r.size(); ++i) {
        const double ri = r[i] + t * g[i];
        phi += (ri > 1.0 ? ri - 1.0 : (ri < -1.0 ? ri + 1.0 : 0.0)) * g[i];
      }
      const double along = ld + t * dd;  // (lambda + t d)'d
      const double norm = std::sqrt(std::max(ll + 2.0 * t * ld + t * t * dd, 0.0));
      return phi / delta_ + wd + c * along + (norm > 0.0 ? s_ * along / norm : 0.0);
    };
    if (!(slope_at(0.0) < 0.0)) {  // no descent left: at the optimum to rounding
      converged = true;
      break;
    }
    double lo = 0.0, hi = 1.0;
    while (slope_at(hi) < 0.0 && hi < 1e6) {
      lo = hi;
      hi *= 2.0;
    }
    for (int bisect = 0; bisect < 60 && hi - lo > 1e-15 * hi; ++bisect) {
      const double mid = 0.5 * (lo + hi);
      (slope_at(mid) < 0.0 ? lo : hi) = mid;
    }
    const double t = hi;
    lambda_try = lambda + t * d;
    if (lambda_try.norm() == 0.0 || t * d.norm() <= 1e-16 * lambda.norm()) {
      converged = true;
      break;
    }
    lambda.swap(lambda_try);
    r += t * g;
  }
  return {.iterations = static_cast<std::uint64_t>(last_iterations_), .converged = converged};
}

double LassoDualProblem::Objective(const Eigen::Ref<const Vector>& lambda) const {
  const Vector r = A_.transpose() * lambda;
  return b_over_p_.dot(lambda) + s_ * lambda.norm() + SoftThresholdOne(r).squaredNorm() / (2.0 * delta_);
}

Vector LassoDualProblem::Subgradient(const Eigen::Ref<const Vector>& lambda) const {
  Vector g = b_over_p_ + A_ * SoftThresholdOne(A_.transpose() * lambda) / delta_;
  const double norm = lambda.norm();
  if (norm > 0.0) g += (s_ / norm) * lambda;
  return g;
}

Vector LassoDualProblem::RecoverBlock(const Eigen::Ref<const Vector>& lambda) const {
  return -SoftThresholdOne(A_.transpose() * lambda) / delta_;
}

LassoData MakeGaussianLasso(std::uint64_t seed) {
  return LassoData{.problem = MakeGaussianBpdn(seed), .sigma = 0.5, .delta = 1e-3};
}

LassoData MakeDctLasso(std::uint64_t seed) {
  return LassoData{.problem = MakeDctBpdn(seed), .sigma = 0.1, .delta = 1e-3};
}

double Lasso20KktResidual(const LassoData& data, const Vector& x) {
  const Eigen::MatrixXd& A = data.problem.A;
  const Vector r = A * x - data.problem.b;
  double worst = std::abs(r.norm() - data.sigma) / data.sigma;
  const Vector g = A.transpose() * r;
  double num = 0.0, den = 0.0;
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    if (x[i] == 0.0) continue;
    num -= (x[i] > 0 ? 1.0 : -1.0) * g[i];
    den += g[i] * g[i];
  }
  if (den == 0.0) return std::max(worst, 1.0);  // x = 0, or no multiplier fits
  const double nu = num / den;
  if (nu < 0.0) return std::max(worst, 1.0);
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    const double v =
        x[i] != 0.0 ? std::abs(nu * g[i] + (x[i] > 0 ? 1.0 : -1.0)) : std::max(nu * std::abs(g[i]) - 1.0, 0.0);
    worst = std::max(worst, v);
  }
  return worst;
}

namespace {

// (20) restricted to the support and signs of x: minimize s'x_S subject to ||A_S x_S - b|| = sigma.
// Stationarity s + mu A_S'(A_S x_S - b) = 0 gives x_S = x_ls - G^{-1}s / mu (G = A_S'A_S, x_ls the
// least-squares fit); the two parts of the residual are orthogonal, so mu follows from the constraint.
// Empty if the support does not admit it.
std::optional<Vector> PolishOnSupport(const LassoData& data, const Vector& x) {
  const Eigen::MatrixXd& A = data.problem.A;
  std::vector<Eigen::Index> S;
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    if (x[i] != 0.0) S.push_back(i);
  }
  const auto k = static_cast<Eigen::Index>(S.size());
  if (k == 0 || k >= A.rows()) return std::nullopt;
  Eigen::MatrixXd AS(A.rows(), k);
  Vector sign(k);
  for (Eigen::Index a = 0; a < k; ++a) {
    AS.col(a) = A.col(S[static_cast<std::size_t>(a)]);
    sign[a] = x[S[static_cast<std::size_t>(a)]] > 0 ? 1.0 : -1.0;
  }
  const Eigen::LDLT<Eigen::MatrixXd> G((AS.transpose() * AS).eval());
  const Vector x_ls = G.solve(AS.transpose() * data.problem.b);
  const Vector z = G.solve(sign);
  const double e2 = (data.problem.b - AS * x_ls).squaredNorm();
  const double room = data.sigma * data.sigma - e2;
  if (room <= 0.0) return std::nullopt;
  const double mu = (AS * z).norm() / std::sqrt(room);
  const Vector xs = x_ls - z / mu;
  Vector out = Vector::Zero(x.size());
  for (Eigen::Index a = 0; a < k; ++a) {
    if (xs[a] * sign[a] <= 0.0) return std::nullopt;
    out[S[static_cast<std::size_t>(a)]] = xs[a];
  }
  return out;
}

}  // namespace

absl::StatusOr<Vector> SolveLassoCentralized(const LassoData& data) {
  const Eigen::MatrixXd& A = data.problem.A;
  const Vector& b = data.problem.b;
  if (b.norm() <= data.sigma) {
    return absl::InvalidArgumentError(
        absl::StrCat("lasso: ||b|| = ", b.norm(), " <= sigma = ", data.sigma, ", so x = 0 solves (20)"));
  }
  const double L = SquaredSpectralNorm(A);
  // The residual of (21)'s solution grows with beta. Bracket sigma, then bisect log(beta).
  double lo = 0.0, hi = 0.0;  // residual(lo) < sigma < residual(hi)
  Vector x_lo, x_hi;
  // beta >= ||2 A'b||_inf gives x = 0 (residual ||b|| > sigma): start below it.
  double beta = 0.25 * (2.0 * A.transpose() * b).lpNorm<Eigen::Infinity>();
  Vector warm = Vector::Zero(A.cols());
  for (int it = 0; it < 200; ++it) {
    absl::StatusOr<Vector> x = SolveL1Penalized(A, b, beta, warm, L);
    if (!x.ok()) return x.status();
    if (Lasso20KktResidual(data, *x) <= 1e-9) return *x;
    if (std::optional<Vector> polished = PolishOnSupport(data, *x);
        polished && Lasso20KktResidual(data, *polished) <= 1e-9) {
      return *polished;
    }
    const double residual = (A * *x - b).norm();
    if (residual < data.sigma) {
      lo = beta;
      x_lo = *x;
    } else {
      hi = beta;
      x_hi = *x;
    }
    if (lo == 0.0) {
      beta = hi / 4.0;
    } else if (hi == 0.0) {
      beta = lo * 4.0;
    } else {
      beta = std::sqrt(lo * hi);
    }
    warm = *std::move(x);
  }
  return absl::InternalError(
      absl::StrCat("lasso: no support found for sigma = ", data.sigma, " (beta bracket [", lo, ", ", hi, "])"));
}

absl::StatusOr<std::unique_ptr<LassoInstance>> LassoInstance::Create(LassoData data, const Topology& topology) {
  const auto P = static_cast<Eigen::Index>(topology.size());
  const Eigen::Index n = data.problem.A.cols();
  if (n < P) {
    return absl::InvalidArgumentError(absl::StrCat("lasso: ", n, " columns cannot be split over ", P, " nodes"));
  }
  if (!(data.delta > 0.0) || !(data.sigma > 0.0)) {
    return absl::InvalidArgumentError("lasso: sigma and delta must be positive");
  }
  absl::StatusOr<Vector> solution = SolveLassoCentralized(data);
  if (!solution.ok()) return solution.status();
  auto inst = std::unique_ptr<LassoInstance>(new LassoInstance());
  Eigen::Index first = 0;
  for (Eigen::Index p = 0; p < P; ++p) {
    const Eigen::Index count = EvenShare(n, P, p);
    inst->columns_.emplace_back(first, count);
    inst->index_[topology.nodes()[static_cast<std::size_t>(p)].id] = static_cast<std::size_t>(p);
    inst->blocks_.push_back(std::make_shared<const LassoDualProblem>(
        data.problem.A.middleCols(first, count), data.problem.b, data.sigma, data.delta, static_cast<int>(P)));
    first += count;
  }
  inst->data_ = std::move(data);
  inst->solution_ = *std::move(solution);
  return inst;
}

std::unique_ptr<LocalProblem> LassoInstance::MakeLocal(NodeId id) const {
  return std::make_unique<LassoDualProblem>(*blocks_[index_.at(id)]);
}

ErrorMeasure LassoInstance::error_measure() const {
  std::vector<Vector> targets;
  for (const auto& [first, count] : columns_) targets.push_back(solution_.segment(first, count));
  return ErrorMeasure{.squared_error =
                          [blocks = blocks_, targets = std::move(targets)](std::size_t i, const Vector& lambda) {
                            return (blocks[i]->RecoverBlock(lambda) - targets[i]).squaredNorm();
                          },
                      .scale = solution_.norm()};
}

Vector LassoInstance::RecoverSolution(const std::vector<Vector>& lambdas) const {
  Vector x(data_.problem.A.cols());
  for (std::size_t i = 0; i < lambdas.size() && i < blocks_.size(); ++i) {
    x.segment(columns_[i].first, columns_[i].second) = blocks_[i]->RecoverBlock(lambdas[i]);
  }
  return x;
}

absl::StatusOr<Eigen::MatrixXd> LassoInstance::LocalData(NodeId id) const {
  const auto [first, count] = columns_[index_.at(id)];
  Eigen::MatrixXd data(data_.problem.A.rows(), count + 1);
  data << data_.problem.A.middleCols(first, count), data_.problem.b;
  return data;
}

std::string LassoInstance::AgentFlags() const {
  return absl::StrFormat("--sigma=%.17g --delta=%.17g", data_.sigma, data_.delta);
}

}  // namespace dadmm
