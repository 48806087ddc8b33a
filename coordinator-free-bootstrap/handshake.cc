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

const NamedValue* Find(const RunConfig& config, std::string_view name) {
  for (const NamedValue& v : config) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

namespace {

// A peer's text in an error line: bounded, and one line.
std::string Bounded(std::string_view text) {
  std::string s(text.substr(0, 80));
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text.size() > 80 ? s + "..." : s;
}

}  // namespace

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
    return differs("topology fingerprint", mine.topology_fingerprint, Bounded(theirs.topology_fingerprint));
  }
  if (theirs.dimension != mine.dimension) return differs("problem dimension", mine.dimension, theirs.dimension);
  for (std::size_t i = 0; i < std::max(mine.config.size(), theirs.config.size()); ++i) {
    if (i >= mine.config.size()) {
      return differs("run configuration", "nothing more", absl::StrCat("'", Bounded(theirs.config[i].name), "' too"));
    }
    const NamedValue& ours = mine.config[i];
    if (i >= theirs.config.size()) return differs(ours.name, FormatValue(ours), "nothing");
    const NamedValue& their = theirs.config[i];
    if (their.name != ours.name) {
      return differs("run configuration", absl::StrCat("'", ours.name, "'"),
                     absl::StrCat("'", Bounded(their.name), "' in its place"));
    }
    if (!SameValue(ours, their)) return differs(ours.name, FormatValue(ours), Bounded(FormatValue(their)));
  }
  return absl::OkStatus();
}

}  // namespace dadmm
