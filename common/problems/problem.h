// A node's private problem: its cost f_p and constraint set X_p, seen through the one operation
// every algorithm of seed 000 needs (Algorithm 2, step 4; Algorithm 3, step 3).
#pragma once

#include <cstdint>
#include <memory>

#include "absl/strings/string_view.h"
#include "common/base/state_codec.h"
#include "common/base/types.h"

namespace dadmm {

// What one local solve did: its iterations, and whether it stopped on its own convergence test
// (false: it hit its iteration cap, and x is its last iterate rather than the minimizer to the
// solver's tolerance). Programs count the capped ones; the agent shows them.
struct SolveInfo {
  std::uint64_t iterations = 0;
  bool converged = true;
};

class LocalProblem {
 public:
  virtual ~LocalProblem() = default;

  virtual absl::string_view kind() const = 0;
  // n, the dimension of the shared variable x.
  virtual Eigen::Index dimension() const = 0;

  // Sets x to argmin_{x in X_p} f_p(x) + v'x + (c/2) ||x||^2, with c > 0.
  // On entry x holds the previous solution, which iterative solvers use as a warm start.
  // Deterministic: the same inputs give bit-identical outputs.
  virtual SolveInfo Solve(const Eigen::Ref<const Vector>& v, double c, Vector& x) = 0;

  // f_p(x).
  virtual double Objective(const Eigen::Ref<const Vector>& x) const = 0;

  // For the subgradient method (seed 000, (14)): a subgradient of f_p at x, and the projection onto
  // X_p. Problems whose X_p has no simple projection return false from HasProjection.
  virtual Vector Subgradient(const Eigen::Ref<const Vector>& x) const = 0;
  virtual bool HasProjection() const { return true; }
  virtual void Project(Vector& /*x*/) const {}  // X_p = R^n

  // Iterations of an iterative local solver, summed over every Solve so far (seed 001's computation
  // iterations, FISTA steps of (16)); 0 for solvers that do not count them.
  virtual std::uint64_t solver_iterations() const { return 0; }
  // What the solver carries from one Solve to the next (a warm start of its own, counters), as exact
  // bytes for a checkpoint: a restored problem solves bit for bit as the saved one would have. Most
  // keep nothing (their warm start is the x they are given).
  virtual void SaveState(StateWriter& /*w*/) const {}
  virtual void LoadState(StateReader& /*r*/) {}
};

// A cost split as f_p(x) = h_p(x) + g_p(x) over X_p, with h_p smooth and g_p (with X_p) simple enough
// that its proximity operator (seed 001, (9)) is cheap: what the inexact consensus ADMM (seed 001,
// Algorithm 2) needs instead of Solve. Implemented by problems besides LocalProblem.
class CompositeProblem {
 public:
  virtual ~CompositeProblem() = default;
  // grad h_p(x) (seed 001: A_p' grad f_p(A_p x)).
  virtual void SmoothGradient(const Eigen::Ref<const Vector>& x, Vector& gradient) const = 0;
  // argmin_{x in X_p} g_p(x) + (gamma / 2) ||x - s||^2, gamma > 0 (seed 001, (9)).
  virtual void Prox(const Eigen::Ref<const Vector>& s, double gamma, Vector& x) const = 0;

  // The constants of seed 001's Assumption 3 and (13), for h_p(x) = f_p(A_p x): f_p is sigma_f^2-strongly
  // convex and L_f-smooth (on the range X_p allows), and lambda_max(A_p' A_p).
  struct Constants {
    double lipschitz_f = 0.0;  // L_f
    double convexity_f = 0.0;  // sigma_f^2
    double gram_norm = 0.0;    // lambda_max(A_p' A_p)
  };
  virtual Constants constants() const = 0;
};

}  // namespace dadmm
