#include "coordinator-free-bootstrap/handshake.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "coordinator-free-bootstrap/sha256.h"

namespace dadmm {

std::string CanonicalTopology(const Topology& topology) {
  std::string s = absl::StrCat("dadmm-topology ", kProtocolVersion, "\n");
  for (const NodeSpec& n : topology.nodes()) {  // sorted by id
    absl::StrAppend(&s, "node ", n.id, " ", n.address);
    if (n.position) {
      // %a: exact, so that equal positions always give equal text.
      absl::StrAppend(&s, absl::StrFormat(" %a %a %a", (*n.position)[0], (*n.position)[1], (*n.position)[2]));
    }
    s += "\n";
  }
  std::vector<std::pair<NodeId, NodeId>> edges;
  for (const auto& [a, b] : topology.edges()) edges.emplace_back(std::min(a, b), std::max(a, b));
  std::sort(edges.begin(), edges.end());
  for (const auto& [a, b] : edges) absl::StrAppend(&s, "edge ", a, " ", b, "\n");
  return s;
}

std::string TopologyFingerprint(const Topology& topology) { return Sha256Hex(CanonicalTopology(topology)); }

absl::Status CheckHello(const Hello& mine, const Hello& theirs, NodeId expected) {
  auto differs = [&](absl::string_view field, const auto& ours, const auto& their) {
    return absl::FailedPreconditionError(absl::StrCat("handshake between node ", mine.node_id, " and node ", expected,
                                                      ": ", field, " differs (node ", mine.node_id, " has ", ours,
                                                      ", node ", expected, " has ", their, ")"));
  };
  if (theirs.node_id != expected) {
    return absl::FailedPreconditionError(absl::StrCat("handshake between node ", mine.node_id, " and node ", expected,
                                                      ": the peer at node ", expected, "'s address says it is node ",
                                                      theirs.node_id));
  }
  if (theirs.protocol_version != mine.protocol_version) {
    return differs("protocol version", mine.protocol_version, theirs.protocol_version);
  }
  if (theirs.topology_fingerprint != mine.topology_fingerprint) {
    return differs("topology fingerprint", mine.topology_fingerprint, theirs.topology_fingerprint);
  }
  if (theirs.dimension != mine.dimension) return differs("problem dimension", mine.dimension, theirs.dimension);
  if (theirs.problem != mine.problem) return differs("problem", mine.problem, theirs.problem);
  if (theirs.algorithm != mine.algorithm) return differs("algorithm", mine.algorithm, theirs.algorithm);
  if (theirs.rho != mine.rho) return differs("rho", mine.rho, theirs.rho);
  if (theirs.max_iterations != mine.max_iterations) {
    return differs("max iterations", mine.max_iterations, theirs.max_iterations);
  }
  if (theirs.tolerance != mine.tolerance) return differs("tolerance", mine.tolerance, theirs.tolerance);
  if (theirs.stop_rule != mine.stop_rule) {
    return differs("stopping rule", mine.stop_rule.empty() ? "none" : mine.stop_rule,
                   theirs.stop_rule.empty() ? "none" : theirs.stop_rule);
  }
  return absl::OkStatus();
}

}  // namespace dadmm
