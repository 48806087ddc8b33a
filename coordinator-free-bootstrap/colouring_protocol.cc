#include "coordinator-free-bootstrap/colouring_protocol.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/network/colouring.h"

namespace dadmm {

ColouringNode::ColouringNode(NodeId self, std::uint64_t priority, std::vector<PeerPriority> neighbours,
                             std::uint32_t passes)
    : self_(self),
      priority_(priority),
      neighbours_(std::move(neighbours)),
      passes_(std::max<std::uint32_t>(passes, 1)) {
  std::sort(neighbours_.begin(), neighbours_.end(),
            [](const PeerPriority& a, const PeerPriority& b) { return a.id < b.id; });
  colours_of_.assign(passes_, std::vector<std::uint32_t>(neighbours_.size(), 0));
  rounds_of_ = colours_of_;
  known_.assign(passes_, 0);
  colour_.assign(passes_, 0);
}

bool ColouringNode::Precedes(std::size_t i, std::uint32_t t) const {
  if (t == 1) {
    const PeerPriority& j = neighbours_[i];
    return j.priority > priority_ || (j.priority == priority_ && j.id < self_);
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
                             [](const PeerPriority& a, NodeId id) { return a.id < id; });
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
  if (pass_ < t && order_known && !Precedes(i, t))
    return error("it has lower priority and decided before this node did");
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

// ---- ColouringProtocol ----

ColouringProtocol::ColouringProtocol(NodeId self, std::array<std::uint64_t, 2> priority,
                                     std::array<std::vector<PeerPriority>, 2> neighbours, std::uint32_t passes,
                                     std::uint32_t diameter_bound)
    : self_(self),
      chains_{ColouringNode(self, priority[0], std::move(neighbours[0]), passes),
              ColouringNode(self, priority[1], std::move(neighbours[1]), passes)},
      bound_(std::max<std::uint32_t>(diameter_bound, 1)) {}

std::size_t ColouringProtocol::IndexOf(NodeId id) const {
  const std::vector<PeerPriority>& n = neighbours();
  auto it = std::lower_bound(n.begin(), n.end(), id, [](const PeerPriority& a, NodeId b) { return a.id < b; });
  return it != n.end() && it->id == id ? static_cast<std::size_t>(it - n.begin()) : n.size();
}

absl::Status ColouringProtocol::Start(ColouringOutput& out) {
  for (std::uint32_t chain = 0; chain < 2; ++chain) {
    const std::size_t first = out.announcements.size();
    if (absl::Status s = chains_[chain].Start(out.announcements); !s.ok()) return s;
    for (std::size_t k = first; k < out.announcements.size(); ++k) out.announcements[k].chain = chain;
  }
  return Advance(out);
}

absl::Status ColouringProtocol::Receive(const ColourAnnouncement& m, ColouringOutput& out) {
  if (m.chain > 1) {
    return absl::InvalidArgumentError(absl::StrCat("node ", self_, ": colour announced by ", m.sender, " for chain ",
                                                   m.chain, " (chains are 0 and 1)"));
  }
  const std::size_t first = out.announcements.size();
  if (absl::Status s = chains_[m.chain].Receive(m, out.announcements); !s.ok()) return s;
  for (std::size_t k = first; k < out.announcements.size(); ++k) out.announcements[k].chain = m.chain;
  return Advance(out);
}

absl::Status ColouringProtocol::Receive(const ColourMaxima& m, ColouringOutput& out) {
  auto error = [&](absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("node ", self_, ": colour maxima from ", m.sender, " for round ", m.round, ": ", what));
  };
  const std::size_t i = IndexOf(m.sender);
  if (i == neighbours().size()) return error("sender is not a neighbour");
  if (m.round < 1 || m.round > bound_) return error(absl::StrCat("rounds are 1 to ", bound_));
  // A neighbour sends round r + 1 only after our round r, so it is at most one round ahead of us.
  if (m.round > sent_round_ + 1) return error(absl::StrCat("this node has sent only ", sent_round_, " round(s)"));
  if (m.round < sent_round_ || (flood_done_ && m.round == sent_round_)) return error("round already complete");
  RoundValues& r = flood_[m.round];
  if (r.got.empty()) {
    r.maxima.resize(neighbours().size());
    r.got.assign(neighbours().size(), 0);
  }
  if (r.got[i]) return error("second message for this round");
  r.got[i] = 1;
  r.maxima[i] = m.maxima;
  ++r.count;
  return Advance(out);
}

absl::Status ColouringProtocol::Advance(ColouringOutput& out) {
  if (flood_done_) return absl::OkStatus();
  if (sent_round_ == 0) {
    if (!chains_[0].decided() || !chains_[1].decided()) return absl::OkStatus();
    known_max_ = {chains_[0].colour(), chains_[1].colour()};
    sent_round_ = 1;
    out.maxima.push_back({.sender = self_, .round = 1, .maxima = known_max_});
  }
  for (;;) {
    auto it = flood_.find(sent_round_);
    const std::size_t have = it == flood_.end() ? 0 : it->second.count;
    if (have < neighbours().size()) return absl::OkStatus();
    if (it != flood_.end()) {
      for (const auto& m : it->second.maxima) {
        known_max_[0] = std::max(known_max_[0], m[0]);
        known_max_[1] = std::max(known_max_[1], m[1]);
      }
      flood_.erase(it);
    }
    if (sent_round_ == bound_) {
      // After D rounds every node holds the network's maxima, so all choose alike.
      flood_done_ = true;
      chosen_ = known_max_[1] < known_max_[0] ? 1 : 0;
      return absl::OkStatus();
    }
    ++sent_round_;
    out.maxima.push_back({.sender = self_, .round = sent_round_, .maxima = known_max_});
  }
}

bool ColouringProtocol::complete() const { return flood_done_ && chains_[chosen_].complete(); }

std::uint32_t ColouringProtocol::colour() const { return complete() ? chains_[chosen_].colour() : 0; }

std::vector<std::uint32_t> ColouringProtocol::neighbour_colours() const {
  if (!complete()) return std::vector<std::uint32_t>(neighbours().size(), 0);
  return chains_[chosen_].neighbour_colours();
}

std::uint32_t ColouringProtocol::rounds() const { return std::max(chains_[0].round(), chains_[1].round()) + bound_; }

std::vector<NodeId> ColouringProtocol::awaited() const {
  if (!chains_[0].decided() || !chains_[1].decided()) {
    std::vector<NodeId> ids = chains_[0].awaited();
    for (NodeId j : chains_[1].awaited()) ids.push_back(j);
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    return ids;
  }
  if (!flood_done_) {
    std::vector<NodeId> ids;
    auto it = flood_.find(sent_round_);
    for (std::size_t i = 0; i < neighbours().size(); ++i) {
      if (it == flood_.end() || !it->second.got[i]) ids.push_back(neighbours()[i].id);
    }
    return ids;
  }
  return chains_[chosen_].awaited();
}

std::vector<std::array<std::uint64_t, 2>> ChainPriorities(const Topology& topology) {
  std::vector<std::array<std::uint64_t, 2>> priorities(topology.size());
  for (std::size_t i = 0; i < topology.size(); ++i) priorities[i][0] = topology.degree(topology.nodes()[i].id);
  const std::vector<NodeId> order = SmallestLastOrder(topology);
  for (std::size_t k = 0; k < order.size(); ++k) priorities[topology.IndexOf(order[k])][1] = order.size() - k;
  return priorities;
}

std::unique_ptr<ColouringProtocol> MakeColouringProtocol(const Topology& topology,
                                                         const std::vector<std::array<std::uint64_t, 2>>& priorities,
                                                         NodeId self, std::uint32_t passes,
                                                         std::uint32_t diameter_bound) {
  std::array<std::vector<PeerPriority>, 2> neighbours;
  for (NodeId j : topology.neighbours(self)) {
    for (int chain = 0; chain < 2; ++chain) {
      neighbours[chain].push_back({.id = j, .priority = priorities[topology.IndexOf(j)][chain]});
    }
  }
  return std::make_unique<ColouringProtocol>(self, priorities[topology.IndexOf(self)], std::move(neighbours), passes,
                                             diameter_bound);
}

}  // namespace dadmm
