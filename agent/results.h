// Reading the JSON results agents write (AgentResult), for reports and tests.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "common/network/topology.h"
#include "dadmm/proto/dadmm.pb.h"

namespace dadmm::agent {

absl::StatusOr<dadmm::v1::AgentResult> ReadAgentResult(const std::string& path);

// An estimate read from a result file against the one computed in memory: bit for bit, except that
// a zero matches a zero of either sign (the agent writes -0 as "-0", but protobuf's JSON reader reads
// it back as +0).
bool SameEstimate(const dadmm::v1::AgentResult& result, const Vector& x);

// <dir>/node-<id>.json for every node of `topology`.
absl::StatusOr<std::map<NodeId, dadmm::v1::AgentResult>> ReadNetworkResults(const Topology& topology,
                                                                            const std::string& dir);

}  // namespace dadmm::agent
