#include "agent/results.h"

#include <google/protobuf/util/json_util.h>

#include <cstring>
#include <fstream>
#include <sstream>

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

bool SameEstimate(const dadmm::v1::AgentResult& result, const Vector& x) {
  if (result.x_size() != x.size()) return false;
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    const double a = result.x(static_cast<int>(i)), b = x[i];
    if (a == 0.0 && b == 0.0) continue;
    std::uint64_t bits_a, bits_b;  // the same double, bit for bit (NaNs included)
    std::memcpy(&bits_a, &a, sizeof a);
    std::memcpy(&bits_b, &b, sizeof b);
    if (bits_a != bits_b) return false;
  }
  return true;
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
