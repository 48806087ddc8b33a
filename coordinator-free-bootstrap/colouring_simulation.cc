#include "coordinator-free-bootstrap/colouring_simulation.h"

#include <queue>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/random.h"
#include "coordinator-free-bootstrap/colouring_protocol.h"

namespace dadmm {

absl::StatusOr<ColouringRun> SimulateColouring(const Topology& topology, std::uint64_t seed, double max_delay,
                                               std::uint32_t passes) {
  std::vector<ColouringNode> nodes;
  nodes.reserve(topology.size());
  for (const NodeSpec& n : topology.nodes()) {
    std::vector<PeerDegree> peers;
    for (NodeId j : topology.neighbours(n.id)) peers.push_back({.id = j, .degree = topology.degree(j)});
    nodes.emplace_back(n.id, topology.degree(n.id), std::move(peers), passes);
  }
  struct InFlight {
    double time;
    std::uint64_t order;  // ties: send order
    std::size_t to;
    ColourAnnouncement message;
  };
  auto later = [](const InFlight& a, const InFlight& b) { return a.time != b.time ? a.time > b.time : a.order > b.order; };
  std::priority_queue<InFlight, std::vector<InFlight>, decltype(later)> queue(later);
  Rng rng(seed);
  ColouringRun run;
  std::uint64_t order = 0;
  std::vector<ColourAnnouncement> out;
  auto send = [&](std::size_t from, double now) {
    for (const ColourAnnouncement& m : out) {
      for (NodeId j : topology.neighbours(topology.nodes()[from].id)) {
        const double delay = max_delay > 0 ? rng.Uniform() * max_delay : 0.0;
        queue.push({now + delay, order++, topology.IndexOf(j), m});
        ++run.messages;
        run.payload_bytes += kAnnouncementBytes;
      }
    }
    out.clear();
  };
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (absl::Status s = nodes[i].Start(out); !s.ok()) return s;
    send(i, 0.0);
  }
  while (!queue.empty()) {
    const InFlight f = queue.top();
    queue.pop();
    if (absl::Status s = nodes[f.to].Receive(f.message, out); !s.ok()) return s;
    send(f.to, f.time);
  }
  std::vector<std::string> stalled;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!nodes[i].complete()) {
      stalled.push_back(absl::StrCat(topology.nodes()[i].id, " (waits for ", absl::StrJoin(nodes[i].awaited(), ","), ")"));
      continue;
    }
    run.colouring[topology.nodes()[i].id] = nodes[i].colour();
    run.rounds = std::max(run.rounds, nodes[i].round());
  }
  if (!stalled.empty()) return absl::InternalError(absl::StrCat("colouring stalled: ", absl::StrJoin(stalled, "; ")));
  return run;
}

}  // namespace dadmm
