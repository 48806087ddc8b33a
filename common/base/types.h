// Basic vocabulary shared by every part of dadmm.
#pragma once

#include <Eigen/Core>
#include <cstdint>

namespace dadmm {

// A node's id, as written in the topology file.
using NodeId = std::uint32_t;

// Estimates and problem data are dense double vectors.
using Vector = Eigen::VectorXd;

// Bytes of algorithm payload carried by one estimate of dimension n: the vector itself.
// Headers, framing and encoding overhead are counted apart, by the transport that adds them.
inline std::uint64_t PayloadBytes(Eigen::Index n) { return 8u * static_cast<std::uint64_t>(n); }

}  // namespace dadmm
