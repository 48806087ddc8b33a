// D-ADMM at one node: seed 000, Algorithm 2 (D-ADMM for general networks).
//
// Node p of colour c_p, at iteration k, holds x_j^k of every neighbour and gamma_p^k. It waits for
// x_j^{k+1} from every neighbour of lower colour, computes x_p^{k+1} (steps 3-4), sends it (step 5),
// waits for x_j^{k+1} from every neighbour of higher colour and updates gamma_p (step 8).
// A lower-coloured neighbour may already send x_j^{k+2} while p waits for its higher neighbours, so
// two slots per neighbour hold received estimates; nothing else can arrive from a correct neighbour.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/problems/problem.h"
#include "common/programs/edge_penalties.h"
#include "common/programs/neighbour_estimates.h"
#include "common/programs/node_program.h"

namespace dadmm {

struct DadmmSettings {
  double rho = 1.0;                    // the augmented Lagrangian's penalty, rho > 0
  std::uint64_t max_iterations = 100;  // communication steps to run, >= 1
  EdgePenaltySettings edge;            // per-edge penalties adapted by both ends (edge_penalties.h)

  absl::Status Validate() const;
};

struct NeighbourColour {
  NodeId id = 0;
  std::uint32_t colour = 0;
};

class DadmmNode final : public NodeProgram {
 public:
  // `neighbours` must be non-repeating, exclude `self`, and have colours different from `colour`.
  static absl::StatusOr<std::unique_ptr<DadmmNode>> Create(NodeId self, std::uint32_t colour,
                                                           std::vector<NeighbourColour> neighbours,
                                                           std::unique_ptr<LocalProblem> problem,
                                                           const DadmmSettings& settings);

  void Start(std::vector<Broadcast>& out) override;
  absl::Status Receive(const Estimate& message, std::vector<Broadcast>& out) override;
  Outcome outcome() const override { return outcome_; }
  std::uint64_t steps() const override { return k_ - 1; }
  const Vector& x() const override { return x_; }
  std::uint64_t estimate_step() const override { return phase_ == Phase::kAwaitHigher ? k_ : k_ - 1; }
  std::uint64_t first_label() const override { return 2; }
  std::vector<NodeId> awaited() const override;

  const LocalProblem* local_problem() const override { return problem_.get(); }
  SolveCounts local_solves() const override { return solves_; }
  const Vector& gamma() const { return gamma_; }
  const Vector* dual() const override { return &gamma_; }
  bool set_penalty(double rho) override;
  const EdgePenalties* edge_penalties() const override { return &edges_; }
  void SaveState(StateWriter& w) const override;
  absl::Status LoadState(StateReader& r) override;

 private:
  enum class Phase { kNotStarted, kAwaitLower, kAwaitHigher, kDone };

  DadmmNode(NodeId self, std::vector<NodeId> ids, std::vector<std::uint8_t> lower,
            std::unique_ptr<LocalProblem> problem, const DadmmSettings& settings);

  // Runs every step the received estimates allow.
  void Advance(std::vector<Broadcast>& out);
  bool HaveAll(bool lower) const;

  NodeId self_;
  NeighbourEstimates neighbours_;
  std::vector<std::uint8_t> lower_;  // per neighbour: its colour is lower than ours
  std::unique_ptr<LocalProblem> problem_;
  SolveCounts solves_;
  DadmmSettings settings_;
  double degree_rho_;  // D_p * rho
  std::uint64_t k_ = 1;
  std::uint64_t last_step_;     // the run ends once steps() reaches it
  bool end_requested_ = false;  // by EndAtLastBroadcast
  Phase phase_ = Phase::kNotStarted;
  Outcome outcome_ = Outcome::kRunning;
  Vector x_;      // x_p^k, or x_p^{k+1} once computed
  Vector gamma_;  // gamma_p^k
  Vector v_;      // workspace for v_p^k
  EdgePenalties edges_;
  Vector x_previous_;  // x_p^k while x_ holds x_p^{k+1}, for the per-edge penalties
};

}  // namespace dadmm

namespace dadmm {

class Topology;

// The D-ADMM program of node `self` of `topology`, with colours from `colouring` (which must cover
// `self` and its neighbours).
absl::StatusOr<std::unique_ptr<DadmmNode>> MakeDadmmNode(const Topology& topology,
                                                         const std::map<NodeId, std::uint32_t>& colouring, NodeId self,
                                                         std::unique_ptr<LocalProblem> problem,
                                                         const DadmmSettings& settings);

}  // namespace dadmm
