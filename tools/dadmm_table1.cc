// dadmm-table1: seed 001's Table 1 (Chang, Hong, Wang, §5): C-ADMM with FISTA at two accuracies
// against IC-ADMM on the sparse logistic regression (7), counting ADMM iterations (communication
// steps) and computation iterations, each run stopped when acc and cserr are both below their targets.
#include <chrono>
#include <iostream>
#include <map>
#include <memory>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/cli/usage.h"
#include "common/network/colouring.h"
#include "common/network/generators.h"
#include "common/problems/sparse_lr.h"
#include "common/programs/algorithms.h"
#include "common/programs/ic_admm.h"
#include "common/sim/simulator.h"

ABSL_FLAG(int64_t, nodes, 10, "N, the number of agents.");
ABSL_FLAG(int, table2, 1, "The network: number 1..7 of seed 000's Table II (1: Erdos-Renyi, p = 0.25).");
ABSL_FLAG(uint64_t, net_seed, 1, "Seed of the network.");
ABSL_FLAG(int64_t, k, 10000, "K, the dimension (a square: patches are sqrt(K) x sqrt(K)).");
ABSL_FLAG(int64_t, m, 10, "M, examples per agent.");
ABSL_FLAG(double, lambda, 0.0, "lambda of (7) (default: seed 001's 0.1 for N = 10, 0.15 for N = 50).");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the data and of their split.");
ABSL_FLAG(double, cadmm_c, 0.0, "c of C-ADMM (default: seed 001's 0.03 for N = 10, 0.004 for N = 50).");
ABSL_FLAG(double, icadmm_c, 0.0, "c of IC-ADMM (default: seed 001's 0.01 for N = 10, 0.008 for N = 50).");
ABSL_FLAG(double, beta, 1.2, "beta of IC-ADMM (seed 001: 1.2).");
ABSL_FLAG(double, fista_step, 0.1, "FISTA's constant step in C-ADMM (seed 001: 0.1); 0: 1 / L.");
ABSL_FLAG(double, acc, 1e-4, "Target of acc = (obj(x^) - obj*) / obj*.");
ABSL_FLAG(double, cserr, 1e-5, "Target of cserr = sum_i ||x^ - x_i||^2 / N.");
ABSL_FLAG(int64_t, max_steps, 20000, "Maximum of ADMM iterations per run.");
ABSL_FLAG(std::string, runs, "cadmm8,cadmm5,cadmm4,icadmm",
          "Which columns: cadmm5 (C-ADMM, pgr < 1e-5), cadmm4 (pgr < 1e-4), cadmm8 (pgr < 1e-8, nearly exact "
          "local solves), icadmm.");

namespace {

int Fail(absl::string_view message) {
  std::cerr << "dadmm-table1: " << message << std::endl;
  return 2;
}

struct Column {
  std::string name;
  dadmm::Algorithm algorithm;
  double c = 0.0;
  double pgr = 0.0;  // C-ADMM's FISTA tolerance
};

struct Row {
  std::uint64_t steps = 0;
  double computation = 0.0;  // mean over agents
  dadmm::ConsensusMeasures measures;
  bool reached = false;
  bool diverged = false;
  std::uint64_t messages = 0;
  double seconds = 0.0;
};

}  // namespace

int main(int argc, char** argv) {
  dadmm::SetUsage(
      "reproduces the shape of Table 1 of Chang, Hong, Wang (IC-ADMM): C-ADMM (Algorithm 1, FISTA (16) as\n"
      "its local solver, stopped at pgr < 1e-5 or 1e-4) against IC-ADMM (Algorithm 2) on the sparse logistic\n"
      "regression (7) with |x_k| <= 1, on synthetic texture patches; each run stops when acc < --acc and\n"
      "cserr < --cserr. Prints ADMM iterations, computation iterations per agent, acc, cserr, messages.\n\n"
      "  dadmm-table1                          (N = 10, K = 10000, M = 10, lambda = 0.1)\n"
      "  dadmm-table1 --nodes=50               (Table 1(b): lambda = 0.15, its c values)\n"
      "  dadmm-table1 --nodes=5 --k=400        (a small instance, seconds)");
  const std::vector<char*> positional = dadmm::ParseCommandLine(argc, argv);
  if (positional.size() > 1) return Fail(absl::StrCat("unexpected argument '", positional[1], "' (see --help)"));
  const int64_t N = absl::GetFlag(FLAGS_nodes), K = absl::GetFlag(FLAGS_k), M = absl::GetFlag(FLAGS_m);
  if (N < 2 || N > 1000) return Fail("--nodes must be in 2..1000");
  if (M < 1 || M > 100000) return Fail("--m must be in 1..100000");
  if (K < 4 || K > 4000000) return Fail("--k must be in 4..4e6");
  const bool paper50 = N == 50;
  const double lambda = absl::GetFlag(FLAGS_lambda) > 0 ? absl::GetFlag(FLAGS_lambda) : (paper50 ? 0.15 : 0.1);
  const double cadmm_c = absl::GetFlag(FLAGS_cadmm_c) > 0 ? absl::GetFlag(FLAGS_cadmm_c) : (paper50 ? 0.004 : 0.03);
  const double icadmm_c = absl::GetFlag(FLAGS_icadmm_c) > 0 ? absl::GetFlag(FLAGS_icadmm_c) : (paper50 ? 0.008 : 0.01);
  const double beta = absl::GetFlag(FLAGS_beta);
  const double step = absl::GetFlag(FLAGS_fista_step);
  if (!(beta > 0) || !(step >= 0) || !(cadmm_c > 0) || !(icadmm_c > 0)) {
    return Fail("--beta, --cadmm_c, --icadmm_c must be > 0 and --fista_step >= 0");
  }
  const int64_t max_steps = absl::GetFlag(FLAGS_max_steps);
  if (max_steps < 1) return Fail("--max_steps must be >= 1");

  absl::StatusOr<dadmm::NetworkSpec> spec =
      dadmm::TableIISpec(absl::GetFlag(FLAGS_table2), static_cast<std::size_t>(N), absl::GetFlag(FLAGS_net_seed));
  if (!spec.ok()) return Fail(spec.status().message());
  absl::StatusOr<dadmm::GeneratedNetwork> net = dadmm::GenerateNetwork(*spec);
  if (!net.ok()) return Fail(net.status().message());
  const dadmm::Topology& topology = net->topology;

  const auto t0 = std::chrono::steady_clock::now();
  absl::StatusOr<dadmm::SparseLrData> data = dadmm::MakeTexturePatches(N * M, K, lambda, absl::GetFlag(FLAGS_seed));
  if (!data.ok()) return Fail(data.status().message());
  absl::StatusOr<std::unique_ptr<dadmm::SparseLrInstance>> instance = dadmm::SparseLrInstance::Create(
      *std::move(data), topology, absl::GetFlag(FLAGS_seed), {.step = step, .pgr_tolerance = 1e-5});
  if (!instance.ok()) return Fail(instance.status().message());
  const double obj_star = (*instance)->objective_star();
  const dadmm::Vector& x_star = (*instance)->solution();
  std::cout << absl::StrFormat(
      "network     %s: %d nodes, %d edges (Table II network %d)\n"
      "data        %d texture patches of %dx%d (K = %d), M = %d per agent, lambda = %g, box |x_k| <= 1\n"
      "obj*        %.10g (centralized FISTA with restart, %d iterations, optimality residual %.2e; "
      "%d nonzeros, %d at the box; %.1f s)\n",
      topology.name(), topology.size(), topology.num_edges(), absl::GetFlag(FLAGS_table2), N * M,
      static_cast<int>(std::lround(std::sqrt(K))), static_cast<int>(std::lround(std::sqrt(K))), K, M, lambda, obj_star,
      (*instance)->centralized().iterations, dadmm::SparseLrOptimalityResidual((*instance)->data(), x_star),
      (x_star.array() != 0.0).count(), (x_star.array().abs() >= 1.0).count(),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  // Condition (13) for IC-ADMM on this network and these data.
  std::vector<dadmm::CompositeProblem::Constants> constants;
  for (const dadmm::NodeSpec& n : topology.nodes()) {
    auto local = (*instance)->MakeLocal(n.id);
    constants.push_back(dynamic_cast<const dadmm::CompositeProblem&>(*local).constants());
  }
  const double lmin = dadmm::LambdaMinDegreePlusAdjacency(topology);
  const dadmm::CompositeProblem::Constants network = dadmm::NetworkConstants(constants);
  const double bound = dadmm::IcAdmmBetaBound(network, icadmm_c, lmin);
  std::cout << absl::StrFormat(
      "(13)        beta > (L_f^2 / sigma_f^2) lambda_max(A~'A~) - c lambda_min(D + W) = (%g / %.3g) * %.4g - "
      "%g * %.4g = %.4g: beta = %g %s\n",
      network.lipschitz_f * network.lipschitz_f, network.convexity_f, network.gram_norm, icadmm_c, lmin, bound, beta,
      beta > bound ? "satisfies it" : "VIOLATES it (a sufficient condition; the run shows whether IC-ADMM converges)");

  std::vector<Column> columns;
  for (absl::string_view r : absl::StrSplit(absl::GetFlag(FLAGS_runs), ',')) {
    if (r == "cadmm5") {
      columns.push_back({"C-ADMM (pgr<1e-5)", dadmm::Algorithm::kAlgorithm3, cadmm_c, 1e-5});
    } else if (r == "cadmm4") {
      columns.push_back({"C-ADMM (pgr<1e-4)", dadmm::Algorithm::kAlgorithm3, cadmm_c, 1e-4});
    } else if (r == "cadmm8") {
      columns.push_back({"C-ADMM (pgr<1e-8)", dadmm::Algorithm::kAlgorithm3, cadmm_c, 1e-8});
    } else if (r == "icadmm") {
      columns.push_back({"IC-ADMM", dadmm::Algorithm::kIcAdmm, icadmm_c, 0});
    } else {
      return Fail(absl::StrCat("--runs: unknown column '", r, "' (cadmm5, cadmm4, cadmm8, icadmm)"));
    }
  }
  const double acc_target = absl::GetFlag(FLAGS_acc), cserr_target = absl::GetFlag(FLAGS_cserr);
  std::vector<Row> rows;
  for (const Column& col : columns) {
    const auto start = std::chrono::steady_clock::now();
    std::map<dadmm::NodeId, std::unique_ptr<dadmm::NodeProgram>> programs;
    const dadmm::SparseLrData& d = (*instance)->data();
    for (const dadmm::NodeSpec& n : topology.nodes()) {
      // C-ADMM's columns: the same examples with their FISTA tolerance.
      auto local = col.pgr > 0 ? (*instance)->MakeLocal(n.id, {.step = step, .pgr_tolerance = col.pgr})
                               : (*instance)->MakeLocal(n.id);
      absl::StatusOr<std::unique_ptr<dadmm::NodeProgram>> program = dadmm::MakeNodeProgram(
          topology, {}, n.id, std::move(local),
          {.algorithm = col.algorithm, .rho = col.c, .max_iterations = static_cast<uint64_t>(max_steps), .beta = beta});
      if (!program.ok()) return Fail(program.status().message());
      programs[n.id] = *std::move(program);
    }
    Row row;
    dadmm::SimulatorOptions options;
    options.monitor = [&](std::uint64_t k, const std::vector<dadmm::Vector>& x,
                          const std::vector<std::uint64_t>& computation) {
      row.measures = dadmm::MeasureConsensus(d, obj_star, x);
      double sum = 0;
      for (std::uint64_t c : computation) sum += static_cast<double>(c);
      row.computation = sum / static_cast<double>(computation.size());
      row.steps = k;
      return row.measures.acc < acc_target && row.measures.cserr < cserr_target;
    };
    absl::StatusOr<dadmm::SimulationResult> result = dadmm::Simulate(topology, programs, options);
    if (!result.ok()) return Fail(result.status().message());
    row.reached = result->reached_tolerance;
    row.diverged = result->diverged;
    row.messages = result->messages;
    row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rows.push_back(row);
    std::cerr << absl::StrFormat("%s: %s after %d ADMM iterations (%.1f s)\n", col.name,
                                 row.reached ? "targets reached" : (row.diverged ? "diverged" : "targets NOT reached"),
                                 row.steps, row.seconds);
  }

  std::cout << absl::StrFormat("\n%-22s", "");
  for (const Column& c : columns) std::cout << absl::StrFormat("%20s", c.name);
  std::cout << absl::StrFormat("\n%-22s", "c");
  for (const Column& c : columns) std::cout << absl::StrFormat("%20g", c.c);
  std::cout << absl::StrFormat("\n%-22s", "ADMM Ite.");
  for (const Row& r : rows)
    std::cout << absl::StrFormat("%20s", r.reached ? absl::StrCat(r.steps) : absl::StrCat(">", r.steps));
  std::cout << absl::StrFormat("\n%-22s", "Compt. Ite.");
  for (const Row& r : rows) std::cout << absl::StrFormat("%20.0f", r.computation);
  std::cout << absl::StrFormat("\n%-22s", absl::StrFormat("acc (< %g)", acc_target));
  for (const Row& r : rows) std::cout << absl::StrFormat("%20.4g", r.measures.acc);
  std::cout << absl::StrFormat("\n%-22s", absl::StrFormat("cserr (< %g)", cserr_target));
  for (const Row& r : rows) std::cout << absl::StrFormat("%20.4g", r.measures.cserr);
  std::cout << absl::StrFormat("\n%-22s", "messages (2E x ite.)");
  for (const Row& r : rows) std::cout << absl::StrFormat("%20d", r.messages);
  std::cout << absl::StrFormat("\n%-22s", "seconds");
  for (const Row& r : rows) std::cout << absl::StrFormat("%20.1f", r.seconds);
  std::cout << "\n";
  for (const Row& r : rows) {
    if (!r.reached) return 1;
  }
  return 0;
}
