#include "coordinator-free-bootstrap/colouring_simulation.h"

#include <algorithm>
#include <memory>
#include <queue>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/random.h"
#include "coordinator-free-bootstrap/colouring_protocol.h"

namespace dadmm {

absl::StatusOr<ColouringRun> SimulateColouring(const Topology& topology, std::uint64_t seed, double max_delay,
                                               std::uint32_t passes) {
  const std::uint32_t bound = std::max<std::uint32_t>(1, static_cast<std::uint32_t>(topology.Diameter()));
  const std::vector<std::array<std::uint64_t, 2>> priorities = ChainPriorities(topology);
  std::vector<std::unique_ptr<ColouringProtocol>> nodes;
  nodes.reserve(topology.size());
  for (const NodeSpec& n : topology.nodes()) {
    nodes.push_back(MakeColouringProtocol(topology, priorities, n.id, passes, bound));
  }
  struct InFlight {
    double time;
    std::uint64_t order;  // ties: send order
    std::size_t to;
    std::variant<ColourAnnouncement, ColourMaxima> message;
  };
  auto later = [](const InFlight& a, const InFlight& b) {
    return a.time != b.time ? a.time > b.time : a.order > b.order;
  };
  std::priority_queue<InFlight, std::vector<InFlight>, decltype(later)> queue(later);
  Rng rng(seed);
  ColouringRun run;
  std::uint64_t order = 0;
  ColouringOutput out;
  auto send = [&](std::size_t from, double now) {
    auto post = [&](const auto& m, std::uint64_t bytes) {
      for (NodeId j : topology.neighbours(topology.nodes()[from].id)) {
        const double delay = max_delay > 0 ? rng.Uniform() * max_delay : 0.0;
        queue.push({now + delay, order++, topology.IndexOf(j), m});
        ++run.messages;
        run.payload_bytes += bytes;
      }
    };
    for (const ColourAnnouncement& m : out.announcements) post(m, kAnnouncementBytes);
    for (const ColourMaxima& m : out.maxima) post(m, kMaximaBytes);
    out = ColouringOutput();
  };
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (absl::Status s = nodes[i]->Start(out); !s.ok()) return s;
    send(i, 0.0);
  }
  while (!queue.empty()) {
    const InFlight f = queue.top();
    queue.pop();
    absl::Status s = std::visit([&](const auto& m) { return nodes[f.to]->Receive(m, out); }, f.message);
    if (!s.ok()) return s;
    send(f.to, f.time);
  }
  std::vector<std::string> stalled;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!nodes[i]->complete()) {
      stalled.push_back(
          absl::StrCat(topology.nodes()[i].id, " (waits for ", absl::StrJoin(nodes[i]->awaited(), ","), ")"));
      continue;
    }
    run.colouring[topology.nodes()[i].id] = nodes[i]->colour();
    run.rounds = std::max(run.rounds, nodes[i]->rounds());
    if (i > 0 && (nodes[i]->chosen() != run.chosen || nodes[i]->network_colours() != run.chain_colours)) {
      return absl::InternalError(absl::StrCat("colouring: node ", topology.nodes()[i].id, " kept chain ",
                                              nodes[i]->chosen(), ", node ", topology.nodes()[0].id, " chain ",
                                              run.chosen));
    }
    run.chosen = nodes[i]->chosen();
    run.chain_colours = nodes[i]->network_colours();
  }
  if (!stalled.empty()) return absl::InternalError(absl::StrCat("colouring stalled: ", absl::StrJoin(stalled, "; ")));
  return run;
}

}  // namespace dadmm
