#include "agent/result_writer.h"

#include <google/protobuf/util/json_util.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "agent/local_solver_client.h"
#include "agent/status_service.h"
#include "agent/wire.h"
#include "common/problems/lasso.h"
#include "dadmm/proto/dadmm.pb.h"

namespace dadmm::agent {

namespace pb = ::dadmm::v1;

absl::Status WriteResult(const RunRecord& run, const Logger& log) {
  const AgentOptions& options = run.options;
  const NodeProgram* program = run.session.program();
  const ColouringProtocol* colouring = &run.session.colouring();
  const CountersSnapshot& c = run.counters;
  const LinkCounters total = c.algorithm.Total();
  const LinkCounters boot = c.bootstrap.Total();
  pb::AgentResult r;
  r.set_node_id(options.node_id);
  r.set_algorithm(AlgorithmName(options.settings.algorithm));
  r.set_problem(run.problem_kind);
  ToWire(options.problem.Parameters(), r.mutable_problem_parameters());
  r.set_features(options.problem.features);
  r.set_computation_iterations(program->computation_iterations());
  const NodeProgram::SolveCounts solves = program->local_solves();
  r.set_local_solves(solves.solves);
  r.set_local_solves_capped(solves.capped);
  r.set_incarnation(run.session.incarnation());
  if (solves.capped > 0) {
    log.Info(absl::StrCat("warning: ", solves.capped, " of ", solves.solves,
                          " local solves stopped at their solver's iteration cap (not converged)"));
  }
  if (options.settings.algorithm == Algorithm::kIcAdmm) r.set_ic_beta(options.settings.ic_beta);
  if (const auto* external = dynamic_cast<const ExternalProblem*>(program->local_problem()); external != nullptr) {
    r.set_local_solver_seconds(external->seconds());
    r.set_solver_reply_hash(absl::StrFormat("%016x", external->reply_hash()));
  }
  if (const auto* lasso = dynamic_cast<const LassoDualProblem*>(program->local_problem()); lasso != nullptr) {
    const Vector block = lasso->RecoverBlock(program->x());
    for (Eigen::Index i = 0; i < block.size(); ++i) r.add_primal_block(block[i]);
  }
  r.set_topology_name(run.topology.name());
  r.set_colour(colouring->colour());
  std::uint32_t colours = colouring->colour();
  for (std::uint32_t k : colouring->neighbour_colours()) colours = std::max(colours, k);
  r.set_colours(colours);
  if (colouring->chosen() >= 0) r.set_network_colours(colouring->network_colours()[colouring->chosen()]);
  r.set_colouring_rounds(colouring->rounds());
  r.set_iterations(program->steps());
  r.set_outcome(!run.outcome.empty()                      ? run.outcome
                : program->outcome() == Outcome::kStopped ? "stopped"
                                                          : "max-iterations");
  for (Eigen::Index i = 0; i < program->x().size(); ++i) r.add_x(program->x()[i]);
  r.set_messages_sent(total.messages_sent);
  r.set_messages_received(total.messages_received);
  r.set_payload_bytes_sent(total.payload_bytes_sent);
  r.set_payload_bytes_received(total.payload_bytes_received);
  std::uint64_t mb_sent = 0, mb_received = 0;
  for (const auto& [id, wb] : c.message_bytes) {
    mb_sent += wb.sent;
    mb_received += wb.received;
  }
  r.set_message_bytes_sent(mb_sent);
  r.set_message_bytes_received(mb_received);
  r.set_bootstrap_messages_sent(boot.messages_sent);
  r.set_bootstrap_messages_received(boot.messages_received);
  r.set_bootstrap_bytes_sent(boot.payload_bytes_sent);
  r.set_bootstrap_bytes_received(boot.payload_bytes_received);
  FillNeighbourCounters(c, run.session.known_colours(), r.mutable_neighbours(),
                        run.topology.neighbours(options.node_id));
  *r.mutable_energy() = FillEnergy(c, run.topology, options.node_id, options.radio, r.mutable_neighbours());
  r.set_wall_seconds(run.wall_seconds);
  r.set_algorithm_seconds(run.algorithm_seconds);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  r.set_peak_rss_kib(static_cast<std::uint64_t>(usage.ru_maxrss));  // KiB on Linux
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec); };
  r.set_cpu_seconds(seconds(usage.ru_utime) + seconds(usage.ru_stime));
  r.set_rho(options.settings.dadmm.rho);
  r.set_tolerance(options.settings.tolerance);
  r.set_eps_abs(options.settings.eps_abs);
  r.set_eps_rel(options.settings.eps_rel);
  r.set_vary_rho_every(options.settings.vary_rho_every);
  r.set_vary_rho_votes(options.settings.vary_rho_votes);
  r.set_vary_rho_mu(options.settings.vary_rho_mu);
  r.set_vary_rho_tau(options.settings.vary_rho_tau);
  r.set_vary_rho_rule(dadmm::PenaltyRuleName(options.settings.vary_rho_rule));
  r.set_max_iterations(options.settings.dadmm.max_iterations);
  if (const std::optional<StopDiagnostics> stop = program->stop_diagnostics(); stop.has_value()) {
    r.set_change(stop->change);
    r.set_disagreement(stop->disagreement);
    r.set_final_rho(stop->penalty);
    r.set_rho_changes(stop->penalty_changes);
    r.set_primal_residual(stop->primal_residual);
    r.set_dual_residual(stop->dual_residual);
  }
  if (const EdgePenalties* edges = program->edge_penalties(); edges != nullptr && edges->adaptive()) {
    // Per-edge penalties (edge_penalties.h): their geometric mean over this node's edges, the least
    // and the largest, and how many times they changed.
    r.set_final_rho(edges->geometric_mean());
    r.set_final_rho_min(edges->min());
    r.set_final_rho_max(edges->max());
    r.set_rho_changes(static_cast<std::uint32_t>(edges->changes()));
  }
  r.set_rejected_messages(c.rejected);
  for (const auto& [j, d] : c.delivery) {
    r.set_resent_messages(r.resent_messages() + d.resent);
    r.set_duplicates_dropped(r.duplicates_dropped() + d.duplicates);
    r.set_reconnects(r.reconnects() + d.reconnects);
  }

  if (run.history != nullptr && !run.history->empty()) {
    r.mutable_history()->Add(run.history->begin(), run.history->end());
    r.set_history_stride(run.history_stride);
  }

  const int shown = std::min(r.x_size(), 8);
  std::cout << "node " << options.node_id << ": " << r.outcome() << " after " << program->steps() << " steps, colour "
            << r.colour() << ", x = [" << absl::StrJoin(r.x().begin(), r.x().begin() + shown, ", ")
            << (r.x_size() > shown ? absl::StrCat(", ... (", r.x_size(), " entries)") : "") << "], messages sent "
            << total.messages_sent << ", received " << total.messages_received << ", payload bytes sent "
            << total.payload_bytes_sent << "; bootstrap messages sent " << boot.messages_sent << ", bytes "
            << boot.payload_bytes_sent << std::endl;
  if (options.output_path.empty()) return absl::OkStatus();

  google::protobuf::util::JsonPrintOptions json;
  json.add_whitespace = true;
  json.always_print_primitive_fields = true;
  std::string text;
  if (auto s = google::protobuf::util::MessageToJsonString(r, &text, json); !s.ok()) {
    return absl::InternalError(absl::StrCat("cannot encode result: ", s.ToString()));
  }
  // Written to a temporary file and renamed, so a reader never sees half a result.
  const std::string tmp = options.output_path + ".tmp";
  {
    std::ofstream out(tmp);
    out << text;
    out.close();
    if (!out) return absl::PermissionDeniedError(absl::StrCat(tmp, ": cannot write result"));
  }
  if (std::rename(tmp.c_str(), options.output_path.c_str()) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(options.output_path, ": cannot write result"));
  }
  log.Info(absl::StrCat("result written to ", options.output_path));
  return absl::OkStatus();
}

}  // namespace dadmm::agent
