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
// the messages. Nodes with no higher-priority neighbour decide at once, in parallel.
//
// Further passes recolour greedily with the colour classes of the previous pass in reverse order
// (priority: larger previous colour first; adjacent nodes never share one). Greedy over an order in
// which each previous colour class is contiguous never needs more colours than that colouring had
// (Culberson's iterated greedy), and often fewer. Each pass is again one announcement per direction
// of every edge, and again independent of timing. A node that has finished pass t knows its
// neighbours' pass-t colours, so it knows whom to wait for in pass t + 1; announcements of a pass it
// has not reached yet are kept until it does. The protocol's rounds are the longest chain of
// decisions over all passes (each message carries its sender's round).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "common/types.h"

namespace dadmm {

struct ColourAnnouncement {
  NodeId sender = 0;
  std::uint32_t pass = 1;    // 1 .. passes
  std::uint32_t colour = 0;  // >= 1
  std::uint32_t round = 0;   // 1 + the largest round among the sender's higher-priority neighbours
};

struct PeerDegree {
  NodeId id = 0;
  std::uint64_t degree = 0;
};

class ColouringNode {
 public:
  // `passes` >= 1: the largest-first pass, then passes - 1 recolouring passes. Every node of a
  // network must be given the same.
  ColouringNode(NodeId self, std::uint64_t degree, std::vector<PeerDegree> neighbours, std::uint32_t passes = 1);

  // Decides at once if no neighbour has priority; emits the announcement (to every neighbour).
  absl::Status Start(std::vector<ColourAnnouncement>& out);
  // A neighbour's announcement. Refused, with one line naming the peer: a sender that is not a
  // neighbour, colour 0, a pass out of range, a second announcement for a pass, a lower-priority
  // neighbour announcing before this node did, or this node's colour (none can come from a correct
  // peer).
  absl::Status Receive(const ColourAnnouncement& m, std::vector<ColourAnnouncement>& out);

  // The final colour (0 until the last pass is decided).
  std::uint32_t colour() const { return pass_ == passes_ ? colour_[pass_ - 1] : 0; }
  bool decided() const { return colour() != 0; }
  // The colour this node took in pass t (1-based; 0 if not yet).
  std::uint32_t colour_in_pass(std::uint32_t t) const { return t >= 1 && t <= pass_ ? colour_[t - 1] : 0; }
  std::uint32_t round() const { return round_; }
  // Own and every neighbour's final colour known: D-ADMM may start.
  bool complete() const { return decided() && known_[passes_ - 1] == neighbours_.size(); }
  // Neighbours, sorted by id, and their final colours (0: not yet known).
  const std::vector<PeerDegree>& neighbours() const { return neighbours_; }
  std::vector<std::uint32_t> neighbour_colours() const;
  // Neighbours this node waits for in its current pass.
  std::vector<NodeId> awaited() const;

 private:
  // Whether neighbour i decides before this node in pass t (1-based).
  bool Precedes(std::size_t i, std::uint32_t t) const;
  absl::Status TryDecide(std::vector<ColourAnnouncement>& out);

  NodeId self_;
  std::uint64_t degree_;
  std::vector<PeerDegree> neighbours_;  // sorted by id
  std::uint32_t passes_;
  // [t - 1][i]: neighbour i's colour and round in pass t (0: not yet known).
  std::vector<std::vector<std::uint32_t>> colours_of_, rounds_of_;
  std::vector<std::size_t> known_;  // per pass
  std::vector<std::uint32_t> colour_;  // own colour per pass (0: undecided)
  std::uint32_t pass_ = 0;             // passes decided so far
  bool started_ = false;
  std::uint32_t round_ = 0;
};

}  // namespace dadmm
