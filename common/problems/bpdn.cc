#include "common/problems/bpdn.h"

#include <Eigen/Cholesky>
#include <algorithm>
#include <cmath>
#include <numbers>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/numerics.h"
#include "common/base/portable_float.h"
#include "common/base/random.h"

namespace dadmm {

// Products here block the same way on every machine (common/portable_float.h).
[[maybe_unused]] static const bool kPortableBlocking = (UsePortableEigenBlocking(), true);
namespace {}  // namespace

BpdnProblem::BpdnProblem(Eigen::MatrixXd A, Vector b, double lambda)
    : A_(std::move(A)), b_(std::move(b)), lambda_(lambda), mu_(Vector::Zero(b_.size())) {}

namespace {

// Exact line search for the concave piecewise-quadratic dual along d: the t >= 0 where
//   f'(t) = -(mu + t d)'d / 2 - b'd - (1/c) sum_i S_lambda(w_i + t g_i) g_i,   g = A'd,
// vanishes. f' is piecewise linear and nonincreasing; walk its breakpoints (where w_i + t g_i = +-lambda)
// in order until it changes sign.
// `events` and `state` are scratch space, kept by the caller to spare allocations.
double ExactStep(const Vector& mu, const Vector& d, const Vector& b, const Vector& w, const Vector& g, double lambda,
                 double c, std::vector<LineSearchEvent>& events, std::vector<signed char>& state) {
  enum State : signed char { kLower = -1, kInactive = 0, kUpper = 1 };
  double a0 = -0.5 * mu.dot(d) - b.dot(d), a1 = -0.5 * d.squaredNorm();
  auto contribute = [&](Eigen::Index i, int state, double sign) {  // sign +1 adds, -1 removes
    if (state == kInactive) return;
    const double shift = state == kUpper ? lambda : -lambda;
    a0 -= sign * (w[i] - shift) * g[i] / c;
    a1 -= sign * g[i] * g[i] / c;
  };
  events.clear();
  state.assign(static_cast<std::size_t>(w.size()), kInactive);
  for (Eigen::Index i = 0; i < w.size(); ++i) {
    const double gi = g[i], wi = w[i];
    signed char& st = state[static_cast<std::size_t>(i)];
    st = (wi > lambda || (wi == lambda && gi > 0)) ? kUpper
                                                   : ((wi < -lambda || (wi == -lambda && gi < 0)) ? kLower : kInactive);
    contribute(i, st, 1.0);
    if (gi == 0.0) continue;
    const double t_up = (lambda - wi) / gi, t_low = (-lambda - wi) / gi;
    if (t_up > 0) events.push_back({t_up, i, gi > 0 ? kUpper : kInactive});
    if (t_low > 0) events.push_back({t_low, i, gi > 0 ? kInactive : kLower});
  }
  // A min-heap: usually only a few breakpoints lie before the root.
  auto later = [](const LineSearchEvent& x, const LineSearchEvent& y) { return x.t > y.t; };
  std::make_heap(events.begin(), events.end(), later);
  while (!events.empty()) {
    std::pop_heap(events.begin(), events.end(), later);
    const LineSearchEvent e = events.back();
    events.pop_back();
    if (a0 + a1 * e.t <= 0.0) break;  // the root is before this breakpoint
    signed char& st = state[static_cast<std::size_t>(e.i)];
    contribute(e.i, st, -1.0);
    st = e.after;
    contribute(e.i, st, 1.0);
  }
  return -a0 / a1;  // a1 <= -||d||^2 / 2 < 0
}

}  // namespace

SolveInfo BpdnProblem::Solve(const Eigen::Ref<const Vector>& v, double c, Vector& x) {
  bool converged = false;
  const Eigen::Index m = A_.rows();
  // w = v + A'mu is kept along with mu: each iteration needs one product with A' (for g = A'd).
  Vector w = v + A_.transpose() * mu_;
  Vector grad(m), d, g, As(m);
  Eigen::MatrixXd H(m, m);
  last_iterations_ = 0;
  const double scale = 1.0 + b_.norm();
  for (int it = 0; it < 100; ++it) {
    // Active set S = {i : |w_i| > lambda}, where s = S_lambda(w) is nonzero and x = -s / c.
    H = 0.5 * Eigen::MatrixXd::Identity(m, m);
    As.setZero();
    for (Eigen::Index i = 0; i < w.size(); ++i) {
      const double si = SoftThreshold(w[i], lambda_);
      if (si == 0.0) continue;
      As += si * A_.col(i);
      H.selfadjointView<Eigen::Lower>().rankUpdate(A_.col(i), 1.0 / c);
    }
    // grad phi = -mu/2 - b + A x(mu); generalized Hessian -(I/2 + A_S A_S' / c).
    grad = -0.5 * mu_ - b_ - As / c;
    if (grad.norm() <= 1e-13 * scale) {
      converged = true;
      break;
    }
    ++last_iterations_;
    d = H.selfadjointView<Eigen::Lower>().llt().solve(grad);  // ascent direction
    g = A_.transpose() * d;
    const double t = ExactStep(mu_, d, b_, w, g, lambda_, c, events_, state_);
    if (!(t > 0.0) || t * d.norm() <= 1e-16 * (1.0 + mu_.norm())) {  // at the optimum to rounding
      converged = true;
      break;
    }
    mu_ += t * d;
    w += t * g;
  }
  w = v + A_.transpose() * mu_;  // without the rounding the updates accumulated
  x = -SoftThreshold(w, lambda_) / c;
  return {.iterations = static_cast<std::uint64_t>(last_iterations_), .converged = converged};
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
    const double r =
        x[i] != 0.0 ? std::abs(g[i] + lambda * (x[i] > 0 ? 1.0 : -1.0)) : std::max(std::abs(g[i]) - lambda, 0.0);
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

BpdnData MakeDenseLasso(std::uint64_t seed, Eigen::Index m, Eigen::Index n) {
  Rng rng(seed);
  BpdnData d{.name = absl::StrCat("dense lasso ", m, "x", n, " (seed 002 §10.1)")};
  d.A.resize(m, n);
  for (Eigen::Index j = 0; j < n; ++j) {
    for (Eigen::Index i = 0; i < m; ++i) d.A(i, j) = rng.Normal(0.0, 1.0);
    d.A.col(j).normalize();
  }
  d.x0 = Vector::Zero(n);
  for (int k = 0; k < 100;) {
    const auto i = static_cast<Eigen::Index>(rng.Below(static_cast<std::uint64_t>(n)));
    if (d.x0[i] != 0.0) continue;
    d.x0[i] = rng.Normal(0.0, 1.0);
    ++k;
  }
  d.b = d.A * d.x0;
  for (Eigen::Index i = 0; i < m; ++i) d.b[i] += rng.Normal(0.0, std::sqrt(1e-3));
  const double lambda = 0.1 * (d.A.transpose() * d.b).lpNorm<Eigen::Infinity>();
  d.beta = 2.0 * lambda;  // (1/2)||Ax - b||^2 + lambda||x||_1 = ((21) with beta = 2 lambda) / 2
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

double SquaredSpectralNorm(const Eigen::MatrixXd& A) { return LargestGramEigenvalue(A); }

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
    const bool same_support =
        ((x.array() != 0) == (x_prev.array() != 0)).all() && ((x.array() > 0) == (x_prev.array() > 0)).all();
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
  return absl::InternalError(
      absl::StrCat("bpdn: centralized solver did not converge (beta ", beta, ", KKT residual ", kkt(x), ")"));
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
    const Eigen::Index count = EvenShare(data.A.rows(), P, p);
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

absl::StatusOr<Eigen::MatrixXd> BpdnInstance::LocalData(NodeId id) const {
  const auto [first, count] = rows_.at(id);
  Eigen::MatrixXd rows(count, data_.A.cols() + 1);
  rows << data_.A.middleRows(first, count), data_.b.segment(first, count);
  return rows;
}

std::string BpdnInstance::AgentFlags() const { return absl::StrFormat("--beta=%.17g", data_.beta); }

}  // namespace dadmm
