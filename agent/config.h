// The agent's config file: a YAML map whose keys are dadmm-agent's flag names (node_id, topology,
// problem, data, algorithm, rho, iterations, tolerance, output, ...), applied before the command line
// so that flags given there override it. Relative paths (topology, data, output) are taken from the
// config file's directory.
//
//   # node-3.yaml
//   node_id: 3
//   topology: topology.yaml
//   problem: bpdn
//   beta: 0.3
//   data: node-3.csv
//   rho: 0.1
//   iterations: 1000
//   tolerance: 1e-6
//   output: node-3.json
#pragma once

#include <string>

#include "absl/status/status.h"

namespace dadmm::agent {

// Sets the flags the file names. Errors are one line: "<file>:<line>: <what>".
absl::Status ApplyConfigFile(const std::string& path);

// The value of --config=F or --config F in argv ("" if absent), looked up before the flags are parsed.
std::string ConfigPathFromArgs(int argc, char** argv);

}  // namespace dadmm::agent
