#include "coordinator-free-bootstrap/penalty_simulation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/programs/algorithms.h"
#include "common/programs/edge_penalties.h"
#include "common/sim/simulator.h"

namespace dadmm {
namespace {

// The per-edge penalties at the end: the two ends of each edge must hold the same (both saw the same
// estimates at the same step); final_rho is their geometric
// mean, with the least and largest.
absl::StatusOr<PenaltyRunOutcome> WithEdgePenalties(const Topology& topology,
                                                    const std::map<NodeId, std::unique_ptr<NodeProgram>>& programs,
                                                    PenaltyRunOutcome out) {
  double log_sum = 0.0;
  std::uint64_t edges = 0, changes = 0;
  out.rho_min = std::numeric_limits<double>::infinity();
  out.rho_max = 0.0;
  for (const auto& [id, program] : programs) {
    const EdgePenalties* mine = program->edge_penalties();
    if (mine == nullptr) return absl::InternalError(absl::StrCat("node ", id, " has no per-edge penalties"));
    std::vector<NodeId> neighbours(topology.neighbours(id).begin(), topology.neighbours(id).end());
    std::sort(neighbours.begin(), neighbours.end());
    changes += mine->changes();
    for (std::size_t i = 0; i < neighbours.size(); ++i) {
      const NodeId j = neighbours[i];
      if (j < id) continue;  // each edge once, from its smaller end
      const EdgePenalties* theirs = programs.at(j)->edge_penalties();
      std::vector<NodeId> back(topology.neighbours(j).begin(), topology.neighbours(j).end());
      std::sort(back.begin(), back.end());
      const std::size_t at = static_cast<std::size_t>(std::find(back.begin(), back.end(), id) - back.begin());
      // Ends that completed different numbers of steps (the run ended on the error while one of them
      // waited) may be one update apart; those that completed the same must agree.
      const bool comparable = programs.at(j)->steps() == program->steps();
      if (theirs == nullptr || at == back.size() || (comparable && theirs->rho(at) != mine->rho(i))) {
        return absl::InternalError(absl::StrCat("edge ", id, "-", j, ": the two ends hold different penalties"));
      }
      log_sum += std::log(mine->rho(i));
      out.rho_min = std::min(out.rho_min, mine->rho(i));
      out.rho_max = std::max(out.rho_max, mine->rho(i));
      ++edges;
    }
  }
  out.final_rho = edges > 0 ? std::exp(log_sum / static_cast<double>(edges)) : 0.0;
  out.changes = static_cast<std::uint32_t>(changes / 2);
  return out;
}

}  // namespace

absl::StatusOr<PenaltyRunOutcome> RunWithPenaltyRule(const Topology& topology, const Colouring& colouring,
                                                     const ProblemInstance& instance, const RunSpec& spec,
                                                     const StopRule& rule) {
  if (rule.rho != spec.settings.rho) {
    return absl::InvalidArgumentError(
        absl::StrCat("the penalty rule starts from rho ", rule.rho, ", the algorithm from ", spec.settings.rho));
  }
  const bool edge = rule.penalty_rule == PenaltyRule::kEdge;
  if (edge != spec.settings.edge.adaptive) {
    return absl::InvalidArgumentError("the per-edge rule and the algorithm's per-edge penalties go together");
  }
  std::map<NodeId, std::unique_ptr<NodeProgram>> programs;
  std::map<NodeId, const AgreedStopProgram*> voters;
  for (const NodeSpec& n : topology.nodes()) {
    absl::StatusOr<std::unique_ptr<NodeProgram>> p =
        MakeNodeProgram(topology, colouring, n.id, instance.MakeLocal(n.id), spec.settings);
    if (!p.ok()) return p.status();
    if (edge) {  // no votes: the programs adapt their edges themselves
      programs[n.id] = *std::move(p);
      continue;
    }
    absl::StatusOr<std::unique_ptr<AgreedStopProgram>> wrapped =
        AgreedStopProgram::Create(*std::move(p), topology.neighbours(n.id), rule);
    if (!wrapped.ok()) return wrapped.status();
    voters[n.id] = wrapped->get();
    programs[n.id] = *std::move(wrapped);
  }
  absl::StatusOr<SimulationResult> r = Simulate(topology, programs,
                                                {.delivery = spec.delivery,
                                                 .seed = spec.delivery_seed,
                                                 .error = instance.error_measure(),
                                                 .tolerance = spec.tolerance});
  if (!r.ok()) return r.status();
  PenaltyRunOutcome out;
  out.run = {.rho = spec.settings.rho,
             .steps = r->steps,
             .reached = r->reached_tolerance,
             .diverged = r->diverged,
             .messages = r->messages,
             .payload_bytes = r->payload_bytes,
             .final_error = r->errors.empty() ? 0.0 : r->errors.back(),
             .errors = std::move(r->errors)};
  if (out.run.diverged) out.run.final_error = std::numeric_limits<double>::infinity();
  if (edge) return WithEdgePenalties(topology, programs, std::move(out));
  std::map<std::uint64_t, std::set<double>> by_label;  // by the label of the last estimate sent
  for (const auto& [id, p] : voters) {
    by_label[p->last_label()].insert(p->penalty());
    if (by_label.begin()->first == p->last_label()) {
      out.final_rho = p->penalty();
      out.changes = p->penalty_changes();
    }
  }
  for (const auto& [label, penalties] : by_label) {
    if (penalties.size() != 1) {
      return absl::InternalError(absl::StrCat("nodes that sent estimate ", label, " hold different penalties"));
    }
  }
  return out;
}

}  // namespace dadmm
