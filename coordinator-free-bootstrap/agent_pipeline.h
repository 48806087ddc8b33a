// What every agent runs once its neighbours' colours are known, built in one place (node_session.h
// calls it, in the agent and in the session simulation): the algorithm (D-ADMM, seed
// 000 Algorithm 2, with the colours the colouring protocol agreed, or a baseline), wrapped with the
// agreed stop when a tolerance is set.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/network/topology.h"
#include "common/programs/algorithms.h"
#include "common/programs/dadmm_node.h"
#include "coordinator-free-bootstrap/handshake.h"
#include "coordinator-free-bootstrap/stopping_program.h"

namespace dadmm {

struct PipelineSettings {
  Algorithm algorithm = Algorithm::kDadmm;
  DadmmSettings dadmm;     // rho (the step scale for the subgradient method), and the maximum of iterations
  double tolerance = 0.0;  // > 0: the agreed stop (stopping_program.h); 0: run the maximum
  double ic_beta = 1.2;    // IC-ADMM's beta (seed 001 (8))
  // > 0 (either): the agreed stop with seed 002 §3.3's residual rule instead of the change test
  // (tolerance must then be 0).
  double eps_abs = 0.0;
  double eps_rel = 0.0;

  // > 0: seed 002 §3.4.1's varying penalty, voted every vary_rho_every steps (stopping_program.h);
  // with vary_rho_rule kEdge, no vote: D-ADMM's per-edge penalties, measured
  // every vary_rho_every steps, at most vary_rho_votes changes per edge (edge_penalties.h).
  std::uint32_t vary_rho_every = 0;
  // Crash recovery (node_session.h): a checkpoint every this many communication steps. Nodes keep
  // checkpoint_every + 3 of their own estimates for a restarted neighbour, so neighbours must agree
  // (the handshake compares it when it is not 1).
  std::uint32_t checkpoint_every = 1;
  std::uint32_t vary_rho_votes = 10;
  double vary_rho_mu = 10.0;
  double vary_rho_tau = 2.0;
  PenaltyRule vary_rho_rule = PenaltyRule::kVote;  // how a vote changes rho (stopping_program.h)

  // Whether the penalty varies per edge (no vote), and those settings for the program.
  bool edge_penalties() const { return vary_rho_every > 0 && vary_rho_rule == PenaltyRule::kEdge; }
  EdgePenaltySettings edge() const;
  // Whether the program is wrapped in AgreedStopProgram (an early stop, or the penalty votes).
  bool agreed_stop() const {
    return tolerance > 0.0 || eps_abs > 0.0 || eps_rel > 0.0 || (vary_rho_every > 0 && !edge_penalties());
  }
  // The agreed stop's rule for a network whose diameter is at most `diameter_bound` (DiameterBound
  // of the topology every node holds; its Describe() goes into the handshake), or for `topology`.
  StopRule stop_rule(std::uint32_t diameter_bound) const;
  StopRule stop_rule(const Topology& topology) const;

  absl::Status Validate() const;
};

// Everything about the run that neighbours must agree on (handshake.h's RunConfig): `problem` (the
// problem kind and its parameters, common/node_data.h: ProblemSpec::Parameters), then the algorithm
// and its parameters, rho, the iterations and the stopping rule, each typed under its flag's name.
RunConfig DescribeRun(std::vector<NamedValue> problem, const PipelineSettings& settings);

// A node's program from its own view (its and its neighbours' final colours, their degrees) and the
// network's diameter bound D (for the agreed stop): the algorithm, wrapped in the agreed stop if the
// run has one.
absl::StatusOr<std::unique_ptr<NodeProgram>> MakeAgentProgram(const NodeView& node, std::uint32_t diameter_bound,
                                                              std::unique_ptr<LocalProblem> problem,
                                                              const PipelineSettings& settings);

}  // namespace dadmm
