#include "coordinator-free-bootstrap/agent_pipeline.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "coordinator-free-bootstrap/stopping_program.h"

namespace dadmm {

absl::Status PipelineSettings::Validate() const {
  if (absl::Status s = dadmm.Validate(); !s.ok()) return s;
  if (vary_rho_every > 0 && (!(vary_rho_mu > 1.0) || !std::isfinite(vary_rho_mu) || !(vary_rho_tau > 1.0) ||
                             !std::isfinite(vary_rho_tau) || vary_rho_votes < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("the varying penalty needs mu > 1, tau > 1 and votes >= 1, got ",
                                                   vary_rho_mu, ", ", vary_rho_tau, ", ", vary_rho_votes));
  }
  if (!(ic_beta > 0.0) || !std::isfinite(ic_beta)) {
    return absl::InvalidArgumentError(absl::StrCat("ic_beta must be a finite number > 0, got ", ic_beta));
  }
  if (!(tolerance >= 0.0) || !std::isfinite(tolerance)) {
    return absl::InvalidArgumentError(absl::StrCat("tolerance must be a finite number >= 0, got ", tolerance));
  }
  if (!(eps_abs >= 0.0) || !std::isfinite(eps_abs) || !(eps_rel >= 0.0) || !std::isfinite(eps_rel)) {
    return absl::InvalidArgumentError(
        absl::StrCat("eps_abs and eps_rel must be finite numbers >= 0, got ", eps_abs, " and ", eps_rel));
  }
  if (tolerance > 0.0 && (eps_abs > 0.0 || eps_rel > 0.0)) {
    return absl::InvalidArgumentError(
        "give either tolerance (the change test) or eps_abs / eps_rel (the residual "
        "rule of seed 002 §3.3), not both");
  }
  return absl::OkStatus();
}

StopRule PipelineSettings::stop_rule(const Topology& topology) const {
  return {.tolerance = tolerance,
          .diameter_bound = DiameterBound(topology),
          .eps_abs = eps_abs,
          .eps_rel = eps_rel,
          .rho = dadmm.rho,
          .adapt_interval = vary_rho_every,
          .adapt_votes = vary_rho_votes,
          .adapt_mu = vary_rho_mu,
          .adapt_tau = vary_rho_tau};
}

absl::StatusOr<std::unique_ptr<NodeProgram>> MakeAgentProgram(const Topology& topology, NodeId self,
                                                              std::uint32_t colour,
                                                              std::vector<NeighbourColour> neighbours,
                                                              std::unique_ptr<LocalProblem> problem,
                                                              const PipelineSettings& settings) {
  if (absl::Status s = settings.Validate(); !s.ok()) return s;
  Colouring colouring{{self, colour}};
  for (const NeighbourColour& n : neighbours) colouring[n.id] = n.colour;
  absl::StatusOr<std::unique_ptr<NodeProgram>> node = MakeNodeProgram(topology, colouring, self, std::move(problem),
                                                                      {.algorithm = settings.algorithm,
                                                                       .rho = settings.dadmm.rho,
                                                                       .max_iterations = settings.dadmm.max_iterations,
                                                                       .beta = settings.ic_beta});
  if (!node.ok()) return node.status();
  if (!settings.agreed_stop()) return node;
  absl::StatusOr<std::unique_ptr<AgreedStopProgram>> wrapped =
      AgreedStopProgram::Create(*std::move(node), topology.neighbours(self), settings.stop_rule(topology));
  if (!wrapped.ok()) return wrapped.status();
  return std::unique_ptr<NodeProgram>(*std::move(wrapped));
}

absl::StatusOr<SimulatedNetwork> SimulateAgentNetwork(const Topology& topology,
                                                      std::map<NodeId, std::unique_ptr<LocalProblem>> problems,
                                                      const PipelineSettings& settings) {
  SimulatedNetwork net;
  absl::StatusOr<ColouringRun> colouring = SimulateColouring(topology, /*seed=*/1);
  if (!colouring.ok()) return colouring.status();
  net.colouring = *std::move(colouring);
  std::map<NodeId, std::unique_ptr<NodeProgram>> programs;
  for (const NodeSpec& n : topology.nodes()) {
    auto problem = problems.find(n.id);
    if (problem == problems.end() || problem->second == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("no problem for node ", n.id));
    }
    std::vector<NeighbourColour> neighbours;
    for (NodeId j : topology.neighbours(n.id)) neighbours.push_back({.id = j, .colour = net.colouring.colouring.at(j)});
    absl::StatusOr<std::unique_ptr<NodeProgram>> program = MakeAgentProgram(
        topology, n.id, net.colouring.colouring.at(n.id), std::move(neighbours), std::move(problem->second), settings);
    if (!program.ok()) return program.status();
    programs[n.id] = *std::move(program);
  }
  absl::StatusOr<SimulationResult> result = Simulate(topology, programs);
  if (!result.ok()) return result.status();
  net.result = *std::move(result);
  return net;
}

}  // namespace dadmm
