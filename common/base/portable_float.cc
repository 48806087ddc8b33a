#include "common/base/portable_float.h"

#include <Eigen/Core>

namespace dadmm {

void UsePortableEigenBlocking() {
  // A Raspberry Pi 4's caches (Cortex-A72: 32 KiB L1d, 1 MiB shared L2, no L3); any fixed values
  // would do, these are a small machine's.
  Eigen::setCpuCacheSizes(std::ptrdiff_t{32} * 1024, std::ptrdiff_t{1024} * 1024, std::ptrdiff_t{1024} * 1024);
}

std::string ArithmeticProfile() {
#ifdef EIGEN_DONT_VECTORIZE
  return "portable";
#else
#if defined(__x86_64__)
  const char* machine = "x86_64";
#elif defined(__aarch64__)
  const char* machine = "aarch64";
#else
  const char* machine = "another machine";
#endif
  return std::string("simd ") + Eigen::SimdInstructionSetsInUse() + " on " + machine;
#endif
}

}  // namespace dadmm
