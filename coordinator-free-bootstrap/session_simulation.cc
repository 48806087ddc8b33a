#include "coordinator-free-bootstrap/session_simulation.h"

#include <algorithm>
#include <optional>
#include <string>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/portable_float.h"
#include "common/base/random.h"
#include "coordinator-free-bootstrap/delivery.h"
#include "coordinator-free-bootstrap/node_session.h"

namespace dadmm {
namespace {

// What travels between sessions; an estimate is shared by its copies on every out-edge.
using SessionMessage = std::variant<Hello, ColourAnnouncement, ColourMaxima, std::shared_ptr<const Broadcast>>;

// A message on the wire with link faults: its stream (epoch), its sequence number on the edge and
// the ack for the reverse direction, as the agents' PeerMessage carries them.
struct Frame {
  std::uint32_t epoch = 0;
  std::uint64_t sequence = 0;
  std::uint64_t ack = 0;
  SessionMessage message;
};

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

  const LinkFaults& lf = options.link_faults;
  if (!(lf.break_stream >= 0.0 && lf.break_stream <= 0.5 && lf.duplicate >= 0.0 && lf.duplicate <= 0.5)) {
    return absl::InvalidArgumentError("session simulation: link fault probabilities must be in [0, 0.5]");
  }
  FakeNetwork<Frame> network(topology, options.delivery, options.seed);
  if (absl::Status s = network.Apply(topology, options.faults); !s.ok()) return s;
  const std::size_t E = network.num_edges();
  // The delivery windows of every directed edge (used with link faults only), and its stream.
  std::vector<SenderWindow<std::pair<SessionMessage, std::uint64_t>>> outbox(lf.any() ? E : 0);
  std::vector<ReceiverWindow> inbox(lf.any() ? E : 0);
  std::vector<std::uint32_t> epoch(E, 0);
  Rng fault_rng(lf.seed);
  // The algorithm's messages (estimates) per directed edge, apart from the bootstrap's.
  std::vector<std::uint64_t> estimates_sent(E, 0), estimates_delivered(E, 0), bytes_sent(E, 0), bytes_delivered(E, 0);
  LabelTally tally;
  SimulatedNetwork net;
  std::optional<std::uint64_t> diverged_step;

  // Writes what edge e's window has not written on its stream, as the transport does; a write may
  // break the stream (then everything not acknowledged goes again on the next) or arrive twice.
  auto transmit = [&](std::uint32_t e) {
    while (auto* entry = outbox[e].NextToWrite()) {
      const Frame frame{.epoch = epoch[e],
                        .sequence = entry->sequence,
                        .ack = inbox[network.reverse(e)].delivered(),
                        .message = entry->message.first};
      if (outbox[e].MarkWritten(entry->sequence)) ++net.resent;
      if (fault_rng.Uniform() < lf.break_stream) {
        ++epoch[e];
        ++net.streams_broken;
        outbox[e].Restart();
        continue;
      }
      network.Send(e, frame, entry->message.second);
      if (fault_rng.Uniform() < lf.duplicate) network.Send(e, frame, entry->message.second);
    }
  };
  // One copy of `m` on edge e; false if a silence holds it back.
  auto post = [&](std::uint32_t e, SessionMessage m, std::uint64_t label) -> bool {
    if (!lf.any()) return network.Send(e, Frame{.message = std::move(m)}, label);
    if (!network.Carries(e, label)) return false;
    outbox[e].Queue({std::move(m), label});
    transmit(e);
    return true;
  };
  auto broadcast = [&](std::size_t i, const SessionMessage& m, std::uint64_t label) {
    std::uint32_t copies = 0;
    for (std::uint32_t e = network.out_begin(i); e < network.out_begin(i + 1); ++e) copies += post(e, m, label);
    return copies;
  };

  SessionOutput out;
  // Sends what node i's session emitted, in the order a stream would carry it.
  auto after_call = [&](std::size_t i, absl::Status status) -> absl::Status {
    if (!status.ok()) return status;
    if (!out.rejections.empty()) {  // simulated neighbours are correct: a rejection is a bug
      return absl::InternalError(absl::StrCat("session simulation: node ", topology.nodes()[i].id,
                                              " rejected a message from node ", out.rejections[0].sender, ": ",
                                              out.rejections[0].why));
    }
    for (const Hello& h : out.hellos) broadcast(i, h, 0);
    for (const ColourAnnouncement& m : out.colouring.announcements) {
      const std::uint32_t copies = broadcast(i, m, 0);
      net.colouring.messages += copies;
      net.colouring.payload_bytes += copies * kAnnouncementBytes;
    }
    for (const ColourMaxima& m : out.colouring.maxima) {
      const std::uint32_t copies = broadcast(i, m, 0);
      net.colouring.messages += copies;
      net.colouring.payload_bytes += copies * kMaximaBytes;
    }
    for (Broadcast& b : out.estimates) {
      const std::uint64_t label = b.iteration;
      const std::size_t control = b.control.size();
      auto payload = std::make_shared<const Broadcast>(std::move(b));
      std::uint64_t copies = 0;
      for (std::uint32_t e = network.out_begin(i); e < network.out_begin(i + 1); ++e) {
        if (!post(e, payload, label)) continue;  // a silence
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
    std::optional<FakeNetwork<Frame>::Delivered> delivered = network.Next();
    if (!delivered.has_value()) break;
    const std::uint32_t edge = delivered->edge;
    const std::size_t to = network.edge_to(edge);
    const NodeId from = topology.nodes()[network.edge_from(edge)].id;
    if (lf.any()) {
      const Frame& frame = delivered->message;
      if (frame.epoch != epoch[edge]) continue;  // lost with its broken stream
      if (frame.ack > 0) outbox[network.reverse(edge)].Acknowledge(frame.ack);
      const ReceiverWindow::Verdict verdict = inbox[edge].Admit(frame.sequence);
      if (verdict == ReceiverWindow::Verdict::kDuplicate) {
        ++net.duplicates_dropped;
        continue;
      }
      if (verdict != ReceiverWindow::Verdict::kDeliver) {
        return absl::InternalError(absl::StrCat("session simulation: message ", frame.sequence, " from node ", from,
                                                " to node ", topology.nodes()[to].id, " after ",
                                                inbox[edge].delivered(), ": the delivery windows lost one"));
      }
    }
    const SessionMessage message = std::move(delivered->message.message);
    NodeSession& session = *sessions[to];
    absl::Status status;
    if (const auto* b = std::get_if<std::shared_ptr<const Broadcast>>(&message)) {
      ++estimates_delivered[edge];
      bytes_delivered[edge] += PayloadBytes((*b)->x.size());
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
          message);
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
