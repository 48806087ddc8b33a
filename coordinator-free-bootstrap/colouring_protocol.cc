#include "coordinator-free-bootstrap/colouring_protocol.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace dadmm {

ColouringNode::ColouringNode(NodeId self, std::uint64_t degree, std::vector<PeerDegree> neighbours)
    : self_(self), degree_(degree), neighbours_(std::move(neighbours)) {
  std::sort(neighbours_.begin(), neighbours_.end(), [](const PeerDegree& a, const PeerDegree& b) { return a.id < b.id; });
  colours_.assign(neighbours_.size(), 0);
  rounds_.assign(neighbours_.size(), 0);
  for (const PeerDegree& j : neighbours_) higher_total_ += HasPriorityOverSelf(j) ? 1 : 0;
}

bool ColouringNode::HasPriorityOverSelf(const PeerDegree& j) const {
  return j.degree > degree_ || (j.degree == degree_ && j.id < self_);
}

void ColouringNode::Start(std::vector<ColourAnnouncement>& out) {
  if (started_) return;
  started_ = true;
  TryDecide(out);
}

void ColouringNode::TryDecide(std::vector<ColourAnnouncement>& out) {
  if (!started_ || decided() || higher_known_ < higher_total_) return;
  // The smallest colour none of the higher-priority neighbours has.
  std::vector<bool> used(higher_total_ + 2, false);
  std::uint32_t max_round = 0;
  for (std::size_t i = 0; i < neighbours_.size(); ++i) {
    if (!HasPriorityOverSelf(neighbours_[i])) continue;
    if (colours_[i] < used.size()) used[colours_[i]] = true;
    max_round = std::max(max_round, rounds_[i]);
  }
  std::uint32_t c = 1;
  while (used[c]) ++c;
  colour_ = c;
  round_ = max_round + 1;
  out.push_back({.sender = self_, .colour = colour_, .round = round_});
}

absl::Status ColouringNode::Receive(const ColourAnnouncement& m, std::vector<ColourAnnouncement>& out) {
  auto error = [&](absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("node ", self_, ": colour ", m.colour, " announced by ", m.sender, ": ", what));
  };
  auto it = std::lower_bound(neighbours_.begin(), neighbours_.end(), m.sender,
                             [](const PeerDegree& a, NodeId id) { return a.id < id; });
  if (it == neighbours_.end() || it->id != m.sender) return error("sender is not a neighbour");
  const auto i = static_cast<std::size_t>(it - neighbours_.begin());
  if (m.colour == 0) return error("colours start at 1");
  if (colours_[i] != 0) return error(absl::StrCat("second announcement (it announced ", colours_[i], " before)"));
  if (HasPriorityOverSelf(*it)) {
    colours_[i] = m.colour;
    rounds_[i] = m.round;
    ++higher_known_;
    ++known_;
    TryDecide(out);
    return absl::OkStatus();
  }
  // A lower-priority neighbour decides only after this node has.
  if (!decided()) return error("it has lower priority and decided before this node did");
  if (m.colour == colour_) return error("it is this node's colour");
  colours_[i] = m.colour;
  rounds_[i] = m.round;
  ++known_;
  return absl::OkStatus();
}

std::vector<NodeId> ColouringNode::awaited() const {
  std::vector<NodeId> ids;
  for (std::size_t i = 0; i < neighbours_.size(); ++i) {
    if (colours_[i] == 0 && (decided() || HasPriorityOverSelf(neighbours_[i]))) ids.push_back(neighbours_[i].id);
  }
  return ids;
}

}  // namespace dadmm
