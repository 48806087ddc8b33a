#include "coordinator-free-bootstrap/agent_pipeline.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "coordinator-free-bootstrap/stopping_program.h"

namespace dadmm {

absl::Status PipelineSettings::Validate() const {
  if (absl::Status s = dadmm.Validate(); !s.ok()) return s;
  if (edge_penalties() && algorithm != Algorithm::kDadmm) {
    return absl::InvalidArgumentError(absl::StrCat("vary_rho_rule edge (per-edge penalties) applies to d-admm, not ",
                                                   AlgorithmName(algorithm), " (use vary_rho_rule balance)"));
  }
  if (vary_rho_every > 0 && (!(vary_rho_mu > 1.0) || !std::isfinite(vary_rho_mu) || !(vary_rho_tau > 1.0) ||
                             !std::isfinite(vary_rho_tau) || vary_rho_votes < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("the varying penalty needs mu > 1, tau > 1 and votes >= 1, got ",
                                                   vary_rho_mu, ", ", vary_rho_tau, ", ", vary_rho_votes));
  }
  if (checkpoint_every < 1 || checkpoint_every > 1000000) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint_every must be in 1..1000000 communication steps, got ", checkpoint_every));
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

EdgePenaltySettings PipelineSettings::edge() const {
  if (!edge_penalties()) return {};
  return {
      .adaptive = true, .mu = vary_rho_mu, .tau = vary_rho_tau, .every = vary_rho_every, .max_changes = vary_rho_votes};
}

StopRule PipelineSettings::stop_rule(const Topology& topology) const { return stop_rule(DiameterBound(topology)); }

StopRule PipelineSettings::stop_rule(std::uint32_t diameter_bound) const {
  return {.tolerance = tolerance,
          .diameter_bound = diameter_bound,
          .eps_abs = eps_abs,
          .eps_rel = eps_rel,
          .rho = dadmm.rho,
          .adapt_interval = edge_penalties() ? 0 : vary_rho_every,
          .adapt_votes = vary_rho_votes,
          .adapt_mu = vary_rho_mu,
          .adapt_tau = vary_rho_tau,
          .penalty_rule = vary_rho_rule};
}

RunConfig DescribeRun(std::vector<NamedValue> problem, const PipelineSettings& settings) {
  RunConfig config = std::move(problem);
  auto add = [&](std::string name, auto value) { config.push_back({std::move(name), value}); };
  auto integer = [](std::uint64_t v) { return static_cast<std::int64_t>(v); };
  add("algorithm", AlgorithmName(settings.algorithm));
  if (settings.algorithm == Algorithm::kIcAdmm) add("ic_beta", settings.ic_beta);
  add("rho", settings.dadmm.rho);
  add("iterations", integer(settings.dadmm.max_iterations));
  add("tolerance", settings.tolerance);
  add("eps_abs", settings.eps_abs);
  add("eps_rel", settings.eps_rel);
  add("vary_rho_every", integer(settings.vary_rho_every));
  if (settings.vary_rho_every > 0) {
    add("vary_rho_votes", integer(settings.vary_rho_votes));
    add("vary_rho_mu", settings.vary_rho_mu);
    add("vary_rho_tau", settings.vary_rho_tau);
    if (settings.vary_rho_rule != PenaltyRule::kVote)
      add("vary_rho_rule", std::string(PenaltyRuleName(settings.vary_rho_rule)));
  }
  if (settings.checkpoint_every != 1) add("checkpoint_every", integer(settings.checkpoint_every));
  return config;
}

absl::StatusOr<std::unique_ptr<NodeProgram>> MakeAgentProgram(const NodeView& view, std::uint32_t diameter_bound,
                                                              std::unique_ptr<LocalProblem> problem,
                                                              const PipelineSettings& settings) {
  if (absl::Status s = settings.Validate(); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<NodeProgram>> node = MakeNodeProgram(view, std::move(problem),
                                                                      {.algorithm = settings.algorithm,
                                                                       .rho = settings.dadmm.rho,
                                                                       .max_iterations = settings.dadmm.max_iterations,
                                                                       .beta = settings.ic_beta,
                                                                       .edge = settings.edge()});
  if (!node.ok()) return node.status();
  if (!settings.agreed_stop()) return node;
  std::vector<NodeId> neighbours;
  for (const NodeView::Neighbour& n : view.neighbours) neighbours.push_back(n.id);
  absl::StatusOr<std::unique_ptr<AgreedStopProgram>> wrapped =
      AgreedStopProgram::Create(*std::move(node), neighbours, settings.stop_rule(diameter_bound));
  if (!wrapped.ok()) return wrapped.status();
  return std::unique_ptr<NodeProgram>(*std::move(wrapped));
}

}  // namespace dadmm
