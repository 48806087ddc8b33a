// dadmm-sim: runs the node programs of a whole network in one process (the simulator driver), as in
// the experiments of Mota et al., §V.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "agent/local_solver_client.h"
#include "common/cli/data_dir.h"
#include "common/cli/usage.h"
#include "common/io/csv.h"
#include "common/io/svmlight.h"
#include "common/network/colouring.h"
#include "common/network/generators.h"
#include "common/network/topology.h"
#include "common/problems/consensus.h"
#include "common/problems/instances.h"
#include "common/problems/sparse_lr.h"
#include "common/programs/algorithms.h"
#include "common/sim/experiment.h"
#include "coordinator-free-bootstrap/agent_pipeline.h"
#include "coordinator-free-bootstrap/colouring_simulation.h"
#include "coordinator-free-bootstrap/penalty_simulation.h"
#include "coordinator-free-bootstrap/session_simulation.h"

ABSL_FLAG(std::string, topology, "", "Topology file. Or use --table2 and --nodes.");
ABSL_FLAG(int, table2, 0, "Network number 1..7 of Table II, generated with --nodes and --net_seed.");
ABSL_FLAG(int64_t, nodes, 50, "Nodes of the --table2 network.");
ABSL_FLAG(uint64_t, net_seed, 1, "Seed of the --table2 network.");
ABSL_FLAG(std::string, problem, "consensus",
          absl::StrCat("A built-in instance: ", absl::StrJoin(dadmm::InstanceNames(), ", "), "."));
ABSL_FLAG(std::string, algorithm, "d-admm", dadmm::AlgorithmHelp());
ABSL_FLAG(std::string, data_dir, "",
          "consensus: a directory with node-<id>.csv per node holding theta_p (default: generated from "
          "--seed, theta_p ~ N(10, 100^2)).");
ABSL_FLAG(std::string, datasets, dadmm::BundledDataDir(DADMM_DATA_DIR),
          "Directory of the bundled datasets (iris.csv, breast_cancer.csv).");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the problem data (and of --delivery=shuffled).");
ABSL_FLAG(int64_t, dimension, 1, "consensus: dimension n of generated theta_p.");
ABSL_FLAG(std::string, write_data, "",
          "Write every node's private data as node-<id>.csv into this directory and exit (for agents' --data; "
          "consensus, bpdn-*, svm-iris).");
ABSL_FLAG(double, rho, 1.0, "rho of D-ADMM and Algorithm 3; step scale alpha_0 of the subgradient method.");
ABSL_FLAG(bool, rho_grid, false, "Try the paper's grid {1e-4, ..., 1e2} and report the best.");
ABSL_FLAG(std::string, vary_rho, "",
          "Vary rho from --rho by a penalty rule, as agents do with --vary_rho_every=auto --vary_rho_rule=RULE: "
          "balance (relative residual balancing) or vote (seed 002's (3.13)), a vote every D + 1 steps; or edge "
          "(d-admm: a penalty per edge, balanced by its two ends every 2 steps); the rule's defaults. Empty: "
          "rho fixed.");
ABSL_FLAG(double, tol, 1e-4, "Stop at this relative error (0: run --max_steps steps).");
ABSL_FLAG(std::optional<int64_t>, max_steps, std::nullopt,
          "Maximum communication steps, >= 1 (unset: 1000; 10000 for svm-iris).");
ABSL_FLAG(std::string, delivery, "fifo", "Message delivery order: fifo or shuffled.");
ABSL_FLAG(std::string, solver, "",
          "--problem=external: where the nodes' local solvers answer (proto/local_solver.proto), as the agents "
          "are told: unix:PATH or localhost:PORT, {node} replaced by the node id.");
ABSL_FLAG(double, solver_timeout_seconds, 120.0, "--problem=external: how long one answer of a local solver may take.");
ABSL_FLAG(std::string, errors_csv, "", "Write the relative error after every step (step,error) to this file.");

namespace {

int Fail(absl::string_view message) {
  std::cerr << "dadmm-sim: " << message << std::endl;
  return 2;
}

}  // namespace

// --problem=external: the network's programs, as its agents run them (the colouring protocol, the
// algorithm, the agreed stop at --tol), on the local solvers the agents would ask. There is no
// reference solution, so what is printed is each node's estimate to the last bit, with its solver's
// reply hash, for comparison with the agents' results (dadmm-ctl report does this for a run).
int RunExternal(const dadmm::Topology& topology, dadmm::Algorithm algorithm, double rho, int64_t max_steps,
                double tol) {
  const std::string address = absl::GetFlag(FLAGS_solver);
  if (address.empty()) return Fail("--problem=external needs --solver (where the nodes' local solvers answer)");
  const double timeout = absl::GetFlag(FLAGS_solver_timeout_seconds);
  if (!(timeout > 0.0 && timeout <= 86400.0)) return Fail("--solver_timeout_seconds must be in (0, 86400]");
  absl::StatusOr<dadmm::agent::NetworkSolvers> solvers = dadmm::agent::ConnectEveryNode(
      topology, address, std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000.0)));
  if (!solvers.ok()) return Fail(solvers.status().message());
  std::map<dadmm::NodeId, std::unique_ptr<dadmm::LocalProblem>> problems;
  std::string described;
  for (auto& [id, problem] : solvers->problems) {
    const auto& d = problem->description();
    const std::string what = absl::StrFormat("%s (n = %d)", d.problem(), d.dimension());
    if (!described.empty() && what != described) {
      return Fail(absl::StrCat("node ", id, "'s local solver at ", problem->address(), " solves ", what,
                               "; the others solve ", described));
    }
    described = what;
    problems.emplace(id, std::move(problem));
  }
  const auto& logs = solvers->logs;
  dadmm::PipelineSettings settings{.algorithm = algorithm, .tolerance = tol};
  settings.dadmm.rho = rho;
  settings.dadmm.max_iterations = static_cast<uint64_t>(max_steps);
  absl::StatusOr<dadmm::SimulatedNetwork> net = absl::UnknownError("not run");
  try {
    net = dadmm::SimulateAgentNetwork(topology, std::move(problems), settings);
  } catch (const dadmm::agent::LocalSolverFailed& e) {
    return Fail(e.what());
  }
  if (!net.ok()) return Fail(net.status().message());
  const dadmm::SimulationResult& r = net->result;
  std::cout << absl::StrFormat(
      "network   %s: %d nodes, %d edges, %d colours (the agents' distributed colouring, %d rounds)\n"
      "problem   external: %s, local solvers at %s\nalgorithm %s\n",
      topology.name(), topology.size(), topology.num_edges(), dadmm::NumColours(net->colouring.colouring),
      net->colouring.rounds, described, address, dadmm::AlgorithmName(algorithm));
  double seconds = 0.0;
  for (const auto& [id, log] : logs) seconds += log->seconds;
  std::cout << absl::StrFormat(
      "communication steps %d%s\nmessages            %d\npayload bytes       %d\nlocal solvers       %.3f s in all\n",
      r.steps, tol > 0 ? (r.reached_tolerance ? absl::StrFormat(" (tolerance %g agreed)", tol) : " (the maximum)") : "",
      r.messages, r.payload_bytes, seconds);
  std::cout << "node  reply hash        x (to the last bit)\n";
  for (const dadmm::SimulatedNode& node : r.nodes) {
    std::vector<std::string> values;
    for (double v : node.x) values.push_back(absl::StrFormat("%.17g", v));
    std::cout << absl::StrFormat("%-5d %016x  %s\n", node.id, logs.at(node.id)->hash, absl::StrJoin(values, " "));
  }
  return r.diverged ? 1 : 0;
}

int main(int argc, char** argv) {
  dadmm::SetUsage(
      "runs one algorithm on one problem over a whole network in one process, until the relative error\n"
      "||x^k - 1 x*|| / (sqrt(P) ||x*||) reaches --tol or --max_steps, and prints the communication steps,\n"
      "messages and bytes (Mota et al., D-ADMM, section V).\n\n"
      "  dadmm-sim --table2=3 --nodes=50 --problem=consensus --algorithm=d-admm --rho_grid\n"
      "  dadmm-sim --topology=net.yaml --problem=bpdn-dct --algorithm=algorithm3 --rho=0.1 --errors_csv=e.csv\n"
      "  dadmm-sim --topology=net.yaml --problem=bpdn-dct --write_data=DIR   (each node's data, for agents)\n"
      "  dadmm-sim --topology=net.yaml --problem=external --solver=unix:///run/dadmm/solver-{node}.sock --tol=0\n"
      "            (the agents' run on your own local solvers; --tol is then the agreed stop's tolerance)");
  const std::vector<char*> positional = dadmm::ParseCommandLine(argc, argv);
  if (positional.size() > 1) return Fail(absl::StrCat("unexpected argument '", positional[1], "' (see --help)"));

  std::optional<dadmm::Topology> topology;
  if (!absl::GetFlag(FLAGS_topology).empty()) {
    absl::StatusOr<dadmm::Topology> t = dadmm::LoadTopologyFile(absl::GetFlag(FLAGS_topology));
    if (!t.ok()) return Fail(t.status().message());
    topology = *std::move(t);
  } else if (absl::GetFlag(FLAGS_table2) != 0) {
    const int64_t nodes = absl::GetFlag(FLAGS_nodes);
    if (nodes < 2 || nodes > 100000) return Fail("--nodes must be in 2..100000");
    absl::StatusOr<dadmm::NetworkSpec> spec =
        dadmm::TableIISpec(absl::GetFlag(FLAGS_table2), nodes, absl::GetFlag(FLAGS_net_seed));
    if (!spec.ok()) return Fail(spec.status().message());
    absl::StatusOr<dadmm::GeneratedNetwork> net = dadmm::GenerateNetwork(*spec);
    if (!net.ok()) return Fail(net.status().message());
    topology = std::move(net->topology);
  } else {
    return Fail("give --topology=FILE or --table2=N --nodes=P");
  }

  const std::string problem = absl::GetFlag(FLAGS_problem);
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  if (problem != "external" && !absl::GetFlag(FLAGS_solver).empty()) {
    return Fail("--solver is for --problem=external (a local solver of your own)");
  }
  std::unique_ptr<dadmm::ProblemInstance> instance;
  if (problem == "external") {
    if (!absl::GetFlag(FLAGS_write_data).empty()) return Fail("--write_data: an external solver holds its own data");
    if (absl::GetFlag(FLAGS_rho_grid)) return Fail("--rho_grid needs a reference solution; external has none");
  } else if (problem == "consensus" && !absl::GetFlag(FLAGS_data_dir).empty()) {
    const std::string dir = absl::GetFlag(FLAGS_data_dir);
    std::map<dadmm::NodeId, dadmm::Vector> thetas;
    for (const dadmm::NodeSpec& n : topology->nodes()) {
      absl::StatusOr<dadmm::Vector> theta = dadmm::ReadVectorCsv(absl::StrCat(dir, "/node-", n.id, ".csv"));
      if (!theta.ok()) return Fail(theta.status().message());
      if (!thetas.empty() && theta->size() != thetas.begin()->second.size()) {
        return Fail(absl::StrCat(dir, "/node-", n.id, ".csv: ", theta->size(), " values, other nodes have ",
                                 thetas.begin()->second.size()));
      }
      thetas.emplace(n.id, *std::move(theta));
    }
    instance = std::make_unique<dadmm::ConsensusInstance>(std::move(thetas));
  } else {
    const int64_t n = absl::GetFlag(FLAGS_dimension);
    if (n < 1 || n > 100000000) return Fail("--dimension must be in 1..1e8");
    auto made = dadmm::MakeInstance(problem, *topology, seed, absl::GetFlag(FLAGS_datasets), n);
    if (!made.ok()) return Fail(made.status().message());
    instance = *std::move(made);
  }
  if (const std::string dir = absl::GetFlag(FLAGS_write_data); !dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Fail(absl::StrCat(dir, ": ", ec.message()));
    for (const dadmm::NodeSpec& n : topology->nodes()) {
      if (const auto* sparse = dynamic_cast<const dadmm::SparseLogRegInstance*>(instance.get()); sparse != nullptr) {
        // Sparse features: the SVMlight format (a fraction of the dense CSV's size, and agents keep them sparse).
        absl::StatusOr<dadmm::SparseExamples> examples = sparse->LocalExamples(n.id);
        if (!examples.ok()) return Fail(examples.status().message());
        absl::Status s =
            dadmm::WriteSvmLight(absl::StrCat(dir, "/node-", n.id, ".svm"), examples->features, examples->labels);
        if (!s.ok()) return Fail(s.message());
        continue;
      }
      absl::StatusOr<Eigen::MatrixXd> data = instance->LocalData(n.id);
      if (!data.ok()) return Fail(data.status().message());
      const std::string path = absl::StrCat(dir, "/node-", n.id, ".csv");
      absl::Status s = instance->kind() == "consensus" ? dadmm::WriteVectorCsv(path, data->col(0))
                                                       : dadmm::WriteMatrixCsv(path, *data);
      if (!s.ok()) return Fail(s.message());
    }
    const std::string flags =
        absl::StrCat("--problem=", instance->kind(), instance->AgentFlags().empty() ? "" : " ", instance->AgentFlags());
    {
      // The flags every agent needs besides its data file, for launch scripts.
      std::ofstream f(absl::StrCat(dir, "/problem.flags"));
      f << flags << "\n";
      if (!f) return Fail(absl::StrCat(dir, "/problem.flags: cannot write"));
    }
    std::cout << "wrote " << topology->size() << " data files to " << dir << "; agents take them with " << flags
              << " --data=" << dir << "/node-<id>."
              << (dynamic_cast<const dadmm::SparseLogRegInstance*>(instance.get()) != nullptr ? "svm" : "csv")
              << " (also in " << dir << "/problem.flags)" << std::endl;
    return 0;
  }

  absl::StatusOr<dadmm::Algorithm> algorithm = dadmm::ParseAlgorithm(absl::GetFlag(FLAGS_algorithm));
  if (!algorithm.ok()) return Fail(algorithm.status().message());
  const int64_t max_steps = absl::GetFlag(FLAGS_max_steps).value_or(problem == "svm-iris" ? 10000 : 1000);
  if (max_steps < 1) return Fail("--max_steps must be >= 1");
  const double tol = absl::GetFlag(FLAGS_tol);
  if (!(tol >= 0.0 && tol < 1.0)) return Fail("--tol must be in [0, 1)");
  dadmm::RunSpec spec{.settings = {.algorithm = *algorithm,
                                   .rho = absl::GetFlag(FLAGS_rho),
                                   .max_iterations = static_cast<uint64_t>(max_steps)},
                      .tolerance = tol,
                      .delivery_seed = seed};
  if (!(spec.settings.rho > 0.0)) return Fail("--rho must be > 0");
  if (const std::string d = absl::GetFlag(FLAGS_delivery); d == "shuffled") {
    spec.delivery = dadmm::Delivery::kShuffled;
  } else if (d != "fifo") {
    return Fail(absl::StrCat("--delivery: expected fifo or shuffled, got '", d, "'"));
  }

  const std::string vary = absl::GetFlag(FLAGS_vary_rho);
  if (!vary.empty()) {
    if (!dadmm::ParsePenaltyRule(vary))
      return Fail(absl::StrCat("--vary_rho=", vary, ": expected balance, vote or edge"));
    if (absl::GetFlag(FLAGS_rho_grid)) return Fail("--vary_rho and --rho_grid: give one (a rule varies rho itself)");
    if (*algorithm != dadmm::Algorithm::kDadmm && *algorithm != dadmm::Algorithm::kAlgorithm3 &&
        *algorithm != dadmm::Algorithm::kIcAdmm) {
      return Fail(absl::StrCat("--vary_rho: ", dadmm::AlgorithmName(*algorithm), " has no penalty to vary"));
    }
    if (problem == "external") return Fail("--vary_rho: not with --problem=external (the agents' flags do it there)");
  }
  if (problem == "external") {
    return RunExternal(*topology, *algorithm, spec.settings.rho, max_steps, tol);
  }

  // The experiments run with a centralized greedy colouring, as the paper's do; agents colour their
  // network with the distributed protocol, which may use another number of colours: both are shown.
  const dadmm::Colouring colouring = dadmm::GreedyLargestFirstColouring(*topology);
  absl::StatusOr<dadmm::ColouringRun> distributed = dadmm::SimulateColouring(*topology, seed);
  if (!distributed.ok()) return Fail(distributed.status().message());
  std::cout << absl::StrFormat(
      "network   %s: %d nodes, %d edges, %d colours (centralized greedy, used here); agents' distributed "
      "colouring: %d colours in %d rounds\n",
      topology->name(), topology->size(), topology->num_edges(), dadmm::NumColours(colouring),
      dadmm::NumColours(distributed->colouring), distributed->rounds);
  std::cout << absl::StrFormat("problem   %s (n = %d)\nalgorithm %s\n", problem, instance->dimension(),
                               dadmm::AlgorithmName(*algorithm));
  dadmm::RunOutcome best;
  if (absl::GetFlag(FLAGS_rho_grid) && dadmm::HasRho(*algorithm)) {
    absl::StatusOr<dadmm::GridOutcome> grid =
        dadmm::RunRhoGrid(*topology, colouring, *instance, spec, dadmm::PaperRhoGrid());
    if (!grid.ok()) return Fail(grid.status().message());
    for (const dadmm::RunOutcome& r : grid->runs) {
      std::cout << absl::StrFormat("  rho %-8g %s after %d steps (error %.3e)\n", r.rho,
                                   r.reached ? "reached" : (r.diverged ? "diverged" : "not reached"), r.steps,
                                   r.final_error);
    }
    best = grid->best;
  } else if (!vary.empty()) {
    const std::optional<dadmm::PenaltyRule> rule = dadmm::ParsePenaltyRule(vary);
    const dadmm::PenaltyRuleDefaults defaults = dadmm::DefaultsOf(*rule);
    const std::uint32_t diameter = dadmm::DiameterBound(*topology);
    const bool edge = *rule == dadmm::PenaltyRule::kEdge;
    // The agents' settings for --vary_rho_every=auto --vary_rho_rule=RULE, translated as they are.
    const dadmm::PipelineSettings agents{.algorithm = *algorithm,
                                         .dadmm = {.rho = spec.settings.rho},
                                         .vary_rho_every = edge ? dadmm::EdgePenaltySettings{}.every : diameter + 1,
                                         .vary_rho_votes = defaults.votes,
                                         .vary_rho_mu = defaults.mu,
                                         .vary_rho_tau = defaults.tau,
                                         .vary_rho_rule = *rule};
    if (absl::Status s = agents.Validate(); !s.ok()) return Fail(absl::StrCat("--vary_rho=", vary, ": ", s.message()));
    spec.settings.edge = agents.edge();
    absl::StatusOr<dadmm::PenaltyRunOutcome> r =
        dadmm::RunWithPenaltyRule(*topology, colouring, *instance, spec, agents.stop_rule(diameter));
    if (!r.ok()) return Fail(r.status().message());
    if (edge) {
      std::cout << absl::StrFormat(
          "penalty   edge, per edge every %d steps: rho %g -> %g to %g (geometric mean %g), %d changes\n",
          agents.vary_rho_every, spec.settings.rho, r->rho_min, r->rho_max, r->final_rho, r->changes);
    } else {
      std::cout << absl::StrFormat("penalty   %s, a vote every %d steps: rho %g -> %g in %d changes\n", vary,
                                   diameter + 1, spec.settings.rho, r->final_rho, r->changes);
    }
    best = std::move(r->run);
  } else {
    absl::StatusOr<dadmm::RunOutcome> r = dadmm::RunExperiment(*topology, colouring, *instance, spec);
    if (!r.ok()) return Fail(r.status().message());
    best = *std::move(r);
  }
  std::cout << absl::StrFormat(
      "rho                 %g\nrelative error      %.3e%s\ncommunication steps %d\n"
      "messages            %d (2E x steps = %d)\npayload bytes       %d\n",
      best.rho, best.final_error,
      tol > 0 ? (best.reached ? absl::StrFormat(" (tolerance %g reached)", tol)
                              : absl::StrFormat(" (tolerance %g NOT reached)", tol))
              : "",
      best.steps, best.messages, 2 * topology->num_edges() * best.steps, best.payload_bytes);
  if (const std::string path = absl::GetFlag(FLAGS_errors_csv); !path.empty()) {
    std::ofstream out(path);
    out << "step,relative_error\n";
    out.precision(17);
    for (std::size_t k = 0; k < best.errors.size(); ++k) out << k + 1 << "," << best.errors[k] << "\n";
    out.close();
    if (!out) return Fail(absl::StrCat(path, ": cannot write"));
  }
  return 0;
}
