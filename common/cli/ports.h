// Ports for a network of agents on one machine.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace dadmm {

// The first port p >= `from` such that p .. p + count - 1 can all be listened on at `host` now
// (each is bound and released at once). `host` must be an address of this machine.
absl::StatusOr<int> FindFreePorts(const std::string& host, int count, int from);

// The --base_port flag of the tools that write topologies: a number, or "auto" (FindFreePorts from
// kAutoPortsFrom, so that a new network does not take the ports of one already running here, such
// as the example network's 50051..). The error names the flag.
constexpr int kAutoPortsFrom = 50100;
absl::StatusOr<int> BasePort(const std::string& flag, const std::string& host, int nodes);

}  // namespace dadmm
