// Numerics shared by the local problems, one copy each.
#pragma once

#include <algorithm>
#include <cmath>

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

}  // namespace dadmm
