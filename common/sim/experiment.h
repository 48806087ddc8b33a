// The experiments of seed 000, §V: run an algorithm on an instance over a network until the relative
// error reaches a tolerance or a maximum of communication steps, and pick the best rho of a grid.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "common/network/colouring.h"
#include "common/network/topology.h"
#include "common/problems/instance.h"
#include "common/programs/algorithms.h"
#include "common/sim/simulator.h"

namespace dadmm {

struct RunSpec {
  AlgorithmSettings settings;  // max_iterations is the maximum of communication steps
  double tolerance = 1e-4;     // relative error to stop at; 0 runs max_iterations steps
  Delivery delivery = Delivery::kFifo;
  std::uint64_t delivery_seed = 1;
};

struct RunOutcome {
  double rho = 0.0;
  std::uint64_t steps = 0;     // communication steps run
  bool reached = false;        // the tolerance was reached within the maximum
  bool diverged = false;       // an estimate became non-finite (final_error is then infinite)
  std::uint64_t messages = 0;  // within those steps (2E x steps)
  std::uint64_t payload_bytes = 0;
  double final_error = 0.0;
  std::vector<double> errors;  // after each step
};

absl::StatusOr<RunOutcome> RunExperiment(const Topology& topology, const Colouring& colouring,
                                         const ProblemInstance& instance, const RunSpec& spec);

// The paper's grid {1e-4, 1e-3, ..., 1e2}.
const std::vector<double>& PaperRhoGrid();

struct GridOutcome {
  RunOutcome best;               // fewest steps to the tolerance (ties: the value tried first)
  std::vector<RunOutcome> runs;  // every rho tried, in grid order
};

// The best rho of `grid`: fewest steps to the tolerance, ties to the value nearest 1. Runs every
// value under step caps that double from 16 up to the maximum, so that values that do not converge
// cost about as much as the winner, not the maximum; a value is dropped once it needs more steps than
// the best so far. `runs` reports each value's last run (not reached, at its cap, if dropped).
absl::StatusOr<GridOutcome> RunRhoGrid(const Topology& topology, const Colouring& colouring,
                                       const ProblemInstance& instance, RunSpec spec, const std::vector<double>& grid);

}  // namespace dadmm
