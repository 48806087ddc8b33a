// Distributed colouring by neighbour messages only, with no node special at any time.
//
// Every node knows its own degree and its neighbours' (from the topology file, confirmed by the
// handshake). Priority is (larger degree, then smaller id). A node waits until every neighbour of
// higher priority has announced its colour, then takes the smallest colour (1, 2, ...) none of them
// has, and announces it to all its neighbours: one message per direction of every edge, 2E in all.
//
// This is the sequential largest-first greedy colouring (Welsh and Powell), computed in parallel: a
// node's colour depends only on its higher-priority neighbours' colours, so by induction on priority
// every node ends with the colour the centralized greedy gives it, whatever the order and delays of
// the messages. Nodes with no higher-priority neighbour decide at once, in parallel. The protocol's
// rounds are the longest chain of decisions (each message carries its sender's round).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "common/types.h"

namespace dadmm {

struct ColourAnnouncement {
  NodeId sender = 0;
  std::uint32_t colour = 0;  // >= 1
  std::uint32_t round = 0;   // 1 + the largest round among the sender's higher-priority neighbours
};

struct PeerDegree {
  NodeId id = 0;
  std::uint64_t degree = 0;
};

class ColouringNode {
 public:
  ColouringNode(NodeId self, std::uint64_t degree, std::vector<PeerDegree> neighbours);

  // Decides at once if no neighbour has priority; emits the announcement (to every neighbour).
  void Start(std::vector<ColourAnnouncement>& out);
  // A neighbour's announcement. Refused, with one line naming the peer: a sender that is not a
  // neighbour, colour 0, a second announcement, or a colour this node's decision contradicts (a
  // higher-priority neighbour with our colour, or a lower-priority one with the colour of any of
  // our higher-priority neighbours' or ours: neither can happen with correct peers).
  absl::Status Receive(const ColourAnnouncement& m, std::vector<ColourAnnouncement>& out);

  bool decided() const { return colour_ != 0; }
  std::uint32_t colour() const { return colour_; }
  std::uint32_t round() const { return round_; }
  // Own and every neighbour's colour known: D-ADMM may start.
  bool complete() const { return decided() && known_ == neighbours_.size(); }
  // Neighbours and their colours (0: not yet known), sorted by id.
  const std::vector<PeerDegree>& neighbours() const { return neighbours_; }
  const std::vector<std::uint32_t>& neighbour_colours() const { return colours_; }
  // Neighbours this node still waits for before it can decide.
  std::vector<NodeId> awaited() const;

 private:
  bool HasPriorityOverSelf(const PeerDegree& j) const;
  void TryDecide(std::vector<ColourAnnouncement>& out);

  NodeId self_;
  std::uint64_t degree_;
  std::vector<PeerDegree> neighbours_;  // sorted by id
  std::vector<std::uint32_t> colours_;
  std::vector<std::uint32_t> rounds_;
  std::size_t known_ = 0;
  std::size_t higher_total_ = 0, higher_known_ = 0;
  bool started_ = false;
  std::uint32_t colour_ = 0;
  std::uint32_t round_ = 0;
};

}  // namespace dadmm
