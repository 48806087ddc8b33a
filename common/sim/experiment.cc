#include "common/sim/experiment.h"

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
  // Try the values nearest to 1 first: they usually win, and ties go to the value tried first.
  std::vector<std::size_t> order(grid.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return std::abs(std::log10(grid[a])) < std::abs(std::log10(grid[b]));
  });
  std::vector<std::size_t> rank(grid.size());
  for (std::size_t r = 0; r < order.size(); ++r) rank[order[r]] = r;
  // Caps doubling from 16 steps: a value that does not converge costs about twice the winner's steps,
  // not the maximum; a value is settled once it reaches the tolerance, diverges, or is cut by the best.
  const std::uint64_t max_steps = spec.settings.max_iterations;
  std::vector<RunOutcome> runs(grid.size());
  std::vector<std::uint64_t> tried_up_to(grid.size(), 0);
  std::vector<bool> settled(grid.size(), false);
  std::optional<std::size_t> best;
  for (std::uint64_t cap = std::min<std::uint64_t>(16, max_steps);; cap = std::min(2 * cap, max_steps)) {
    for (std::size_t i : order) {
      if (settled[i]) continue;
      std::uint64_t limit = cap;
      if (best) limit = std::min(limit, runs[*best].steps);  // a tie can still win by coming first
      if (limit <= tried_up_to[i]) {
        settled[i] = true;  // already ran that far without reaching the tolerance
        continue;
      }
      spec.settings.rho = grid[i];
      spec.settings.max_iterations = limit;
      absl::StatusOr<RunOutcome> r = RunExperiment(topology, colouring, instance, spec);
      if (!r.ok()) return r.status();
      runs[i] = *std::move(r);
      tried_up_to[i] = limit;
      if (runs[i].reached) {
        settled[i] = true;
        if (!best || runs[i].steps < runs[*best].steps ||
            (runs[i].steps == runs[*best].steps && rank[i] < rank[*best])) {
          best = i;
        }
      } else if (runs[i].diverged || limit == max_steps) {
        settled[i] = true;
      }
    }
    if (cap == max_steps || std::all_of(settled.begin(), settled.end(), [](bool b) { return b; })) break;
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
