// Reading the JSON results agents write (AgentResult), for reports and tests.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "common/topology.h"
#include "dadmm/proto/dadmm.pb.h"

namespace dadmm::agent {

absl::StatusOr<dadmm::v1::AgentResult> ReadAgentResult(const std::string& path);

// <dir>/node-<id>.json for every node of `topology`.
absl::StatusOr<std::map<NodeId, dadmm::v1::AgentResult>> ReadNetworkResults(const Topology& topology,
                                                                            const std::string& dir);

}  // namespace dadmm::agent
