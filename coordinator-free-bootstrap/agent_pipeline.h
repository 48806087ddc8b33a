// What every agent runs once its neighbours' colours are known, built in one place so that the agent
// and the simulator's replay of a network of agents cannot drift apart: the algorithm (D-ADMM, seed
// 000 Algorithm 2, with the colours the colouring protocol agreed, or a baseline), wrapped with the
// agreed stop when a tolerance is set.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/algorithms.h"
#include "common/dadmm_node.h"
#include "common/simulator.h"
#include "common/topology.h"
#include "coordinator-free-bootstrap/colouring_simulation.h"
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

  // > 0: seed 002 §3.4.1's varying penalty, voted every vary_rho_every steps (stopping_program.h).
  std::uint32_t vary_rho_every = 0;
  std::uint32_t vary_rho_votes = 10;
  double vary_rho_mu = 10.0;
  double vary_rho_tau = 2.0;

  // Whether the program is wrapped in AgreedStopProgram (an early stop, or the penalty votes).
  bool agreed_stop() const { return tolerance > 0.0 || eps_abs > 0.0 || eps_rel > 0.0 || vary_rho_every > 0; }
  // The agreed stop's rule for `topology` (its Describe() goes into the handshake).
  StopRule stop_rule(const Topology& topology) const;

  absl::Status Validate() const;
};

// Node `self`'s program, given its own and its neighbours' final colours.
absl::StatusOr<std::unique_ptr<NodeProgram>> MakeAgentProgram(const Topology& topology, NodeId self,
                                                              std::uint32_t colour,
                                                              std::vector<NeighbourColour> neighbours,
                                                              std::unique_ptr<LocalProblem> problem,
                                                              const PipelineSettings& settings);

struct SimulatedNetwork {
  ColouringRun colouring;   // what the colouring protocol agreed (independent of timing)
  SimulationResult result;  // what the programs computed
};

// The network of agents in the simulator: the colouring protocol, then every node's program.
absl::StatusOr<SimulatedNetwork> SimulateAgentNetwork(const Topology& topology,
                                                      std::map<NodeId, std::unique_ptr<LocalProblem>> problems,
                                                      const PipelineSettings& settings);

}  // namespace dadmm
