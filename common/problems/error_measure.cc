#include "common/problems/error_measure.h"

#include <cmath>
#include <utility>

namespace dadmm {

double ErrorMeasure::operator()(const std::vector<Vector>& estimates) const {
  double sum = 0.0;
  for (std::size_t i = 0; i < estimates.size(); ++i) sum += squared_error(i, estimates[i]);
  return std::sqrt(sum) / scale;
}

ErrorMeasure DistanceTo(Vector x_star, std::size_t num_nodes) {
  const double scale = std::sqrt(static_cast<double>(num_nodes)) * x_star.norm();
  return ErrorMeasure{.squared_error = [x_star = std::move(x_star)](
                                           std::size_t, const Vector& x) { return (x - x_star).squaredNorm(); },
                      .scale = scale};
}

double RelativeError(const std::vector<Vector>& estimates, const Vector& x_star) {
  double sum = 0.0;
  for (const Vector& x : estimates) sum += (x - x_star).squaredNorm();
  return std::sqrt(sum) / (std::sqrt(static_cast<double>(estimates.size())) * x_star.norm());
}

}  // namespace dadmm
