#include "coordinator-free-bootstrap/session_simulation.h"

#include <algorithm>
#include <optional>
#include <string>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/portable_float.h"
#include "coordinator-free-bootstrap/node_session.h"

namespace dadmm {
namespace {

// What travels between sessions; an estimate is shared by its copies on every out-edge.
using SessionMessage = std::variant<Hello, ColourAnnouncement, ColourMaxima, std::shared_ptr<const Broadcast>>;

}  // namespace

absl::StatusOr<SimulatedNetwork> SimulateAgentNetwork(const Topology& topology,
                                                      std::map<NodeId, std::unique_ptr<LocalProblem>> problems,
                                                      const PipelineSettings& settings,
                                                      const SessionSimulationOptions& options) {
  if (options.delivery == Delivery::kAnyOrder) {
    return absl::InvalidArgumentError("session simulation: sessions need each edge's order kept, as a stream keeps it");
  }
  const std::size_t P = topology.size();
  std::vector<std::unique_ptr<NodeSession>> sessions;
  for (const NodeSpec& n : topology.nodes()) {
    auto problem = problems.find(n.id);
    if (problem == problems.end() || problem->second == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("no problem for node ", n.id));
    }
    std::vector<NamedValue> parameters = options.problem_parameters;
    if (parameters.empty()) parameters.push_back({"problem", std::string(problem->second->kind())});
    absl::StatusOr<std::unique_ptr<NodeSession>> session = NodeSession::Create(
        topology, n.id, std::move(problem->second), std::move(parameters), settings, ArithmeticProfile());
    if (!session.ok()) return session.status();
    sessions.push_back(*std::move(session));
  }

  FakeNetwork<SessionMessage> network(topology, options.delivery, options.seed);
  if (absl::Status s = network.Apply(topology, options.faults); !s.ok()) return s;
  const std::size_t E = network.num_edges();
  // The algorithm's messages (estimates) per directed edge, apart from the bootstrap's.
  std::vector<std::uint64_t> estimates_sent(E, 0), estimates_delivered(E, 0), bytes_sent(E, 0), bytes_delivered(E, 0);
  LabelTally tally;
  SimulatedNetwork net;
  std::optional<std::uint64_t> diverged_step;

  SessionOutput out;
  // Sends what node i's session emitted, in the order a stream would carry it.
  auto after_call = [&](std::size_t i, absl::Status status) -> absl::Status {
    if (!status.ok()) return status;
    if (!out.rejections.empty()) {  // simulated neighbours are correct: a rejection is a bug
      return absl::InternalError(absl::StrCat("session simulation: node ", topology.nodes()[i].id,
                                              " rejected a message from node ", out.rejections[0].sender, ": ",
                                              out.rejections[0].why));
    }
    for (const Hello& h : out.hellos) network.Broadcast(i, h, 0);
    for (const ColourAnnouncement& m : out.colouring.announcements) {
      const std::uint32_t copies = network.Broadcast(i, m, 0);
      net.colouring.messages += copies;
      net.colouring.payload_bytes += copies * kAnnouncementBytes;
    }
    for (const ColourMaxima& m : out.colouring.maxima) {
      const std::uint32_t copies = network.Broadcast(i, m, 0);
      net.colouring.messages += copies;
      net.colouring.payload_bytes += copies * kMaximaBytes;
    }
    for (Broadcast& b : out.estimates) {
      const std::uint64_t label = b.iteration;
      const std::size_t control = b.control.size();
      auto payload = std::make_shared<const Broadcast>(std::move(b));
      std::uint64_t copies = 0;
      for (std::uint32_t e = network.out_begin(i); e < network.out_begin(i + 1); ++e) {
        if (!network.Send(e, payload, label)) continue;  // a silence
        ++copies;
        ++estimates_sent[e];
        bytes_sent[e] += PayloadBytes(payload->x.size());
      }
      tally.Add(label, copies, control);
    }
    out.clear();
    // A program whose estimate is no longer finite has diverged (a step size too large): the run ends.
    const NodeProgram* p = sessions[i]->program();
    if (p != nullptr && !diverged_step && !p->x().allFinite()) {
      diverged_step = std::max<std::uint64_t>(p->estimate_step(), 1);
    }
    return absl::OkStatus();
  };

  for (std::size_t i = 0; i < P && !diverged_step; ++i) {
    if (absl::Status s = after_call(i, sessions[i]->Start(out)); !s.ok()) return s;
  }
  while (!diverged_step) {
    std::optional<FakeNetwork<SessionMessage>::Delivered> d = network.Next();
    if (!d.has_value()) break;
    const std::size_t to = network.edge_to(d->edge);
    const NodeId from = topology.nodes()[network.edge_from(d->edge)].id;
    NodeSession& session = *sessions[to];
    absl::Status status;
    if (const auto* b = std::get_if<std::shared_ptr<const Broadcast>>(&d->message)) {
      ++estimates_delivered[d->edge];
      bytes_delivered[d->edge] += PayloadBytes((*b)->x.size());
      const Estimate estimate{.sender = from,
                              .iteration = (*b)->iteration,
                              .x = Eigen::Map<const Vector>((*b)->x.data(), (*b)->x.size()),
                              .control = (*b)->control};
      status = session.Receive(from, estimate, out);
    } else {
      status = std::visit(
          [&](const auto& m) -> absl::Status {
            if constexpr (std::is_same_v<std::decay_t<decltype(m)>, std::shared_ptr<const Broadcast>>) {
              return absl::OkStatus();  // handled above
            } else {
              return session.Receive(from, m, out);
            }
          },
          d->message);
    }
    if (absl::Status s = after_call(to, std::move(status)); !s.ok()) return s;
  }

  std::vector<std::string> stalled;
  std::vector<const ColouringProtocol*> colourings;
  std::uint64_t max_steps = 0;
  SimulationResult& result = net.result;
  for (std::size_t i = 0; i < P; ++i) {
    const NodeSession& s = *sessions[i];
    colourings.push_back(&s.colouring());
    net.early_estimates += s.early_estimates();
    if (!diverged_step && !s.done()) {
      const NodeSession::Wait wait = s.awaited();
      stalled.push_back(absl::StrCat(topology.nodes()[i].id, " (waits for ", wait.what, " from ",
                                     absl::StrJoin(wait.nodes, ","), ")"));
      continue;
    }
    if (s.program() == nullptr) {  // diverged elsewhere before this node started
      result.nodes.push_back(
          {.id = topology.nodes()[i].id, .counters = NodeCounters(topology.neighbours(topology.nodes()[i].id))});
      continue;
    }
    const NodeProgram& p = *s.program();
    max_steps = std::max(max_steps, p.estimate_step());
    NodeCounters counters(topology.neighbours(topology.nodes()[i].id));
    result.nodes.push_back({.id = topology.nodes()[i].id,
                            .outcome = p.outcome(),
                            .x = p.x(),
                            .computation_iterations = p.computation_iterations(),
                            .counters = std::move(counters)});
  }
  if (!stalled.empty()) {
    return absl::DeadlineExceededError(absl::StrCat(
        "session simulation: stalled, no message in flight and nodes still waiting: ", absl::StrJoin(stalled, "; ")));
  }
  for (std::uint32_t e = 0; e < E; ++e) {
    const std::uint32_t i = network.edge_from(e), j = network.edge_to(e);
    result.nodes[i].counters.AddSentToIndex(e - network.out_begin(i), estimates_sent[e], bytes_sent[e]);
    result.nodes[j].counters.AddReceivedFromIndex(network.position_at_receiver(e), estimates_delivered[e],
                                                  bytes_delivered[e]);
  }
  absl::StatusOr<ColouringRun> colouring = CollectColouring(topology, colourings);
  if (!colouring.ok()) return colouring.status();
  colouring->messages = net.colouring.messages;
  colouring->payload_bytes = net.colouring.payload_bytes;
  net.colouring = *std::move(colouring);

  result.steps = diverged_step ? *diverged_step : max_steps;
  result.diverged = diverged_step.has_value();
  tally.CountSteps(sessions[0]->program() != nullptr ? sessions[0]->program()->first_label() : 0, result);
  return net;
}

}  // namespace dadmm
