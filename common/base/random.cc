#include "common/base/random.h"

#include <cmath>
#include <numbers>

namespace dadmm {

std::uint64_t Rng::Below(std::uint64_t n) {
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  std::uint64_t r = engine_();
  while (r >= limit) r = engine_();
  return r % n;
}

double Rng::Normal(double mean, double stddev) {
  if (have_spare_) {
    have_spare_ = false;
    return mean + stddev * spare_;
  }
  double u1 = Uniform();
  while (u1 == 0.0) u1 = Uniform();
  const double u2 = Uniform();
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * std::numbers::pi * u2;
  spare_ = r * std::sin(angle);
  have_spare_ = true;
  return mean + stddev * r * std::cos(angle);
}

}  // namespace dadmm
