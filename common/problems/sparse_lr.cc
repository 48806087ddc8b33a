#include "common/problems/sparse_lr.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/numerics.h"
#include "common/base/random.h"

namespace dadmm {
namespace {

// log(1 + exp(-t)) without overflow.
double LogisticLoss(double t) { return t > 0.0 ? std::log1p(std::exp(-t)) : -t + std::log1p(std::exp(t)); }

// 1 / (1 + exp(t)) = the sigmoid of -t, without overflow.
double SigmoidOfMinus(double t) {
  if (t >= 0.0) {
    const double e = std::exp(-t);
    return e / (1.0 + e);
  }
  return 1.0 / (1.0 + std::exp(t));
}

// G = diag(b) A, with a last column b when `intercept`.
Eigen::MatrixXd LabelledRows(const Eigen::MatrixXd& A, const Vector& b, bool intercept) {
  Eigen::MatrixXd G(A.rows(), A.cols() + (intercept ? 1 : 0));
  G.leftCols(A.cols()) = b.asDiagonal() * A;
  if (intercept) G.col(A.cols()) = b;
  return G;
}

SparseFeatures LabelledRows(const SparseFeatures& A, const Vector& b, bool intercept) {
  std::vector<Eigen::Triplet<double>> entries;
  entries.reserve(static_cast<std::size_t>(A.nonZeros() + (intercept ? A.rows() : 0)));
  for (Eigen::Index r = 0; r < A.outerSize(); ++r) {
    for (SparseFeatures::InnerIterator it(A, r); it; ++it) entries.emplace_back(r, it.col(), b[r] * it.value());
    if (intercept) entries.emplace_back(r, A.cols(), b[r]);
  }
  SparseFeatures G(A.rows(), A.cols() + (intercept ? 1 : 0));
  G.setFromTriplets(entries.begin(), entries.end());
  return G;
}

double MaxRowL1(const Eigen::MatrixXd& G) { return G.rows() > 0 ? G.cwiseAbs().rowwise().sum().maxCoeff() : 0.0; }

double MaxRowL1(const SparseFeatures& G) {
  double best = 0.0;
  for (Eigen::Index r = 0; r < G.outerSize(); ++r) {
    double sum = 0.0;
    for (SparseFeatures::InnerIterator it(G, r); it; ++it) sum += std::abs(it.value());
    best = std::max(best, sum);
  }
  return best;
}

}  // namespace

template <typename Matrix>
BasicSparseLrProblem<Matrix>::BasicSparseLrProblem(const Matrix& features, const Vector& labels, double mu,
                                                   double bound, const FistaOptions& fista, bool intercept)
    : G_(LabelledRows(features, labels, intercept)), intercept_(intercept), mu_(mu), bound_(bound), fista_(fista) {
  gram_norm_ = LargestGramEigenvalue(G_);
  max_row_l1_ = MaxRowL1(G_);
}

template <typename Matrix>
void BasicSparseLrProblem<Matrix>::SmoothGradient(const Eigen::Ref<const Vector>& x, Vector& gradient) const {
  // h(x) = sum_m l(g_m'x), l(t) = log(1 + e^{-t}), l'(t) = -1 / (1 + e^t).
  Vector t = G_ * x;
  for (Eigen::Index m = 0; m < t.size(); ++m) t[m] = -SigmoidOfMinus(t[m]);
  gradient.noalias() = G_.transpose() * t;
}

template <typename Matrix>
void BasicSparseLrProblem<Matrix>::Prox(const Eigen::Ref<const Vector>& s, double gamma, Vector& x) const {
  // argmin mu|x| + (gamma/2)(x - s)^2 over [-B, B]: a convex function of one variable, so the
  // unconstrained minimizer soft(s, mu / gamma) clipped to the interval.
  x.resize(s.size());
  const double t = mu_ / gamma;
  const Eigen::Index penalized = s.size() - (intercept_ ? 1 : 0);
  for (Eigen::Index k = 0; k < penalized; ++k) x[k] = std::clamp(SoftThreshold(s[k], t), -bound_, bound_);
  if (intercept_) x[penalized] = s[penalized];  // the intercept: no l1 weight, no box
}

template <typename Matrix>
CompositeProblem::Constants BasicSparseLrProblem<Matrix>::constants() const {
  // l''(t) = e^t / (1 + e^t)^2 lies in (0, 1/4]; over the box |g_m'x| <= B max_m ||g_m||_1 =: R, so
  // l'' >= l''(R) there: the sigma_f^2 of Assumption 3 on the range the box allows.
  // With the intercept (no bound on it) or no box, nothing bounds g_m'x: sigma_f^2 = 0.
  const double r = intercept_ ? std::numeric_limits<double>::infinity() : bound_ * max_row_l1_;
  const double e = std::exp(-r);
  return {.lipschitz_f = 0.25, .convexity_f = e / ((1.0 + e) * (1.0 + e)), .gram_norm = gram_norm_};
}

template <typename Matrix>
double BasicSparseLrProblem<Matrix>::Objective(const Eigen::Ref<const Vector>& x) const {
  const Vector t = G_ * x;
  double sum = 0.0;
  for (Eigen::Index m = 0; m < t.size(); ++m) sum += LogisticLoss(t[m]);
  return sum + mu_ * x.head(x.size() - (intercept_ ? 1 : 0)).lpNorm<1>();
}

template <typename Matrix>
Vector BasicSparseLrProblem<Matrix>::Subgradient(const Eigen::Ref<const Vector>& x) const {
  Vector g;
  SmoothGradient(x, g);
  const Eigen::Index penalized = x.size() - (intercept_ ? 1 : 0);
  for (Eigen::Index k = 0; k < penalized; ++k) g[k] += mu_ * (x[k] > 0.0 ? 1.0 : (x[k] < 0.0 ? -1.0 : 0.0));
  return g;
}

template <typename Matrix>
void BasicSparseLrProblem<Matrix>::Project(Vector& x) const {
  const Eigen::Index penalized = x.size() - (intercept_ ? 1 : 0);
  x.head(penalized) = x.head(penalized).cwiseMax(-bound_).cwiseMin(bound_);
}

template <typename Matrix>
std::uint64_t BasicSparseLrProblem<Matrix>::Minimize(const Eigen::Ref<const Vector>& v, double c, Vector& x,
                                                     double step, double tolerance, std::uint64_t max_iterations,
                                                     bool restart, double* pgr_out) const {
  const Eigen::Index K = G_.cols();
  if (step <= 0.0) step = 1.0 / (smooth_lipschitz() + c);
  const double scale = 1.0 / (step * std::sqrt(static_cast<double>(K)));
  // (16): x~^l = prox_{step g}(z^{l-1} - step grad(z^{l-1})), z^l = x~^l + (l-1)/(l+2) (x~^l - x~^{l-1}),
  // with grad = A'grad f(A z) + v + c z (v + c z carries p_i and the consensus terms of (16a)).
  Vector previous = x, z = x, gradient, next, delta;
  double pgr = std::numeric_limits<double>::infinity();
  std::uint64_t l = 0, momentum_age = 0;
  while (l < max_iterations) {
    ++l;
    ++momentum_age;
    SmoothGradient(z, gradient);
    gradient += v + c * z;
    Prox(z - step * gradient, 1.0 / step, next);
    delta = z - next;
    pgr = delta.norm() * scale;
    if (restart && delta.dot(next - previous) > 0.0) {
      momentum_age = 0;  // the momentum took the step uphill: restart from x~^l
    }
    const double beta = momentum_age > 0 ? static_cast<double>(momentum_age - 1) / (momentum_age + 2) : 0.0;
    z = next + beta * (next - previous);
    previous.swap(next);
    if (pgr < tolerance) break;
  }
  x = previous;
  if (pgr_out != nullptr) *pgr_out = pgr;
  return l;
}

template <typename Matrix>
SolveInfo BasicSparseLrProblem<Matrix>::Solve(const Eigen::Ref<const Vector>& v, double c, Vector& x) {
  double pgr = 0.0;
  const std::uint64_t steps =
      Minimize(v, c, x, fista_.step, fista_.pgr_tolerance, fista_.max_iterations, fista_.restart, &pgr);
  solver_iterations_ += steps;
  return {.iterations = steps, .converged = pgr < fista_.pgr_tolerance};
}

template class BasicSparseLrProblem<Eigen::MatrixXd>;
template class BasicSparseLrProblem<SparseFeatures>;

double SparseLrObjective(const SparseLrData& data, const Vector& x) {
  const Vector t = data.labels.asDiagonal() * (data.features * x);
  double sum = 0.0;
  for (Eigen::Index m = 0; m < t.size(); ++m) sum += LogisticLoss(t[m]);
  return sum + data.lambda * x.lpNorm<1>();
}

double SparseLrOptimalityResidual(const SparseLrData& data, const Vector& x) {
  // d = -A' diag(b) sigma(-b .* Ax), the loss gradient.
  const Vector t = data.labels.asDiagonal() * (data.features * x);
  Vector w(t.size());
  for (Eigen::Index m = 0; m < t.size(); ++m) w[m] = -data.labels[m] / (1.0 + std::exp(t[m]));
  const Vector d = data.features.transpose() * w;
  const double lambda = data.lambda, B = data.bound;
  double worst = 0.0;
  for (Eigen::Index k = 0; k < x.size(); ++k) {
    double violation;
    if (x[k] >= B) {
      violation = std::max(0.0, d[k] + lambda);
    } else if (x[k] <= -B) {
      violation = std::max(0.0, -(d[k] - lambda));
    } else if (x[k] > 0.0) {
      violation = std::abs(d[k] + lambda);
    } else if (x[k] < 0.0) {
      violation = std::abs(d[k] - lambda);
    } else {
      violation = std::max(0.0, std::abs(d[k]) - lambda);
    }
    worst = std::max(worst, violation);
  }
  return worst;
}

absl::StatusOr<SparseLrSolution> SolveSparseLrCentralized(const SparseLrData& data, double tolerance) {
  if (data.features.rows() == 0 || data.features.rows() != data.labels.size()) {
    return absl::InvalidArgumentError("sparse-lr: no examples, or labels not one per example");
  }
  const SparseLrProblem all(data.features, data.labels, data.lambda, data.bound, {});
  SparseLrSolution s{.x = Vector::Zero(data.features.cols())};
  double pgr = 0.0;
  s.iterations = all.Minimize(Vector::Zero(s.x.size()), 0.0, s.x, 0.0, tolerance, 2000000, true, &pgr);
  if (!(pgr < tolerance)) {
    return absl::InternalError(
        absl::StrFormat("sparse-lr: the centralized FISTA stopped at pgr %.3g after %d "
                        "iterations (tolerance %g)",
                        pgr, s.iterations, tolerance));
  }
  s.objective = SparseLrObjective(data, s.x);
  return s;
}

ConsensusMeasures MeasureConsensus(const SparseLrData& data, double objective_star, const std::vector<Vector>& x) {
  Vector mean = Vector::Zero(x.front().size());
  for (const Vector& xi : x) mean += xi;
  mean /= static_cast<double>(x.size());
  double cserr = 0.0;
  for (const Vector& xi : x) cserr += (mean - xi).squaredNorm();
  return {.acc = (SparseLrObjective(data, mean) - objective_star) / objective_star,
          .cserr = cserr / static_cast<double>(x.size())};
}

namespace {

using Image = Eigen::MatrixXd;

// Moving average over (2r + 1) pixels along rows then columns, wrapping around (a periodic texture).
Image BoxBlur(const Image& in, int r) {
  const Eigen::Index H = in.rows(), W = in.cols();
  Image tmp(H, W), out(H, W);
  const double w = 1.0 / (2 * r + 1);
  for (Eigen::Index i = 0; i < H; ++i) {
    for (Eigen::Index j = 0; j < W; ++j) {
      double s = 0.0;
      for (int d = -r; d <= r; ++d) s += in(i, (j + d + W) % W);
      tmp(i, j) = s * w;
    }
  }
  for (Eigen::Index i = 0; i < H; ++i) {
    for (Eigen::Index j = 0; j < W; ++j) {
      double s = 0.0;
      for (int d = -r; d <= r; ++d) s += tmp((i + d + H) % H, j);
      out(i, j) = s * w;
    }
  }
  return out;
}

Image Noise(Eigen::Index size, Rng& rng) {
  Image img(size, size);
  for (Eigen::Index i = 0; i < size; ++i) {
    for (Eigen::Index j = 0; j < size; ++j) img(i, j) = rng.Normal();
  }
  return img;
}

Image ToUnitRange(const Image& img) {
  const double lo = img.minCoeff(), hi = img.maxCoeff();
  return hi > lo ? Image((img.array() - lo) / (hi - lo)) : Image(Image::Constant(img.rows(), img.cols(), 0.5));
}

}  // namespace

absl::StatusOr<SparseLrData> MakeTexturePatches(Eigen::Index count, Eigen::Index K, double lambda, std::uint64_t seed) {
  const auto side = static_cast<Eigen::Index>(std::llround(std::sqrt(static_cast<double>(K))));
  if (K < 4 || side * side != K) return absl::InvalidArgumentError(absl::StrCat("K = ", K, " is not a square >= 4"));
  if (count < 2 || count % 2 != 0)
    return absl::InvalidArgumentError(absl::StrCat("count = ", count, " is not even >= 2"));
  Rng rng(seed);
  const Eigen::Index size = std::max<Eigen::Index>(4 * side, 64);
  // Texture 1: a fine isotropic grain (white noise, blurred twice, plus a coarser mottle).
  const Image grain =
      ToUnitRange(BoxBlur(BoxBlur(Noise(size, rng), 1), 1) + 0.5 * BoxBlur(BoxBlur(Noise(size, rng), 4), 4) * 3.0);
  // Texture 2: wood-like grain, stripes along the rows whose phase wanders with a smooth noise field.
  const Image wander = BoxBlur(BoxBlur(Noise(size, rng), 8), 8);
  const double spread = wander.cwiseAbs().maxCoeff();
  const Image fine = BoxBlur(Noise(size, rng), 1);
  Image wood(size, size);
  const double period = std::max(4.0, static_cast<double>(side) / 6.0);
  for (Eigen::Index i = 0; i < size; ++i) {
    for (Eigen::Index j = 0; j < size; ++j) {
      const double phase = 2.0 * M_PI * (static_cast<double>(i) + 3.0 * period * wander(i, j) / spread) / period;
      wood(i, j) = std::sin(phase) + 0.4 * fine(i, j);
    }
  }
  wood = ToUnitRange(wood);

  SparseLrData data{.name = absl::StrCat("textures-K", K), .lambda = lambda};
  data.features.resize(count, K);
  data.labels.resize(count);
  const Eigen::Index positions = size - side + 1;
  for (Eigen::Index r = 0; r < count; ++r) {
    const Image& texture = r < count / 2 ? grain : wood;
    const Eigen::Index top = static_cast<Eigen::Index>(rng.Below(positions));
    const Eigen::Index left = static_cast<Eigen::Index>(rng.Below(positions));
    for (Eigen::Index i = 0; i < side; ++i) {
      for (Eigen::Index j = 0; j < side; ++j) data.features(r, i * side + j) = texture(top + i, left + j);
    }
    data.features.row(r).array() -= data.features.row(r).mean();
    const double norm = data.features.row(r).norm();
    if (norm > 0.0) data.features.row(r) /= norm;
    data.labels[r] = r < count / 2 ? 1.0 : -1.0;
  }
  // Shuffle the examples (Fisher-Yates), as seed 001 shuffles the rows before partitioning.
  std::vector<Eigen::Index> order(count);
  std::iota(order.begin(), order.end(), 0);
  for (Eigen::Index i = count - 1; i > 0; --i) {
    std::swap(order[i], order[static_cast<Eigen::Index>(rng.Below(i + 1))]);
  }
  SparseLrData shuffled{.name = data.name, .lambda = lambda};
  shuffled.features.resize(count, K);
  shuffled.labels.resize(count);
  for (Eigen::Index r = 0; r < count; ++r) {
    shuffled.features.row(r) = data.features.row(order[r]);
    shuffled.labels[r] = data.labels[order[r]];
  }
  return shuffled;
}

absl::Status FistaOptions::Validate() const {
  if (!(std::isfinite(step) && step >= 0.0)) {
    return absl::InvalidArgumentError(absl::StrCat("FISTA: step must be a finite number >= 0 (0: 1 / L), got ", step));
  }
  if (!(std::isfinite(pgr_tolerance) && pgr_tolerance > 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("FISTA: pgr tolerance must be a finite number > 0, got ", pgr_tolerance));
  }
  if (max_iterations < 1) return absl::InvalidArgumentError("FISTA: at least 1 iteration per solve");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SparseLrInstance>> SparseLrInstance::Create(SparseLrData data, const Topology& topology,
                                                                           std::uint64_t seed,
                                                                           const FistaOptions& fista) {
  if (absl::Status s = fista.Validate(); !s.ok()) return s;
  if (data.features.rows() < static_cast<Eigen::Index>(topology.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("sparse-lr: ", data.features.rows(), " examples for ", topology.size(), " nodes"));
  }
  auto instance = std::unique_ptr<SparseLrInstance>(new SparseLrInstance());
  instance->rows_ = SplitExamples(data.features.rows(), topology, seed);
  absl::StatusOr<SparseLrSolution> solution = SolveSparseLrCentralized(data);
  if (!solution.ok()) return solution.status();
  instance->solution_ = *std::move(solution);
  instance->data_ = std::move(data);
  instance->fista_ = fista;
  return instance;
}

std::unique_ptr<LocalProblem> SparseLrInstance::MakeLocal(NodeId id, const FistaOptions& fista) const {
  auto [features, labels] = GatherExamples(data_.features, data_.labels, rows_.at(id));
  return std::make_unique<SparseLrProblem>(features, labels, data_.lambda / static_cast<double>(rows_.size()),
                                           data_.bound, fista);
}

absl::StatusOr<Eigen::MatrixXd> SparseLrInstance::LocalData(NodeId id) const {
  auto it = rows_.find(id);
  if (it == rows_.end()) return absl::NotFoundError(absl::StrCat("node ", id, " is not in the instance"));
  auto [features, labels] = GatherExamples(data_.features, data_.labels, it->second);
  Eigen::MatrixXd out(features.rows(), features.cols() + 1);
  out << features, labels;
  return out;
}

std::string SparseLrInstance::AgentFlags() const {
  return absl::StrFormat("--lambda=%.17g --box=%.17g --pgr=%.17g --fista_step=%.17g", data_.lambda, data_.bound,
                         fista_.pgr_tolerance, fista_.step);
}

SparseLogRegData MakeSparseLogReg(Eigen::Index m, Eigen::Index n, int per_row, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<Eigen::Triplet<double>> entries;
  entries.reserve(static_cast<std::size_t>(m * per_row));
  for (Eigen::Index r = 0; r < m; ++r) {
    for (int k = 0; k < per_row; ++k) {
      entries.emplace_back(r, static_cast<Eigen::Index>(rng.Below(static_cast<std::uint64_t>(n))), rng.Normal());
    }
  }
  SparseLogRegData data{.name = absl::StrCat("logreg-sparse-m", m, "-n", n)};
  data.features.resize(m, n);
  data.features.setFromTriplets(entries.begin(), entries.end());  // repeats summed
  Vector w_true = Vector::Zero(n);
  for (int k = 0; k < 100 && k < n; ++k)
    w_true[static_cast<Eigen::Index>(rng.Below(static_cast<std::uint64_t>(n)))] = rng.Normal();
  const double v_true = rng.Normal();
  const Vector score = data.features * w_true;
  data.labels.resize(m);
  for (Eigen::Index r = 0; r < m; ++r) {
    data.labels[r] = score[r] + v_true + rng.Normal(0.0, std::sqrt(0.1)) >= 0.0 ? 1.0 : -1.0;
  }
  const double positive = (data.labels.array() > 0.0).cast<double>().mean();
  Vector tilde(m);
  for (Eigen::Index r = 0; r < m; ++r) tilde[r] = data.labels[r] > 0.0 ? 1.0 - positive : -positive;
  data.lambda = 0.1 * (data.features.transpose() * tilde).cwiseAbs().maxCoeff();
  return data;
}

double SparseLogRegOptimalityResidual(const SparseLogRegData& data, const Vector& x) {
  const Eigen::Index n = data.features.cols();
  const Vector t = (data.features * x.head(n)).array() + x[n];
  Vector w(t.size());
  for (Eigen::Index m = 0; m < t.size(); ++m) w[m] = -data.labels[m] / (1.0 + std::exp(data.labels[m] * t[m]));
  const Vector d = data.features.transpose() * w;
  double worst = std::abs(w.sum());  // the intercept's gradient
  for (Eigen::Index j = 0; j < n; ++j) {
    worst = std::max(worst, L1Violation(x[j], d[j], data.lambda));
  }
  return worst;
}

absl::StatusOr<Vector> SolveSparseLogRegCentralized(const SparseLogRegData& data, double tolerance) {
  const SparseFeatureLogRegProblem all(data.features, data.labels, data.lambda, std::numeric_limits<double>::infinity(),
                                       {}, /*intercept=*/true);
  Vector x = Vector::Zero(data.features.cols() + 1);
  double pgr = 0.0;
  const std::uint64_t iterations = all.Minimize(Vector::Zero(x.size()), 0.0, x, 0.0, tolerance, 1000000, true, &pgr);
  if (!(pgr < tolerance)) {
    return absl::InternalError(
        absl::StrFormat("logreg: the centralized FISTA stopped at pgr %.3g after %d iterations", pgr, iterations));
  }
  return x;
}

absl::StatusOr<std::unique_ptr<SparseLogRegInstance>> SparseLogRegInstance::Create(SparseLogRegData data,
                                                                                   const Topology& topology,
                                                                                   std::uint64_t seed, double pgr) {
  if (absl::Status s = FistaOptions{.pgr_tolerance = pgr}.Validate(); !s.ok()) return s;
  if (data.features.rows() < static_cast<Eigen::Index>(topology.size())) {
    return absl::InvalidArgumentError("logreg: fewer examples than nodes");
  }
  auto instance = std::unique_ptr<SparseLogRegInstance>(new SparseLogRegInstance());
  instance->rows_ = SplitExamples(data.features.rows(), topology, seed);
  absl::StatusOr<Vector> solution = SolveSparseLogRegCentralized(data);
  if (!solution.ok()) return solution.status();
  instance->solution_ = *std::move(solution);
  instance->data_ = std::move(data);
  instance->pgr_ = pgr;
  return instance;
}

absl::StatusOr<SparseExamples> SparseLogRegInstance::LocalExamples(NodeId id) const {
  auto found = rows_.find(id);
  if (found == rows_.end()) return absl::NotFoundError(absl::StrCat("node ", id, " is not in the instance"));
  const std::vector<Eigen::Index>& rows = found->second;
  std::vector<Eigen::Triplet<double>> entries;
  SparseExamples out;
  out.labels.resize(static_cast<Eigen::Index>(rows.size()));
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const auto r = static_cast<Eigen::Index>(k);
    for (SparseFeatures::InnerIterator it(data_.features, rows[k]); it; ++it)
      entries.emplace_back(r, it.col(), it.value());
    out.labels[r] = data_.labels[rows[k]];
  }
  out.features.resize(out.labels.size(), data_.features.cols());
  out.features.setFromTriplets(entries.begin(), entries.end());
  return out;
}

std::unique_ptr<LocalProblem> SparseLogRegInstance::MakeLocal(NodeId id) const {
  absl::StatusOr<SparseExamples> examples = LocalExamples(id);
  if (!examples.ok()) return nullptr;
  return std::make_unique<SparseFeatureLogRegProblem>(
      examples->features, examples->labels, data_.lambda / static_cast<double>(rows_.size()),
      std::numeric_limits<double>::infinity(),
      FistaOptions{.step = 0.0, .pgr_tolerance = pgr_, .max_iterations = 1000000, .restart = true}, /*intercept=*/true);
}

absl::StatusOr<Eigen::MatrixXd> SparseLogRegInstance::LocalData(NodeId id) const {
  absl::StatusOr<SparseExamples> examples = LocalExamples(id);
  if (!examples.ok()) return examples.status();
  Eigen::MatrixXd out(examples->features.rows(), examples->features.cols() + 1);
  out << Eigen::MatrixXd(examples->features), examples->labels;
  return out;
}

std::string SparseLogRegInstance::AgentFlags() const {
  return absl::StrFormat("--lambda=%.17g --logreg_solver=fista --pgr=%.17g --features=%d", data_.lambda, pgr_,
                         data_.features.cols());
}

}  // namespace dadmm
