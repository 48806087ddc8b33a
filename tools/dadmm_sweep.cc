// dadmm-sweep: the experiments of seed 000, §V (Figs. 3-7), in the simulator: every algorithm at the
// best rho of the paper's grid on every network, written as CSV and Markdown tables.
#include <sys/resource.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/cli/data_dir.h"
#include "common/cli/usage.h"
#include "common/network/colouring.h"
#include "common/network/generators.h"
#include "common/problems/instances.h"
#include "common/programs/algorithms.h"
#include "common/sim/experiment.h"
#include "coordinator-free-bootstrap/colouring_simulation.h"
#include "coordinator-free-bootstrap/penalty_simulation.h"
#include "coordinator-free-bootstrap/stopping_program.h"

ABSL_FLAG(std::string, experiment, "", "fig3, fig4, fig5, fig6, fig7, colouring, or a comma-separated list of them.");
ABSL_FLAG(std::string, out, "results", "Directory for <experiment>.csv, <experiment>_grid.csv and <experiment>.md.");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the networks and of the problem data.");
ABSL_FLAG(std::string, networks, "1,2,3,4,5,6,7", "Table II network numbers to run.");
ABSL_FLAG(std::string, sizes, "", "fig4 only: network sizes to run (default: all of Table II's).");
ABSL_FLAG(std::string, problems, "", "Run only these of the experiment's problems (e.g. lasso-dct), to split a sweep.");
ABSL_FLAG(double, stop_tolerance, 1e-5, "stop only: the agreed stop's tolerance.");
ABSL_FLAG(std::string, rules, "vote,balance,edge",
          "penalty only: the penalty rules to compare (vote, balance, edge: per-edge penalties, no vote).");
ABSL_FLAG(std::string, starts, "1e-4,1e-2,1,100", "penalty only: the starting values of rho.");
ABSL_FLAG(int64_t, vary_every, 0,
          "penalty only: steps between votes; 0: D + 1 + --vary_settle with D the network's diameter.");
ABSL_FLAG(int64_t, vary_settle, 0,
          "penalty only: with --vary_every=0, the steps between a change and the next "
          "measurement; -1: D + 1.");
ABSL_FLAG(int64_t, vary_votes, 0,
          "penalty only: at most this many votes; 0: each rule's default (vote 10, balance 1000).");
ABSL_FLAG(double, balance_mu, 0.0,
          "penalty only: the balancing rule's mu (change rho when R > mu S or S > mu R); 0: its default, 2.");
ABSL_FLAG(double, balance_tau, 0.0,
          "penalty only: the balancing rule's largest factor of one change; 0: its default, 100.");
ABSL_FLAG(std::string, algorithms, "d-admm,algorithm3", "penalty only: the algorithms to run.");
ABSL_FLAG(std::string, datasets, dadmm::BundledDataDir(DADMM_DATA_DIR),
          "Directory of the bundled datasets (iris.csv, breast_cancer.csv).");

namespace {

using dadmm::Algorithm;

int Fail(absl::string_view message) {
  std::cerr << "dadmm-sweep: " << message << std::endl;
  return 1;
}

struct Experiment {
  std::string name;
  std::string title;
  std::vector<std::string> problems;
  std::vector<std::size_t> sizes;
  std::vector<Algorithm> algorithms;
  std::uint64_t max_steps = 1000;
  double tolerance = 1e-4;
  int curves_network = 0;  // write the error along the steps for this network (Fig. 3(b))
};

std::vector<Experiment> AllExperiments() {
  const std::vector<Algorithm> two = {Algorithm::kDadmm, Algorithm::kAlgorithm3};
  return {
      {.name = "fig3",
       .title = "Fig. 3: consensus, all algorithms, 50-node networks",
       .problems = {"consensus"},
       .sizes = {50},
       .algorithms = {Algorithm::kDadmm, Algorithm::kAlgorithm3, Algorithm::kSubgradient, Algorithm::kAveraging},
       .curves_network = 3},
      {.name = "fig4",
       .title = "Fig. 4: consensus, D-ADMM, Algorithm 3 and [26] on all networks of Table II",
       .problems = {"consensus"},
       .sizes = dadmm::TableIISizes(),
       .algorithms = {Algorithm::kDadmm, Algorithm::kAlgorithm3, Algorithm::kAveraging}},
      {.name = "fig5",
       .title = "Fig. 5: BPDN (a) Gaussian 600x2560 like Sparco 7, (b) partial DCT 200x1000 like Sparco 902; 50 nodes",
       .problems = {"bpdn-gaussian", "bpdn-dct"},
       .sizes = {50},
       .algorithms = two},
      {.name = "fig6",
       .title =
           "Fig. 6: LASSO (20), column partition, same data, sigma 0.5 / 0.1, delta 1e-3; 10 nodes; tolerance 1e-3",
       .problems = {"lasso-gaussian", "lasso-dct"},
       .sizes = {10},
       .algorithms = two,
       .tolerance = 1e-3},
      {.name = "fig7",
       .title = "Fig. 7: SVM on Iris setosa/versicolor, 50 nodes, at most 1e4 steps",
       .problems = {"svm-iris"},
       .sizes = {50},
       .algorithms = two,
       .max_steps = 10000},
  };
}

struct Row {
  std::string problem;
  int network = 0;
  std::string model;
  std::size_t nodes = 0, edges = 0;
  std::uint32_t colours = 0;
  Algorithm algorithm = Algorithm::kDadmm;
  dadmm::RunOutcome best;
  double seconds = 0.0;
};

double PeakRssMiB() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

std::string Cell(const dadmm::RunOutcome& r, std::uint64_t max_steps, bool has_rho) {
  if (r.diverged) return absl::StrFormat("diverged (rho %g)", r.rho);
  if (!r.reached) return absl::StrFormat("> %d (error %.1e)", max_steps, r.final_error);
  return has_rho ? absl::StrFormat("%d (rho %g)", r.steps, r.rho) : absl::StrCat(r.steps);
}

// The command line, as typed (for the tables' "made by" line).
std::string g_command_line;

void WriteMarkdown(const Experiment& e, const std::vector<Row>& rows, const std::string& path, std::uint64_t seed,
                   absl::Duration elapsed) {
  std::ofstream md(path);
  md << "# " << e.title << "\n\n";
  md << absl::StrFormat(
      "Communication steps to a relative error of %g (at most %d steps); for every algorithm with a parameter "
      "(rho; the step scale of the subgradient method) the best of {1e-4, ..., 1e2}, shown with it. Seed %d. "
      "Made by `%s`; this experiment took %s (peak memory of the process so far: %.0f MiB).\n\n",
      e.tolerance, e.max_steps, seed, g_command_line, absl::FormatDuration(absl::Trunc(elapsed, absl::Seconds(1))),
      PeakRssMiB());
  std::vector<std::string> header = {"problem", "network", "model", "P", "avg degree", "colours"};
  for (Algorithm a : e.algorithms) header.push_back(dadmm::AlgorithmName(a));
  md << "| " << absl::StrJoin(header, " | ") << " |\n|";
  for (std::size_t i = 0; i < header.size(); ++i) md << " --- |";
  md << "\n";
  // One line per (problem, size, network), algorithms side by side.
  std::map<std::tuple<std::string, std::size_t, int>, std::map<Algorithm, const Row*>> lines;
  for (const Row& r : rows) lines[{r.problem, r.nodes, r.network}][r.algorithm] = &r;
  for (const auto& [key, by_algorithm] : lines) {
    const Row& any = *by_algorithm.begin()->second;
    std::vector<std::string> cells = {
        any.problem,
        absl::StrCat(any.network),
        any.model,
        absl::StrCat(any.nodes),
        absl::StrFormat("%.1f", 2.0 * static_cast<double>(any.edges) / static_cast<double>(any.nodes)),
        absl::StrCat(any.colours)};
    for (Algorithm a : e.algorithms) {
      auto it = by_algorithm.find(a);
      cells.push_back(it == by_algorithm.end() ? "" : Cell(it->second->best, e.max_steps, dadmm::HasRho(a)));
    }
    md << "| " << absl::StrJoin(cells, " | ") << " |\n";
  }
}

absl::StatusOr<std::vector<int>> ParseInts(const std::string& list, const std::string& flag) {
  std::vector<int> out;
  for (absl::string_view s : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    int v = 0;
    if (!absl::SimpleAtoi(s, &v) || v < 1) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag, ": '", s, "' is not a positive integer"));
    }
    out.push_back(v);
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat("--", flag, " is empty"));
  return out;
}

}  // namespace

// Table II of the paper: average degree and number of colours, by network number and size index.
constexpr int kPaperSizes[] = {10, 50, 100, 200, 500, 700, 1000, 2000};
constexpr int kPaperDegree[7][8] = {{3, 12, 26, 49, 125, 174, 250, 499},
                                    {6, 37, 75, 150, 375, 523, 748, 1499},
                                    {3, 5, 6, 8, 8, 6, 6, 10},
                                    {5, 7, 8, 8, 8, 10, 8, 10},
                                    {3, 4, 4, 4, 4, 4, 4, 4},
                                    {3, 5, 10, 20, 52, 72, 105, 209},
                                    {3, 3, 4, 4, 4, 4, 4, 4}};
constexpr int kPaperColours[7][8] = {{3, 7, 12, 18, 37, 47, 62, 109}, {5, 19, 32, 53, 115, 155, 213, 380},
                                     {4, 4, 5, 5, 6, 5, 5, 7},        {4, 5, 6, 6, 6, 7, 6, 7},
                                     {3, 3, 4, 4, 4, 4, 4, 4},        {4, 8, 11, 17, 35, 46, 64, 120},
                                     {2, 2, 2, 2, 2, 2, 2, 2}};

// The distributed colouring protocol (coordinator-free-bootstrap/) on every network of Table II,
// against the centralized greedy colouring and the paper's colour counts.
int RunColouringExperiment(const std::string& out_dir, std::uint64_t seed, const std::vector<int>& networks,
                           const std::vector<std::size_t>& sizes) {
  const absl::Time start = absl::Now();
  std::ofstream csv(absl::StrCat(out_dir, "/colouring.csv"));
  std::ofstream md(absl::StrCat(out_dir, "/colouring.md"));
  if (!csv || !md) return Fail(absl::StrCat(out_dir, ": cannot write"));
  csv << "network,model,nodes,edges,avg_degree,paper_avg_degree,colours,greedy_colours,paper_colours,"
         "largest_first_colours,smallest_last_colours,kept,diameter,rounds,messages,payload_bytes\n";
  md << "# Distributed colouring on the networks of Table II\n\n"
     << absl::StrFormat(
            "Protocol of `coordinator-free-bootstrap/colouring_protocol.h`: two chains of %d passes each "
            "(a greedy first pass in largest-first or smallest-last order, then %d recolouring passes), then "
            "a D-round flood of each chain's colour count, after which every node keeps the chain with fewer "
            "colours. Messages delivered after random delays (seed %d). Made by `%s`. \"greedy\" is the "
            "centralized largest-first colouring; LF and SL the chains' colour counts.\n\n",
            dadmm::kColouringPasses, dadmm::kColouringPasses - 1, seed, g_command_line)
     << "| network | model | P | avg degree (paper) | colours | greedy | paper | LF | SL | D | rounds | messages | "
        "bytes |\n"
     << "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  int worse_than_paper = 0;
  for (int number : networks) {
    for (std::size_t nodes : sizes) {
      absl::StatusOr<dadmm::NetworkSpec> spec = dadmm::TableIISpec(number, nodes, seed);
      if (!spec.ok()) return Fail(spec.status().message());
      absl::StatusOr<dadmm::GeneratedNetwork> net = dadmm::GenerateNetwork(*spec);
      if (!net.ok()) return Fail(net.status().message());
      const dadmm::Topology& t = net->topology;
      absl::StatusOr<dadmm::ColouringRun> run = dadmm::SimulateColouring(t, seed);
      if (!run.ok()) return Fail(run.status().message());
      if (absl::Status s = dadmm::CheckColouring(t, run->colouring); !s.ok()) return Fail(s.message());
      const std::uint32_t colours = dadmm::NumColours(run->colouring);
      const std::uint32_t greedy = dadmm::NumColours(dadmm::GreedyLargestFirstColouring(t));
      int paper_colours = -1, paper_degree = -1;
      for (int k = 0; k < 8; ++k) {
        if (kPaperSizes[k] == static_cast<int>(nodes)) {
          paper_colours = kPaperColours[number - 1][k];
          paper_degree = kPaperDegree[number - 1][k];
        }
      }
      if (paper_colours > 0 && static_cast<int>(colours) > paper_colours) ++worse_than_paper;
      const double degree = 2.0 * static_cast<double>(t.num_edges()) / static_cast<double>(t.size());
      const std::size_t diameter = t.Diameter();
      csv << absl::StrFormat("%d,%s,%d,%d,%.2f,%d,%d,%d,%d,%d,%d,%s,%d,%d,%d,%d\n", number,
                             dadmm::ModelName(spec->model), nodes, t.num_edges(), degree, paper_degree, colours, greedy,
                             paper_colours, run->chain_colours[0], run->chain_colours[1],
                             run->chosen == 0 ? "LF" : "SL", diameter, run->rounds, run->messages, run->payload_bytes);
      md << absl::StrFormat("| %d | %s | %d | %.1f (%d) | %s | %d | %d | %d | %d | %d | %d | %d | %d |\n", number,
                            dadmm::ModelName(spec->model), nodes, degree, paper_degree,
                            static_cast<int>(colours) > paper_colours && paper_colours > 0
                                ? absl::StrCat("**", colours, "**")
                                : absl::StrCat(colours),
                            greedy, paper_colours, run->chain_colours[0], run->chain_colours[1], diameter, run->rounds,
                            run->messages, run->payload_bytes);
      std::cerr << absl::StrFormat("[colouring] network %d P=%d: %d colours (greedy %d, paper %d), %d rounds\n", number,
                                   nodes, colours, greedy, paper_colours, run->rounds);
    }
  }
  md << absl::StrFormat("\nNetworks with more colours than the paper's Table II: %d. Time %s, peak memory %.0f MiB.\n",
                        worse_than_paper, absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Seconds(1))),
                        PeakRssMiB());
  std::cout << "colouring: wrote " << out_dir << "/colouring.{csv,md}; networks above Table II: " << worse_than_paper
            << std::endl;
  return 0;
}

// The agreed stop (coordinator-free-bootstrap/stopping_program.h) on the 50-node networks: D-ADMM with
// the colouring protocol's colours, at the rho the oracle finds best, stopped by the nodes themselves;
// against the oracle's step count to a relative error of 1e-4.
int RunStopExperiment(const std::string& out_dir, std::uint64_t seed, const std::vector<int>& networks,
                      const std::vector<std::string>& problems, double tolerance, const std::string& datasets) {
  const absl::Time start = absl::Now();
  std::ofstream csv(absl::StrCat(out_dir, "/stop.csv"));
  std::ofstream md(absl::StrCat(out_dir, "/stop.md"));
  if (!csv || !md) return Fail(absl::StrCat(out_dir, ": cannot write"));
  csv << "problem,network,model,nodes,edges,colours,diameter_bound,rho,oracle_steps,stop_steps,same_final_step,"
         "relative_error,max_change,max_disagreement,messages,control_bytes\n";
  md << "# The agreed stop on the 50-node networks\n\n"
     << absl::StrFormat(
            "D-ADMM with the colours of the colouring protocol, rho = the best of the paper's grid for the oracle "
            "(relative error 1e-4, at most %s steps). Each node tests ||x_p^L - x_p^{L-1}|| and max_j ||x_p^{L-1} - "
            "x_j^{L-1}|| against %g max(1, ||x_p^L||) and sends D + 1 stop bits on each estimate (D = the diameter); "
            "all nodes stop at the same step, D steps after the one where every test held. \"max change\" is the "
            "largest last test value over the nodes, \"max disagreement\" the largest ||x_p - x_j|| / max(1, ||x_p||) "
            "over the edges, on the final estimates. Seed %d. Made by `%s`.\n\n",
            "1000 (1e4 for SVM)", tolerance, seed, g_command_line)
     << "| problem | network | model | colours | D | rho | oracle steps to 1e-4 | stop step (all nodes) | relative "
        "error at stop | max change | max disagreement | stop bytes / messages |\n"
     << "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const std::string& problem : problems) {
    const std::uint64_t max_steps = problem == "svm-iris" ? 10000 : 1000;
    for (int number : networks) {
      absl::StatusOr<dadmm::NetworkSpec> spec = dadmm::TableIISpec(number, 50, seed);
      if (!spec.ok()) return Fail(spec.status().message());
      absl::StatusOr<dadmm::GeneratedNetwork> net = dadmm::GenerateNetwork(*spec);
      if (!net.ok()) return Fail(net.status().message());
      const dadmm::Topology& t = net->topology;
      absl::StatusOr<std::unique_ptr<dadmm::ProblemInstance>> instance =
          dadmm::MakeInstance(problem, t, seed, datasets);
      if (!instance.ok()) return Fail(instance.status().message());
      absl::StatusOr<dadmm::ColouringRun> colouring = dadmm::SimulateColouring(t, seed);
      if (!colouring.ok()) return Fail(colouring.status().message());
      const dadmm::RunSpec oracle{.settings = {.algorithm = Algorithm::kDadmm, .rho = 1.0, .max_iterations = max_steps},
                                  .tolerance = 1e-4};
      absl::StatusOr<dadmm::GridOutcome> grid =
          dadmm::RunRhoGrid(t, colouring->colouring, **instance, oracle, dadmm::PaperRhoGrid());
      if (!grid.ok()) return Fail(grid.status().message());
      const double rho = grid->best.rho;

      std::map<dadmm::NodeId, std::unique_ptr<dadmm::NodeProgram>> programs;
      for (const dadmm::NodeSpec& n : t.nodes()) {
        absl::StatusOr<std::unique_ptr<dadmm::NodeProgram>> p =
            dadmm::MakeNodeProgram(t, colouring->colouring, n.id, (*instance)->MakeLocal(n.id),
                                   {.algorithm = Algorithm::kDadmm, .rho = rho, .max_iterations = max_steps});
        if (!p.ok()) return Fail(p.status().message());
        programs[n.id] = *std::move(p);
      }
      if (absl::Status s = dadmm::WrapWithAgreedStop(t, programs, tolerance); !s.ok()) return Fail(s.message());
      absl::StatusOr<dadmm::SimulationResult> r = dadmm::Simulate(t, programs, {.error = (*instance)->error_measure()});
      if (!r.ok()) return Fail(r.status().message());
      std::set<std::uint64_t> final_steps;
      double max_change = 0.0, max_disagreement = 0.0;
      std::map<dadmm::NodeId, const dadmm::Vector*> x;
      for (const dadmm::SimulatedNode& n : r->nodes) x[n.id] = &n.x;
      for (const dadmm::SimulatedNode& n : r->nodes) {
        const dadmm::NodeProgram& p = *programs.at(n.id);
        final_steps.insert(p.outcome() == dadmm::Outcome::kStopped ? p.steps() : 0);
        max_change = std::max(max_change, p.stop_diagnostics().value().change);
        for (dadmm::NodeId j : t.neighbours(n.id)) {
          max_disagreement = std::max(max_disagreement, (n.x - *x.at(j)).norm() / std::max(1.0, n.x.norm()));
        }
      }
      const bool same = final_steps.size() == 1 && *final_steps.begin() != 0;
      const double error = r->errors.empty() ? 0.0 : r->errors.back();
      const std::string oracle_steps =
          grid->best.reached ? absl::StrCat(grid->best.steps) : absl::StrCat("> ", max_steps);
      const std::string stop_steps = same ? absl::StrCat(r->steps) : absl::StrCat("not stopped (", r->steps, ")");
      csv << absl::StrFormat("%s,%d,%s,%d,%d,%d,%d,%g,%s,%d,%d,%.6e,%.6e,%.6e,%d,%d\n", problem, number,
                             dadmm::ModelName(spec->model), t.size(), t.num_edges(),
                             dadmm::NumColours(colouring->colouring), dadmm::DiameterBound(t), rho,
                             grid->best.reached ? absl::StrCat(grid->best.steps) : "", r->steps, same ? 1 : 0, error,
                             max_change, max_disagreement, r->messages, r->control_bytes)
          << std::flush;
      md << absl::StrFormat("| %s | %d | %s | %d | %d | %g | %s | %s | %.2e | %.1e | %.1e | %d / %d |\n", problem,
                            number, dadmm::ModelName(spec->model), dadmm::NumColours(colouring->colouring),
                            dadmm::DiameterBound(t), rho, oracle_steps, stop_steps, error, max_change, max_disagreement,
                            r->control_bytes, r->messages);
      std::cerr << absl::StrFormat("[stop] %s network %d: rho %g, oracle %s steps, stopped at %s, error %.2e, %s\n",
                                   problem, number, rho, oracle_steps, stop_steps, error,
                                   absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Seconds(1))));
    }
  }
  md << absl::StrFormat("\nTime %s, peak memory %.0f MiB.\n",
                        absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Seconds(1))), PeakRssMiB());
  std::cout << "stop: wrote " << out_dir << "/stop.{csv,md}" << std::endl;
  return 0;
}

// Penalty rules without a grid: D-ADMM and Algorithm 3 on the 50-node
// networks, started from poor values of rho, their penalty varied by the agreed votes
// (coordinator-free-bootstrap/stopping_program.h), against the best of the paper's grid. A run is
// cut at 4x the best grid's steps (it has missed the target of 1.25x by then).
int RunPenaltyExperiment(const std::string& out_dir, std::uint64_t seed, const std::vector<int>& networks,
                         const std::vector<std::string>& problems, const std::string& datasets) {
  const absl::Time start_time = absl::Now();
  std::vector<dadmm::PenaltyRule> rules;
  for (absl::string_view name : absl::StrSplit(absl::GetFlag(FLAGS_rules), ',', absl::SkipEmpty())) {
    std::optional<dadmm::PenaltyRule> r = dadmm::ParsePenaltyRule(name);
    if (!r) return Fail(absl::StrCat("--rules: unknown rule '", name, "' (expected vote, balance or edge)"));
    rules.push_back(*r);
  }
  std::vector<double> starts;
  for (absl::string_view v : absl::StrSplit(absl::GetFlag(FLAGS_starts), ',', absl::SkipEmpty())) {
    double x = 0.0;
    if (!absl::SimpleAtod(v, &x) || !(x > 0.0) || !std::isfinite(x)) {
      return Fail(absl::StrCat("--starts: '", v, "' is not a number > 0"));
    }
    starts.push_back(x);
  }
  std::vector<Algorithm> algorithms;
  for (absl::string_view name : absl::StrSplit(absl::GetFlag(FLAGS_algorithms), ',', absl::SkipEmpty())) {
    absl::StatusOr<Algorithm> a = dadmm::ParseAlgorithm(std::string(name));
    if (!a.ok()) return Fail(absl::StrCat("--algorithms: ", a.status().message()));
    if (*a != Algorithm::kDadmm && *a != Algorithm::kAlgorithm3) {
      return Fail(absl::StrCat("--algorithms: ", name, " (the experiment runs d-admm and algorithm3)"));
    }
    algorithms.push_back(*a);
  }
  const std::int64_t every_flag = absl::GetFlag(FLAGS_vary_every), votes = absl::GetFlag(FLAGS_vary_votes);
  if (every_flag < 0 || votes < 0) return Fail("--vary_every and --vary_votes must be >= 0");
  const dadmm::PenaltyRuleDefaults balance_defaults = dadmm::DefaultsOf(dadmm::PenaltyRule::kBalance);
  const double balance_mu = absl::GetFlag(FLAGS_balance_mu) > 0 ? absl::GetFlag(FLAGS_balance_mu) : balance_defaults.mu;
  const double balance_tau =
      absl::GetFlag(FLAGS_balance_tau) > 0 ? absl::GetFlag(FLAGS_balance_tau) : balance_defaults.tau;
  if (rules.empty() || starts.empty() || algorithms.empty()) return Fail("--rules, --starts, --algorithms: give some");

  std::ofstream csv(absl::StrCat(out_dir, "/penalty.csv"));
  std::ofstream md(absl::StrCat(out_dir, "/penalty.md"));
  if (!csv || !md) return Fail(absl::StrCat(out_dir, ": cannot write"));
  csv << "problem,network,model,algorithm,diameter_bound,every,grid_rho,grid_steps,rule,start_rho,steps,reached,"
         "diverged,cap,ratio,final_rho,changes,final_error,seconds\n";
  md << "# Penalty rules without a grid on the 50-node networks\n\n"
     << absl::StrFormat(
            "Steps to a relative error of 1e-4 (SVM: at most 1e4 steps, else 1e3) from each starting rho, the penalty "
            "varied by the agreed votes (every %s steps, at most %s votes; vote = seed 002 (3.13), mu 10, tau 2; "
            "balance = relative residual balancing, mu %g, largest factor %g; edge = a penalty per edge, balanced by "
            "its "
            "two ends on the edge's own residuals every 2 steps (--vary_every), the same mu and factor, at most 100 "
            "changes per "
            "edge, D-ADMM only), against the best of the paper's grid "
            "{1e-4, ..., 1e2} (the oracle). Each cell: steps (ratio to the grid's best; final rho). A run is cut at 4x "
            "the grid's best. Seed %d. Made by `%s`.\n\n",
            every_flag > 0                          ? absl::StrCat(every_flag)
            : absl::GetFlag(FLAGS_vary_settle) >= 0 ? absl::StrCat("D + 1 + ", absl::GetFlag(FLAGS_vary_settle))
                                                    : "2 (D + 1)",
            votes > 0 ? absl::StrCat(votes) : std::string("10 (vote) or 1000 (balance)"), balance_mu, balance_tau, seed,
            g_command_line);
  md << "| problem | network | algorithm | grid best (rho) | rule |";
  for (double s : starts) md << absl::StrFormat(" from %g |", s);
  md << "\n| --- | --- | --- | --- | --- |";
  for (std::size_t i = 0; i < starts.size(); ++i) md << " --- |";
  md << "\n" << std::flush;
  std::map<dadmm::PenaltyRule, std::array<int, 4>> tally;  // cases, within 1.25x, diverged, not reached
  for (const std::string& problem : problems) {
    const std::uint64_t max_steps = problem.rfind("svm", 0) == 0 ? 10000 : 1000;
    for (int number : networks) {
      absl::StatusOr<dadmm::NetworkSpec> spec = dadmm::TableIISpec(number, 50, seed);
      if (!spec.ok()) return Fail(spec.status().message());
      absl::StatusOr<dadmm::GeneratedNetwork> net = dadmm::GenerateNetwork(*spec);
      if (!net.ok()) return Fail(net.status().message());
      const dadmm::Topology& t = net->topology;
      absl::StatusOr<std::unique_ptr<dadmm::ProblemInstance>> instance =
          dadmm::MakeInstance(problem, t, seed, datasets);
      if (!instance.ok()) return Fail(instance.status().message());
      const dadmm::Colouring colouring = dadmm::GreedyLargestFirstColouring(t);
      const std::uint32_t diameter = dadmm::DiameterBound(t);
      const std::int64_t settle = absl::GetFlag(FLAGS_vary_settle);
      const std::uint32_t every = every_flag > 0
                                      ? static_cast<std::uint32_t>(every_flag)
                                      : diameter + 1 + static_cast<std::uint32_t>(settle >= 0 ? settle : diameter + 1);
      for (Algorithm a : algorithms) {
        const dadmm::RunSpec oracle{.settings = {.algorithm = a, .rho = 1.0, .max_iterations = max_steps},
                                    .tolerance = 1e-4};
        absl::StatusOr<dadmm::GridOutcome> grid =
            dadmm::RunRhoGrid(t, colouring, **instance, oracle, dadmm::PaperRhoGrid());
        if (!grid.ok()) return Fail(grid.status().message());
        const dadmm::RunOutcome& best = grid->best;
        const std::uint64_t cap = best.reached ? std::min<std::uint64_t>(max_steps, 4 * best.steps) : max_steps;
        const std::string best_cell =
            best.reached ? absl::StrFormat("%d (%g)", best.steps, best.rho) : absl::StrFormat("> %d", max_steps);
        // rho fixed at each start (the grid's own runs where the start is a grid value; a run the grid
        // cut short, at the best's steps or the maximum, is shown with its error there): what a user
        // without a rule gets.
        md << absl::StrFormat("| %s | %d | %s | %s | fixed |", problem, number, dadmm::AlgorithmName(a), best_cell);
        for (double start : starts) {
          const auto& g = dadmm::PaperRhoGrid();
          const auto at = std::find(g.begin(), g.end(), start);
          if (at == g.end()) {
            md << " |";
            continue;
          }
          const dadmm::RunOutcome& f = grid->runs[static_cast<std::size_t>(at - g.begin())];
          const std::string cell =
              f.diverged     ? "diverged"
              : !f.reached   ? absl::StrFormat("> %d (error %.0e)", f.steps, f.final_error)
              : best.reached ? absl::StrFormat("%d (%.2fx)", f.steps, static_cast<double>(f.steps) / best.steps)
                             : absl::StrCat(f.steps);
          md << " " << cell << " |";
          csv << absl::StrFormat(
              "%s,%d,%s,%s,%d,%d,%g,%s,fixed,%g,%d,%d,%d,%d,%s,%g,0,%.6e,\n", problem, number,
              dadmm::ModelName(spec->model), dadmm::AlgorithmName(a), diameter, every, best.rho,
              best.reached ? absl::StrCat(best.steps) : "", start, f.steps, f.reached ? 1 : 0, f.diverged ? 1 : 0,
              f.steps,
              f.reached && best.reached ? absl::StrFormat("%.3f", static_cast<double>(f.steps) / best.steps) : "",
              start, f.final_error);
        }
        md << "\n";
        for (dadmm::PenaltyRule rule_kind : rules) {
          // Per-edge penalties are D-ADMM's only (common/programs/edge_penalties.h says why).
          if (rule_kind == dadmm::PenaltyRule::kEdge && a != Algorithm::kDadmm) continue;
          md << absl::StrFormat("| %s | %d | %s | %s | %s |", problem, number, dadmm::AlgorithmName(a), best_cell,
                                dadmm::PenaltyRuleName(rule_kind));
          for (double start : starts) {
            const bool balance = rule_kind == dadmm::PenaltyRule::kBalance;
            const bool edge = rule_kind == dadmm::PenaltyRule::kEdge;
            const dadmm::PenaltyRuleDefaults defaults = dadmm::DefaultsOf(rule_kind);
            dadmm::AlgorithmSettings settings{.algorithm = a, .rho = start, .max_iterations = cap};
            if (edge) {
              settings.edge = {
                  .adaptive = true,
                  .mu = balance_mu,
                  .tau = balance_tau,
                  .every = every_flag > 0 ? static_cast<std::uint32_t>(every_flag) : dadmm::EdgePenaltySettings{}.every,
                  .max_changes = votes > 0 ? static_cast<std::uint32_t>(votes) : defaults.votes};
            }
            const dadmm::StopRule rule{
                .diameter_bound = diameter,
                .rho = start,
                .adapt_interval = edge ? 0 : every,
                .adapt_votes = votes > 0 ? static_cast<std::uint32_t>(votes) : dadmm::DefaultsOf(rule_kind).votes,
                .adapt_mu = balance ? balance_mu : dadmm::DefaultsOf(rule_kind).mu,
                .adapt_tau = balance ? balance_tau : dadmm::DefaultsOf(rule_kind).tau,
                .penalty_rule = rule_kind};
            const absl::Time run_start = absl::Now();
            absl::StatusOr<dadmm::PenaltyRunOutcome> r =
                dadmm::RunWithPenaltyRule(t, colouring, **instance, {.settings = settings, .tolerance = 1e-4}, rule);
            if (!r.ok()) return Fail(r.status().message());
            const double seconds = absl::ToDoubleSeconds(absl::Now() - run_start);
            const dadmm::RunOutcome& run = r->run;
            const double ratio = best.reached && run.reached ? static_cast<double>(run.steps) / best.steps : 0.0;
            std::array<int, 4>& c = tally[rule_kind];
            if (best.reached) {
              ++c[0];
              if (run.reached && ratio <= 1.25) ++c[1];
              if (run.diverged) ++c[2];
              if (!run.reached) ++c[3];
            }
            csv << absl::StrFormat("%s,%d,%s,%s,%d,%d,%g,%s,%s,%g,%d,%d,%d,%d,%s,%g,%d,%.6e,%.3f\n", problem, number,
                                   dadmm::ModelName(spec->model), dadmm::AlgorithmName(a), diameter, every, best.rho,
                                   best.reached ? absl::StrCat(best.steps) : "", dadmm::PenaltyRuleName(rule_kind),
                                   start, run.steps, run.reached ? 1 : 0, run.diverged ? 1 : 0, cap,
                                   ratio > 0 ? absl::StrFormat("%.3f", ratio) : "", r->final_rho, r->changes,
                                   run.final_error, seconds)
                << std::flush;
            const std::string cell = run.diverged ? "diverged"
                                     : run.reached && best.reached
                                         ? absl::StrFormat("%d (%.2fx; %.3g)", run.steps, ratio, r->final_rho)
                                     : run.reached ? absl::StrFormat("%d (grid: none; %.3g)", run.steps, r->final_rho)
                                                   : absl::StrFormat("> %d (%.3g)", cap, r->final_rho);
            md << " " << cell << " |";
            std::cerr << absl::StrFormat("[penalty] %s network %d %s %s from %g: %s, grid %s; %s\n", problem, number,
                                         dadmm::AlgorithmName(a), dadmm::PenaltyRuleName(rule_kind), start, cell,
                                         best_cell,
                                         absl::FormatDuration(absl::Trunc(absl::Now() - start_time, absl::Seconds(1))));
          }
          md << "\n" << std::flush;
        }
      }
    }
  }
  md << "\n| rule | cases | within 1.25x of the grid's best | not reached within 4x | diverged |\n"
     << "| --- | --- | --- | --- | --- |\n";
  for (const auto& [rule, c] : tally) {
    md << absl::StrFormat("| %s | %d | %d (%.0f%%) | %d | %d |\n", dadmm::PenaltyRuleName(rule), c[0], c[1],
                          c[0] > 0 ? 100.0 * c[1] / c[0] : 0.0, c[3], c[2]);
    std::cout << absl::StrFormat(
        "penalty %s: %d of %d cases within 1.25x of the grid's best, %d not reached, %d diverged\n",
        dadmm::PenaltyRuleName(rule), c[1], c[0], c[3], c[2]);
  }
  md << absl::StrFormat("\nTime %s, peak memory %.0f MiB.\n",
                        absl::FormatDuration(absl::Trunc(absl::Now() - start_time, absl::Seconds(1))), PeakRssMiB());
  std::cout << "penalty: wrote " << out_dir << "/penalty.{csv,md}" << std::endl;
  return 0;
}

// --problems (`only`, comma-separated) or the experiment's `defaults`, each a built-in problem.
absl::StatusOr<std::vector<std::string>> ChosenProblems(const std::string& only, std::vector<std::string> defaults) {
  if (!only.empty()) defaults = absl::StrSplit(only, ',', absl::SkipEmpty());
  for (const std::string& p : defaults) {
    if (std::find(dadmm::InstanceNames().begin(), dadmm::InstanceNames().end(), p) == dadmm::InstanceNames().end()) {
      return absl::InvalidArgumentError(absl::StrCat("--problems: unknown problem '", p, "'"));
    }
  }
  return defaults;
}

int main(int argc, char** argv) {
  dadmm::SetUsage(
      "dadmm-sweep: regenerates the experiments of Mota et al., D-ADMM, section V, in the simulator:\n"
      "  fig3  consensus, D-ADMM, Algorithm 3, subgradient (14), averaging [26], 50-node networks\n"
      "        (and the error along the steps on network 3, Fig. 3(b))\n"
      "  fig4  consensus, D-ADMM, Algorithm 3, averaging, all 56 networks of Table II (10 to 2000 nodes)\n"
      "  fig5  BPDN on both datasets, D-ADMM and Algorithm 3, 50-node networks\n"
      "  fig6  LASSO on both datasets, 10-node networks (tolerance 1e-3)\n"
      "  fig7  SVM on Iris, 50-node networks (at most 1e4 steps)\n"
      "  colouring  the distributed colouring protocol on all 56 networks: colours, rounds, messages\n"
      "  stop  the agreed stop on the 50-node networks (consensus and BPDN Gaussian by default;\n"
      "        --problems selects others), against the oracle's step count\n"
      "  penalty  the penalty rules (--rules) from poor starting rho (--starts) on the 50-node networks,\n"
      "        D-ADMM and Algorithm 3 on consensus, BPDN (DCT), SVM and logistic regression, against the\n"
      "        best of the grid (hours: split it with --problems and --networks)\n"
      "Every point is the best rho of {1e-4, ..., 1e2}. Writes OUT/<fig>.csv (best runs), OUT/<fig>_grid.csv\n"
      "(every rho), OUT/<fig>.md (tables); prints a progress line per run.\n\n"
      "  dadmm-sweep --experiment=fig3,fig5,fig6,fig7 --out=results/seed1\n"
      "  dadmm-sweep --experiment=fig4 --sizes=10,50,100 --out=/tmp/fig4");
  g_command_line = "dadmm-sweep";
  for (int i = 1; i < argc; ++i) absl::StrAppend(&g_command_line, " ", argv[i]);
  const std::vector<char*> positional = dadmm::ParseCommandLine(argc, argv);
  if (positional.size() > 1) return Fail(absl::StrCat("unexpected argument '", positional[1], "' (see --help)"));

  std::vector<Experiment> chosen;
  const std::vector<Experiment> all = AllExperiments();
  bool colouring = false, stop = false, penalty = false;
  for (absl::string_view name : absl::StrSplit(absl::GetFlag(FLAGS_experiment), ',', absl::SkipEmpty())) {
    if (name == "colouring") {
      colouring = true;
      continue;
    }
    if (name == "stop") {
      stop = true;
      continue;
    }
    if (name == "penalty") {
      penalty = true;
      continue;
    }
    auto it = std::find_if(all.begin(), all.end(), [&](const Experiment& e) { return e.name == name; });
    if (it == all.end())
      return Fail(
          absl::StrCat("--experiment: unknown '", name, "' (expected fig3 .. fig7, colouring, stop or penalty)"));
    chosen.push_back(*it);
  }
  if (chosen.empty() && !colouring && !stop && !penalty) return Fail("give --experiment (see --help)");
  absl::StatusOr<std::vector<int>> networks = ParseInts(absl::GetFlag(FLAGS_networks), "networks");
  if (!networks.ok()) return Fail(networks.status().message());
  for (int n : *networks) {
    if (n > 7) return Fail(absl::StrCat("--networks: ", n, " is not a network of Table II (1..7)"));
  }
  std::optional<std::vector<std::size_t>> sizes;
  if (!absl::GetFlag(FLAGS_sizes).empty()) {
    absl::StatusOr<std::vector<int>> s = ParseInts(absl::GetFlag(FLAGS_sizes), "sizes");
    if (!s.ok()) return Fail(s.status().message());
    sizes.emplace(s->begin(), s->end());
  }
  const std::string out_dir = absl::GetFlag(FLAGS_out);
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return Fail(absl::StrCat(out_dir, ": ", ec.message()));
  const std::uint64_t seed = absl::GetFlag(FLAGS_seed);
  if (colouring) {
    if (int rc = RunColouringExperiment(out_dir, seed, *networks, sizes.value_or(dadmm::TableIISizes())); rc != 0) {
      return rc;
    }
  }

  const std::string only = absl::GetFlag(FLAGS_problems);
  if (stop) {
    absl::StatusOr<std::vector<std::string>> problems = ChosenProblems(only, {"consensus", "bpdn-gaussian"});
    if (!problems.ok()) return Fail(problems.status().message());
    if (int rc = RunStopExperiment(out_dir, seed, *networks, *problems, absl::GetFlag(FLAGS_stop_tolerance),
                                   absl::GetFlag(FLAGS_datasets));
        rc != 0) {
      return rc;
    }
  }
  if (penalty) {
    absl::StatusOr<std::vector<std::string>> problems =
        ChosenProblems(only, {"consensus", "bpdn-dct", "svm-iris", "logreg-cancer"});
    if (!problems.ok()) return Fail(problems.status().message());
    if (int rc = RunPenaltyExperiment(out_dir, seed, *networks, *problems, absl::GetFlag(FLAGS_datasets)); rc != 0) {
      return rc;
    }
  }
  for (Experiment& e : chosen) {
    if (sizes && e.name == "fig4") e.sizes = *sizes;
    if (!only.empty()) {
      const std::vector<std::string> keep = absl::StrSplit(only, ',', absl::SkipEmpty());
      std::vector<std::string> kept;
      for (const std::string& p : e.problems) {
        if (std::find(keep.begin(), keep.end(), p) != keep.end()) kept.push_back(p);
      }
      if (kept.empty()) return Fail(absl::StrCat("--problems: none of '", only, "' is a problem of ", e.name));
      e.problems = kept;
    }
    const absl::Time start = absl::Now();
    const std::string csv_path = absl::StrCat(out_dir, "/", e.name, ".csv");
    std::ofstream csv(csv_path), grid_csv(absl::StrCat(out_dir, "/", e.name, "_grid.csv"));
    if (!csv || !grid_csv) return Fail(absl::StrCat(out_dir, ": cannot write"));
    const std::string columns =
        "problem,network,model,nodes,edges,colours,algorithm,rho,steps,reached,final_error,messages,payload_bytes";
    csv << columns << ",seconds\n";
    grid_csv << columns << "\n";
    std::vector<Row> rows;
    std::map<Algorithm, std::vector<double>> curves;
    const std::size_t total = e.problems.size() * e.sizes.size() * networks->size() * e.algorithms.size();
    std::size_t done = 0;
    for (const std::string& problem : e.problems) {
      for (std::size_t nodes : e.sizes) {
        for (int number : *networks) {
          absl::StatusOr<dadmm::NetworkSpec> spec = dadmm::TableIISpec(number, nodes, seed);
          if (!spec.ok()) return Fail(spec.status().message());
          absl::StatusOr<dadmm::GeneratedNetwork> net = dadmm::GenerateNetwork(*spec);
          if (!net.ok()) return Fail(net.status().message());
          const dadmm::Topology& topology = net->topology;
          absl::StatusOr<std::unique_ptr<dadmm::ProblemInstance>> instance =
              dadmm::MakeInstance(problem, topology, seed, absl::GetFlag(FLAGS_datasets));
          if (!instance.ok()) return Fail(instance.status().message());
          const dadmm::Colouring colouring = dadmm::GreedyLargestFirstColouring(topology);
          for (Algorithm a : e.algorithms) {
            const absl::Time run_start = absl::Now();
            dadmm::RunSpec run{.settings = {.algorithm = a, .rho = 1.0, .max_iterations = e.max_steps},
                               .tolerance = e.tolerance};
            std::vector<dadmm::RunOutcome> tried;
            dadmm::RunOutcome best;
            if (dadmm::HasRho(a)) {
              absl::StatusOr<dadmm::GridOutcome> g =
                  dadmm::RunRhoGrid(topology, colouring, **instance, run, dadmm::PaperRhoGrid());
              if (!g.ok()) return Fail(g.status().message());
              best = g->best;
              tried = g->runs;
            } else {
              absl::StatusOr<dadmm::RunOutcome> r = dadmm::RunExperiment(topology, colouring, **instance, run);
              if (!r.ok()) return Fail(r.status().message());
              best = *r;
              tried = {*r};
            }
            const double seconds = absl::ToDoubleSeconds(absl::Now() - run_start);
            Row row{.problem = problem,
                    .network = number,
                    .model = dadmm::ModelName(spec->model),
                    .nodes = topology.size(),
                    .edges = topology.num_edges(),
                    .colours = dadmm::NumColours(colouring),
                    .algorithm = a,
                    .best = best,
                    .seconds = seconds};
            auto line = [&](const dadmm::RunOutcome& r) {
              return absl::StrFormat("%s,%d,%s,%d,%d,%d,%s,%g,%d,%d,%.6e,%d,%d", problem, number, row.model, row.nodes,
                                     row.edges, row.colours, dadmm::AlgorithmName(a), r.rho, r.steps, r.reached ? 1 : 0,
                                     r.final_error, r.messages, r.payload_bytes);
            };
            csv << line(best) << absl::StrFormat(",%.3f\n", seconds) << std::flush;
            for (const dadmm::RunOutcome& r : tried) grid_csv << line(r) << "\n";
            grid_csv.flush();
            if (number == e.curves_network) curves[a] = best.errors;
            row.best.errors.clear();
            rows.push_back(std::move(row));
            ++done;
            std::cerr << absl::StrFormat(
                "[%s %d/%d] %s network %d (%s, P=%d, E=%d): %-11s %s  %.1f s, elapsed %s, peak %.0f MiB\n", e.name,
                done, total, problem, number, rows.back().model, topology.size(), topology.num_edges(),
                dadmm::AlgorithmName(a), Cell(best, e.max_steps, dadmm::HasRho(a)), seconds,
                absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Seconds(1))), PeakRssMiB());
          }
        }
      }
    }
    if (!curves.empty()) {
      std::ofstream c(absl::StrCat(out_dir, "/", e.name, "_errors_network", e.curves_network, ".csv"));
      c << "step";
      std::size_t longest = 0;
      for (const auto& [a, errors] : curves) {
        c << "," << dadmm::AlgorithmName(a);
        longest = std::max(longest, errors.size());
      }
      c << "\n";
      for (std::size_t k = 0; k < longest; ++k) {
        c << k + 1;
        for (const auto& [a, errors] : curves) {
          c << ",";
          if (k < errors.size()) c << absl::StrFormat("%.6e", errors[k]);
        }
        c << "\n";
      }
    }
    const absl::Duration elapsed = absl::Now() - start;
    WriteMarkdown(e, rows, absl::StrCat(out_dir, "/", e.name, ".md"), seed, elapsed);
    std::cout << absl::StrFormat("%s: %d runs in %s, peak memory %.0f MiB; wrote %s/%s.{csv,md}", e.name, rows.size(),
                                 absl::FormatDuration(absl::Trunc(elapsed, absl::Seconds(1))), PeakRssMiB(), out_dir,
                                 e.name)
              << std::endl;
  }
  return 0;
}
