// Distributed colouring by neighbour messages only, with no node special at any time.
//
// ColouringNode, one chain of passes. Every node knows its own and its neighbours' first-pass
// priorities (computed by one rule from the topology file, which the handshake checks by
// fingerprint: the degree for largest-first). A node waits until every neighbour of higher priority
// (ties: smaller id) has announced its colour, then takes the smallest colour (1, 2, ...) none of them
// has, and announces it to all its neighbours: one message per direction of every edge, 2E in all.
//
// This is the sequential greedy colouring in priority order (largest-first: Welsh and Powell),
// computed in parallel: a node's colour depends only on its higher-priority neighbours' colours, so by
// induction on priority every node ends with the colour the centralized greedy gives it, whatever the
// order and delays of the messages. Nodes with no higher-priority neighbour decide at once.
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

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "common/base/types.h"
#include "common/network/topology.h"

namespace dadmm {

struct ColourAnnouncement {
  NodeId sender = 0;
  std::uint32_t chain = 0;   // ColouringProtocol: which chain of passes (0 or 1); ColouringNode ignores it
  std::uint32_t pass = 1;    // 1 .. passes
  std::uint32_t colour = 0;  // >= 1
  std::uint32_t round = 0;   // 1 + the largest round among the sender's higher-priority neighbours
};

// A neighbour's priority in the first pass: higher decides first, ties to the smaller id.
struct PeerPriority {
  NodeId id = 0;
  std::uint64_t priority = 0;
};

class ColouringNode {
 public:
  // `passes` >= 1: the largest-first pass, then passes - 1 recolouring passes. Every node of a
  // network must be given the same.
  // `priority` orders the first pass (the degree for largest-first); every node must compute its own
  // and its neighbours' priorities by the same rule.
  ColouringNode(NodeId self, std::uint64_t priority, std::vector<PeerPriority> neighbours, std::uint32_t passes = 1);

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
  const std::vector<PeerPriority>& neighbours() const { return neighbours_; }
  std::vector<std::uint32_t> neighbour_colours() const;
  // Neighbours this node waits for in its current pass.
  std::vector<NodeId> awaited() const;

 private:
  // Whether neighbour i decides before this node in pass t (1-based).
  bool Precedes(std::size_t i, std::uint32_t t) const;
  absl::Status TryDecide(std::vector<ColourAnnouncement>& out);

  NodeId self_;
  std::uint64_t priority_;
  std::vector<PeerPriority> neighbours_;  // sorted by id
  std::uint32_t passes_;
  // [t - 1][i]: neighbour i's colour and round in pass t (0: not yet known).
  std::vector<std::vector<std::uint32_t>> colours_of_, rounds_of_;
  std::vector<std::size_t> known_;     // per pass
  std::vector<std::uint32_t> colour_;  // own colour per pass (0: undecided)
  std::uint32_t pass_ = 0;             // passes decided so far
  bool started_ = false;
  std::uint32_t round_ = 0;
};

// The protocol the agents run. Two chains of passes run side by side, each a ColouringNode with
// `passes` passes: chain 0 starts largest-first (priority: degree), chain 1 smallest-last (priority:
// the position in common/colouring.h's SmallestLastOrder of the topology, which every agent computes
// from the same file). Neither order is better on every graph (measured on Table II's networks: see
// results/README.md). Then every node learns how many colours each chain used over the whole network
// by flooding the maxima for D rounds (D >= the diameter): in round r a node sends the largest colours
// it knows of, after its neighbours' round r - 1. All nodes then keep the same chain: the one with
// fewer colours (ties: chain 0). Messages: 2E per pass per chain, and 2E per flood round.
struct ColourMaxima {
  NodeId sender = 0;
  std::uint32_t round = 0;                // 1 .. D
  std::array<std::uint32_t, 2> maxima{};  // the largest colour of each chain the sender knows of
};

struct ColouringOutput {
  std::vector<ColourAnnouncement> announcements;
  std::vector<ColourMaxima> maxima;
  bool empty() const { return announcements.empty() && maxima.empty(); }
};

class ColouringProtocol {
 public:
  ColouringProtocol(NodeId self, std::array<std::uint64_t, 2> priority,
                    std::array<std::vector<PeerPriority>, 2> neighbours, std::uint32_t passes,
                    std::uint32_t diameter_bound);

  absl::Status Start(ColouringOutput& out);
  // Refused, with one line naming the peer: what ColouringNode refuses, a chain other than 0 and 1, a
  // flood round out of 1 .. D or repeated, a sender that is not a neighbour.
  absl::Status Receive(const ColourAnnouncement& m, ColouringOutput& out);
  absl::Status Receive(const ColourMaxima& m, ColouringOutput& out);

  // Own and every neighbour's final colour known in the chosen chain: D-ADMM may start.
  bool complete() const;
  // The final colour (0 until complete).
  std::uint32_t colour() const;
  // Neighbours sorted by id and their final colours (0 until complete).
  const std::vector<PeerPriority>& neighbours() const { return chains_[0].neighbours(); }
  std::vector<std::uint32_t> neighbour_colours() const;
  // The chain kept (0 or 1) and the network's colours in each, once the flood is over.
  int chosen() const { return chosen_; }
  std::array<std::uint32_t, 2> network_colours() const { return known_max_; }
  // The longest chain of decisions over both chains, plus the flood's rounds.
  std::uint32_t rounds() const;
  std::vector<NodeId> awaited() const;

 private:
  std::size_t IndexOf(NodeId id) const;  // neighbours().size() if not a neighbour
  absl::Status Advance(ColouringOutput& out);

  NodeId self_;
  std::array<ColouringNode, 2> chains_;
  std::uint32_t bound_;
  std::uint32_t sent_round_ = 0;              // flood rounds sent
  std::array<std::uint32_t, 2> known_max_{};  // max over what this node has seen (after sent_round_ rounds)
  struct RoundValues {
    std::vector<std::array<std::uint32_t, 2>> maxima;  // per neighbour
    std::vector<char> got;
    std::size_t count = 0;
  };
  std::map<std::uint32_t, RoundValues> flood_;  // rounds not yet folded in
  bool flood_done_ = false;
  int chosen_ = -1;
};

// Both chains' first-pass priorities for every node (by topology index): the degree, and P minus the
// position in the smallest-last order. Computed once per topology.
std::vector<std::array<std::uint64_t, 2>> ChainPriorities(const Topology& topology);

// Node `self`'s protocol, built from the topology by the rule every agent uses.
std::unique_ptr<ColouringProtocol> MakeColouringProtocol(const Topology& topology,
                                                         const std::vector<std::array<std::uint64_t, 2>>& priorities,
                                                         NodeId self, std::uint32_t passes,
                                                         std::uint32_t diameter_bound);

}  // namespace dadmm
