// The synchronous single-looped algorithms D-ADMM is compared with in seed 000 (§III, §V):
// Algorithm 3 (Zhu, Giannakis, Cano [16]), the consensus + subgradient method (14), and, for the
// consensus problem only, linear averaging x^{k+1} = A x^k (17) with the weights of Olshevsky and
// Tsitsiklis [26].
//
// All share one structure: in round r every node has broadcast its estimate labelled r, waits for the
// label-r estimates of all its neighbours, computes its next estimate, and broadcasts it as label r+1
// (unless the run is over). A neighbour can be at most one round ahead, so the same two-slot buffer
// as D-ADMM's serves.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/problems/consensus.h"
#include "common/problems/problem.h"
#include "common/programs/neighbour_estimates.h"
#include "common/programs/node_program.h"

namespace dadmm {

struct NeighbourDegree {
  NodeId id = 0;
  std::size_t degree = 0;
};

class SynchronousNode : public NodeProgram {
 public:
  void Start(std::vector<Broadcast>& out) final;
  absl::Status Receive(const Estimate& message, std::vector<Broadcast>& out) final;
  Outcome outcome() const final { return outcome_; }
  std::uint64_t steps() const final { return steps_; }
  const Vector& x() const final { return x_; }
  std::uint64_t estimate_step() const final { return estimate_step_; }
  std::uint64_t first_label() const final { return first_label_; }
  std::vector<NodeId> awaited() const final;
  void SaveState(StateWriter& w) const final;
  absl::Status LoadState(StateReader& r) final;

 protected:
  SynchronousNode(NodeId self, const std::vector<NeighbourDegree>& neighbours, Eigen::Index n,
                  std::uint64_t first_label, std::uint64_t max_steps);

  // For the subclasses' Create: sorts `neighbours` by id and refuses self, repeats and degree 0; and a
  // problem of dimension >= 1.
  static absl::Status ValidateNeighbours(NodeId self, std::vector<NeighbourDegree>& neighbours);
  static absl::Status ValidateProblem(const std::unique_ptr<LocalProblem>& problem);

  // Sets x_ to the first estimate to broadcast (label first_label) and estimate_step_ to its step.
  virtual void Initialize() = 0;
  // Round `label` is complete: x_ holds this node's label-`label` estimate and neighbours().next(i)
  // the neighbours'. Sets x_ to the next estimate (and estimate_step_) unless `last` and the
  // algorithm needs no new estimate after its last step.
  virtual void Update(std::uint64_t label, bool last) = 0;
  // The algorithm's own state after the base's, and its name (checked on load).
  virtual const char* algorithm_name() const = 0;
  virtual void SaveOwn(StateWriter& w) const = 0;
  virtual void LoadOwn(StateReader& r) = 0;

  const NeighbourEstimates& neighbours() const { return neighbours_; }
  std::size_t degree() const { return neighbours_.size(); }
  std::size_t neighbour_degree(std::size_t i) const { return degrees_[i]; }

  NodeId self_;
  Vector x_;
  std::uint64_t estimate_step_ = 0;

 private:
  void Advance(std::vector<Broadcast>& out);
  // Emits x_ labelled label_, the estimate of step steps_ + 1; applies the hook's stop.
  void Send(std::vector<Broadcast>& out);

  NeighbourEstimates neighbours_;
  std::vector<std::size_t> degrees_;
  const std::uint64_t first_label_;
  std::uint64_t max_steps_;
  bool end_requested_ = false;
  std::uint64_t label_;  // the round being waited for
  std::uint64_t steps_ = 0;
  bool started_ = false;
  Outcome outcome_ = Outcome::kRunning;
};

struct Algorithm3Settings {
  double rho = 1.0;
  std::uint64_t max_iterations = 100;
  absl::Status Validate() const;
};

// Seed 000, Algorithm 3. Step 3 reads v_p^k = gamma_p^k - rho sum_{j in N_p} (x_p^k + x_j^k), i.e.
// gamma_p^k - rho (D_p x_p^k + sum_j x_j^k), with the quadratic term rho D_p ||x||^2, as in [16]; the
// paper's shorthand sum_{j in N_p u {p}} x_j^k, read literally, has fixed points that do not solve (1)
// unless every D_p = 1.
class Algorithm3Node final : public SynchronousNode {
 public:
  const LocalProblem* local_problem() const override { return problem_.get(); }
  SolveCounts local_solves() const override { return solves_; }
  const Vector* dual() const override { return &gamma_; }
  bool set_penalty(double rho) override {
    rho_ = rho;
    return true;
  }
  static absl::StatusOr<std::unique_ptr<Algorithm3Node>> Create(NodeId self, std::vector<NeighbourDegree> neighbours,
                                                                std::unique_ptr<LocalProblem> problem,
                                                                const Algorithm3Settings& settings);

 private:
  Algorithm3Node(NodeId self, const std::vector<NeighbourDegree>& neighbours, std::unique_ptr<LocalProblem> problem,
                 const Algorithm3Settings& settings);
  void Initialize() override;
  void Update(std::uint64_t label, bool last) override;
  const char* algorithm_name() const override { return "algorithm3"; }
  void SaveOwn(StateWriter& w) const override {
    problem_->SaveState(w);
    w.U64(solves_.solves);
    w.U64(solves_.capped);
    w.F64(rho_);
    w.Vec(gamma_);
  }
  void LoadOwn(StateReader& r) override {
    problem_->LoadState(r);
    solves_.solves = r.U64();
    solves_.capped = r.U64();
    rho_ = r.F64();
    gamma_ = r.Vec(gamma_.size(), "gamma");
  }
  void SolveLocal();

  std::unique_ptr<LocalProblem> problem_;
  SolveCounts solves_;
  double rho_;
  Vector gamma_, v_;
};

struct SubgradientSettings {
  double step = 0.1;  // alpha_k = step / sqrt(k)
  std::uint64_t max_iterations = 100;
  absl::Status Validate() const;
};

// Seed 000, (14): x_p^{k+1} = [a_pp x_p^k + sum_j a_pj x_j^k - alpha_k g_p^k]^+_{X_p}, g_p^k a
// subgradient of f_p at the weighted average, Metropolis-Hastings weights a_pj = 1 / (1 + max(D_p,
// D_j)) (doubly stochastic), diminishing steps alpha_k = step / sqrt(k), and x_p^1 = 0.
class SubgradientNode final : public SynchronousNode {
 public:
  const LocalProblem* local_problem() const override { return problem_.get(); }
  static absl::StatusOr<std::unique_ptr<SubgradientNode>> Create(NodeId self, std::vector<NeighbourDegree> neighbours,
                                                                 std::unique_ptr<LocalProblem> problem,
                                                                 const SubgradientSettings& settings);

 private:
  SubgradientNode(NodeId self, const std::vector<NeighbourDegree>& neighbours, std::unique_ptr<LocalProblem> problem,
                  const SubgradientSettings& settings);
  void Initialize() override;
  void Update(std::uint64_t label, bool last) override;
  const char* algorithm_name() const override { return "subgradient"; }
  void SaveOwn(StateWriter& w) const override { problem_->SaveState(w); }
  void LoadOwn(StateReader& r) override { problem_->LoadState(r); }
  void Step(const Vector& mixed, std::uint64_t k);

  std::unique_ptr<LocalProblem> problem_;
  double step_;
  Vector mixed_;
};

// Seed 000, (17): x^{k+1} = A x^k from x^1 = theta (consensus only), with the weights of Olshevsky
// and Tsitsiklis [26]: x_p <- x_p + (1/2) sum_j (x_j - x_p) / max(D_p, D_j), i.e. a_pj =
// 1 / (2 max(D_p, D_j)) and a_pp = 1 - sum_j a_pj (symmetric, doubly stochastic, a_pp >= 1/2).
class AveragingNode final : public SynchronousNode {
 public:
  static absl::StatusOr<std::unique_ptr<AveragingNode>> Create(NodeId self, std::vector<NeighbourDegree> neighbours,
                                                               Vector theta, std::uint64_t max_iterations);

 private:
  AveragingNode(NodeId self, const std::vector<NeighbourDegree>& neighbours, Vector theta,
                std::uint64_t max_iterations);
  void Initialize() override;
  void Update(std::uint64_t label, bool last) override;
  const char* algorithm_name() const override { return "averaging"; }
  void SaveOwn(StateWriter& /*w*/) const override {}
  void LoadOwn(StateReader& /*r*/) override {}

  Vector theta_, next_;
};

}  // namespace dadmm
