// Per-edge penalties that the two ends of each edge adapt alike, with no message: residual balancing
// on one edge, after Song, Yoon and Pavlovic, "Fast ADMM algorithm for distributed optimization with
// adaptive penalty" (AAAI 2016), whose edge-wise penalties rho_pj are balanced on each edge's own
// primal and dual residuals, and Wohlberg, "ADMM penalty parameter selection by residual balancing"
// (2017), for the relative residuals and the factor sqrt(r / s).
//
// Why per edge. D-ADMM (seed 000, Algorithm 2) solves x_p = x_j on every edge; with a penalty rho_pj
// on edge {p, j} the augmented Lagrangian's terms become (rho_pj / 2) ||x_p - x_j||^2, so step 3
// reads v_p = gamma_p - sum_j rho_pj x_j with the quadratic term (sum_j rho_pj / 2) ||x||^2, and
// step 8 gamma_p += sum_j rho_pj (x_p - x_j). With every rho_pj = rho these are the paper's steps;
// with any fixed positive rho_pj they are the same ADMM on the constraints scaled by sqrt(rho_pj),
// so Algorithm 2's convergence holds. What must hold is that both ends use the same rho_pj at the
// same iteration, or gamma's sum over the network drifts from zero (dual feasibility).
// Algorithm 3 (Jacobi updates) was tried with the same rule and refused: its iterates oscillate, the
// edges' residual ratios flip from step to step, and on BPDN from rho = 10 the penalties ran through
// their bound of changes to 0.05-140 and the run did not converge in 3000 steps; with the larger of
// the two nodes' changes as the dual residual instead, they settled 2-20x below the best
// (results/README.md).
//
// Both ends hold the same data about their edge after iteration k: x_p^{k+1}, x_j^{k+1}, x_p^k, x_j^k
// (estimates travel as exact doubles), so each computes the edge's residuals itself, bit for bit as
// the other does (every quantity below is symmetric in p and j, summed in index order), and both
// change rho_pj at the same step: a change costs no message and no latency, where a network-wide
// penalty waits D steps for a flood (stopping_program.h).
//
// The edge's residuals (the edge form of D-ADMM's constraint, x_p = z_pj = x_j with z_pj = (x_p +
// x_j) / 2 at the optimum): primal r = ||x_p^{k+1} - x_j^{k+1}||, dual s = rho_pj ||(x_p^{k+1} -
// x_p^k) + (x_j^{k+1} - x_j^k)|| / 2 (the change of z_pj), each relative to its scale as in Wohlberg's
// (and seed 002 (3.12)'s) relative test: r / max(||x_p||, ||x_j||) and s / ||lambda_pj||, lambda_pj
// the edge's multiplier (lambda_pj += rho_pj (x_p - x_j); the two ends hold it with opposite signs,
// exactly). Every `every` iterations (2 by default), when the ratio of the relative residuals leaves
// [1/mu, mu], rho_pj is multiplied (or divided) by sqrt(ratio), at most tau; not when both are below
// 1e-13, rounding's level (a converged edge would otherwise wander on noise). Safeguard: each edge
// changes at most max_changes times, so the penalties are fixed after finitely many iterations and
// the fixed-penalty convergence applies.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/base/state_codec.h"
#include "common/base/types.h"
#include "common/programs/neighbour_estimates.h"
#include "common/programs/node_program.h"

namespace dadmm {

struct EdgePenaltySettings {
  bool adaptive = false;  // off: every edge keeps the starting rho (the paper's algorithm)
  double mu = 2.0;        // a change when the ratio of relative residuals leaves [1/mu, mu]
  double tau = 100.0;     // the largest factor of one change
  // Measure after every `every`-th iteration. 2: a change made after iteration k shapes x^{k+2}
  // only through x^{k+1}, and iteration k + 1's dual residual (x^{k+1} - x^k) still holds a step
  // under the old penalty; measured after every iteration, the rule answered its own previous change
  // and oscillated (BPDN from rho = 100: every edge spent its 100 changes; results/README.md).
  std::uint32_t every = 2;
  std::uint32_t max_changes = 100;  // per edge; then its penalty is fixed

  absl::Status Validate() const;
  // " edge-rho mu=2 tau=100 every=2 changes=100" when adaptive, "" otherwise: the handshake compares it.
  std::string Describe() const;
};

class EdgePenalties {
 public:
  EdgePenalties(std::size_t degree, Eigen::Index n, double rho, const EdgePenaltySettings& settings);

  bool adaptive() const { return settings_.adaptive; }
  double rho(std::size_t i) const { return rho_[i]; }
  // sum_j rho_pj, in neighbour order.
  double sum() const;
  double min() const;
  double max() const;
  double geometric_mean() const;       // of this node's edges' penalties
  double root_sum_of_squares() const;  // (sum_j rho_pj^2)^(1/2), in neighbour order
  std::uint64_t changes() const { return changes_total_; }
  // Every edge to `rho` (the driver's set_penalty; the adaptive rule's changes start over from it).
  void SetAll(double rho);

  // After the dual update of iteration k (1-based): `x` = x_p^{k+1}, `x_previous` = x_p^k, and the
  // neighbours' next() = x_j^{k+1}, current() = x_j^k. Updates each lambda_pj, then adapts.
  void Update(std::uint64_t k, const Vector& x, const Vector& x_previous, const NeighbourEstimates& neighbours);

  void SaveState(StateWriter& w) const;
  void LoadState(StateReader& r);

 private:
  EdgePenaltySettings settings_;
  std::vector<double> rho_;
  std::vector<Vector> lambda_;  // only when adaptive
  std::vector<std::uint32_t> changes_;
  std::uint64_t changes_total_ = 0;
};

// The penalty a node reports (Status, history, result): the geometric mean of its edges' penalties
// when they adapt, else the votes' rho now (`stop`), else the configured one.
double PenaltyNow(const NodeProgram& program, const std::optional<StopDiagnostics>& stop, double configured);

}  // namespace dadmm
