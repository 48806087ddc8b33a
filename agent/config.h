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
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dadmm::agent {

// One setting of a config file: a known key, its value (a path key's made absolute from the file's
// directory, if it was relative), and the line it is on.
struct ConfigSetting {
  std::string key;
  std::string value;
  int line = 0;
};

// The settings of a config file's text (`path`: its name, for errors and relative paths). Refuses
// what is not a map of known keys to single values. Errors are one line: "<file>:<line>: <what>".
absl::StatusOr<std::vector<ConfigSetting>> ParseConfig(absl::string_view text, const std::string& path);

// Reads the file and sets the flags it names, as ParseConfig and then each flag's own parser.
absl::Status ApplyConfigFile(const std::string& path);

// The value of --config=F or --config F in argv ("" if absent), looked up before the flags are parsed.
std::string ConfigPathFromArgs(int argc, char** argv);

}  // namespace dadmm::agent
