// The agent's result record (v1.AgentResult): what the run computed and what it cost, printed as one
// line on stdout and written as JSON to --output (a temporary file renamed, so a reader never sees
// half a result).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "absl/status/status.h"
#include "agent/agent.h"
#include "agent/counters.h"
#include "agent/log.h"
#include "coordinator-free-bootstrap/node_session.h"

namespace dadmm::agent {

struct RunRecord {
  const AgentOptions& options;
  const Topology& topology;
  const NodeSession& session;  // done
  std::string problem_kind;    // LocalProblem::kind() of the node's problem
  CountersSnapshot counters;
  double wall_seconds = 0.0;
  double algorithm_seconds = 0.0;
  std::string outcome;  // empty: the program's ("stopped" or "max-iterations"); else e.g. "neighbour-lost"
  const std::vector<dadmm::v1::HistoryPoint>* history = nullptr;  // --history
  std::uint32_t history_stride = 1;
};

absl::Status WriteResult(const RunRecord& run, const Logger& log);

}  // namespace dadmm::agent
