// How far a network's estimates are from the solution of the original problem (seed 000 §V): the
// measure every instance gives the simulator, and the relative error dadmm-ctl report prints.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "common/base/types.h"

namespace dadmm {

// How far a network's estimates are from the solution: after a step, with x_i node i's estimate (nodes
// in topology order), the error is sqrt(sum_i squared_error(i, x_i)) / scale. The paper's relative
// error (DistanceTo) is one; LASSO measures the primal blocks each node recovers from its dual estimate.
struct ErrorMeasure {
  std::function<double(std::size_t node_index, const Vector& x)> squared_error;
  double scale = 1.0;

  double operator()(const std::vector<Vector>& estimates) const;
};

// ||x - 1 (x) x*|| / (sqrt(P) ||x*||), seed 000 §V.
ErrorMeasure DistanceTo(Vector x_star, std::size_t num_nodes);
// sqrt(sum_p ||x_p - x*||^2) / (sqrt(P) ||x*||): the paper's relative error (seed 000, §V).
double RelativeError(const std::vector<Vector>& estimates, const Vector& x_star);

}  // namespace dadmm
