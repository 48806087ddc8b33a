#include "agent/results.h"

#include <fstream>
#include <sstream>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"

namespace dadmm::agent {

absl::StatusOr<dadmm::v1::AgentResult> ReadAgentResult(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open result file"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  dadmm::v1::AgentResult result;
  if (auto s = google::protobuf::util::JsonStringToMessage(buffer.str(), &result); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not an agent result: ", s.ToString()));
  }
  return result;
}

absl::StatusOr<std::map<NodeId, dadmm::v1::AgentResult>> ReadNetworkResults(const Topology& topology,
                                                                            const std::string& dir) {
  std::map<NodeId, dadmm::v1::AgentResult> results;
  for (const NodeSpec& n : topology.nodes()) {
    const std::string path = absl::StrCat(dir, "/node-", n.id, ".json");
    absl::StatusOr<dadmm::v1::AgentResult> r = ReadAgentResult(path);
    if (!r.ok()) return r.status();
    if (r->node_id() != n.id) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": holds the result of node ", r->node_id()));
    }
    results.emplace(n.id, *std::move(r));
  }
  return results;
}

}  // namespace dadmm::agent
