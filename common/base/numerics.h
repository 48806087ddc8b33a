// Numerics shared by the local problems, one copy each.
#pragma once

#include <algorithm>
#include <cmath>

#include "common/base/random.h"
#include "common/base/types.h"

namespace dadmm {

// The soft threshold S_kappa(t) = sign(t) max(|t| - kappa, 0), the proximal operator of kappa |.|,
// computed as t - kappa or t + kappa (no sign or abs), so that every caller gets the same bits.
inline double SoftThreshold(double t, double kappa) { return t > kappa ? t - kappa : (t < -kappa ? t + kappa : 0.0); }

// Entry by entry.
inline Vector SoftThreshold(const Vector& w, double kappa) {
  return w.unaryExpr([kappa](double t) { return SoftThreshold(t, kappa); });
}

// How far coordinate x of a point violates the optimality condition of min f(x) + lambda |x| given
// g = f'(x): |g + lambda sign(x)| where x != 0, and how far |g| exceeds lambda where x = 0 (0 at an
// optimum). The l1 problems' optimality residuals take the largest over their coordinates.
inline double L1Violation(double x, double g, double lambda) {
  return x != 0.0 ? std::abs(g + lambda * (x > 0.0 ? 1.0 : -1.0)) : std::max(0.0, std::abs(g) - lambda);
}

// How many of `total` items part k of `parts` gets when they are split into contiguous blocks as
// equal as possible, the first total % parts one larger (datasets over nodes, by rows or columns).
inline Eigen::Index EvenShare(Eigen::Index total, Eigen::Index parts, Eigen::Index k) {
  return total / parts + (k < total % parts ? 1 : 0);
}

// lambda_max(G'G) = ||G||_2^2 by the power method on G'G from a fixed pseudo-random start
// (deterministic; converges from below, to 1e-12 relative or 1000 iterations). G dense or sparse.
template <typename Matrix>
double LargestGramEigenvalue(const Matrix& G) {
  if (G.size() == 0) return 0.0;
  Rng rng(12345);
  Vector v(G.cols());
  for (Eigen::Index k = 0; k < v.size(); ++k) v[k] = rng.Normal();
  v.normalize();
  double lambda = 0.0;
  for (int it = 0; it < 1000; ++it) {
    Vector w = G.transpose() * (G * v);
    const double next = v.dot(w);
    const double norm = w.norm();
    if (norm == 0.0) return 0.0;
    v = w / norm;
    if (it > 0 && std::abs(next - lambda) <= 1e-12 * next) return next;
    lambda = next;
  }
  return lambda;
}

}  // namespace dadmm
