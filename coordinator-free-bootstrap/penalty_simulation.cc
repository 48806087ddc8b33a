#include "coordinator-free-bootstrap/penalty_simulation.h"

#include <limits>
#include <map>
#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/programs/algorithms.h"
#include "common/sim/simulator.h"

namespace dadmm {

absl::StatusOr<PenaltyRunOutcome> RunWithPenaltyRule(const Topology& topology, const Colouring& colouring,
                                                     const ProblemInstance& instance, const RunSpec& spec,
                                                     const StopRule& rule) {
  if (rule.rho != spec.settings.rho) {
    return absl::InvalidArgumentError(
        absl::StrCat("the penalty rule starts from rho ", rule.rho, ", the algorithm from ", spec.settings.rho));
  }
  std::map<NodeId, std::unique_ptr<NodeProgram>> programs;
  std::map<NodeId, const AgreedStopProgram*> voters;
  for (const NodeSpec& n : topology.nodes()) {
    absl::StatusOr<std::unique_ptr<NodeProgram>> p =
        MakeNodeProgram(topology, colouring, n.id, instance.MakeLocal(n.id), spec.settings);
    if (!p.ok()) return p.status();
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
