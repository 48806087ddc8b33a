#include "common/problems/consensus.h"

namespace dadmm {

SolveInfo ConsensusProblem::Solve(const Eigen::Ref<const Vector>& v, double c, Vector& x) {
  // Closed form after seed 000 (18): the minimizer of ||x - theta||^2 + v'x + (c/2)||x||^2 solves
  // 2(x - theta) + v + c x = 0, i.e. x = (2 theta - v) / (2 + c). (The paper writes the quadratic
  // term as c' x^2 and gets (2 theta - v) / (2 (1 + c')), the same with c = 2c'.)
  x = (2.0 * theta_ - v) / (2.0 + c);
  return {};  // closed form: no iterations
}

double ConsensusProblem::Objective(const Eigen::Ref<const Vector>& x) const { return (x - theta_).squaredNorm(); }

}  // namespace dadmm

#include "common/base/random.h"

namespace dadmm {

std::map<NodeId, Vector> GenerateConsensusData(const Topology& topology, Eigen::Index n, std::uint64_t seed,
                                               double mean, double stddev) {
  Rng rng(seed);
  std::map<NodeId, Vector> thetas;
  for (const NodeSpec& node : topology.nodes()) {
    Vector theta(n);
    for (Eigen::Index i = 0; i < n; ++i) theta[i] = rng.Normal(mean, stddev);
    thetas.emplace(node.id, std::move(theta));
  }
  return thetas;
}

Vector ConsensusSolution(const std::map<NodeId, Vector>& thetas) {
  Vector sum = Vector::Zero(thetas.begin()->second.size());
  for (const auto& [id, theta] : thetas) sum += theta;
  return sum / static_cast<double>(thetas.size());
}

}  // namespace dadmm
