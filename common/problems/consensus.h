// Average consensus as an optimization problem, seed 000 (18): node p holds theta_p and
// f_p(x) = ||x - theta_p||^2, X_p = R^n. The solution of sum_p f_p is the average of the theta_p.
// (The paper has n = 1; a vector theta_p averages each entry independently.)
#pragma once

#include "absl/strings/string_view.h"
#include "common/problems/problem.h"

namespace dadmm {

class ConsensusProblem final : public LocalProblem {
 public:
  explicit ConsensusProblem(Vector theta) : theta_(std::move(theta)) {}

  absl::string_view kind() const override { return "consensus"; }
  Eigen::Index dimension() const override { return theta_.size(); }
  SolveInfo Solve(const Eigen::Ref<const Vector>& v, double c, Vector& x) override;
  double Objective(const Eigen::Ref<const Vector>& x) const override;
  Vector Subgradient(const Eigen::Ref<const Vector>& x) const override { return 2.0 * (x - theta_); }

  const Vector& theta() const { return theta_; }

 private:
  Vector theta_;
};

}  // namespace dadmm

#include <map>

#include "common/network/topology.h"
#include "common/problems/instance.h"

namespace dadmm {

// theta_p ~ N(mean, stddev^2) entrywise for every node of `topology`, in id order, from `seed`
// (seed 000, §V uses N(10, 100^2) with n = 1).
std::map<NodeId, Vector> GenerateConsensusData(const Topology& topology, Eigen::Index n, std::uint64_t seed,
                                               double mean = 10.0, double stddev = 100.0);

// The solution of (18): the entrywise average of the theta_p.
Vector ConsensusSolution(const std::map<NodeId, Vector>& thetas);

class ConsensusInstance final : public ProblemInstance {
 public:
  explicit ConsensusInstance(std::map<NodeId, Vector> thetas)
      : thetas_(std::move(thetas)), solution_(ConsensusSolution(thetas_)) {}
  std::string kind() const override { return "consensus"; }
  Eigen::Index dimension() const override { return solution_.size(); }
  std::unique_ptr<LocalProblem> MakeLocal(NodeId id) const override {
    return std::make_unique<ConsensusProblem>(thetas_.at(id));
  }
  const Vector& solution() const override { return solution_; }
  ErrorMeasure error_measure() const override { return DistanceTo(solution_, thetas_.size()); }
  const std::map<NodeId, Vector>& thetas() const { return thetas_; }
  absl::StatusOr<Eigen::MatrixXd> LocalData(NodeId id) const override { return Eigen::MatrixXd(thetas_.at(id)); }

 private:
  std::map<NodeId, Vector> thetas_;
  Vector solution_;
};

}  // namespace dadmm
