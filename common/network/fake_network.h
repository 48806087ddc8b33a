// The simulator's network: messages between the nodes of a topology, queued per directed edge and
// delivered one at a time in an order the caller chooses and can replay (a seed), with nodes and
// edges that go silent from a given step. The one fake transport of the project: the programs'
// simulator (simulator.h), the colouring simulation and the session simulation
// (coordinator-free-bootstrap/) all deliver through it, as NuRaft's tests deliver through their
// fake network.
//
// Orders:
//   kFifo      the oldest message in flight first (send order over the whole network)
//   kShuffled  the head of an edge drawn at random among the edges with messages in flight: every
//              edge keeps its order, as a stream per directed edge does in the agent
//   kAnyOrder  any message in flight drawn at random, so messages on one edge overtake each other
//              (for protocols that must not rely on the order within an edge)
// Silence: a node that goes silent from step k sends nothing labelled k or later (what it emits is
// dropped and counted as dropped); an edge that goes silent from step k carries nothing labelled k or
// later, in either direction. Labels are the caller's: the iteration for estimates, 0 for bootstrap.
//
// Not thread-safe; deterministic for a given seed, order of calls and M.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/base/random.h"
#include "common/network/topology.h"

namespace dadmm {

enum class Delivery { kFifo, kShuffled, kAnyOrder };

// Nodes and edges that go silent, by node id (see the silences above).
struct SilentNode {
  NodeId node = 0;
  std::uint64_t from_step = 0;
};
struct SilentEdge {
  NodeId a = 0, b = 0;
  std::uint64_t from_step = 0;
};
struct Faults {
  std::vector<SilentNode> nodes;
  std::vector<SilentEdge> edges;
  bool empty() const { return nodes.empty() && edges.empty(); }
};

template <typename M>
class FakeNetwork {
 public:
  struct Delivered {
    std::uint32_t edge = 0;  // directed edge index (see edge_from / edge_to)
    M message;
  };

  FakeNetwork(const Topology& topology, Delivery delivery, std::uint64_t seed)
      : delivery_(delivery), rng_(seed), node_silent_from_(topology.size(), kNever) {
    const std::size_t P = topology.size();
    out_begin_.assign(P + 1, 0);
    for (std::size_t i = 0; i < P; ++i) {
      const NodeId id = topology.nodes()[i].id;
      out_begin_[i + 1] = out_begin_[i] + static_cast<std::uint32_t>(topology.degree(id));
      for (NodeId j : topology.neighbours(id)) {
        edge_from_.push_back(static_cast<std::uint32_t>(i));
        edge_to_.push_back(static_cast<std::uint32_t>(topology.IndexOf(j)));
      }
    }
    const std::size_t E = edge_from_.size();
    position_at_receiver_.resize(E);
    for (std::size_t e = 0; e < E; ++e) {
      const std::vector<NodeId>& of_receiver = topology.neighbours(topology.nodes()[edge_to_[e]].id);
      const NodeId sender = topology.nodes()[edge_from_[e]].id;
      position_at_receiver_[e] = static_cast<std::uint32_t>(
          std::lower_bound(of_receiver.begin(), of_receiver.end(), sender) - of_receiver.begin());
    }
    queues_.resize(E);
    sent_.assign(E, 0);
    delivered_.assign(E, 0);
    dropped_.assign(E, 0);
    edge_silent_from_.assign(E, kNever);
    ready_position_.assign(E, kNotReady);
  }

  // Node index `from` sends `m`, labelled `label`, to every neighbour (one copy each, in neighbour-id
  // order; M should be cheap to copy, a shared_ptr for large payloads). Returns the copies queued.
  std::uint32_t Broadcast(std::size_t from, const M& m, std::uint64_t label) {
    std::uint32_t queued = 0;
    for (std::uint32_t e = out_begin_[from]; e < out_begin_[from + 1]; ++e) queued += Send(e, m, label);
    return queued;
  }

  // Whether directed edge e carries a message labelled `label` (no silence holds it back).
  bool Carries(std::uint32_t e, std::uint64_t label) const {
    return label < node_silent_from_[edge_from_[e]] && label < edge_silent_from_[e];
  }

  // One copy on directed edge e; false if it was dropped by a silence.
  bool Send(std::uint32_t e, const M& m, std::uint64_t label) {
    if (!Carries(e, label)) {
      ++dropped_[e];
      return false;
    }
    ++sent_[e];
    ++in_flight_;
    switch (delivery_) {
      case Delivery::kFifo:
        queues_[e].push_back(m);
        fifo_.push_back(e);
        break;
      case Delivery::kShuffled:
        queues_[e].push_back(m);
        if (ready_position_[e] == kNotReady) {
          ready_position_[e] = static_cast<std::uint32_t>(ready_.size());
          ready_.push_back(e);
        }
        break;
      case Delivery::kAnyOrder:
        pool_.push_back({e, m});
        break;
    }
    return true;
  }

  // The next message to deliver, taken out of the network; nullopt when none is in flight.
  std::optional<Delivered> Next() {
    if (in_flight_ == 0) return std::nullopt;
    --in_flight_;
    Delivered d;
    switch (delivery_) {
      case Delivery::kFifo:
        d.edge = fifo_.front();
        fifo_.pop_front();
        d.message = std::move(queues_[d.edge].front());
        queues_[d.edge].pop_front();
        break;
      case Delivery::kShuffled: {
        d.edge = ready_[rng_.Below(ready_.size())];
        d.message = std::move(queues_[d.edge].front());
        queues_[d.edge].pop_front();
        if (queues_[d.edge].empty()) {  // off the list of edges with messages: swap with the last
          const std::uint32_t at = ready_position_[d.edge];
          ready_[at] = ready_.back();
          ready_position_[ready_[at]] = at;
          ready_.pop_back();
          ready_position_[d.edge] = kNotReady;
        }
        break;
      }
      case Delivery::kAnyOrder: {
        const std::size_t pick = rng_.Below(pool_.size());
        d = std::move(pool_[pick]);
        pool_[pick] = std::move(pool_.back());
        pool_.pop_back();
        break;
      }
    }
    ++delivered_[d.edge];
    return d;
  }

  bool empty() const { return in_flight_ == 0; }
  // Copies on directed edge e not yet delivered.
  std::uint64_t in_flight(std::uint32_t e) const { return sent_[e] - delivered_[e]; }

  // Node index i sends nothing labelled `step` or later.
  void SilenceNode(std::size_t i, std::uint64_t step) { node_silent_from_[i] = step; }
  // The edge between node indices a and b carries nothing labelled `step` or later, either way.
  void SilenceEdge(std::size_t a, std::size_t b, std::uint64_t step) {
    for (std::uint32_t e = out_begin_[a]; e < out_begin_[a + 1]; ++e) {
      if (edge_to_[e] == b) edge_silent_from_[e] = step;
    }
    for (std::uint32_t e = out_begin_[b]; e < out_begin_[b + 1]; ++e) {
      if (edge_to_[e] == a) edge_silent_from_[e] = step;
    }
  }

  // Applies `faults` (node ids of `topology`, the network's); an unknown node or edge is an error.
  absl::Status Apply(const Topology& topology, const Faults& faults) {
    for (const SilentNode& n : faults.nodes) {
      if (!topology.Contains(n.node)) return absl::InvalidArgumentError(absl::StrCat("faults: no node ", n.node));
      SilenceNode(topology.IndexOf(n.node), n.from_step);
    }
    for (const SilentEdge& e : faults.edges) {
      if (!topology.Contains(e.a) || !topology.Contains(e.b) ||
          !std::binary_search(topology.neighbours(e.a).begin(), topology.neighbours(e.a).end(), e.b)) {
        return absl::InvalidArgumentError(absl::StrCat("faults: no edge [", e.a, ", ", e.b, "]"));
      }
      SilenceEdge(topology.IndexOf(e.a), topology.IndexOf(e.b), e.from_step);
    }
    return absl::OkStatus();
  }

  // Directed edges: node index i's out-edges are out_begin(i) .. out_begin(i + 1), in neighbour-id
  // order.
  std::uint32_t out_begin(std::size_t i) const { return out_begin_[i]; }
  std::size_t num_edges() const { return edge_from_.size(); }
  std::uint32_t edge_from(std::uint32_t e) const { return edge_from_[e]; }
  std::uint32_t edge_to(std::uint32_t e) const { return edge_to_[e]; }
  // The sender's position among the receiver's neighbours (sorted by id).
  std::uint32_t position_at_receiver(std::uint32_t e) const { return position_at_receiver_[e]; }
  // The edge the other way (the receiver's out-edges are in neighbour-id order).
  std::uint32_t reverse(std::uint32_t e) const { return out_begin_[edge_to_[e]] + position_at_receiver_[e]; }
  // Per directed edge: messages queued, delivered, and dropped by a silence.
  std::uint64_t sent(std::uint32_t e) const { return sent_[e]; }
  std::uint64_t delivered(std::uint32_t e) const { return delivered_[e]; }
  std::uint64_t dropped(std::uint32_t e) const { return dropped_[e]; }

 private:
  static constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();
  static constexpr std::uint32_t kNotReady = std::numeric_limits<std::uint32_t>::max();

  Delivery delivery_;
  Rng rng_;
  std::vector<std::uint32_t> out_begin_, edge_from_, edge_to_, position_at_receiver_;
  std::vector<std::deque<M>> queues_;          // kFifo, kShuffled: per directed edge
  std::deque<std::uint32_t> fifo_;             // kFifo: the edge of every message in flight, in send order
  std::vector<std::uint32_t> ready_;           // kShuffled: edges with messages in flight
  std::vector<std::uint32_t> ready_position_;  // kShuffled: an edge's index in ready_, or kNotReady
  std::vector<Delivered> pool_;                // kAnyOrder: every message in flight
  std::uint64_t in_flight_ = 0;
  std::vector<std::uint64_t> sent_, delivered_, dropped_;
  std::vector<std::uint64_t> node_silent_from_, edge_silent_from_;
};

}  // namespace dadmm
