#include "coordinator-free-bootstrap/colouring_simulation.h"

#include <algorithm>
#include <memory>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/network/fake_network.h"
#include "coordinator-free-bootstrap/colouring_protocol.h"
#include "coordinator-free-bootstrap/stopping_program.h"

namespace dadmm {

absl::StatusOr<ColouringRun> SimulateColouring(const Topology& topology, std::uint64_t seed, Delivery delivery,
                                               std::uint32_t passes) {
  const std::uint32_t bound = DiameterBound(topology);
  const std::vector<std::array<std::uint64_t, 2>> priorities = ChainPriorities(topology);
  std::vector<std::unique_ptr<ColouringProtocol>> nodes;
  nodes.reserve(topology.size());
  for (const NodeSpec& n : topology.nodes()) {
    nodes.push_back(MakeColouringProtocol(topology, priorities, n.id, passes, bound));
  }
  FakeNetwork<std::variant<ColourAnnouncement, ColourMaxima>> network(topology, delivery, seed);
  ColouringRun run;
  ColouringOutput out;
  auto send = [&](std::size_t from) {
    for (const ColourAnnouncement& m : out.announcements) {
      const std::uint32_t copies = network.Broadcast(from, m, 0);
      run.messages += copies;
      run.payload_bytes += copies * kAnnouncementBytes;
    }
    for (const ColourMaxima& m : out.maxima) {
      const std::uint32_t copies = network.Broadcast(from, m, 0);
      run.messages += copies;
      run.payload_bytes += copies * kMaximaBytes;
    }
    out = ColouringOutput();
  };
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (absl::Status s = nodes[i]->Start(out); !s.ok()) return s;
    send(i);
  }
  while (auto d = network.Next()) {
    const std::size_t to = network.edge_to(d->edge);
    absl::Status s = std::visit([&](const auto& m) { return nodes[to]->Receive(m, out); }, d->message);
    if (!s.ok()) return s;
    send(to);
  }
  std::vector<const ColouringProtocol*> view;
  view.reserve(nodes.size());
  for (const auto& n : nodes) view.push_back(n.get());
  absl::StatusOr<ColouringRun> collected = CollectColouring(topology, view);
  if (!collected.ok()) return collected.status();
  collected->messages = run.messages;
  collected->payload_bytes = run.payload_bytes;
  return collected;
}

absl::StatusOr<ColouringRun> CollectColouring(const Topology& topology,
                                              const std::vector<const ColouringProtocol*>& nodes) {
  ColouringRun run;
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
