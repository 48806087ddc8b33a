// Inexact consensus ADMM (Chang, Hong, Wang; seed 001, Algorithm 2): C-ADMM (Algorithm 1, which is seed
// 000's Algorithm 3 with c = rho) with its local minimization (6) replaced by one proximal-gradient
// step (10) on the linearized cost, so that a node computes one gradient of its loss per communication
// step instead of solving a subproblem.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/network/topology.h"
#include "common/problems/problem.h"
#include "common/programs/sync_nodes.h"

namespace dadmm {

struct IcAdmmSettings {
  double c = 0.01;    // the penalty c of (3)-(6)
  double beta = 1.2;  // the proximal weight beta of (8), seed 001 §5's 1.2
  std::uint64_t max_iterations = 100;
  absl::Status Validate() const;
};

// Algorithm 2 for node i, from x_i^(0) = 0 and p_i^(0) = 0 (so x_i^(1) needs no message); in round k:
//   p_i^(k) = p_i^(k-1) + c sum_{j in N_i} (x_i^(k-1) - x_j^(k-1))                       (step 4)
//   x_i^(k) = prox_{g_i}[ (beta x_i^(k-1) - grad h_i(x_i^(k-1)) - p_i^(k)
//                          + c sum_{j in N_i} (x_i^(k-1) + x_j^(k-1))) / gamma_i ]        (10), (17)
// with gamma_i = beta + 2 c |N_i| and prox_{g_i} of (9) (the problem's CompositeProblem::Prox).
// Labels as Algorithm3Node's: x_i^(k) is broadcast as label k + 1.
class IcAdmmNode final : public SynchronousNode {
 public:
  // The problem must also be a CompositeProblem.
  static absl::StatusOr<std::unique_ptr<IcAdmmNode>> Create(NodeId self, std::vector<NeighbourDegree> neighbours,
                                                            std::unique_ptr<LocalProblem> problem,
                                                            const IcAdmmSettings& settings);
  const LocalProblem* local_problem() const override { return problem_.get(); }
  const Vector* dual() const override { return &p_; }
  bool set_penalty(double c) override {
    c_ = c;
    return true;
  }
  // One gradient of h_i per update (x_i^(1) included): seed 001's computation iterations.
  std::uint64_t computation_iterations() const override { return updates_; }

 private:
  IcAdmmNode(NodeId self, const std::vector<NeighbourDegree>& neighbours, std::unique_ptr<LocalProblem> problem,
             const IcAdmmSettings& settings);
  void Initialize() override;
  void Update(std::uint64_t label, bool last) override;
  const char* algorithm_name() const override { return "ic-admm"; }
  void SaveOwn(StateWriter& w) const override {
    problem_->SaveState(w);
    w.F64(c_);
    w.Vec(p_);
    w.Vec(gradient_);
    w.Vec(s_);
    w.Vec(sum_);
    w.U64(updates_);
  }
  void LoadOwn(StateReader& r) override {
    problem_->LoadState(r);
    c_ = r.F64();
    p_ = r.Vec(p_.size(), "p");
    gradient_ = r.Vec();
    s_ = r.Vec();
    sum_ = r.Vec();
    updates_ = r.U64();
  }
  void Step(const Vector& sum_neighbours);

  std::unique_ptr<LocalProblem> problem_;
  const CompositeProblem* composite_;
  double c_, beta_;
  Vector p_, gradient_, s_, sum_;
  std::uint64_t updates_ = 0;
};

// lambda_min(D + W) of the network (seed 001, (13) and Remark 2): D the degrees, W the adjacency
// matrix; 0 for bipartite networks. Dense symmetric eigensolver: for networks of up to a few thousand
// nodes.
double LambdaMinDegreePlusAdjacency(const Topology& topology);

// The network's constants of (13) from the nodes': L_f the largest, sigma_f^2 the smallest, and
// lambda_max(A~'A~) the largest lambda_max(A_i'A_i) (A~ is block diagonal).
CompositeProblem::Constants NetworkConstants(const std::vector<CompositeProblem::Constants>& nodes);

// The right-hand side of (13), the bound beta must exceed for Theorem 1:
//   (L_f^2 / sigma_f^2) lambda_max(A~'A~) - c lambda_min(D + W),
// from the network's constants. One node's own constants give a lower bound on it: a node whose local
// bound beta does not exceed knows that (13) fails.
double IcAdmmBetaBound(const CompositeProblem::Constants& network, double c, double lambda_min_d_plus_w);

}  // namespace dadmm
