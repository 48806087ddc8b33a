#include "common/simulator.h"

#include <cmath>
#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/random.h"

namespace dadmm {
namespace {

struct Edge {
  NodeId from = 0;
  NodeId to = 0;
  std::deque<Estimate> queue;
};

}  // namespace

absl::StatusOr<SimulationResult> Simulate(const Topology& topology,
                                          std::map<NodeId, std::unique_ptr<NodeProgram>>& programs,
                                          const SimulatorOptions& options) {
  for (const NodeSpec& n : topology.nodes()) {
    if (!programs.contains(n.id) || programs.at(n.id) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("simulator: no program for node ", n.id));
    }
  }
  if (programs.size() != topology.size()) {
    return absl::InvalidArgumentError("simulator: programs given for nodes not in the topology");
  }

  // Directed edges in a fixed order; edge_index[(from, to)] finds one.
  std::vector<Edge> edges;
  std::map<std::pair<NodeId, NodeId>, std::size_t> edge_index;
  for (const auto& [a, b] : topology.edges()) {
    for (auto [from, to] : {std::pair{a, b}, std::pair{b, a}}) {
      edge_index[{from, to}] = edges.size();
      edges.push_back({.from = from, .to = to, .queue = {}});
    }
  }
  std::map<NodeId, NodeCounters> counters;
  // Global send order, for kFifo: the edge of each message in flight, oldest first.
  std::deque<std::size_t> fifo;
  std::vector<std::size_t> nonempty;  // for kShuffled: edges with messages in flight (may repeat)
  Rng rng(options.seed);
  SimulationResult result;

  std::vector<Broadcast> out;
  auto send_all = [&](NodeId from) {
    for (Broadcast& b : out) {
      for (NodeId to : topology.neighbours(from)) {
        const std::size_t e = edge_index.at({from, to});
        edges[e].queue.push_back({.sender = from, .iteration = b.iteration, .x = b.x});
        counters[from].RecordSent(to, PayloadBytes(b.x.size()));
        ++result.messages;
        result.payload_bytes += PayloadBytes(b.x.size());
        fifo.push_back(e);
        nonempty.push_back(e);
      }
    }
    out.clear();
  };

  for (auto& [id, program] : programs) {
    program->Start(out);
    send_all(id);
  }
  while (!fifo.empty()) {
    std::size_t e;
    if (options.delivery == Delivery::kFifo) {
      e = fifo.front();
      fifo.pop_front();
    } else {
      // Draw a message in flight uniformly and deliver the head of its edge: per-edge order holds.
      const std::size_t pick = rng.Below(nonempty.size());
      e = nonempty[pick];
      nonempty[pick] = nonempty.back();
      nonempty.pop_back();
      fifo.pop_back();  // only its size matters in this mode
    }
    Edge& edge = edges[e];
    Estimate m = std::move(edge.queue.front());
    edge.queue.pop_front();
    counters[edge.to].RecordReceived(edge.from, PayloadBytes(m.x.size()));
    if (absl::Status s = programs.at(edge.to)->Receive(m, out); !s.ok()) {
      return absl::InternalError(absl::StrCat("simulator: ", s.message()));
    }
    send_all(edge.to);
  }

  std::vector<std::string> stalled;
  for (auto& [id, program] : programs) {
    if (!program->done()) {
      stalled.push_back(absl::StrCat(id, " (waits for ", absl::StrJoin(program->awaited(), ","), ")"));
    }
    result.nodes.push_back({.id = id,
                            .outcome = program->outcome(),
                            .steps = program->steps(),
                            .x = program->x(),
                            .counters = counters[id]});
  }
  if (!stalled.empty()) {
    return absl::InternalError(absl::StrCat("simulator: deadlock, no message in flight and nodes still running: ",
                                            absl::StrJoin(stalled, "; ")));
  }
  return result;
}

double RelativeError(const std::vector<Vector>& estimates, const Vector& x_star) {
  double sum = 0.0;
  for (const Vector& x : estimates) sum += (x - x_star).squaredNorm();
  return std::sqrt(sum) / (std::sqrt(static_cast<double>(estimates.size())) * x_star.norm());
}

}  // namespace dadmm
