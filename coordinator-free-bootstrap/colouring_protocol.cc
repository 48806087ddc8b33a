#include "coordinator-free-bootstrap/colouring_protocol.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace dadmm {

ColouringNode::ColouringNode(NodeId self, std::uint64_t degree, std::vector<PeerDegree> neighbours,
                             std::uint32_t passes)
    : self_(self), degree_(degree), neighbours_(std::move(neighbours)), passes_(std::max<std::uint32_t>(passes, 1)) {
  std::sort(neighbours_.begin(), neighbours_.end(), [](const PeerDegree& a, const PeerDegree& b) { return a.id < b.id; });
  colours_of_.assign(passes_, std::vector<std::uint32_t>(neighbours_.size(), 0));
  rounds_of_ = colours_of_;
  known_.assign(passes_, 0);
  colour_.assign(passes_, 0);
}

bool ColouringNode::Precedes(std::size_t i, std::uint32_t t) const {
  if (t == 1) {
    const PeerDegree& j = neighbours_[i];
    return j.degree > degree_ || (j.degree == degree_ && j.id < self_);
  }
  // Reverse order of the previous pass's colour classes (adjacent nodes never share a class).
  return colours_of_[t - 2][i] > colour_[t - 2];
}

absl::Status ColouringNode::Start(std::vector<ColourAnnouncement>& out) {
  if (started_) return absl::OkStatus();
  started_ = true;
  return TryDecide(out);
}

absl::Status ColouringNode::TryDecide(std::vector<ColourAnnouncement>& out) {
  while (started_ && pass_ < passes_) {
    const std::uint32_t t = pass_ + 1;
    if (t > 1 && known_[t - 2] < neighbours_.size()) return absl::OkStatus();  // whom to wait for is not known yet
    std::vector<bool> used(neighbours_.size() + 2, false);
    std::uint32_t max_round = round_;
    for (std::size_t i = 0; i < neighbours_.size(); ++i) {
      const std::uint32_t c = colours_of_[t - 1][i];
      if (!Precedes(i, t)) {
        if (c != 0) {
          return absl::InvalidArgumentError(absl::StrCat("node ", self_, ": colour ", c, " announced by ",
                                                         neighbours_[i].id, " in pass ", t,
                                                         ": it has lower priority and decided before this node did"));
        }
        continue;
      }
      if (c == 0) return absl::OkStatus();  // still waiting for a neighbour that decides first
      if (c < used.size()) used[c] = true;
      max_round = std::max(max_round, rounds_of_[t - 1][i]);
    }
    std::uint32_t c = 1;
    while (used[c]) ++c;
    colour_[t - 1] = c;
    round_ = max_round + 1;
    pass_ = t;
    out.push_back({.sender = self_, .pass = t, .colour = c, .round = round_});
  }
  return absl::OkStatus();
}

absl::Status ColouringNode::Receive(const ColourAnnouncement& m, std::vector<ColourAnnouncement>& out) {
  auto error = [&](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("node ", self_, ": colour ", m.colour, " announced by ", m.sender,
                                                   " in pass ", m.pass, ": ", what));
  };
  auto it = std::lower_bound(neighbours_.begin(), neighbours_.end(), m.sender,
                             [](const PeerDegree& a, NodeId id) { return a.id < id; });
  if (it == neighbours_.end() || it->id != m.sender) return error("sender is not a neighbour");
  const auto i = static_cast<std::size_t>(it - neighbours_.begin());
  if (m.colour == 0) return error("colours start at 1");
  if (m.pass < 1 || m.pass > passes_) return error(absl::StrCat("passes are 1 to ", passes_));
  const std::uint32_t t = m.pass;
  if (colours_of_[t - 1][i] != 0) {
    return error(absl::StrCat("second announcement for this pass (it announced ", colours_of_[t - 1][i], " before)"));
  }
  if (pass_ >= t && m.colour == colour_[t - 1]) return error("it is this node's colour");
  const bool order_known = t == 1 || (pass_ + 1 >= t && known_[t - 2] == neighbours_.size());
  if (pass_ < t && order_known && !Precedes(i, t)) return error("it has lower priority and decided before this node did");
  colours_of_[t - 1][i] = m.colour;
  rounds_of_[t - 1][i] = m.round;
  ++known_[t - 1];
  return TryDecide(out);
}

std::vector<std::uint32_t> ColouringNode::neighbour_colours() const { return colours_of_[passes_ - 1]; }

std::vector<NodeId> ColouringNode::awaited() const {
  std::vector<NodeId> ids;
  const std::uint32_t t = std::min(pass_ + 1, passes_);
  const bool previous_unknown = pass_ < passes_ && t > 1 && known_[t - 2] < neighbours_.size();
  for (std::size_t i = 0; i < neighbours_.size(); ++i) {
    if (previous_unknown) {
      if (colours_of_[t - 2][i] == 0) ids.push_back(neighbours_[i].id);
    } else if (colours_of_[t - 1][i] == 0 && (pass_ == passes_ || Precedes(i, t))) {
      ids.push_back(neighbours_[i].id);
    }
  }
  return ids;
}

}  // namespace dadmm
