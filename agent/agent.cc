#include "agent/agent.h"

#include <arpa/inet.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "agent/channel_args.h"
#include "agent/counters.h"
#include "agent/inbox.h"
#include "agent/log.h"
#include "agent/peer_link.h"
#include "common/colouring.h"
#include "common/energy.h"
#include "common/lasso.h"
#include "common/portable_float.h"
#include "coordinator-free-bootstrap/agent_pipeline.h"
#include "coordinator-free-bootstrap/colouring_protocol.h"
#include "coordinator-free-bootstrap/handshake.h"
#include "coordinator-free-bootstrap/stopping_program.h"
#include "dadmm/proto/dadmm.grpc.pb.h"

#ifndef DADMM_VERSION
#define DADMM_VERSION "unknown"
#endif

namespace dadmm::agent {
namespace {

using Clock = std::chrono::steady_clock;
namespace pb = ::dadmm::v1;

struct Incoming {
  NodeId sender = 0;
  pb::PeerMessage message;
  std::uint64_t message_bytes = 0;
  std::string peer;  // transport address, for logs
};

// The node a peer message says it comes from; nullopt for an empty message.
std::optional<NodeId> SenderOf(const pb::PeerMessage& m) {
  switch (m.body_case()) {
    case pb::PeerMessage::kEstimate:
      return m.estimate().sender();
    case pb::PeerMessage::kHello:
      return m.hello().sender();
    case pb::PeerMessage::kColour:
      return m.colour().sender();
    case pb::PeerMessage::kMaxima:
      return m.maxima().sender();
    default:
      return std::nullopt;
  }
}

// What Status reports; written by the algorithm thread, read by gRPC threads.
struct NeighbourLiveness {
  bool connected = false;
  std::uint64_t last_label = 0;
  std::optional<Clock::time_point> last_heard;
};

struct PublicState {
  std::mutex mu;
  std::condition_variable changed;  // notified on every state change (for WatchStatus)
  // Fixed at start.
  Clock::time_point started = Clock::now();
  std::string problem, algorithm;
  std::uint64_t max_iterations = 0;
  double tolerance = 0.0;
  // Updated by the algorithm thread.
  pb::AgentState state = pb::AGENT_STATE_CONNECTING;
  std::uint64_t iteration = 0;
  std::string waiting_for;
  std::uint32_t colour = 0;
  std::map<NodeId, std::uint32_t> neighbour_colours;
  std::map<NodeId, NeighbourLiveness> liveness;
  double change = 0.0;
  double disagreement = 0.0;
  double primal_residual = 0.0, dual_residual = 0.0, rho = 0.0;
  std::string stop_rule;
  std::uint64_t computation_iterations = 0;
  double objective = 0.0;
  std::uint64_t dimension = 0;
  double x_norm = 0.0;
  std::vector<double> x_head;
  std::string error;
};

// Receives the streams neighbours open to this agent. Checks only who sends (a neighbour, the same one
// for a whole stream); the algorithm thread checks the contents.
class PeerService final : public pb::Peer::Service {
 public:
  PeerService(const Topology& topology, NodeId self, Inbox<Incoming>* inbox, SharedCounters* counters,
              const Logger* log)
      : self_(self), inbox_(inbox), counters_(counters), log_(log) {
    for (NodeId j : topology.neighbours(self)) neighbours_.insert(j);
  }

  grpc::Status Exchange(grpc::ServerContext* context, grpc::ServerReader<pb::PeerMessage>* reader,
                        pb::ExchangeSummary* summary) override {
    {
      std::lock_guard lock(mu_);
      ++active_;
    }
    std::optional<NodeId> stream_sender;
    std::uint64_t accepted = 0;
    pb::PeerMessage message;
    while (reader->Read(&message)) {
      const std::optional<NodeId> sender = SenderOf(message);
      std::string problem;
      if (!sender.has_value()) {
        problem = "an empty message";
      } else if (!neighbours_.contains(*sender)) {
        problem = absl::StrCat("a message from node ", *sender, ", not a neighbour of node ", self_);
      } else if (stream_sender.has_value() && *stream_sender != *sender) {
        problem = absl::StrCat("a message from node ", *sender, " on the stream of node ", *stream_sender);
      }
      if (!problem.empty()) {
        counters_->RecordRejected();
        log_->Info(absl::StrCat("rejected ", problem, " (peer ", context->peer(), ")"));
        continue;
      }
      stream_sender = sender;
      const std::uint64_t bytes = message.ByteSizeLong();
      inbox_->Push(
          Incoming{.sender = *sender, .message = std::move(message), .message_bytes = bytes, .peer = context->peer()});
      message = pb::PeerMessage();
      ++accepted;
    }
    summary->set_messages_received(accepted);
    {
      std::lock_guard lock(mu_);
      --active_;
    }
    cv_.notify_all();
    return grpc::Status::OK;
  }

  // Waits until no neighbour has a stream open, or `timeout`. True if none has.
  bool WaitAllClosed(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return active_ == 0; });
  }

 private:
  const NodeId self_;
  std::set<NodeId> neighbours_;
  Inbox<Incoming>* const inbox_;
  SharedCounters* const counters_;
  const Logger* const log_;
  std::mutex mu_;
  std::condition_variable cv_;
  int active_ = 0;
};

void FillNeighbourCounters(const CountersSnapshot& c, const std::map<NodeId, std::uint32_t>& colours,
                           google::protobuf::RepeatedPtrField<pb::NeighbourCounters>* out,
                           const std::vector<NodeId>& neighbours) {
  for (NodeId j : neighbours) {
    pb::NeighbourCounters* n = out->Add();
    n->set_node_id(j);
    const LinkCounters link = c.algorithm.of(j);
    n->set_messages_sent(link.messages_sent);
    n->set_messages_received(link.messages_received);
    n->set_payload_bytes_sent(link.payload_bytes_sent);
    n->set_payload_bytes_received(link.payload_bytes_received);
    const LinkCounters boot = c.bootstrap.of(j);
    n->set_bootstrap_messages_sent(boot.messages_sent);
    n->set_bootstrap_messages_received(boot.messages_received);
    n->set_bootstrap_bytes_sent(boot.payload_bytes_sent);
    n->set_bootstrap_bytes_received(boot.payload_bytes_received);
    auto wb = c.message_bytes.find(j);
    if (wb != c.message_bytes.end()) {
      n->set_message_bytes_sent(wb->second.sent);
      n->set_message_bytes_received(wb->second.received);
    }
    auto colour = colours.find(j);
    if (colour != colours.end()) n->set_colour(colour->second);
  }
}

// Adds the modelled radio energy to `neighbours` (filled by FillNeighbourCounters) and returns the totals.
pb::Energy FillEnergy(const CountersSnapshot& c, const Topology& topology, NodeId self, const RadioModel& radio,
                      google::protobuf::RepeatedPtrField<pb::NeighbourCounters>* neighbours) {
  pb::Energy total;
  double farthest = 0.0;
  for (pb::NeighbourCounters& n : *neighbours) {
    const double d = LinkDistance(topology, self, n.node_id(), radio);
    farthest = std::max(farthest, d);
    WireBytes w;
    if (auto it = c.message_bytes.find(n.node_id()); it != c.message_bytes.end()) w = it->second;
    n.set_distance_m(d);
    n.set_bootstrap_message_bytes_sent(w.bootstrap_sent);
    n.set_bootstrap_message_bytes_received(w.bootstrap_received);
    n.set_energy_sent_joules(radio.Transmit(8 * (w.sent - w.bootstrap_sent), d));
    n.set_energy_received_joules(radio.Receive(8 * (w.received - w.bootstrap_received)));
    n.set_bootstrap_energy_joules(radio.Transmit(8 * w.bootstrap_sent, d) + radio.Receive(8 * w.bootstrap_received));
    total.set_sent(total.sent() + n.energy_sent_joules());
    total.set_received(total.received() + n.energy_received_joules());
    total.set_bootstrap(total.bootstrap() + n.bootstrap_energy_joules());
  }
  total.set_broadcasts(c.broadcasts);
  total.set_broadcast_equivalent(radio.Transmit(c.broadcast_bits, farthest));
  return total;
}

class StatusService final : public pb::Status::Service {
 public:
  StatusService(const Topology& topology, NodeId self, const RadioModel& radio, PublicState* state,
                const SharedCounters* counters)
      : topology_(topology),
        self_(self),
        radio_(radio),
        neighbours_(topology.neighbours(self)),
        state_(state),
        counters_(counters) {}

  grpc::Status GetStatus(grpc::ServerContext*, const pb::StatusRequest*, pb::StatusReply* reply) override {
    Fill(reply);
    return grpc::Status::OK;
  }

  grpc::Status WatchStatus(grpc::ServerContext* context, const pb::WatchRequest* request,
                           grpc::ServerWriter<pb::StatusReply>* writer) override {
    double interval = request->interval_seconds();
    if (!(interval > 0.0) || !std::isfinite(interval)) interval = 0.5;
    interval = std::clamp(interval, 0.05, 3600.0);
    const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(interval));
    for (;;) {
      pb::StatusReply reply;
      Fill(&reply);
      if (!writer->Write(reply)) return grpc::Status::OK;  // the caller went away
      if (reply.state() == pb::AGENT_STATE_DONE || reply.state() == pb::AGENT_STATE_FAILED) return grpc::Status::OK;
      std::unique_lock lock(state_->mu);
      const Clock::time_point until = Clock::now() + period;
      while (Clock::now() < until && !context->IsCancelled()) {
        // Wake early when the agent finishes, so that the final state goes out at once.
        if (state_->changed.wait_until(lock, std::min(until, Clock::now() + std::chrono::milliseconds(200)), [&] {
              return state_->state == pb::AGENT_STATE_DONE || state_->state == pb::AGENT_STATE_FAILED;
            })) {
          break;
        }
      }
      if (context->IsCancelled()) return grpc::Status::CANCELLED;
    }
  }

 private:
  void Fill(pb::StatusReply* reply) {
    reply->set_node_id(self_);
    reply->set_version(DADMM_VERSION);
    std::map<NodeId, std::uint32_t> colours;
    std::map<NodeId, NeighbourLiveness> liveness;
    {
      std::lock_guard lock(state_->mu);
      reply->set_state(state_->state);
      reply->set_iteration(state_->iteration);
      reply->set_waiting_for(state_->waiting_for);
      reply->set_colour(state_->colour);
      reply->set_change(state_->change);
      reply->set_disagreement(state_->disagreement);
      reply->set_primal_residual(state_->primal_residual);
      reply->set_dual_residual(state_->dual_residual);
      reply->set_rho(state_->rho);
      reply->set_stop_rule(state_->stop_rule);
      reply->set_computation_iterations(state_->computation_iterations);
      reply->set_error(state_->error);
      reply->set_uptime_seconds(std::chrono::duration<double>(Clock::now() - state_->started).count());
      reply->set_problem(state_->problem);
      reply->set_algorithm(state_->algorithm);
      reply->set_max_iterations(state_->max_iterations);
      reply->set_tolerance(state_->tolerance);
      reply->set_objective(state_->objective);
      reply->set_dimension(state_->dimension);
      reply->set_x_norm(state_->x_norm);
      for (double v : state_->x_head) reply->add_x_head(v);
      colours = state_->neighbour_colours;
      liveness = state_->liveness;
    }
    const CountersSnapshot c = counters_->Snapshot();
    const LinkCounters total = c.algorithm.Total();
    reply->set_messages_sent(total.messages_sent);
    reply->set_messages_received(total.messages_received);
    const LinkCounters boot = c.bootstrap.Total();
    reply->set_bootstrap_messages_sent(boot.messages_sent);
    reply->set_bootstrap_messages_received(boot.messages_received);
    reply->set_bootstrap_bytes_sent(boot.payload_bytes_sent);
    reply->set_bootstrap_bytes_received(boot.payload_bytes_received);
    FillNeighbourCounters(c, colours, reply->mutable_neighbours(), neighbours_);
    *reply->mutable_energy() = FillEnergy(c, topology_, self_, radio_, reply->mutable_neighbours());
    const Clock::time_point now = Clock::now();
    for (pb::NeighbourCounters& n : *reply->mutable_neighbours()) {
      const NeighbourLiveness& l = liveness[n.node_id()];
      n.set_connected(l.connected);
      n.set_last_iteration_heard(l.last_label);
      n.set_seconds_since_heard(l.last_heard ? std::chrono::duration<double>(now - *l.last_heard).count() : -1.0);
    }
  }

  const Topology& topology_;
  const NodeId self_;
  const RadioModel radio_;
  const std::vector<NodeId> neighbours_;
  PublicState* const state_;
  const SharedCounters* const counters_;
};

}  // namespace

std::string DefaultListenAddress(const std::string& topology_address) {
  const std::size_t colon = topology_address.rfind(':');
  std::string host = topology_address.substr(0, colon);
  const std::string port = topology_address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return topology_address;  // IPv6 literal
  in_addr v4{};
  if (host == "localhost" || inet_pton(AF_INET, host.c_str(), &v4) == 1) return topology_address;
  return absl::StrCat("0.0.0.0:", port);
}

MessageCost CostOf(const pb::PeerMessage& m) {
  MessageCost cost;
  switch (m.body_case()) {
    case pb::PeerMessage::kEstimate:
      cost.algorithm_messages = 1;
      cost.payload_bytes = PayloadBytes(m.estimate().x_size());
      cost.bootstrap_bytes = m.estimate().stop_bits().size();
      break;
    case pb::PeerMessage::kHello:
      cost.bootstrap_messages = 1;
      cost.bootstrap_bytes = m.hello().ByteSizeLong();
      break;
    case pb::PeerMessage::kColour:
      cost.bootstrap_messages = 1;
      cost.bootstrap_bytes = kAnnouncementBytes;
      break;
    case pb::PeerMessage::kMaxima:
      cost.bootstrap_messages = 1;
      cost.bootstrap_bytes = kMaximaBytes;
      break;
    default:
      break;
  }
  return cost;
}

struct Agent::Impl {
  Topology topology;
  std::unique_ptr<LocalProblem> problem;  // moved into the node program once colours are known
  std::string problem_kind;
  Eigen::Index dimension;
  AgentOptions options;
  Logger log;
  std::atomic<bool> stop_requested{false};
  Inbox<Incoming> inbox;
  SharedCounters counters;
  PublicState public_state;

  // The run, owned by the algorithm thread.
  std::map<NodeId, std::unique_ptr<PeerLink>> links;
  Hello hello;
  std::set<NodeId> greeted;  // neighbours whose hello was accepted
  std::unique_ptr<ColouringProtocol> colouring;
  std::unique_ptr<NodeProgram> program;        // once every neighbour's colour is known
  const AgreedStopProgram* stopper = nullptr;  // program, when it has the agreed stop
  std::vector<Incoming> early;                 // estimates that came before the program could start
  std::map<NodeId, int> early_count;
  std::map<NodeId, Vector> latest;  // the latest estimate from each neighbour (Status residuals)
  Vector published_x;               // x_p when Status last saw it
  Clock::time_point next_publish{};
  Clock::time_point algorithm_started{}, algorithm_finished{};

  Impl(Topology t, std::unique_ptr<LocalProblem> p, AgentOptions o)
      : topology(std::move(t)),
        problem(std::move(p)),
        problem_kind(problem->kind()),
        dimension(problem->dimension()),
        options(std::move(o)),
        log(options.node_id) {}

  void SetState(pb::AgentState s, std::uint64_t iteration, std::string waiting_for) {
    {
      std::lock_guard lock(public_state.mu);
      public_state.state = s;
      public_state.iteration = iteration;
      public_state.waiting_for = std::move(waiting_for);
      for (auto& [j, link] : links) public_state.liveness[j].connected = link->connected();
    }
    public_state.changed.notify_all();
  }
  // What Status shows of the estimate: residuals, f_p(x_p), a summary of x_p. At most ten times a
  // second (f_p can cost as much as a step), and at the end (`force`).
  void PublishEstimate(bool force);
  void Heard(NodeId j, std::uint64_t label) {
    std::lock_guard lock(public_state.mu);
    NeighbourLiveness& l = public_state.liveness[j];
    l.last_heard = Clock::now();
    l.last_label = std::max(l.last_label, label);
  }
  void SendToAll(const pb::PeerMessage& m) {
    for (auto& [j, link] : links) link->Send(m);
  }
  void Reject(const Incoming& in, absl::string_view why) {
    counters.RecordRejected();
    log.Info(absl::StrCat("rejected a message from node ", in.sender, " (peer ", in.peer, "): ", why));
  }

  absl::Status Handle(Incoming in);
  absl::Status HandleHello(const Incoming& in);
  absl::Status HandleColour(const Incoming& in);
  absl::Status HandleMaxima(const Incoming& in);
  absl::Status HandleEstimate(const Incoming& in);
  absl::Status StartProgram();
  void SendColours(const ColouringOutput& out);
  absl::Status AfterColouring(const Incoming& in, const ColouringOutput& out, bool was_complete);
  void SendEstimates(std::vector<Broadcast>& out);
  std::string DescribeWait() const;
  absl::Status Fail(absl::Status error);
  absl::Status WriteResult(double wall_seconds);
  absl::Status Run();
};

Agent::Agent(Topology topology, std::unique_ptr<LocalProblem> problem, AgentOptions options)
    : impl_(std::make_unique<Impl>(std::move(topology), std::move(problem), std::move(options))) {}
Agent::~Agent() = default;

void Agent::Stop() {
  impl_->stop_requested = true;
  impl_->inbox.Wake();
}

absl::Status Agent::Run() { return impl_->Run(); }

void Agent::Impl::SendColours(const ColouringOutput& out) {
  for (const ColourAnnouncement& a : out.announcements) {
    pb::PeerMessage m;
    pb::ColourAnnouncement* c = m.mutable_colour();
    c->set_sender(options.node_id);
    c->set_pass(a.pass);
    c->set_colour(a.colour);
    c->set_round(a.round);
    c->set_chain(a.chain);
    SendToAll(m);
  }
  for (const ColourMaxima& x : out.maxima) {
    pb::PeerMessage m;
    pb::ColourMaxima* c = m.mutable_maxima();
    c->set_sender(options.node_id);
    c->set_round(x.round);
    c->set_max_chain0(x.maxima[0]);
    c->set_max_chain1(x.maxima[1]);
    SendToAll(m);
  }
}

void Agent::Impl::SendEstimates(std::vector<Broadcast>& out) {
  for (const Broadcast& b : out) {
    pb::PeerMessage m;
    pb::Estimate* e = m.mutable_estimate();
    e->set_sender(options.node_id);
    e->set_iteration(b.iteration);
    e->mutable_x()->Add(b.x.data(), b.x.data() + b.x.size());
    if (!b.control.empty()) e->set_stop_bits(std::string(b.control.begin(), b.control.end()));
    counters.RecordBroadcast(m.ByteSizeLong());
    SendToAll(m);
  }
  out.clear();
}

absl::Status Agent::Impl::HandleHello(const Incoming& in) {
  if (greeted.contains(in.sender)) {
    Reject(in, "a second hello");
    return absl::OkStatus();
  }
  const pb::Hello& h = in.message.hello();
  const Hello theirs{.node_id = h.sender(),
                     .protocol_version = h.protocol_version(),
                     .topology_fingerprint = h.topology_fingerprint(),
                     .degree = h.degree(),
                     .dimension = h.dimension(),
                     .problem = h.problem(),
                     .algorithm = h.algorithm(),
                     .rho = h.rho(),
                     .max_iterations = h.max_iterations(),
                     .tolerance = h.tolerance(),
                     .stop_rule = h.stop_rule().substr(0, 200),
                     .arithmetic = h.arithmetic().substr(0, 80)};  // a peer's text, logged: bounded
  counters.RecordReceived(in.sender, CostOf(in.message), in.message_bytes);
  Heard(in.sender, 0);
  if (absl::Status s = CheckHello(hello, theirs, in.sender); !s.ok()) return s;
  greeted.insert(in.sender);
  log.Info(absl::StrCat("handshake with node ", in.sender, " done (", greeted.size(), " of ", links.size(), ")"));
  if (theirs.arithmetic != hello.arithmetic) {
    log.Info(absl::StrCat("warning: node ", in.sender, " computes with '", theirs.arithmetic,
                          "' arithmetic, this node with '", hello.arithmetic,
                          "': the run goes on, but its results may differ from the simulator's in "
                          "the last bits (build every agent with DADMM_PORTABLE_FLOAT=ON, the default)"));
  }
  return absl::OkStatus();
}

absl::Status Agent::Impl::HandleColour(const Incoming& in) {
  // Streams keep order and the hello is the first message on every stream.
  if (!greeted.contains(in.sender)) {
    Reject(in, "a colour announcement before its hello");
    return absl::OkStatus();
  }
  const pb::ColourAnnouncement& c = in.message.colour();
  ColouringOutput out;
  const bool was_complete = colouring->complete();
  if (absl::Status s = colouring->Receive(
          {.sender = c.sender(), .chain = c.chain(), .pass = c.pass(), .colour = c.colour(), .round = c.round()}, out);
      !s.ok()) {
    Reject(in, s.message());
    return absl::OkStatus();
  }
  return AfterColouring(in, out, was_complete);
}

absl::Status Agent::Impl::HandleMaxima(const Incoming& in) {
  if (!greeted.contains(in.sender)) {
    Reject(in, "colour maxima before its hello");
    return absl::OkStatus();
  }
  const pb::ColourMaxima& c = in.message.maxima();
  ColouringOutput out;
  const bool was_complete = colouring->complete();
  if (absl::Status s = colouring->Receive(
          ColourMaxima{.sender = c.sender(), .round = c.round(), .maxima = {c.max_chain0(), c.max_chain1()}}, out);
      !s.ok()) {
    Reject(in, s.message());
    return absl::OkStatus();
  }
  return AfterColouring(in, out, was_complete);
}

absl::Status Agent::Impl::AfterColouring(const Incoming& in, const ColouringOutput& out, bool was_complete) {
  counters.RecordReceived(in.sender, CostOf(in.message), in.message_bytes);
  Heard(in.sender, 0);
  SendColours(out);
  const bool complete = colouring->complete();
  {
    std::lock_guard lock(public_state.mu);
    public_state.colour = colouring->colour();
    const std::vector<std::uint32_t> known = colouring->neighbour_colours();
    for (std::size_t i = 0; i < known.size(); ++i) {
      if (known[i] != 0) public_state.neighbour_colours[colouring->neighbours()[i].id] = known[i];
    }
  }
  if (was_complete || !complete) return absl::OkStatus();
  const std::array<std::uint32_t, 2> used = colouring->network_colours();
  log.Info(absl::StrCat("colour ", colouring->colour(), " of ", used[colouring->chosen()],
                        " (distributed colouring: largest-first ", used[0], " colours, smallest-last ", used[1],
                        "; kept ", colouring->chosen() == 0 ? "largest-first" : "smallest-last", "; ",
                        colouring->rounds(), " rounds)"));
  return StartProgram();
}

absl::Status Agent::Impl::StartProgram() {
  const NodeId self = options.node_id;
  const std::uint32_t colour = colouring->colour();
  const std::vector<std::uint32_t> known = colouring->neighbour_colours();
  std::vector<NeighbourColour> neighbours;
  for (std::size_t i = 0; i < known.size(); ++i) {
    const NodeId j = colouring->neighbours()[i].id;
    // The protocol refuses a neighbour's announcement of our colour; checked again before starting.
    if (known[i] == 0 || known[i] == colour) {
      return absl::InternalError(absl::StrCat("node ", self, " and neighbour ", j, " both have colour ", colour));
    }
    neighbours.push_back({.id = j, .colour = known[i]});
  }
  absl::StatusOr<std::unique_ptr<NodeProgram>> made =
      MakeAgentProgram(topology, self, colour, std::move(neighbours), std::move(problem), options.settings);
  if (!made.ok()) return made.status();
  program = *std::move(made);
  problem = nullptr;
  stopper = dynamic_cast<const AgreedStopProgram*>(program.get());
  log.Info(absl::StrCat("colours of all ", known.size(), " neighbour(s) known; starting ", hello.algorithm, " on ",
                        hello.problem, " (rho ", options.settings.dadmm.rho, ", at most ",
                        options.settings.dadmm.max_iterations, " iterations",
                        options.settings.agreed_stop()
                            ? absl::StrCat(", agreed stop: ", hello.stop_rule, ", D = ", DiameterBound(topology))
                            : "",
                        ")"));
  SetState(pb::AGENT_STATE_RUNNING, 0, "");
  algorithm_started = Clock::now();
  std::vector<Broadcast> out;
  program->Start(out);
  SendEstimates(out);
  std::vector<Incoming> waiting = std::move(early);
  early.clear();
  for (Incoming& in : waiting) {
    if (absl::Status s = HandleEstimate(in); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status Agent::Impl::HandleEstimate(const Incoming& in) {
  if (program == nullptr) {
    // A neighbour that knows all its neighbours' colours may start before we do; it can get at most
    // one estimate ahead of us, so a few per neighbour is all a correct one can send.
    if (++early_count[in.sender] > 4) {
      Reject(in, "too many estimates before this node could start");
      return absl::OkStatus();
    }
    early.push_back(in);
    return absl::OkStatus();
  }
  const pb::Estimate& e = in.message.estimate();
  const Estimate estimate{.sender = in.sender,
                          .iteration = e.iteration(),
                          .x = Eigen::Map<const Vector>(e.x().data(), e.x_size()),
                          .control = absl::MakeConstSpan(reinterpret_cast<const std::uint8_t*>(e.stop_bits().data()),
                                                         e.stop_bits().size())};
  std::vector<Broadcast> out;
  const std::uint64_t before = program->steps();
  if (absl::Status s = program->Receive(estimate, out); !s.ok()) {
    Reject(in, s.message());
    return absl::OkStatus();
  }
  counters.RecordReceived(in.sender, CostOf(in.message), in.message_bytes);
  Heard(in.sender, e.iteration());
  latest[in.sender] = estimate.x;
  SendEstimates(out);
  if (program->steps() != before) PublishEstimate(/*force=*/false);
  if (options.log_iterations && program->steps() != before) {
    log.Info(absl::StrCat("iteration ", program->steps(), " done, x[0] = ", program->x()[0],
                          stopper != nullptr
                              ? absl::StrCat(", change ", stopper->change(), ", disagreement ", stopper->disagreement())
                              : ""));
  }
  return absl::OkStatus();
}

void Agent::Impl::PublishEstimate(bool force) {
  const Clock::time_point now = Clock::now();
  if (!force && now < next_publish) return;
  next_publish = now + std::chrono::milliseconds(100);
  const Vector& x = program->x();
  const double scale = std::max(1.0, x.norm());
  double change = 0.0, disagreement = 0.0;
  if (stopper != nullptr) {
    change = stopper->change();
    disagreement = stopper->disagreement();
  } else {
    change = published_x.size() == x.size() ? (x - published_x).norm() / scale : 0.0;
    for (const auto& [j, xj] : latest) {
      if (xj.size() == x.size()) disagreement = std::max(disagreement, (x - xj).norm() / scale);
    }
  }
  published_x = x;
  const LocalProblem* local = program->local_problem();
  const double objective = local != nullptr ? local->Objective(x) : std::numeric_limits<double>::quiet_NaN();
  std::lock_guard lock(public_state.mu);
  public_state.change = change;
  public_state.disagreement = disagreement;
  public_state.primal_residual = stopper != nullptr ? stopper->primal_residual() : 0.0;
  public_state.dual_residual = stopper != nullptr ? stopper->dual_residual() : 0.0;
  public_state.rho = stopper != nullptr ? stopper->penalty() : options.settings.dadmm.rho;
  public_state.computation_iterations = program->computation_iterations();
  public_state.objective = objective;
  public_state.dimension = static_cast<std::uint64_t>(x.size());
  public_state.x_norm = x.norm();
  public_state.x_head.assign(x.data(), x.data() + std::min<Eigen::Index>(x.size(), 8));
}

absl::Status Agent::Impl::Handle(Incoming in) {
  switch (in.message.body_case()) {
    case pb::PeerMessage::kHello:
      return HandleHello(in);
    case pb::PeerMessage::kColour:
      return HandleColour(in);
    case pb::PeerMessage::kMaxima:
      return HandleMaxima(in);
    case pb::PeerMessage::kEstimate:
      return HandleEstimate(in);
    default:
      Reject(in, "an empty message");
      return absl::OkStatus();
  }
}

std::string Agent::Impl::DescribeWait() const {
  std::vector<NodeId> awaited;
  std::string what;
  if (program != nullptr) {
    awaited = program->awaited();
  } else {
    for (const auto& [j, link] : links) {
      if (!greeted.contains(j)) awaited.push_back(j);
    }
    what = awaited.empty() ? "" : "hello from ";
    if (awaited.empty()) {
      awaited = colouring->awaited();
      what = "colour from ";
    }
  }
  std::vector<std::string> parts;
  for (NodeId j : awaited) parts.push_back(absl::StrCat(j, links.at(j)->connected() ? "" : " (not connected)"));
  return parts.empty() ? "" : absl::StrCat(what, absl::StrJoin(parts, ", "));
}

absl::Status Agent::Impl::Fail(absl::Status error) {
  log.Info(absl::StrCat("FAILED: ", error.message()));
  {
    std::lock_guard lock(public_state.mu);
    public_state.state = pb::AGENT_STATE_FAILED;
    public_state.error = std::string(error.message());
  }
  public_state.changed.notify_all();
  // What is queued (our hello first) still goes out, so that the neighbours see the same mismatch.
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(5);
  for (auto& [j, link] : links) link->BeginClose();
  for (auto& [j, link] : links) link->FinishClose(deadline);
  return error;
}

absl::Status Agent::Impl::WriteResult(double wall_seconds) {
  const CountersSnapshot c = counters.Snapshot();
  const LinkCounters total = c.algorithm.Total();
  const LinkCounters boot = c.bootstrap.Total();
  pb::AgentResult r;
  r.set_node_id(options.node_id);
  r.set_algorithm(AlgorithmName(options.settings.algorithm));
  r.set_problem(problem_kind);
  r.set_beta(options.problem.beta);
  r.set_sigma(options.problem.sigma);
  r.set_delta(options.problem.delta);
  r.set_lambda(options.problem.lambda);
  r.set_svm_c(options.problem.svm_c);
  r.set_box(options.problem.box);
  r.set_pgr(options.problem.pgr);
  r.set_fista_step(options.problem.fista_step);
  r.set_logreg_solver(options.problem.logreg_solver);
  r.set_features(options.problem.features);
  r.set_computation_iterations(program->computation_iterations());
  if (options.settings.algorithm == Algorithm::kIcAdmm) r.set_ic_beta(options.settings.ic_beta);
  if (const auto* lasso = dynamic_cast<const LassoDualProblem*>(program->local_problem()); lasso != nullptr) {
    const Vector block = lasso->RecoverBlock(program->x());
    for (Eigen::Index i = 0; i < block.size(); ++i) r.add_primal_block(block[i]);
  }
  r.set_topology_name(topology.name());
  r.set_colour(colouring->colour());
  std::uint32_t colours = colouring->colour();
  for (std::uint32_t k : colouring->neighbour_colours()) colours = std::max(colours, k);
  r.set_colours(colours);
  r.set_colouring_rounds(colouring->rounds());
  r.set_iterations(program->steps());
  r.set_outcome(program->outcome() == Outcome::kStopped ? "stopped" : "max-iterations");
  for (Eigen::Index i = 0; i < program->x().size(); ++i) r.add_x(program->x()[i]);
  r.set_messages_sent(total.messages_sent);
  r.set_messages_received(total.messages_received);
  r.set_payload_bytes_sent(total.payload_bytes_sent);
  r.set_payload_bytes_received(total.payload_bytes_received);
  std::uint64_t mb_sent = 0, mb_received = 0;
  for (const auto& [id, wb] : c.message_bytes) {
    mb_sent += wb.sent;
    mb_received += wb.received;
  }
  r.set_message_bytes_sent(mb_sent);
  r.set_message_bytes_received(mb_received);
  r.set_bootstrap_messages_sent(boot.messages_sent);
  r.set_bootstrap_messages_received(boot.messages_received);
  r.set_bootstrap_bytes_sent(boot.payload_bytes_sent);
  r.set_bootstrap_bytes_received(boot.payload_bytes_received);
  std::map<NodeId, std::uint32_t> neighbour_colours;
  {
    std::lock_guard lock(public_state.mu);
    neighbour_colours = public_state.neighbour_colours;
  }
  FillNeighbourCounters(c, neighbour_colours, r.mutable_neighbours(), topology.neighbours(options.node_id));
  *r.mutable_energy() = FillEnergy(c, topology, options.node_id, options.radio, r.mutable_neighbours());
  r.set_wall_seconds(wall_seconds);
  r.set_algorithm_seconds(std::chrono::duration<double>(algorithm_finished - algorithm_started).count());
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  r.set_peak_rss_kib(static_cast<std::uint64_t>(usage.ru_maxrss));  // KiB on Linux
  r.set_rho(options.settings.dadmm.rho);
  r.set_tolerance(options.settings.tolerance);
  r.set_eps_abs(options.settings.eps_abs);
  r.set_eps_rel(options.settings.eps_rel);
  r.set_vary_rho_every(options.settings.vary_rho_every);
  r.set_vary_rho_votes(options.settings.vary_rho_votes);
  r.set_vary_rho_mu(options.settings.vary_rho_mu);
  r.set_vary_rho_tau(options.settings.vary_rho_tau);
  r.set_max_iterations(options.settings.dadmm.max_iterations);
  if (stopper != nullptr) {
    r.set_change(stopper->change());
    r.set_disagreement(stopper->disagreement());
    r.set_final_rho(stopper->penalty());
    r.set_rho_changes(stopper->penalty_changes());
    r.set_primal_residual(stopper->primal_residual());
    r.set_dual_residual(stopper->dual_residual());
  }
  r.set_rejected_messages(c.rejected);

  const int shown = std::min(r.x_size(), 8);
  std::cout << "node " << options.node_id << ": " << r.outcome() << " after " << program->steps() << " steps, colour "
            << r.colour() << ", x = [" << absl::StrJoin(r.x().begin(), r.x().begin() + shown, ", ")
            << (r.x_size() > shown ? absl::StrCat(", ... (", r.x_size(), " entries)") : "") << "], messages sent "
            << total.messages_sent << ", received " << total.messages_received << ", payload bytes sent "
            << total.payload_bytes_sent << "; bootstrap messages sent " << boot.messages_sent << ", bytes "
            << boot.payload_bytes_sent << std::endl;
  if (options.output_path.empty()) return absl::OkStatus();

  google::protobuf::util::JsonPrintOptions json;
  json.add_whitespace = true;
  json.always_print_primitive_fields = true;
  std::string text;
  if (auto s = google::protobuf::util::MessageToJsonString(r, &text, json); !s.ok()) {
    return absl::InternalError(absl::StrCat("cannot encode result: ", s.ToString()));
  }
  // Written to a temporary file and renamed, so a reader never sees half a result.
  const std::string tmp = options.output_path + ".tmp";
  {
    std::ofstream out(tmp);
    out << text;
    out.close();
    if (!out) return absl::PermissionDeniedError(absl::StrCat(tmp, ": cannot write result"));
  }
  if (std::rename(tmp.c_str(), options.output_path.c_str()) != 0) {
    return absl::PermissionDeniedError(absl::StrCat(options.output_path, ": cannot write result"));
  }
  log.Info(absl::StrCat("result written to ", options.output_path));
  return absl::OkStatus();
}

absl::Status Agent::Impl::Run() {
  const Clock::time_point started = Clock::now();
  const NodeId self = options.node_id;
  if (!topology.Contains(self)) {
    return absl::NotFoundError(absl::StrCat("node ", self, " is not in the topology"));
  }
  if (absl::Status s = options.settings.Validate(); !s.ok()) return s;
  // What neighbours must agree on about the agreed stop (empty: a fixed number of steps).
  const std::string stop_rule = options.settings.agreed_stop() ? options.settings.stop_rule(topology).Describe() : "";
  {
    std::lock_guard lock(public_state.mu);
    public_state.problem = options.problem.Describe();
    public_state.algorithm = AlgorithmName(options.settings.algorithm);
    public_state.max_iterations = options.settings.dadmm.max_iterations;
    public_state.rho = options.settings.dadmm.rho;
    public_state.stop_rule = stop_rule;
    public_state.tolerance = options.settings.tolerance;
  }
  hello = Hello{.node_id = self,
                .protocol_version = kProtocolVersion,
                .topology_fingerprint = TopologyFingerprint(topology),
                .degree = topology.degree(self),
                .dimension = dimension,
                .problem = options.problem.Describe(),
                .algorithm = DescribeAlgorithm({.algorithm = options.settings.algorithm,
                                                .rho = options.settings.dadmm.rho,
                                                .beta = options.settings.ic_beta}),
                .rho = options.settings.dadmm.rho,
                .max_iterations = options.settings.dadmm.max_iterations,
                .tolerance = options.settings.tolerance,
                .stop_rule = stop_rule,
                .arithmetic = ArithmeticProfile()};
  colouring =
      MakeColouringProtocol(topology, ChainPriorities(topology), self, kColouringPasses, DiameterBound(topology));

  PeerService peer_service(topology, self, &inbox, &counters, &log);
  StatusService status_service(topology, self, options.radio, &public_state, &counters);
  grpc::ServerBuilder builder;
  ConfigureServer(builder);
  int bound_port = 0;
  builder.AddListeningPort(options.listen_address, grpc::InsecureServerCredentials(), &bound_port);
  builder.RegisterService(&peer_service);
  builder.RegisterService(&status_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || bound_port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen_address, " (address in use or not local?)"));
  }
  log.Info(absl::StrCat("listening on ", options.listen_address, "; ", topology.degree(self),
                        " neighbour(s); topology ", hello.topology_fingerprint.substr(0, 12),
                        "...; handshake and "
                        "colouring with the neighbours first"));

  for (NodeId j : topology.neighbours(self)) {
    links[j] = std::make_unique<PeerLink>(j, topology.node(j).address, &counters, &log);
    links[j]->Start();
  }
  auto shutdown = [&] { server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1)); };

  // The hello goes first on every stream; then this node's first colour announcement, if it decides
  // at once. Colour messages from a neighbour are taken only after its hello.
  {
    pb::PeerMessage m;
    pb::Hello* h = m.mutable_hello();
    h->set_sender(self);
    h->set_protocol_version(hello.protocol_version);
    h->set_topology_fingerprint(hello.topology_fingerprint);
    h->set_degree(hello.degree);
    h->set_dimension(hello.dimension);
    h->set_algorithm(hello.algorithm);
    h->set_problem(hello.problem);
    h->set_rho(hello.rho);
    h->set_max_iterations(hello.max_iterations);
    h->set_tolerance(hello.tolerance);
    h->set_stop_rule(hello.stop_rule);
    h->set_arithmetic(hello.arithmetic);
    SendToAll(m);
    ColouringOutput out;
    if (absl::Status s = colouring->Start(out); !s.ok()) {
      shutdown();
      return Fail(s);
    }
    SendColours(out);
    if (colouring->complete()) {  // no neighbours
      if (absl::Status s = StartProgram(); !s.ok()) {
        shutdown();
        return Fail(s);
      }
    }
  }
  if (program == nullptr) SetState(pb::AGENT_STATE_COLOURING, 0, DescribeWait());

  std::string last_wait = DescribeWait();
  Clock::time_point waiting_since = Clock::now();
  Clock::time_point next_wait_log = waiting_since + std::chrono::seconds(5);
  while (!(program != nullptr && program->done()) && !stop_requested) {
    std::optional<Incoming> in = inbox.Pop(std::chrono::milliseconds(500));
    if (in.has_value()) {
      if (absl::Status s = Handle(*std::move(in)); !s.ok()) {
        absl::Status failed = Fail(s);
        shutdown();
        return failed;
      }
    }
    const std::string wait = DescribeWait();
    const std::uint64_t steps = program != nullptr ? program->steps() : 0;
    if (wait != last_wait) {
      last_wait = wait;
      waiting_since = Clock::now();
      next_wait_log = waiting_since + std::chrono::seconds(5);
    } else if (!wait.empty() && Clock::now() >= next_wait_log) {
      const auto waited = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - waiting_since).count();
      log.Info(absl::StrCat(program != nullptr ? absl::StrCat("iteration ", steps + 1, ": ") : "", "waiting for ", wait,
                            " for ", waited, " s"));
      next_wait_log = Clock::now() + std::chrono::seconds(waited < 30 ? 5 : 30);
    }
    SetState(program != nullptr ? pb::AGENT_STATE_RUNNING : pb::AGENT_STATE_COLOURING, steps, wait);
  }

  if (program == nullptr || !program->done()) {
    const std::uint64_t steps = program != nullptr ? program->steps() : 0;
    log.Info(absl::StrCat("stopping at iteration ", steps, " on request, before finishing"));
    SetState(pb::AGENT_STATE_FAILED, steps, "");
    for (auto& [j, link] : links) link->Abort();
    shutdown();
    return absl::CancelledError(absl::StrCat("stopped at iteration ", steps, " before finishing"));
  }

  log.Info(absl::StrCat(program->outcome() == Outcome::kStopped ? "agreed stop: every node's test held; " : "",
                        "finished ", program->steps(), " iterations; sending the last estimates"));
  algorithm_finished = Clock::now();
  PublishEstimate(/*force=*/true);
  SetState(pb::AGENT_STATE_RUNNING, program->steps(), "");
  // Flush every link (its last messages are what the neighbours still need), then give the
  // neighbours time to finish and close their streams to us before the server goes away. DONE once
  // the links are flushed, so that Status then shows the final counts.
  const Clock::time_point deadline = Clock::now() + options.linger;
  for (auto& [j, link] : links) link->BeginClose();
  for (auto& [j, link] : links) link->FinishClose(deadline);
  SetState(pb::AGENT_STATE_DONE, program->steps(), "");
  if (!peer_service.WaitAllClosed(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()))) {
    log.Info("some neighbours still have streams open after the linger time; closing anyway");
  }
  const double wall = std::chrono::duration<double>(Clock::now() - started).count();
  absl::Status written = WriteResult(wall);
  if (options.hold > std::chrono::milliseconds(0) && written.ok()) {
    log.Info(absl::StrCat("answering Status for ", absl::FormatDuration(absl::FromChrono(options.hold)),
                          " more (--hold_seconds)"));
    const Clock::time_point hold_until = Clock::now() + options.hold;
    while (Clock::now() < hold_until && !stop_requested) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  shutdown();
  return written;
}

}  // namespace dadmm::agent
