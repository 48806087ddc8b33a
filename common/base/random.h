// A seeded random source whose output is the same on every platform and standard library:
// std::mt19937_64 is specified bit for bit, the distributions of <random> are not, so the
// transformations are written here.
#pragma once

#include <cstdint>
#include <random>

namespace dadmm {

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}

  // Uniform on [0, 1), 53 random bits.
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n), n >= 1 (rejection sampling, no modulo bias).
  std::uint64_t Below(std::uint64_t n);
  // Normal with the given mean and standard deviation (Box-Muller, both values used).
  double Normal(double mean = 0.0, double stddev = 1.0);

 private:
  std::mt19937_64 engine_;
  bool have_spare_ = false;
  double spare_ = 0.0;
};

}  // namespace dadmm
