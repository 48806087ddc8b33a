#include "coordinator-free-bootstrap/session_simulation.h"

#include <algorithm>
#include <limits>
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
using SessionMessage =
    std::variant<Hello, ColourAnnouncement, ColourMaxima, std::shared_ptr<const Broadcast>, Finished>;

// A message on the wire with link faults: its stream (epoch), its sequence number on the edge and
// the ack for the reverse direction, as the agents' PeerMessage carries them.
struct Frame {
  std::uint32_t epoch = 0;
  std::uint64_t sequence = 0;
  std::uint64_t ack = 0;
  SessionMessage message;
};

// The label of the end messages for the fake network's silences: after every step's.
constexpr std::uint64_t kEndLabel = std::numeric_limits<std::uint64_t>::max() - 1;

}  // namespace

absl::StatusOr<SimulatedNetwork> SimulateAgentNetwork(const Topology& topology,
                                                      std::map<NodeId, std::unique_ptr<LocalProblem>> problems,
                                                      const PipelineSettings& settings,
                                                      const SessionSimulationOptions& options) {
  if (options.delivery == Delivery::kAnyOrder) {
    return absl::InvalidArgumentError("session simulation: sessions need each edge's order kept, as a stream keeps it");
  }
  const std::size_t P = topology.size();
  const CrashFaults& cf = options.crashes;
  if (cf.any() &&
      (!cf.problem || !(cf.probability >= 0.0 && cf.probability <= 0.5) || !(cf.at_end >= 0.0 && cf.at_end <= 1.0))) {
    return absl::InvalidArgumentError(
        "session simulation: crashes need a problem factory, a probability <= 0.5 and an at_end probability <= 1");
  }
  std::vector<std::unique_ptr<NodeSession>> sessions;
  auto make_session = [&](NodeId id,
                          std::unique_ptr<LocalProblem> problem) -> absl::StatusOr<std::unique_ptr<NodeSession>> {
    if (problem == nullptr) return absl::InvalidArgumentError(absl::StrCat("no problem for node ", id));
    std::vector<NamedValue> parameters = options.problem_parameters;
    if (parameters.empty()) parameters.push_back({"problem", std::string(problem->kind())});
    return NodeSession::Create(topology, id, std::move(problem), std::move(parameters), settings, ArithmeticProfile());
  };
  for (const NodeSpec& n : topology.nodes()) {
    auto problem = problems.find(n.id);
    absl::StatusOr<std::unique_ptr<NodeSession>> session =
        make_session(n.id, problem == problems.end() ? nullptr : std::move(problem->second));
    if (!session.ok()) return session.status();
    sessions.push_back(*std::move(session));
  }
  std::map<NodeId, std::size_t> index_of;
  for (std::size_t i = 0; i < P; ++i) index_of[topology.nodes()[i].id] = i;

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
  std::vector<bool> end_announced(P, false);
  // Crashes: each node's last checkpoint, and how many deliveries a crashed node stays down (-1: up).
  Rng crash_rng(cf.seed);
  std::map<std::pair<std::size_t, std::uint64_t>, std::uint64_t> copies_counted;  // (node, label): copies tallied
  std::vector<std::string> checkpoint(P);
  std::vector<int> down(P, -1);
  auto write_checkpoint = [&](std::size_t i) -> absl::Status {
    absl::StatusOr<std::string> bytes = sessions[i]->Checkpoint();
    if (!bytes.ok()) return bytes.status();
    checkpoint[i] = *std::move(bytes);
    ++net.checkpoints;
    return absl::OkStatus();
  };
  // Sends what node i's session emitted, in the order a stream would carry it.
  auto after_call = [&](std::size_t i, absl::Status status) -> absl::Status {
    if (!status.ok()) return status;
    // Durable before it is transmitted: the checkpoint covers everything this call sends.
    // A neighbour's end message taken is written before it is acknowledged (before anything follows).
    if (cf.any() && sessions[i]->checkpoint_due() && (out.sends() || sessions[i]->end_unsaved())) {
      if (absl::Status s = write_checkpoint(i); !s.ok()) return s;
    }
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
    for (SessionOutput::BootstrapResend& r : out.bootstrap_resends) {
      const std::size_t j = index_of.at(r.to);
      for (std::uint32_t e = network.out_begin(i); e < network.out_begin(i + 1); ++e) {
        if (network.edge_to(e) != j) continue;
        std::visit([&](auto& m) { post(e, SessionMessage(std::move(m)), 0); }, r.message);
        ++net.resent;
        break;
      }
    }
    for (Broadcast& b : out.estimates) {
      const std::uint64_t label = b.iteration;
      const std::size_t control = b.control.size();
      auto payload = std::make_shared<const Broadcast>(std::move(b));
      // Re-emitted after a restart from an older checkpoint (checkpoint_every > 1): sent again, the
      // receivers drop it as heard, and it counts as a resend, not as the algorithm's message.
      const bool again = cf.any() && copies_counted[{i, label}] > 0;
      std::uint64_t copies = 0;
      for (std::uint32_t e = network.out_begin(i); e < network.out_begin(i + 1); ++e) {
        if (!post(e, payload, label)) continue;  // a silence
        ++copies;
        if (again) continue;
        ++estimates_sent[e];
        bytes_sent[e] += PayloadBytes(payload->x.size());
      }
      if (again) {
        net.resent += copies;
        continue;
      }
      tally.Add(label, copies, control);
      if (cf.any()) copies_counted[{i, label}] += copies;
    }
    // To one neighbour each (a restarted one, or after this node's restart every neighbour): resent,
    // but counted as the algorithm's message once for each copy the crash kept from being sent.
    for (SessionOutput::Resend& r : out.resends) {
      const std::size_t j = index_of.at(r.to);
      const std::uint64_t label = r.estimate.iteration;
      const std::size_t control = r.estimate.control.size();
      const std::uint64_t bytes = PayloadBytes(r.estimate.x.size());
      for (std::uint32_t e = network.out_begin(i); e < network.out_begin(i + 1); ++e) {
        if (network.edge_to(e) != j || !post(e, std::make_shared<const Broadcast>(std::move(r.estimate)), label)) {
          continue;
        }
        std::uint64_t& counted = copies_counted[{i, label}];
        if (counted < network.out_begin(i + 1) - network.out_begin(i)) {
          ++counted;
          tally.Add(label, 1, control);
          ++estimates_sent[e];
          bytes_sent[e] += bytes;
        } else {
          ++net.resent;
        }
        break;
      }
    }
    // The end message last, as a stream carries it after the last estimates.
    if (out.finished.has_value()) {  // again after a restart at the end: resent
      const std::uint32_t copies = broadcast(i, *out.finished, kEndLabel);
      (end_announced[i] ? net.resent : net.end_messages) += copies;
      end_announced[i] = true;
    }
    for (NodeId to : out.finished_resends) {
      const std::size_t j = index_of.at(to);
      for (std::uint32_t e = network.out_begin(i); e < network.out_begin(i + 1); ++e) {
        if (network.edge_to(e) != j) continue;
        if (post(e, sessions[i]->end_message(), kEndLabel)) ++net.resent;
        break;
      }
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
  // Node i restarts: a new session, resumed from its last checkpoint.
  auto restart = [&](std::size_t i) -> absl::Status {
    const NodeId id = topology.nodes()[i].id;
    absl::StatusOr<std::unique_ptr<NodeSession>> session = make_session(id, cf.problem(id));
    if (!session.ok()) return session.status();
    sessions[i] = *std::move(session);
    down[i] = -1;
    if (lf.any()) {
      // As the transports see it: node i's streams broke with its process (what was in flight on them
      // is lost); the new process numbers from 1 and knows no number, and each neighbour numbers
      // again what it has not had acknowledged (SenderWindow::Rebase) and sends it on a new stream.
      for (std::uint32_t e = network.out_begin(i); e < network.out_begin(i + 1); ++e) {
        const std::uint32_t back = network.reverse(e);
        ++epoch[e];
        ++epoch[back];
        outbox[e] = SenderWindow<std::pair<SessionMessage, std::uint64_t>>();
        inbox[e] = ReceiverWindow();
        inbox[back] = ReceiverWindow();
        outbox[back].Rebase();
      }
    }
    absl::Status resumed = after_call(i, sessions[i]->Resume(checkpoint[i], out));
    if (lf.any()) {
      for (std::uint32_t e = network.out_begin(i); e < network.out_begin(i + 1); ++e) transmit(network.reverse(e));
    }
    return resumed;
  };
  // Node i goes away, as an agent does once its session may exit and its links are quiet: nothing in
  // flight to or from it, no neighbour down (the agent's linger), everything it sent acknowledged (a
  // stream's closing summary acknowledges what the receiver has taken). What reaches it later is lost.
  std::vector<bool> exited(P, false);
  auto maybe_exit = [&](std::size_t i) {
    if (exited[i] || down[i] >= 0 || !sessions[i]->may_exit()) return;
    for (std::uint32_t e = network.out_begin(i); e < network.out_begin(i + 1); ++e) {
      const std::uint32_t back = network.reverse(e);
      if (down[network.edge_to(e)] >= 0 || network.in_flight(e) > 0 || network.in_flight(back) > 0) return;
    }
    if (lf.any()) {
      for (std::uint32_t e = network.out_begin(i); e < network.out_begin(i + 1); ++e) {
        // A neighbour that went away acknowledges nothing more (the agent's linger gives up on it):
        // what this node sent it since is a copy of what it had (it needed nothing more to go).
        if (exited[network.edge_to(e)]) continue;
        outbox[e].Acknowledge(inbox[e].delivered());  // the closing summary
        if (!outbox[e].empty()) return;
      }
    }
    exited[i] = true;
    ++net.exits;
  };
  auto crash = [&](std::size_t i) {
    if (sessions[i]->program() == nullptr) ++net.crashes_in_bootstrap;
    if (sessions[i]->done()) ++net.crashes_at_end;
    out.clear();  // what it had not sent
    ++net.crashes;
    down[i] = static_cast<int>(crash_rng.Below(cf.max_down + 1));
  };
  while (!diverged_step) {
    std::optional<FakeNetwork<Frame>::Delivered> delivered = network.Next();
    if (!delivered.has_value()) {
      const auto crashed = std::find_if(down.begin(), down.end(), [](int d) { return d >= 0; });
      if (crashed == down.end()) {
        for (std::size_t i = 0; i < P; ++i) maybe_exit(i);
        break;
      }
      if (absl::Status s = restart(static_cast<std::size_t>(crashed - down.begin())); !s.ok()) return s;
      continue;
    }
    for (std::size_t i = 0; i < P; ++i) {
      if (down[i] > 0) {
        --down[i];
      } else if (down[i] == 0) {
        if (absl::Status s = restart(i); !s.ok()) return s;
      }
    }
    const std::uint32_t edge = delivered->edge;
    const std::size_t to = network.edge_to(edge);
    const NodeId from = topology.nodes()[network.edge_from(edge)].id;
    if (down[to] >= 0) {  // lost with the crashed process
      ++net.lost_to_crashes;
      continue;
    }
    if (exited[to]) {  // it has gone: a neighbour that still needed it would stall (checked at the end)
      ++net.lost_to_exited;
      continue;
    }
    // A crash at this delivery: 0 before the node takes the message, 1 after, before its checkpoint,
    // 2 after its checkpoint, before it sends.
    int crash_stage = -1;
    if (cf.any() && net.crashes < cf.max_crashes && !checkpoint[to].empty() &&
        crash_rng.Uniform() < (sessions[to]->program() == nullptr ? cf.probability / 10 : cf.probability)) {
      crash_stage = static_cast<int>(crash_rng.Below(3));
      if (crash_stage == 0) {
        ++net.lost_to_crashes;
        crash(to);
        continue;
      }
    }
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
    const bool was_done = session.done();
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
    if (crash_stage < 0 && cf.at_end > 0.0 && !was_done && session.done() && net.crashes_at_end < cf.max_crashes &&
        crash_rng.Uniform() < cf.at_end) {
      crash_stage = 1 + static_cast<int>(crash_rng.Below(2));
    }
    if (crash_stage == 2 && status.ok() && sessions[to]->checkpoint_due()) {
      if (absl::Status s = write_checkpoint(to); !s.ok()) return s;
    }
    if (crash_stage >= 1 && status.ok()) {
      crash(to);
      continue;
    }
    if (absl::Status s = after_call(to, std::move(status)); !s.ok()) return s;
    maybe_exit(to);
    maybe_exit(network.edge_from(edge));
  }

  std::vector<std::string> stalled;
  std::vector<const ColouringProtocol*> colourings;
  std::uint64_t max_steps = 0;
  SimulationResult& result = net.result;
  for (std::size_t i = 0; i < P; ++i) {
    const NodeSession& s = *sessions[i];
    colourings.push_back(&s.colouring());
    net.early_estimates += s.early_estimates();
    net.session_duplicates += s.duplicates();
    if (!diverged_step && !exited[i]) {
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
