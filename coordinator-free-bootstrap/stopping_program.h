// A node program with the agreed stopping rule: any algorithm's program (D-ADMM, Algorithm 3, ...)
// wrapped so that it stops, at every node at the same iteration, once a local tolerance has held at
// every node, with no coordinator and no extra messages (see agreed_stop.h).
//
// The local test of the estimate labelled L (x_p^L, broadcast once per step) uses what the node has
// when it broadcasts it: its own previous estimate and every neighbour's estimate labelled L - 1, all
// received by then in D-ADMM and in the synchronous algorithms alike:
//   change       ||x_p^L - x_p^{L-1}||
//   disagreement max_j ||x_p^{L-1} - x_j^{L-1}||
// both relative to s = max(1, ||x_p^L||) (relative for estimates of norm >= 1, absolute below), and
// f_p = (change <= tol s and disagreement <= tol s). The D + 1 stop bits of label L ride on the
// estimate itself (Broadcast::control). When bit D is set, the estimate just broadcast is the last:
// the wrapped program completes that step and ends (Outcome::kStopped), at every node after the same
// number of steps, D steps after the one where every node's test held.
//
// Instead of the change test, the primal / dual residual rule of seed 002 §3.3 (3.12), adapted to a
// network whose constraints are x_p = x_j on every edge: at node p with degree D_p, estimates of
// dimension n, penalty rho and dual variable gamma_p (NodeProgram::dual, the node's block of A'y),
//   r_p = sqrt(sum_j ||x_p^{L-1} - x_j^{L-1}||^2)                      primal residual (its edges)
//   s_p = rho sqrt(D_p) ||x_p^L - x_p^{L-1}||                          dual residual (3.3.1's rho A'B(z - z'))
//   eps_pri_p  = sqrt(n D_p) eps_abs + eps_rel max(sqrt(D_p) ||x_p^{L-1}||, sqrt(sum_j ||x_j^{L-1}||^2))
//   eps_dual_p = sqrt(n) eps_abs + eps_rel ||gamma_p||
// and f_p = (r_p <= eps_pri_p and s_p <= eps_dual_p). Every node's test holding bounds the network's
// residuals, ||r||^2 = sum_p r_p^2 / 2 (each edge counted from both ends) <= sum_p eps_pri_p^2, and so for
// s: (3.12) with the tolerances summed over the nodes' blocks, as the network-wide sqrt(p) eps_abs is.
//
// The varying penalty of seed 002 §3.4.1 (3.13), decided without a coordinator: rho must change at
// every node at the same step, or neighbours would solve different problems. Every T steps (labels
// first + m T, m = 1 .. votes) each node measures its r_p and s_p; for the next D labels the nodes
// flood the running maxima R = max_p r_p and S = max_p s_p, two doubles riding on every estimate after
// the stop bits (D >= the diameter, so max-consensus is exact: at label first + m T + D every node
// holds the same R and S). There, every node applies the same rule, rho <- tau rho if R > mu S,
// rho <- rho / tau if S > mu R, right after emitting that estimate; so every node computes its estimate
// of that label with the old rho and everything after with the new one. After `votes` windows rho stays
// fixed (the convergence proof of ADMM holds once rho is constant).
//
// The balancing rule (PenaltyRule::kBalance) keeps that agreement and changes what is measured, how
// far rho moves and when, after Wohlberg, "ADMM penalty parameter selection by residual
// balancing" (arXiv:1704.06209, 2017), which refines He, Yang and Wang (JOTA 106, 2000) and (3.13):
// (a) the residuals are relative, each divided by the scale (3.12) measures it against,
//   r~_p = r_p / max(sqrt(D_p) ||x_p^{L-1}||, sqrt(sum_j ||x_j^{L-1}||^2))     (eps_pri's scale)
//   s~_p = s_p / ||gamma_p||                                               (eps_dual's scale)
// so that the balance does not depend on the units of the objective (Wohlberg's point: with absolute
// residuals the rule's fixed point moves when the problem is scaled; with relative ones it moves with
// it; test BalancingPenalty.DoesNotDependOnTheObjectivesUnits); the nodes flood R = max_p r~_p and
// S = max_p s~_p as before (the maximum of the nodes' ratios; max_p r_p / max_p scale_p was tried and
// let rho run away on the SVM, results/README.md). (b) The step is the balance's own size, tau_k = sqrt(R / S) (or
// sqrt(S / R)), clamped to [1, tau] (Wohlberg's adaptive multiplier), instead of a fixed factor: from
// rho 1e4 times too small, two votes with tau = 100 reach it,
// where (3.13)'s factor 2 needs 14 windows. Safeguards: rho changes only when one residual exceeds mu
// times the other, at most `votes` times (then it is fixed, as for the vote: a finite number of changes
// keeps ADMM's convergence), and never by more than tau at once.
// (c) Schedule: the balancing rule's windows start at labels first + 1 + m T, m = 0 .. votes - 1 (its
// first measurement is the first there is, so a poor rho is corrected after D + 1 steps), and agents use
// T = D + 1 by default (--vary_rho_every=auto); with 1000 votes, rho can change during the first
// 1000 (D + 1) steps and is fixed after. Chosen on the penalty experiment (dadmm-sweep
// --experiment=penalty, results/README.md): 10 votes stopped the balancing too early for logistic
// regression (ending 2-6x above the best rho) and 100 too early for the SVM (2-3x the grid's steps on
// some networks, 1.3x with 1000); consensus was the same with 10, 100 or 1000.
//
// Why not spectral (Barzilai-Borwein) penalties (Xu, Figueiredo, Goldstein, AISTATS 2017; node-wise,
// Xu et al., ICML 2017): their estimate is a ratio of inner products summed over the whole network,
// <dlambda, dlambda> / <dH, dlambda>. A flood computes maxima and minima exactly in D steps but not
// sums (a sum by flooding carries every node's term, P values per message); and node-wise penalties
// break the equal penalty on both ends of an edge that D-ADMM's dual update (gamma_p += rho sum_j
// (x_p - x_j)) needs. Balancing needs only two maxima.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/network/topology.h"
#include "common/programs/node_program.h"
#include "coordinator-free-bootstrap/agreed_stop.h"

namespace dadmm {

// How the votes change rho (see the header): seed 002's (3.13), or residual balancing on relative
// residuals with an adaptive factor.
// kEdge: no vote; D-ADMM adapts a penalty per edge, both ends alike
// (common/programs/edge_penalties.h), and the program's settings carry it.
enum class PenaltyRule { kVote, kBalance, kEdge };
const char* PenaltyRuleName(PenaltyRule rule);  // "vote", "balance", "edge"
// Each rule's parameters where a user gives none: the vote's are seed 002's (mu 10, tau 2) and 10
// votes; the balancing rule's were chosen on the penalty experiment (results/README.md): mu 2, a
// factor of at most 100 per change, 1000 votes, a vote every D + 1 steps (the flood's minimum).
struct PenaltyRuleDefaults {
  std::uint32_t votes;
  double mu;
  double tau;
};
PenaltyRuleDefaults DefaultsOf(PenaltyRule rule);
std::optional<PenaltyRule> ParsePenaltyRule(absl::string_view name);

struct StopRule {
  double tolerance = 0.0;            // the change test: > 0; 0 with the residual rule
  std::uint32_t diameter_bound = 0;  // >= the network's diameter, the same at every node
  // The residual rule (seed 002 §3.3) when either is > 0 (then tolerance must be 0).
  double eps_abs = 0.0;
  double eps_rel = 0.0;
  double rho = 0.0;  // the program's penalty, for s_p; > 0 with the residual rule or votes
  // The varying penalty (seed 002 §3.4.1) when > 0: a vote every adapt_interval (> diameter_bound)
  // steps, at most adapt_votes of them; (3.13)'s mu > 1 and tau > 1. Without a tolerance or eps, the
  // program then never stops early; it only varies rho.
  std::uint32_t adapt_interval = 0;
  std::uint32_t adapt_votes = 10;
  double adapt_mu = 10.0;
  double adapt_tau = 2.0;  // kVote: the factor; kBalance: the largest factor of one change
  PenaltyRule penalty_rule = PenaltyRule::kVote;

  // The rule's own consistency (the program it wraps is checked by AgreedStopProgram::Create).
  absl::Status Validate() const;
  bool residual() const { return eps_abs > 0.0 || eps_rel > 0.0; }
  bool adapts() const { return adapt_interval > 0; }
  // "change tol=1e-06", "residual eps_abs=1e-06 eps_rel=0.0001": what neighbours must agree on.
  std::string Describe() const;
};

// The bound every agent computes from the (fingerprint-checked) topology file: its diameter.
std::uint32_t DiameterBound(const Topology& topology);

class AgreedStopProgram final : public ProgramWrapper, private BroadcastHook {
 public:
  // `neighbours`: the node's neighbours (as the wrapped program has them).
  static absl::StatusOr<std::unique_ptr<AgreedStopProgram>> Create(std::unique_ptr<NodeProgram> program,
                                                                   std::vector<NodeId> neighbours,
                                                                   const StopRule& rule);

  // Also refuses stop bits of the wrong length; the wrapped program checks the rest.
  absl::Status Receive(const Estimate& message, std::vector<Broadcast>& out) override;
  // Its penalty is the votes' (set_penalty is theirs, not a driver's).
  bool set_penalty(double /*rho*/) override { return false; }
  std::optional<StopDiagnostics> stop_diagnostics() const override;
  // The wrapped program's state, then the stop's and the votes'.
  void SaveState(StateWriter& w) const override;
  absl::Status LoadState(StateReader& r) override;

  // The last local test's measures (relative, see above; infinite before the second estimate), and
  // the label of the last estimate broadcast.
  double change() const { return change_; }
  // The residual rule's last r_p and s_p (infinite before the second estimate, 0 with the change test).
  double primal_residual() const { return primal_residual_; }
  double dual_residual() const { return dual_residual_; }
  double disagreement() const { return disagreement_; }
  bool local_test() const { return local_test_; }
  std::uint64_t last_label() const { return last_label_; }
  std::size_t control_bytes() const { return stop_.bytes() + (rule_.adapts() ? kVoteBytes : 0); }
  // The penalty now (it varies with adapt_interval), and how many times the votes changed it.
  double penalty() const { return rho_; }
  std::uint32_t penalty_changes() const { return penalty_changes_; }

 private:
  static constexpr std::size_t kVoteBytes = 2 * sizeof(double);  // R and S
  AgreedStopProgram(std::unique_ptr<NodeProgram> program, std::vector<NodeId> neighbours, const StopRule& rule);
  bool OnBroadcast(Broadcast& b) override;
  // The penalty vote a neighbour's estimate carries after its stop bits (R, S); zeros without votes.
  using Vote = std::array<double, 2>;
  // Neighbour i's estimate labelled `label` (of the program's dimension), its stop bits and vote:
  // stored, or the message being received; x == nullptr if neither.
  struct Seen {
    const double* x = nullptr;
    const StopBits* bits = nullptr;
    const Vote* vote = nullptr;
  };
  Seen EstimateOf(std::size_t i, std::uint64_t label) const;

  struct Received {
    Vector x;
    StopBits bits;  // the stop bits only
    Vote vote{};
  };

  std::vector<NodeId> neighbours_;  // sorted
  StopRule rule_;
  AgreedStop stop_;
  std::vector<std::map<std::uint64_t, Received>> received_;  // per neighbour, by label
  Vector previous_x_;
  std::uint64_t last_label_ = 0;
  double change_;
  double disagreement_;
  double primal_residual_ = 0.0, dual_residual_ = 0.0;
  double rho_;                          // the penalty now
  double vote_r_ = 0.0, vote_s_ = 0.0;  // the running maxima this node sent last
  std::uint32_t penalty_changes_ = 0;
  bool local_test_ = false;
  // During Receive: the message being received, from neighbour pending_index_.
  const Estimate* pending_ = nullptr;
  std::size_t pending_index_ = 0;
  StopBits pending_bits_;
  Vote pending_vote_{};
  std::string error_;  // an inconsistency found in OnBroadcast, reported by the call that caused it
};

// Wraps every program of a network (for the simulator).
absl::Status WrapWithAgreedStop(const Topology& topology, std::map<NodeId, std::unique_ptr<NodeProgram>>& programs,
                                double tolerance);

}  // namespace dadmm
