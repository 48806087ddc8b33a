#include "common/experiment.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

namespace dadmm {

absl::StatusOr<RunOutcome> RunExperiment(const Topology& topology, const Colouring& colouring,
                                         const ProblemInstance& instance, const RunSpec& spec) {
  std::map<NodeId, std::unique_ptr<NodeProgram>> programs;
  for (const NodeSpec& n : topology.nodes()) {
    absl::StatusOr<std::unique_ptr<NodeProgram>> p =
        MakeNodeProgram(topology, colouring, n.id, instance.MakeLocal(n.id), spec.settings);
    if (!p.ok()) return p.status();
    programs.emplace(n.id, *std::move(p));
  }
  SimulatorOptions options{.delivery = spec.delivery,
                           .seed = spec.delivery_seed,
                           .error = instance.error_measure(),
                           .tolerance = spec.tolerance};
  absl::StatusOr<SimulationResult> r = Simulate(topology, programs, options);
  if (!r.ok()) return r.status();
  RunOutcome out{.rho = spec.settings.rho,
                 .steps = r->steps,
                 .reached = r->reached_tolerance,
                 .messages = r->messages,
                 .payload_bytes = r->payload_bytes,
                 .errors = std::move(r->errors)};
  std::vector<Vector> xs;
  for (const SimulatedNode& n : r->nodes) xs.push_back(n.x);
  out.diverged = r->diverged;
  out.final_error = r->diverged ? std::numeric_limits<double>::infinity() : instance.error_measure()(xs);
  return out;
}

const std::vector<double>& PaperRhoGrid() {
  static const std::vector<double> grid = {1e-4, 1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2};
  return grid;
}

absl::StatusOr<GridOutcome> RunRhoGrid(const Topology& topology, const Colouring& colouring,
                                       const ProblemInstance& instance, RunSpec spec, const std::vector<double>& grid) {
  // Try the values nearest to 1 first: they usually win, and a good early best cuts the others short.
  std::vector<std::size_t> order(grid.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::abs(std::log10(grid[a])) < std::abs(std::log10(grid[b]));
  });
  const std::uint64_t max_steps = spec.settings.max_iterations;
  std::vector<RunOutcome> runs(grid.size());
  std::optional<std::size_t> best;
  for (std::size_t i : order) {
    spec.settings.rho = grid[i];
    spec.settings.max_iterations = best ? std::max<std::uint64_t>(1, runs[*best].steps - 1) : max_steps;
    if (best && runs[*best].steps <= 1) {
      runs[i] = RunOutcome{.rho = grid[i]};
      continue;
    }
    absl::StatusOr<RunOutcome> r = RunExperiment(topology, colouring, instance, spec);
    if (!r.ok()) return r.status();
    runs[i] = *std::move(r);
    if (runs[i].reached && (!best || runs[i].steps < runs[*best].steps)) best = i;
  }
  GridOutcome out;
  if (best) {
    out.best = runs[*best];
  } else {
    // Nothing reached the tolerance: report the run with the smallest final error.
    std::size_t b = order.front();
    for (std::size_t i : order) {
      if (runs[i].final_error < runs[b].final_error) b = i;
    }
    out.best = runs[b];
  }
  out.runs = std::move(runs);
  return out;
}

}  // namespace dadmm
