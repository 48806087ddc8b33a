// dadmm-ctl: looks at a dadmm network from outside.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "agent/ctl_watch.h"
#include "agent/local_solver_client.h"
#include "agent/results.h"
#include "agent/tls.h"
#include "agent/wire.h"
#include "common/cli/data_dir.h"
#include "common/cli/usage.h"
#include "common/io/csv.h"
#include "common/network/colouring.h"
#include "common/network/topology.h"
#include "common/problems/node_data.h"
#include "common/programs/dadmm_node.h"
#include "common/reference/report.h"
#include "common/sim/simulator.h"
#include "coordinator-free-bootstrap/agent_pipeline.h"
#include "coordinator-free-bootstrap/session_simulation.h"
#include "dadmm/proto/dadmm.grpc.pb.h"

ABSL_FLAG(std::string, results, "", "report: directory with the agents' node-<id>.json results.");
ABSL_FLAG(std::string, data_dir, "", "report: directory with every node's node-<id>.csv (to compute x*).");
ABSL_FLAG(std::string, solver, "",
          "report of a --problem=external run: where the nodes' local solvers answer, as the agents were told "
          "({node}: the node id); the simulator's run asks them the same questions.");
ABSL_FLAG(double, solver_timeout_seconds, 120.0, "report: how long one answer of a local solver may take.");
ABSL_FLAG(std::string, x_out, "",
          "report: write the network's whole solution x here, one value per line (17 digits): the nodes' "
          "blocks put together (lasso), else the mean of their estimates.");
ABSL_FLAG(std::string, out, "", "plot: the image to write (.png, .svg or .pdf).");
ABSL_FLAG(double, timeout_seconds, 5.0, "status: deadline of the call.");
ABSL_FLAG(double, interval_seconds, 0.5, "watch: how often the table is refreshed.");
ABSL_FLAG(double, watch_timeout_seconds, 0.0, "watch: give up after this long (0: never).");
ABSL_FLAG(bool, plain, false, "watch: print tables one after another instead of redrawing the screen.");
ABSL_FLAG(std::string, tls_ca, "", "status, watch: the network's CA certificate (agents that use mutual TLS).");
ABSL_FLAG(std::string, tls_cert, "",
          "status, watch: a monitor's certificate (deploy/make-certs.sh makes one, dadmm://<network>/ctl/ctl).");
ABSL_FLAG(std::string, tls_key, "", "status, watch: the monitor certificate's private key.");

namespace {

namespace pb = ::dadmm::v1;

int Fail(absl::string_view message, int code = 2) {
  std::cerr << "dadmm-ctl: " << message << std::endl;
  return code;
}

std::string StateName(pb::AgentState s) {
  std::string name = pb::AgentState_Name(s);
  return name.substr(std::string("AGENT_STATE_").size());
}

absl::StatusOr<dadmm::agent::MonitorCredentials> Credentials() {
  return dadmm::agent::MakeMonitorCredentials(
      {.ca = absl::GetFlag(FLAGS_tls_ca), .cert = absl::GetFlag(FLAGS_tls_cert), .key = absl::GetFlag(FLAGS_tls_key)});
}

int Status(const std::string& address) {
  const double timeout = absl::GetFlag(FLAGS_timeout_seconds);
  if (!(timeout > 0 && timeout <= 3600)) return Fail("--timeout_seconds must be in (0, 3600]");
  absl::StatusOr<dadmm::agent::MonitorCredentials> credentials = Credentials();
  if (!credentials.ok()) return Fail(credentials.status().message());
  grpc::ChannelArguments args;
  if (credentials->tls != nullptr) args.SetSslTargetNameOverride(dadmm::agent::Tls::kServerName);
  auto channel = grpc::CreateCustomChannel(address, credentials->channel, args);
  auto stub = pb::Status::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000)));
  pb::StatusReply reply;
  const grpc::Status status = stub->GetStatus(&context, pb::StatusRequest(), &reply);
  if (!status.ok()) {
    return Fail(absl::StrCat(address, ": ", status.error_message(),
                             status.error_code() == grpc::StatusCode::UNAVAILABLE && credentials->tls == nullptr
                                 ? " (if the agent uses TLS, give --tls_ca, --tls_cert and --tls_key)"
                                 : ""),
                1);
  }
  if (absl::Status server = credentials->CheckServer(context); !server.ok()) {
    return Fail(absl::StrCat(address, ": ", server.message()), 1);
  }
  std::cout << absl::StrFormat("node %d  state %s  iteration %d of at most %d  colour %d  up %.1f s  version %s\n",
                               reply.node_id(), StateName(reply.state()), reply.iteration(), reply.max_iterations(),
                               reply.colour(), reply.uptime_seconds(), reply.version());
  std::cout << absl::StrFormat("%s on %s, rho %g, stopping rule %s\n", reply.algorithm(), reply.problem(), reply.rho(),
                               reply.stop_rule().empty() ? "none (a fixed number of steps)" : reply.stop_rule());
  if (!reply.error().empty()) std::cout << "error: " << reply.error() << "\n";
  std::cout << absl::StrFormat("x_p: dimension %d, norm %.6g, first entries [%s]; f_p(x_p) = %.6g\n", reply.dimension(),
                               reply.x_norm(), absl::StrJoin(reply.x_head(), ", "), reply.objective());
  std::cout << absl::StrFormat("residuals: change %.3e, disagreement %.3e", reply.change(), reply.disagreement());
  if (absl::StrContains(reply.stop_rule(), "residual") || absl::StrContains(reply.stop_rule(), "vary-rho")) {
    std::cout << absl::StrFormat("; primal r_p %.3e, dual s_p %.3e", reply.primal_residual(), reply.dual_residual());
  }
  if (reply.local_solves_capped() > 0) {
    std::cout << absl::StrFormat("; %d of %d local solves at their iteration cap", reply.local_solves_capped(),
                                 reply.local_solves());
  }
  if (reply.computation_iterations() > 0) {
    std::cout << absl::StrFormat("; computation iterations %d", reply.computation_iterations());
  }
  std::cout << "\n";
  std::cout << absl::StrFormat("messages sent %d  received %d; bootstrap messages sent %d, bytes %d\n",
                               reply.messages_sent(), reply.messages_received(), reply.bootstrap_messages_sent(),
                               reply.bootstrap_bytes_sent());
  if (!reply.waiting_for().empty()) std::cout << "waiting for " << reply.waiting_for() << "\n";
  for (const pb::NeighbourCounters& n : reply.neighbours()) {
    std::cout << absl::StrFormat(
        "  neighbour %-6d colour %-4d %-13s last iteration heard %-7d %s sent %-8d received %-8d payload bytes sent "
        "%d%s\n",
        n.node_id(), n.colour(), n.connected() ? "connected" : "not connected", n.last_iteration_heard(),
        n.seconds_since_heard() < 0 ? std::string("(never heard)")
                                    : absl::StrFormat("(%.1f s ago)", n.seconds_since_heard()),
        n.messages_sent(), n.messages_received(), n.payload_bytes_sent(),
        n.rho() > 0.0 ? absl::StrFormat("  edge rho %g", n.rho()) : std::string());
  }
  // The exit status is a health check (the Dockerfile's HEALTHCHECK, systemd): a failed agent is not healthy.
  return reply.state() == pb::AGENT_STATE_FAILED ? 1 : 0;
}

int WatchNetwork(const std::string& topology_path) {
  absl::StatusOr<dadmm::Topology> topology = dadmm::LoadTopologyFile(topology_path);
  if (!topology.ok()) return Fail(topology.status().message());
  const double interval = absl::GetFlag(FLAGS_interval_seconds);
  const double timeout = absl::GetFlag(FLAGS_watch_timeout_seconds);
  if (!(interval >= 0.05 && interval <= 3600)) return Fail("--interval_seconds must be in [0.05, 3600]");
  if (!(timeout >= 0 && timeout <= 1e6)) return Fail("--watch_timeout_seconds must be in [0, 1e6]");
  dadmm::agent::WatchOptions options{.interval = std::chrono::milliseconds(static_cast<int64_t>(interval * 1000)),
                                     .timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000)),
                                     .redraw = isatty(STDOUT_FILENO) != 0 && !absl::GetFlag(FLAGS_plain)};
  absl::StatusOr<dadmm::agent::MonitorCredentials> credentials = Credentials();
  if (!credentials.ok()) return Fail(credentials.status().message());
  options.credentials = *std::move(credentials);
  return dadmm::agent::Watch(*topology, options);
}

int Nodes(const std::string& topology_path) {
  absl::StatusOr<dadmm::Topology> topology = dadmm::LoadTopologyFile(topology_path);
  if (!topology.ok()) return Fail(topology.status().message());
  for (const dadmm::NodeSpec& n : topology->nodes()) std::cout << n.id << " " << n.address << "\n";
  return 0;
}

// The identities certificates must name (agent/tls.h): one line per node, "<id> <uri>", then the
// monitor's, "ctl <uri>".
int Identities(const std::string& topology_path) {
  absl::StatusOr<dadmm::Topology> topology = dadmm::LoadTopologyFile(topology_path);
  if (!topology.ok()) return Fail(topology.status().message());
  const std::string network = dadmm::agent::NetworkName(topology->name());
  for (const dadmm::NodeSpec& n : topology->nodes()) {
    std::cout << n.id << " " << dadmm::agent::NodeIdentity(network, n.id) << "\n";
  }
  std::cout << "ctl " << dadmm::agent::MonitorIdentity(network, "ctl") << "\n";
  return 0;
}

// The run the agents' result records describe: the problem and the settings (the same at every node,
// checked by SameRun).
struct RecordedRun {
  dadmm::ProblemSpec spec;
  dadmm::PipelineSettings settings;
};

absl::StatusOr<RecordedRun> RunOf(const pb::AgentResult& r) {
  RecordedRun run;
  absl::StatusOr<dadmm::ProblemSpec> spec =
      dadmm::ProblemSpec::FromParameters(dadmm::agent::FromWire(r.problem_parameters()));
  if (!spec.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("node ", r.node_id(), ": problem_parameters: ", spec.status().message()));
  }
  run.spec = *std::move(spec);
  run.spec.features = r.features();
  absl::StatusOr<dadmm::Algorithm> algorithm = dadmm::ParseAlgorithm(r.algorithm());
  if (!algorithm.ok())
    return absl::InvalidArgumentError(absl::StrCat("node ", r.node_id(), ": ", algorithm.status().message()));
  run.settings = {.algorithm = *algorithm,
                  .dadmm = {.rho = r.rho(), .max_iterations = r.max_iterations()},
                  .tolerance = r.tolerance(),
                  .eps_abs = r.eps_abs(),
                  .eps_rel = r.eps_rel(),
                  .vary_rho_every = r.vary_rho_every()};
  // Written only where they apply (ic_beta for ic-admm) or by newer agents: else the defaults.
  if (r.ic_beta() > 0) run.settings.ic_beta = r.ic_beta();
  if (r.vary_rho_votes() > 0) run.settings.vary_rho_votes = r.vary_rho_votes();
  if (r.vary_rho_mu() > 0) run.settings.vary_rho_mu = r.vary_rho_mu();
  if (r.vary_rho_tau() > 0) run.settings.vary_rho_tau = r.vary_rho_tau();
  if (!r.vary_rho_rule().empty()) {
    const std::optional<dadmm::PenaltyRule> rule = dadmm::ParsePenaltyRule(r.vary_rho_rule());
    if (!rule) {
      return absl::InvalidArgumentError(absl::StrCat("node ", r.node_id(), ": vary_rho_rule '", r.vary_rho_rule(),
                                                     "' (expected vote, balance or edge)"));
    }
    run.settings.vary_rho_rule = *rule;
  }
  return run;
}

// Whether two result records are of the same run (every parameter bit for bit).
bool SameRun(const pb::AgentResult& a, const pb::AgentResult& b) {
  const std::vector<dadmm::NamedValue> pa = dadmm::agent::FromWire(a.problem_parameters());
  const std::vector<dadmm::NamedValue> pb_ = dadmm::agent::FromWire(b.problem_parameters());
  const bool same_problem =
      pa.size() == pb_.size() && std::equal(pa.begin(), pa.end(), pb_.begin(), [](const auto& x, const auto& y) {
        return x.name == y.name && dadmm::SameValue(x, y);
      });
  return a.rho() == b.rho() && a.max_iterations() == b.max_iterations() && a.tolerance() == b.tolerance() &&
         a.problem() == b.problem() && same_problem && a.features() == b.features() && a.ic_beta() == b.ic_beta() &&
         a.eps_abs() == b.eps_abs() && a.eps_rel() == b.eps_rel() && a.vary_rho_every() == b.vary_rho_every() &&
         a.vary_rho_votes() == b.vary_rho_votes() && a.vary_rho_mu() == b.vary_rho_mu() &&
         a.vary_rho_tau() == b.vary_rho_tau() && a.vary_rho_rule() == b.vary_rho_rule() &&
         a.algorithm() == b.algorithm();
}

// Each node's data file: node-<id>.svm (SVMlight) if there is one, else node-<id>.csv.
std::string DataPath(const std::string& data_dir, dadmm::NodeId id) {
  const std::string svm = absl::StrCat(data_dir, "/node-", id, ".svm");
  return std::filesystem::exists(svm) ? svm : absl::StrCat(data_dir, "/node-", id, ".csv");
}

// Sums over the nodes' result records.
struct Totals {
  std::uint64_t computation = 0, solves = 0, capped = 0;
  std::uint64_t messages = 0, payload = 0, message_bytes = 0, boot_messages = 0, boot_bytes = 0;
  double energy_sent = 0.0, energy_received = 0.0, energy_boot = 0.0, energy_broadcast = 0.0;

  void Add(const pb::AgentResult& r) {
    computation += r.computation_iterations();
    solves += r.local_solves();
    capped += r.local_solves_capped();
    messages += r.messages_sent();
    payload += r.payload_bytes_sent();
    message_bytes += r.message_bytes_sent();
    boot_messages += r.bootstrap_messages_sent();
    boot_bytes += r.bootstrap_bytes_sent();
    energy_sent += r.energy().sent();
    energy_received += r.energy().received();
    energy_boot += r.energy().bootstrap();
    energy_broadcast += r.energy().broadcast_equivalent();
  }
};

Eigen::Index Nonzeros(const dadmm::Vector& x) { return (x.array() != 0.0).count(); }

// An estimate in a table cell: the value itself, or for a vector its norm and nonzeros.
std::string Summary(const dadmm::Vector& x) {
  if (x.size() == 1) return absl::StrFormat("%.17g", x[0]);
  return absl::StrFormat("|x|=%.6g nz=%d/%d", x.norm(), Nonzeros(x), x.size());
}

// Prints what a finished network computed, and checks it against the simulator run on the same inputs
// and against the centralized reference (common/reference/report.h).
int Report(const std::string& topology_path) {
  absl::StatusOr<dadmm::Topology> topology = dadmm::LoadTopologyFile(topology_path);
  if (!topology.ok()) return Fail(topology.status().message());
  const std::string results_dir = absl::GetFlag(FLAGS_results);
  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  const std::string solver = absl::GetFlag(FLAGS_solver);
  if (results_dir.empty() || (data_dir.empty() && solver.empty())) {
    return Fail("report needs --results and --data_dir (or --solver, for --problem=external)");
  }
  const double solver_timeout = absl::GetFlag(FLAGS_solver_timeout_seconds);
  if (!(solver_timeout > 0.0 && solver_timeout <= 86400.0))
    return Fail("--solver_timeout_seconds must be in (0, 86400]");
  auto results = dadmm::agent::ReadNetworkResults(*topology, results_dir);
  if (!results.ok()) return Fail(results.status().message());

  const pb::AgentResult& first = results->begin()->second;  // the others must match it
  absl::StatusOr<RecordedRun> run = RunOf(first);
  if (!run.ok()) return Fail(run.status().message());
  const dadmm::ProblemSpec& spec = run->spec;
  for (const auto& [id, r] : *results) {
    if (!SameRun(r, first)) {
      return Fail(absl::StrCat("node ", id, " ran ", r.algorithm(), " on ", r.problem(), ", rho ", r.rho(),
                               ", at most ", r.max_iterations(), " steps, tolerance ", r.tolerance(), "; node ",
                               first.node_id(), " ran ", first.algorithm(), " on ", first.problem(), ", rho ",
                               first.rho(), ", ", first.max_iterations(), ", ", first.tolerance()));
    }
  }

  // The same network in the simulator, from the same data files: the colouring protocol, the
  // algorithm, and the agreed stop.
  // With --problem=external, the same local solvers the agents asked (agent/local_solver_client.h).
  std::map<dadmm::NodeId, std::unique_ptr<dadmm::LocalProblem>> problems;
  std::map<dadmm::NodeId, std::shared_ptr<dadmm::agent::SolverReplyLog>> reply_logs;
  const bool external = spec.kind == "external";
  if (external && solver.empty()) {
    return Fail(
        "the agents ran --problem=external: give --solver (where their local solvers answer) to run the "
        "simulator on the same solvers");
  }
  if (!external && !solver.empty()) return Fail(absl::StrCat("--solver: the agents ran ", spec.kind, ", not external"));
  if (external) {
    absl::StatusOr<dadmm::agent::NetworkSolvers> solvers = dadmm::agent::ConnectEveryNode(
        *topology, solver, std::chrono::milliseconds(static_cast<int64_t>(solver_timeout * 1000.0)));
    if (!solvers.ok()) return Fail(solvers.status().message());
    for (auto& [id, problem] : solvers->problems) {
      if (problem->description().problem() != spec.solver_problem) {
        return Fail(absl::StrCat("node ", id, "'s local solver at ", problem->address(), " solves '",
                                 problem->description().problem(), "'; the agents solved '", spec.solver_problem, "'"));
      }
      problems.emplace(id, std::move(problem));
    }
    reply_logs = std::move(solvers->logs);
  } else {
    for (const dadmm::NodeSpec& n : topology->nodes()) {
      auto problem = dadmm::LoadLocalProblem(spec, DataPath(data_dir, n.id), topology->size());
      if (!problem.ok()) return Fail(problem.status().message());
      problems.emplace(n.id, *std::move(problem));
    }
  }
  absl::StatusOr<dadmm::SimulatedNetwork> simulated = absl::UnknownError("not run");
  try {
    simulated = dadmm::SimulateAgentNetwork(*topology, std::move(problems), run->settings);
  } catch (const dadmm::agent::LocalSolverFailed& e) {
    return Fail(absl::StrCat("the simulator's run: ", e.what()));
  }
  if (!simulated.ok()) return Fail(simulated.status().message());
  const dadmm::SimulationResult& sim = simulated->result;

  dadmm::NetworkOutcome outcome{.spec = spec};
  std::vector<dadmm::NodeId> differ;
  std::vector<std::string> solver_notes;  // external: where a solver's replies differed
  double solver_seconds = 0.0;
  std::set<std::uint64_t> final_steps;
  Totals totals;
  std::cout << absl::StrFormat("%-6s %-7s %-24s %-7s %-15s %-10s %-14s %-14s %-16s %s\n", "node", "colour",
                               "estimate x_p", "steps", "outcome", "msgs sent", "payload bytes", "message bytes",
                               "bootstrap msgs", "= simulator");
  for (const dadmm::SimulatedNode& s : sim.nodes) {
    const pb::AgentResult& r = results->at(s.id);
    const dadmm::Vector x = Eigen::Map<const dadmm::Vector>(r.x().data(), r.x_size());
    outcome.nodes.push_back(s.id);
    outcome.data_paths.push_back(DataPath(data_dir, s.id));
    outcome.estimates.push_back(x);
    outcome.primal_blocks.emplace_back(r.primal_block().begin(), r.primal_block().end());
    final_steps.insert(r.iterations());
    const bool same = dadmm::agent::SameEstimate(r, s.x) && r.iterations() == sim.steps &&
                      r.colour() == simulated->colouring.colouring.at(s.id) &&
                      r.network_colours() == dadmm::NumColours(simulated->colouring.colouring) &&
                      r.computation_iterations() == s.computation_iterations;
    if (!same) differ.push_back(s.id);
    if (auto log = reply_logs.find(s.id); log != reply_logs.end()) {
      const std::string simulated_hash = absl::StrFormat("%016x", log->second->hash);
      if (r.solver_reply_hash() != simulated_hash) {
        solver_notes.push_back(absl::StrCat(
            "node ", s.id, ": its local solver answered the agent and the simulator differently (reply hash ",
            r.solver_reply_hash(), " vs ", simulated_hash,
            "): a solver must answer the same request with the same bits for the run to be checked"));
      }
      solver_seconds += r.local_solver_seconds();
    }
    totals.Add(r);
    std::cout << absl::StrFormat("%-6d %-7d %-24s %-7d %-15s %-10d %-14d %-14d %-16d %s\n", s.id, r.colour(),
                                 Summary(x), r.iterations(), r.outcome(), r.messages_sent(), r.payload_bytes_sent(),
                                 r.message_bytes_sent(), r.bootstrap_messages_sent(), same ? "yes" : "NO");
  }
  const dadmm::Vector solution = dadmm::AssembledSolution(outcome);
  if (solution.size() > 1) {
    std::vector<double> head(solution.data(), solution.data() + std::min<Eigen::Index>(solution.size(), 5));
    std::cout << absl::StrFormat(
        "\nx: %d entries, %d nonzero, norm %.6g; first: %s%s\n", solution.size(), Nonzeros(solution), solution.norm(),
        absl::StrJoin(head, ", ", [](std::string* out, double v) { absl::StrAppend(out, absl::StrFormat("%.6g", v)); }),
        solution.size() > 5 ? ", ..." : "");
  }
  if (const std::string x_out = absl::GetFlag(FLAGS_x_out); !x_out.empty()) {
    if (absl::Status s = dadmm::WriteVectorCsv(x_out, solution); !s.ok()) return Fail(s.message());
    std::cout << "x written to " << x_out << " (" << solution.size() << " values)\n";
  } else if (solution.size() > 1) {
    std::cout << "(--x_out=FILE writes the whole x)\n";
  }
  const uint64_t steps = *final_steps.rbegin();
  const uint64_t expected = 2 * topology->num_edges() * steps;
  std::cout << "\n" << first.algorithm() << " on " << spec.Describe() << "\n";
  absl::StatusOr<std::string> reference = dadmm::CompareWithReference(outcome);
  if (!reference.ok()) return Fail(reference.status().message());
  std::cout << *reference;
  if (spec.kind == "sparse-lr") {
    std::cout << absl::StrFormat(
        "computation iterations  %.1f per agent (%s)\n",
        static_cast<double>(totals.computation) / static_cast<double>(topology->size()),
        first.algorithm() == "ic-admm" ? "one gradient step per estimate" : "FISTA steps of the local solves");
  }
  if (run->settings.edge_penalties()) {
    double least = std::numeric_limits<double>::infinity(), largest = 0.0;
    std::uint64_t changes = 0;
    for (const auto& [id, r] : *results) {
      least = std::min(least, r.final_rho_min());
      largest = std::max(largest, r.final_rho_max());
      changes += r.rho_changes();
    }
    // Each edge's changes are counted at both of its ends.
    std::cout << absl::StrFormat(
        "per-edge penalties      rho %g -> %g to %g over the edges (%d changes, measured "
        "every %d steps)\n",
        first.rho(), least, largest, changes / 2, run->settings.vary_rho_every);
  } else if (run->settings.vary_rho_every > 0) {
    std::cout << absl::StrFormat("varying penalty         rho %g -> %g (%d changes, %s, a vote every %d steps)\n",
                                 first.rho(), first.final_rho(), first.rho_changes(),
                                 dadmm::PenaltyRuleName(run->settings.vary_rho_rule), run->settings.vary_rho_every);
  }
  std::vector<std::string> restarted;
  for (const auto& [id, r] : *results) {
    if (r.incarnation() > 0) restarted.push_back(absl::StrCat(id, " (", r.incarnation(), "x)"));
  }
  if (!restarted.empty()) {
    std::cout << "restarted from checkpoints " << absl::StrJoin(restarted, ", ")
              << " (resumed: the counts and bits below are the run's as a whole)\n";
  }
  if (external) {
    std::cout << absl::StrFormat(
        "local solvers           %.3f s per agent waiting for its solver (the rest of the wall time: the algorithm "
        "and the communication)\n",
        solver_seconds / static_cast<double>(topology->size()));
    for (const std::string& note : solver_notes) std::cout << note << "\n";
  }
  if (totals.solves > 0) {
    std::cout << absl::StrFormat("local solves            %d, %d of them stopped at their solver's iteration cap%s\n",
                                 totals.solves, totals.capped,
                                 totals.capped > 0 ? " (not converged: see the agents' logs)" : "");
  }
  std::cout << absl::StrFormat(
      "communication steps     %s\n"
      "colours                 %d (distributed colouring, %d rounds)\n"
      "messages sent           %d (2E x steps = %d x %d = %d)\npayload bytes sent      %d\n"
      "message bytes sent      %d (serialized protobuf)\n"
      "bootstrap               %d messages (hello, colours, end), %d bytes (with the stop bits)\n"
      "radio energy (model)    %.3f mJ sent + %.3f mJ received point to point; %.3f mJ if broadcast; "
      "bootstrap %.3f mJ\n"
      "bit-identical to simulator: %s\n",
      final_steps.size() == 1 ? absl::StrCat(steps, ", the same at every node")
                              : absl::StrCat("DIFFER between nodes: ", absl::StrJoin(final_steps, ", ")),
      dadmm::NumColours(simulated->colouring.colouring), simulated->colouring.rounds, totals.messages,
      2 * topology->num_edges(), steps, expected, totals.payload, totals.message_bytes, totals.boot_messages,
      totals.boot_bytes, totals.energy_sent * 1e3, totals.energy_received * 1e3, totals.energy_broadcast * 1e3,
      totals.energy_boot * 1e3,
      differ.empty() ? "yes, every node" : absl::StrCat("NO, nodes ", absl::StrJoin(differ, ", ")));
  return differ.empty() && final_steps.size() == 1 && totals.messages == expected ? 0 : 1;
}

// The plot is drawn by deploy/plot-history.py (matplotlib), run in this process's place.
int Plot(const std::string& results_dir) {
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) return Fail("plot needs --out=FILE.png");
  const std::string script = dadmm::BundledPath(DADMM_PLOT_SCRIPT, "plot-history.py");
  if (access(script.c_str(), R_OK) != 0) return Fail(absl::StrCat(script, ": the plotting script is missing"));
  const std::string out_flag = absl::StrCat("--out=", out);
  std::vector<const char*> command = {"/usr/bin/python3", script.c_str(), results_dir.c_str(), out_flag.c_str(),
                                      nullptr};
  execv(command[0], const_cast<char* const*>(command.data()));
  return Fail(absl::StrCat("cannot run /usr/bin/python3 (", std::strerror(errno),
                           "): dadmm-ctl plot needs python3 "
                           "and python3-matplotlib"));
}

}  // namespace

int main(int argc, char** argv) {
  dadmm::SetUsage(
      "looks at a dadmm network.\n\n"
      "  dadmm-ctl status HOST:PORT          one agent's state and counters; exit 1 if it cannot be reached\n"
      "                                      or has failed (a health check)\n"
      "  dadmm-ctl watch TOPOLOGY            every agent of the network as a live table (state, iteration,\n"
      "                                      residuals, messages, progress), a summary at the end; exit 1\n"
      "                                      if an agent failed\n"
      "  dadmm-ctl nodes TOPOLOGY            the nodes of a topology file: id and address per line\n"
      "  dadmm-ctl identities TOPOLOGY       the identity each node's TLS certificate must name, per line\n"
      "  dadmm-ctl report TOPOLOGY --results=DIR --data_dir=DIR\n"
      "                                      what a finished network computed, checked against the\n"
      "                                      simulator on the same inputs (exit 1 if they differ)\n"
      "  dadmm-ctl plot RESULTS_DIR --out=FILE.png\n"
      "                                      residuals, objective, messages and energy over the\n"
      "                                      iterations, from results the agents wrote with --history=N\n"
      "                                      (needs python3-matplotlib)");
  std::vector<char*> args = dadmm::ParseCommandLine(argc, argv);
  if (args.size() != 3) return Fail("expected a command and its argument (see --help)");
  const std::string command = args[1];
  if (command == "status") return Status(args[2]);
  if (command == "nodes") return Nodes(args[2]);
  if (command == "identities") return Identities(args[2]);
  if (command == "watch") return WatchNetwork(args[2]);
  if (command == "report") return Report(args[2]);
  if (command == "plot") return Plot(args[2]);
  return Fail(
      absl::StrCat("unknown command '", command, "' (expected status, watch, nodes, identities, report or plot)"));
}
