// A node's private problem: its cost f_p and constraint set X_p, seen through the one operation
// every algorithm of seed 000 needs (Algorithm 2, step 4; Algorithm 3, step 3).
#pragma once

#include <memory>
#include "absl/strings/string_view.h"

#include "common/types.h"

namespace dadmm {

class LocalProblem {
 public:
  virtual ~LocalProblem() = default;

  virtual absl::string_view kind() const = 0;
  // n, the dimension of the shared variable x.
  virtual Eigen::Index dimension() const = 0;

  // Sets x to argmin_{x in X_p} f_p(x) + v'x + (c/2) ||x||^2, with c > 0.
  // On entry x holds the previous solution, which iterative solvers use as a warm start.
  // Deterministic: the same inputs give bit-identical outputs.
  virtual void Solve(const Eigen::Ref<const Vector>& v, double c, Vector& x) = 0;

  // f_p(x).
  virtual double Objective(const Eigen::Ref<const Vector>& x) const = 0;

  // For the subgradient method (seed 000, (14)): a subgradient of f_p at x, and the projection onto
  // X_p. Problems whose X_p has no simple projection return false from HasProjection.
  virtual Vector Subgradient(const Eigen::Ref<const Vector>& x) const = 0;
  virtual bool HasProjection() const { return true; }
  virtual void Project(Vector& /*x*/) const {}  // X_p = R^n
};

}  // namespace dadmm
