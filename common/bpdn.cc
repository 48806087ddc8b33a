#include "common/bpdn.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <Eigen/Cholesky>

#include "absl/strings/str_cat.h"
#include "common/random.h"

namespace dadmm {
namespace {

Vector SoftThreshold(const Vector& w, double lambda) {
  return w.unaryExpr([lambda](double t) { return t > lambda ? t - lambda : (t < -lambda ? t + lambda : 0.0); });
}

}  // namespace

BpdnProblem::BpdnProblem(Eigen::MatrixXd A, Vector b, double lambda)
    : A_(std::move(A)), b_(std::move(b)), lambda_(lambda), mu_(Vector::Zero(b_.size())) {}

void BpdnProblem::Solve(const Eigen::Ref<const Vector>& v, double c, Vector& x) {
  const Eigen::Index m = A_.rows();
  auto dual = [&](const Vector& mu, Vector& s) {  // phi(mu), and s = S_lambda(v + A' mu)
    s = SoftThreshold(v + A_.transpose() * mu, lambda_);
    return -0.25 * mu.squaredNorm() - mu.dot(b_) - s.squaredNorm() / (2.0 * c);
  };
  Vector s, s_try, grad, d, mu_try;
  double phi = dual(mu_, s);
  last_iterations_ = 0;
  const double scale = 1.0 + b_.norm();
  for (int it = 0; it < 100; ++it) {
    // grad phi = -mu/2 - b + A x(mu), x(mu) = -s / c.
    grad = -0.5 * mu_ - b_ - (A_ * s) / c;
    if (grad.norm() <= 1e-13 * scale) break;
    ++last_iterations_;
    // Generalized Hessian -(I/2 + A_S A_S' / c) on the active set S = {i : s_i != 0}.
    Eigen::MatrixXd H = 0.5 * Eigen::MatrixXd::Identity(m, m);
    for (Eigen::Index i = 0; i < s.size(); ++i) {
      if (s[i] != 0.0) H.selfadjointView<Eigen::Lower>().rankUpdate(A_.col(i), 1.0 / c);
    }
    d = H.selfadjointView<Eigen::Lower>().llt().solve(grad);  // ascent direction
    double t = 1.0;
    const double slope = grad.dot(d);
    bool moved = false;
    for (int ls = 0; ls < 60; ++ls) {
      mu_try = mu_ + t * d;
      const double phi_try = dual(mu_try, s_try);
      if (phi_try >= phi + 1e-4 * t * slope) {
        mu_.swap(mu_try);
        s.swap(s_try);
        phi = phi_try;
        moved = true;
        break;
      }
      t *= 0.5;
    }
    if (!moved) break;  // at the optimum to rounding
  }
  x = -s / c;
}

double BpdnProblem::Objective(const Eigen::Ref<const Vector>& x) const {
  return (A_ * x - b_).squaredNorm() + lambda_ * x.lpNorm<1>();
}

Vector BpdnProblem::Subgradient(const Eigen::Ref<const Vector>& x) const {
  Vector g = 2.0 * A_.transpose() * (A_ * x - b_);
  for (Eigen::Index i = 0; i < x.size(); ++i) g[i] += lambda_ * (x[i] > 0 ? 1.0 : (x[i] < 0 ? -1.0 : 0.0));
  return g;
}

double L1OptimalityResidual(const Vector& g, const Vector& x, double lambda) {
  double worst = 0.0;
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    const double r = x[i] != 0.0 ? std::abs(g[i] + lambda * (x[i] > 0 ? 1.0 : -1.0))
                                 : std::max(std::abs(g[i]) - lambda, 0.0);
    worst = std::max(worst, r);
  }
  return worst;
}

BpdnData MakeGaussianBpdn(std::uint64_t seed, Eigen::Index m, Eigen::Index n) {
  Rng rng(seed);
  BpdnData d{.name = absl::StrCat("gaussian ", m, "x", n), .beta = 1.0};
  d.A.resize(m, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index i = 0; i < m; ++i) d.A(i, j) = rng.Normal(0.0, 1.0 / std::sqrt(static_cast<double>(m)));
  }
  d.x0 = Vector::Zero(n);
  for (int k = 0; k < 20;) {
    const auto i = static_cast<Eigen::Index>(rng.Below(static_cast<std::uint64_t>(n)));
    if (d.x0[i] != 0.0) continue;
    d.x0[i] = rng.Uniform() < 0.5 ? -1.0 : 1.0;
    ++k;
  }
  d.b = d.A * d.x0;
  for (Eigen::Index i = 0; i < m; ++i) d.b[i] += rng.Normal(0.0, 0.01);
  return d;
}

BpdnData MakeDctBpdn(std::uint64_t seed, Eigen::Index m, Eigen::Index n) {
  Rng rng(seed);
  BpdnData d{.name = absl::StrCat("partial DCT ", m, "x", n), .beta = 0.3};
  // m distinct rows of the orthonormal DCT-II matrix, in increasing order.
  std::vector<Eigen::Index> rows(static_cast<std::size_t>(n));
  for (Eigen::Index i = 0; i < n; ++i) rows[static_cast<std::size_t>(i)] = i;
  for (Eigen::Index i = 0; i < m; ++i) {
    const auto j = i + static_cast<Eigen::Index>(rng.Below(static_cast<std::uint64_t>(n - i)));
    std::swap(rows[static_cast<std::size_t>(i)], rows[static_cast<std::size_t>(j)]);
  }
  std::sort(rows.begin(), rows.begin() + m);
  d.A.resize(m, n);
  for (Eigen::Index r = 0; r < m; ++r) {
    const double k = static_cast<double>(rows[static_cast<std::size_t>(r)]);
    const double scale = std::sqrt((k == 0 ? 1.0 : 2.0) / static_cast<double>(n));
    for (Eigen::Index j = 0; j < n; ++j) {
      d.A(r, j) = scale * std::cos(std::numbers::pi * (2.0 * static_cast<double>(j) + 1.0) * k / (2.0 * n));
    }
  }
  d.x0 = Vector::Zero(n);
  for (int k = 0; k < 20;) {
    const auto i = static_cast<Eigen::Index>(rng.Below(static_cast<std::uint64_t>(n)));
    if (d.x0[i] != 0.0) continue;
    d.x0[i] = rng.Normal(0.0, 1.0);
    ++k;
  }
  d.b = d.A * d.x0;
  for (Eigen::Index i = 0; i < m; ++i) d.b[i] += rng.Normal(0.0, 0.01);
  return d;
}

double SquaredSpectralNorm(const Eigen::MatrixXd& A) {
  // Power iteration on A'A.
  Vector u = Vector::Ones(A.cols()).normalized();
  double sigma2 = 0.0;
  for (int i = 0; i < 200; ++i) {
    Vector w = A.transpose() * (A * u);
    sigma2 = w.norm();
    if (sigma2 == 0.0) return 0.0;
    u = w / sigma2;
  }
  return sigma2;
}

absl::StatusOr<Vector> SolveBpdnCentralized(const BpdnData& data) {
  return SolveL1Penalized(data.A, data.b, data.beta, Vector::Zero(data.A.cols()), SquaredSpectralNorm(data.A));
}

absl::StatusOr<Vector> SolveL1Penalized(const Eigen::MatrixXd& A, const Vector& b, double beta, Vector x,
                                        double squared_norm) {
  const double L = 2.0 * squared_norm * 1.01;  // Lipschitz constant of the gradient, with a 1% margin
  if (x.size() != A.cols()) x = Vector::Zero(A.cols());
  // x = 0 is the solution iff ||2 A'b||_inf <= beta (no support to polish on).
  if ((2.0 * A.transpose() * b).lpNorm<Eigen::Infinity>() <= beta) return Vector::Zero(A.cols());
  Vector x_prev = x, y = x, grad;
  double t = 1.0;
  auto kkt = [&](const Vector& z) { return L1OptimalityResidual(2.0 * A.transpose() * (A * z - b), z, beta); };
  int stable = 0;
  for (int it = 1; it <= 200000; ++it) {
    grad = 2.0 * A.transpose() * (A * y - b);
    x_prev.swap(x);
    x = SoftThreshold(y - grad / L, beta / L);
    // Adaptive restart (O'Donoghue and Candes): when the momentum points uphill.
    if ((y - x).dot(x - x_prev) > 0) t = 1.0;
    const double t_next = 0.5 * (1.0 + std::sqrt(1.0 + 4.0 * t * t));
    y = x + ((t - 1.0) / t_next) * (x - x_prev);
    t = t_next;
    const bool same_support = ((x.array() != 0) == (x_prev.array() != 0)).all() &&
                              ((x.array() > 0) == (x_prev.array() > 0)).all();
    stable = same_support ? stable + 1 : 0;
    if (stable < 50 || it % 50 != 0) continue;
    // Polish: on the support S with signs s, solve 2 A_S'A_S x_S = 2 A_S'b - beta s exactly.
    std::vector<Eigen::Index> S;
    for (Eigen::Index i = 0; i < x.size(); ++i) {
      if (x[i] != 0.0) S.push_back(i);
    }
    if (S.empty() || static_cast<Eigen::Index>(S.size()) > A.rows()) continue;
    Eigen::MatrixXd AS(A.rows(), static_cast<Eigen::Index>(S.size()));
    Vector sign(static_cast<Eigen::Index>(S.size()));
    for (std::size_t k = 0; k < S.size(); ++k) {
      AS.col(static_cast<Eigen::Index>(k)) = A.col(S[k]);
      sign[static_cast<Eigen::Index>(k)] = x[S[k]] > 0 ? 1.0 : -1.0;
    }
    const Vector xs = (2.0 * AS.transpose() * AS).ldlt().solve(2.0 * AS.transpose() * b - beta * sign);
    Vector polished = Vector::Zero(A.cols());
    bool signs_hold = true;
    for (std::size_t k = 0; k < S.size(); ++k) {
      polished[S[k]] = xs[static_cast<Eigen::Index>(k)];
      signs_hold = signs_hold && xs[static_cast<Eigen::Index>(k)] * sign[static_cast<Eigen::Index>(k)] > 0;
    }
    if (signs_hold && kkt(polished) <= 1e-9 * beta) return polished;
  }
  return absl::InternalError(absl::StrCat("bpdn: centralized solver did not converge (beta ", beta,
                                          ", KKT residual ", kkt(x), ")"));
}

absl::StatusOr<std::unique_ptr<BpdnInstance>> BpdnInstance::Create(BpdnData data, const Topology& topology) {
  const auto P = static_cast<Eigen::Index>(topology.size());
  if (data.A.rows() < P) {
    return absl::InvalidArgumentError(
        absl::StrCat("bpdn: ", data.A.rows(), " rows cannot be split over ", P, " nodes"));
  }
  absl::StatusOr<Vector> solution = SolveBpdnCentralized(data);
  if (!solution.ok()) return solution.status();
  auto inst = std::unique_ptr<BpdnInstance>(new BpdnInstance());
  Eigen::Index first = 0;
  for (Eigen::Index p = 0; p < P; ++p) {
    const Eigen::Index count = data.A.rows() / P + (p < data.A.rows() % P ? 1 : 0);
    inst->rows_[topology.nodes()[static_cast<std::size_t>(p)].id] = {first, count};
    first += count;
  }
  inst->lambda_ = data.beta / static_cast<double>(P);
  inst->data_ = std::move(data);
  inst->solution_ = *std::move(solution);
  return inst;
}

std::unique_ptr<LocalProblem> BpdnInstance::MakeLocal(NodeId id) const {
  const auto [first, count] = rows_.at(id);
  return std::make_unique<BpdnProblem>(data_.A.middleRows(first, count), data_.b.segment(first, count), lambda_);
}

}  // namespace dadmm
