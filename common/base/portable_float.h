// Bit-identical floating point on every machine a network mixes (x86-64 PCs, arm64 Raspberry Pis).
//
// The same iterates everywhere need the same operations in the same order. Three things differ
// between machines unless pinned down:
//  - fused multiply-add: GCC contracts a*b+c on arm64 by default (CMake: -ffp-contract=off), and
//    Eigen's NEON kernels call FMA intrinsics themselves (CMake: EIGEN_DONT_VECTORIZE, so every
//    machine runs Eigen's scalar code, in which a*b+c stays two roundings);
//  - SIMD width: SSE2, AVX and NEON split sums into different partial sums (also EIGEN_DONT_VECTORIZE);
//  - Eigen's matrix-product blocking, which follows the cache sizes it detects at run time and so
//    changes where long sums are split: fixed here.
#pragma once

#include <string>

namespace dadmm {

// Gives Eigen the same cache sizes on every machine. Idempotent; called before any product by the
// translation units that multiply matrices (a static initializer in each).
void UsePortableEigenBlocking();

// "portable" when built so (DADMM_PORTABLE_FLOAT, the default), else the SIMD Eigen uses and the
// machine, e.g. "simd SSE, SSE2 on x86_64": agents exchange it in the handshake and warn on a difference.
std::string ArithmeticProfile();

}  // namespace dadmm
