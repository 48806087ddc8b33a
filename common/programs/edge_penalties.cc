#include "common/programs/edge_penalties.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace dadmm {
namespace {

// Sums in index order with scalar arithmetic: the two ends of an edge hold the same vectors at
// different addresses (a neighbour's estimate is a column of a matrix), and a vectorized reduction
// may round differently by alignment.
template <typename A>
double Norm(const A& a) {
  double s = 0.0;
  for (Eigen::Index e = 0; e < a.size(); ++e) s += a[e] * a[e];
  return std::sqrt(s);
}

// Relative residuals below this are rounding (a few hundred ulps of 1).
constexpr double kRoundingFloor = 1e-13;

}  // namespace

absl::Status EdgePenaltySettings::Validate() const {
  if (!adaptive) return absl::OkStatus();
  if (!(mu > 1.0) || !std::isfinite(mu) || !(tau > 1.0) || !std::isfinite(tau)) {
    return absl::InvalidArgumentError(
        absl::StrCat("per-edge penalties need mu > 1 and tau > 1, got ", mu, " and ", tau));
  }
  if (every < 1) return absl::InvalidArgumentError("per-edge penalties: every must be >= 1");
  return absl::OkStatus();
}

std::string EdgePenaltySettings::Describe() const {
  if (!adaptive) return "";
  return absl::StrCat(" edge-rho mu=", absl::SixDigits(mu), " tau=", absl::SixDigits(tau), " every=", every,
                      " changes=", max_changes);
}

EdgePenalties::EdgePenalties(std::size_t degree, Eigen::Index n, double rho, const EdgePenaltySettings& settings)
    : settings_(settings), rho_(degree, rho), changes_(degree, 0) {
  if (settings_.adaptive) lambda_.assign(degree, Vector::Zero(n));
}

double EdgePenalties::sum() const {
  double s = 0.0;
  for (double r : rho_) s += r;
  return s;
}

double EdgePenalties::min() const { return rho_.empty() ? 0.0 : *std::min_element(rho_.begin(), rho_.end()); }
double EdgePenalties::max() const { return rho_.empty() ? 0.0 : *std::max_element(rho_.begin(), rho_.end()); }

double EdgePenalties::geometric_mean() const {
  if (rho_.empty()) return 0.0;
  double log_sum = 0.0;
  for (double r : rho_) log_sum += std::log(r);
  return std::exp(log_sum / static_cast<double>(rho_.size()));
}

double EdgePenalties::root_sum_of_squares() const {
  double s = 0.0;
  for (double r : rho_) s += r * r;
  return std::sqrt(s);
}

void EdgePenalties::SetAll(double rho) { std::fill(rho_.begin(), rho_.end(), rho); }

void EdgePenalties::Update(std::uint64_t k, const Vector& x, const Vector& x_previous,
                           const NeighbourEstimates& neighbours) {
  if (!settings_.adaptive) return;
  const bool measure = k % settings_.every == 0;
  const double x_norm = Norm(x);
  const Eigen::Index n = x.size();
  for (std::size_t i = 0; i < rho_.size(); ++i) {
    const auto next = neighbours.next(i);
    const auto current = neighbours.current(i);
    Vector& lambda = lambda_[i];
    double r2 = 0.0, z2 = 0.0;
    for (Eigen::Index e = 0; e < n; ++e) {
      const double d = x[e] - next[e];
      lambda[e] += rho_[i] * d;
      r2 += d * d;
      // (x_p^{k+1} - x_p^k) + (x_j^{k+1} - x_j^k): the same sum at both ends (addition commutes).
      const double dz = (x[e] - x_previous[e]) + (next[e] - current[e]);
      z2 += dz * dz;
    }
    if (!measure || changes_[i] >= settings_.max_changes) continue;
    // lambda_jp = -lambda_pj exactly, and both norms below are symmetric in p and j.
    const double primal_scale = std::max(x_norm, Norm(next));
    const double dual_scale = Norm(lambda);
    if (!(primal_scale > 0.0) || !(dual_scale > 0.0)) continue;
    const double r = std::sqrt(r2) / primal_scale;
    const double s = rho_[i] * 0.5 * std::sqrt(z2) / dual_scale;
    // Residuals at the level of rounding say nothing about the penalty: a converged edge keeps it.
    if (r < kRoundingFloor && s < kRoundingFloor) continue;
    double next_rho = rho_[i];
    if (r > settings_.mu * s) {
      next_rho = rho_[i] * (s > 0.0 ? std::min(std::sqrt(r / s), settings_.tau) : settings_.tau);
    } else if (s > settings_.mu * r) {
      next_rho = rho_[i] / (r > 0.0 ? std::min(std::sqrt(s / r), settings_.tau) : settings_.tau);
    }
    if (next_rho != rho_[i] && std::isfinite(next_rho) && next_rho > 0.0) {
      rho_[i] = next_rho;
      ++changes_[i];
      ++changes_total_;
    }
  }
}

void EdgePenalties::SaveState(StateWriter& w) const {
  w.U64(rho_.size());
  for (std::size_t i = 0; i < rho_.size(); ++i) {
    w.F64(rho_[i]);
    w.U64(changes_[i]);
    if (settings_.adaptive) w.Vec(lambda_[i]);
  }
  w.U64(changes_total_);
}

void EdgePenalties::LoadState(StateReader& r) {
  if (const std::uint64_t degree = r.U64(); r.ok() && degree != rho_.size()) {
    r.Fail(absl::StrCat("edge penalties for ", degree, " edges, this node has ", rho_.size()));
    return;
  }
  for (std::size_t i = 0; i < rho_.size() && r.ok(); ++i) {
    rho_[i] = r.F64();
    changes_[i] = static_cast<std::uint32_t>(r.U64());
    if (settings_.adaptive) lambda_[i] = r.Vec(lambda_[i].size(), "lambda");
    if (r.ok() && (!(rho_[i] > 0.0) || !std::isfinite(rho_[i]))) r.Fail(absl::StrCat("edge penalty ", rho_[i]));
  }
  changes_total_ = r.U64();
}

double PenaltyNow(const NodeProgram& program, const std::optional<StopDiagnostics>& stop, double configured) {
  if (const EdgePenalties* edges = program.edge_penalties(); edges != nullptr && edges->adaptive()) {
    return edges->geometric_mean();
  }
  return stop.has_value() ? stop->penalty : configured;
}

}  // namespace dadmm
