#include "agent/agent.h"

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "agent/channel_args.h"
#include "agent/checkpoint_file.h"
#include "agent/counters.h"
#include "agent/local_solver_client.h"
#include "agent/log.h"
#include "agent/metrics.h"
#include "agent/peer_transport.h"
#include "agent/result_writer.h"
#include "agent/status_service.h"
#include "agent/wire.h"
#include "common/base/portable_float.h"
#include "common/programs/edge_penalties.h"
#include "coordinator-free-bootstrap/node_session.h"
#include "dadmm/proto/dadmm.grpc.pb.h"

namespace dadmm::agent {

std::string DefaultListenAddress(const std::string& topology_address) {
  const std::size_t colon = topology_address.rfind(':');
  std::string host = topology_address.substr(0, colon);
  const std::string port = topology_address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') return topology_address;  // IPv6 literal
  in_addr v4{};
  if (host == "localhost" || inet_pton(AF_INET, host.c_str(), &v4) == 1) return topology_address;
  return absl::StrCat("0.0.0.0:", port);
}

absl::StatusOr<std::map<NodeId, std::string>> ParseDialFlag(const std::string& value, const Topology& topology,
                                                            NodeId self) {
  std::map<NodeId, std::string> dial;
  if (value.empty()) return dial;
  for (absl::string_view entry : absl::StrSplit(value, ',')) {
    const std::size_t eq = entry.find('=');
    std::uint32_t id = 0;
    if (eq == absl::string_view::npos || !absl::SimpleAtoi(entry.substr(0, eq), &id)) {
      return absl::InvalidArgumentError(absl::StrCat("'", entry, "' is not ID=HOST:PORT"));
    }
    const absl::string_view address = entry.substr(eq + 1);
    const std::size_t colon = address.rfind(':');
    std::uint32_t port = 0;
    if (colon == absl::string_view::npos || colon == 0 || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
        port == 0 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("'", address, "' (for node ", id, ") is not HOST:PORT"));
    }
    const std::vector<NodeId>& neighbours = topology.neighbours(self);
    if (std::find(neighbours.begin(), neighbours.end(), id) == neighbours.end()) {
      return absl::InvalidArgumentError(absl::StrCat("node ", id, " is not a neighbour of node ", self));
    }
    if (!dial.emplace(id, std::string(address)).second) {
      return absl::InvalidArgumentError(absl::StrCat("node ", id, " is named twice"));
    }
  }
  return dial;
}

absl::StatusOr<std::string> HelloBytes(const Topology& topology, std::unique_ptr<LocalProblem> problem,
                                       const AgentOptions& options) {
  absl::StatusOr<std::unique_ptr<NodeSession>> session =
      NodeSession::Create(topology, options.node_id, std::move(problem), options.problem.Parameters(), options.settings,
                          ArithmeticProfile());
  if (!session.ok()) return session.status();
  return ToWire((*session)->hello()).hello().SerializeAsString();
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
    case pb::PeerMessage::kFinished:
      cost.bootstrap_messages = 1;
      cost.bootstrap_bytes = kFinishedBytes;
      break;
    default:
      break;
  }
  return cost;
}

// The agent around its session (coordinator-free-bootstrap/node_session.h): gRPC streams in and out,
// counters, logs and what Status shows. Everything the run decides, the session decides.
struct Agent::Impl {
  Topology topology;
  std::unique_ptr<LocalProblem> problem;  // moved into the session at Run
  std::string problem_kind;
  AgentOptions options;
  Logger log;
  std::atomic<bool> stop_requested{false};
  SharedCounters counters;
  PublicState public_state;

  // The run, owned by the algorithm thread (the transport's Wake and Liveness excepted).
  std::unique_ptr<PeerTransport> transport;
  std::unique_ptr<NodeSession> session;
  StatusService* status = nullptr;  // served on the transport's queue, by this thread
  SessionOutput out;                // what the session asked for in the last call
  std::map<NodeId, Vector> latest;  // the latest estimate from each neighbour (Status residuals)
  Vector published_x;               // x_p when Status last saw it
  Clock::time_point next_publish{};
  Clock::time_point algorithm_started{}, algorithm_finished{};
  // --history: the points so far, the stride between them, and x_p of the step before.
  std::vector<pb::HistoryPoint> history;
  std::uint32_t history_stride = 1;
  Vector history_x;

  Impl(Topology t, std::unique_ptr<LocalProblem> p, AgentOptions o)
      : topology(std::move(t)),
        problem(std::move(p)),
        problem_kind(problem->kind()),
        options(std::move(o)),
        log(options.node_id) {
    std::map<NodeId, std::string> addresses;
    for (NodeId j : topology.neighbours(options.node_id)) {
      auto dial = options.dial.find(j);
      addresses[j] = dial != options.dial.end() ? dial->second : topology.node(j).address;
    }
    transport = std::make_unique<PeerTransport>(topology, options.node_id, addresses, options.tls, &counters, &log);
  }

  // Before the program: CONNECTING until every neighbour's hello is in (some may not be up yet),
  // then COLOURING (the colouring protocol, and estimates that come early).
  pb::AgentState BootstrapState() const {
    return session->awaited().what == "hello" ? pb::AGENT_STATE_CONNECTING : pb::AGENT_STATE_COLOURING;
  }

  void SetState(pb::AgentState s, std::uint64_t iteration, std::string waiting_for) {
    {
      std::lock_guard lock(public_state.mu);
      public_state.state = s;
      public_state.iteration = iteration;
      public_state.waiting_for = std::move(waiting_for);
      for (NodeId j : topology.neighbours(options.node_id)) {
        // Connected: both streams of the edge are up (ours to j, and j's to us).
        const PeerTransport::Liveness live = transport->LivenessOf(j);
        NeighbourLiveness& l = public_state.liveness[j];
        l.connected = live.connected;
        l.changed = live.changed;
      }
    }
    if (status != nullptr && (s == pb::AGENT_STATE_DONE || s == pb::AGENT_STATE_FAILED)) status->StateIsFinal();
  }
  // --history: this step as a point, when the stride says so; a full history drops every other point
  // and doubles the stride.
  void RecordHistory();
  // What Status shows of the estimate: residuals, f_p(x_p), a summary of x_p. At most ten times a
  // second (f_p can cost as much as a step), and at the end (`force`).
  void PublishEstimate(bool force);
  void Heard(NodeId j, std::uint64_t label) {
    std::lock_guard lock(public_state.mu);
    NeighbourLiveness& l = public_state.liveness[j];
    l.last_heard = Clock::now();
    l.last_label = std::max(l.last_label, label);
  }
  void SendToAll(const pb::PeerMessage& m) { transport->SendToAll(m); }
  void Reject(NodeId sender, const std::string& peer, absl::string_view why) {
    // Once per neighbour and kind (the text without its numbers), then counted only.
    std::string kind;
    for (char c : why) {
      if (c < '0' || c > '9') kind.push_back(c);
    }
    transport->Reject(absl::StrCat("node ", sender), kind,
                      absl::StrCat("rejected a message from node ", sender, " (peer ", peer, "): ", why));
  }

  // Counts the estimates the session's last call emitted (once each: its checkpoint holds the counts).
  void CountEmitted();
  // With --state_dir: the checkpoint (the session's, and the counters'), before what the session's
  // last call emitted is sent.
  absl::Status Persist();
  // Carries out what the session asked for in its last call (`peer`: whose message it handled).
  void Carry(const std::string& peer, bool was_running, std::uint64_t steps_before);
  absl::Status Handle(const Incoming& in);
  std::string DescribeWait(const NodeSession::Wait& wait);
  std::string DescribeWaitFor(NodeId j);  // "" if connected, else " (not connected for 12 s, ...)"
  absl::Status Fail(absl::Status error);
  // --neighbour_timeout ran out for neighbour j: the result with the last iterate (the caller shuts down).
  absl::Status NeighbourLost(NodeId j, Clock::time_point started);
  // The result record as the run stands (`outcome` empty: the program's own).
  absl::Status Write(Clock::time_point started, std::string outcome = "");
  absl::Status Run();
};

Agent::Agent(Topology topology, std::unique_ptr<LocalProblem> problem, AgentOptions options)
    : impl_(std::make_unique<Impl>(std::move(topology), std::move(problem), std::move(options))) {}
Agent::~Agent() = default;

void Agent::Stop() {
  impl_->stop_requested = true;
  impl_->transport->Wake();
}

absl::Status Agent::Run() { return impl_->Run(); }

void Agent::Impl::CountEmitted() {
  for (const Broadcast& b : out.estimates) {
    counters.RecordBroadcast(ToWire(options.node_id, b).ByteSizeLong());
    for (NodeId j : topology.neighbours(options.node_id)) {
      counters.RecordEmitted(j, sizeof(double) * static_cast<std::uint64_t>(b.x.size()));
    }
  }
}

absl::Status Agent::Impl::Persist() {
  // Before what the call emitted is sent, and before a neighbour's end message is acknowledged.
  if (options.state_dir.empty() || !session->checkpoint_due() || !(out.sends() || session->end_unsaved())) {
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> session_bytes = session->Checkpoint();
  if (!session_bytes.ok()) return session_bytes.status();
  StateWriter w;
  w.Bytes(*session_bytes);
  StateWriter counted;
  counters.Save(counted);
  w.Bytes(counted.bytes());
  return WriteCheckpointFile(options.state_dir, options.node_id, w.bytes());
}

void Agent::Impl::Carry(const std::string& peer, bool was_running, std::uint64_t steps_before) {
  const NodeId self = options.node_id;
  for (const Hello& h : out.hellos) SendToAll(ToWire(h));
  for (const ColourAnnouncement& a : out.colouring.announcements) SendToAll(ToWire(self, a));
  for (const ColourMaxima& x : out.colouring.maxima) SendToAll(ToWire(self, x));
  for (const Rejection& r : out.rejections) Reject(r.sender, peer, r.why);
  for (const std::string& note : out.notes) log.Info(note);
  const NodeProgram* program = session->program();
  if (program != nullptr && !was_running) {
    SetState(pb::AGENT_STATE_RUNNING, 0, "");
    algorithm_started = Clock::now();
  }
  for (const SessionOutput::BootstrapResend& r : out.bootstrap_resends) {
    std::visit(
        [&](const auto& m) {
          if constexpr (std::is_same_v<std::decay_t<decltype(m)>, Hello>) {
            transport->SendTo(r.to, ToWire(m));
          } else {
            transport->SendTo(r.to, ToWire(self, m));
          }
        },
        r.message);
  }
  for (const Broadcast& b : out.estimates) SendToAll(ToWire(self, b));
  for (const SessionOutput::Resend& r : out.resends) transport->SendTo(r.to, ToWire(self, r.estimate));
  if (out.finished.has_value()) SendToAll(ToWire(*out.finished));
  for (NodeId j : out.finished_resends) transport->SendTo(j, ToWire(session->end_message()));
  // The colour is final only once the protocol's last pass is done, which may emit nothing: the
  // program's start shows it too.
  if (!out.colouring.empty() || (program != nullptr && !was_running)) {
    std::lock_guard lock(public_state.mu);
    public_state.colour = session->colouring().colour();
    public_state.neighbour_colours = session->known_colours();
  }
  out.clear();
  if (program == nullptr || program->steps() == steps_before) return;
  if (options.history > 0) RecordHistory();
  PublishEstimate(/*force=*/false);
  if (options.log_iterations) {
    const std::optional<StopDiagnostics> stop = program->stop_diagnostics();
    log.Info(absl::StrCat(
        "iteration ", program->steps(), " done, x[0] = ", program->x()[0],
        stop.has_value() ? absl::StrCat(", change ", stop->change, ", disagreement ", stop->disagreement) : ""));
  }
}

absl::Status Agent::Impl::Handle(const Incoming& in) {
  const NodeProgram* program = session->program();
  const bool was_running = program != nullptr;
  const bool was_done = session->done();
  const std::uint64_t steps_before = was_running ? program->steps() : 0;
  const std::uint64_t duplicates_before = session->duplicates();
  absl::Status status = ReceiveWire(*session, in.sender, in.message, out);
  std::uint64_t label = 0;
  if (in.message.has_estimate()) {
    label = in.message.estimate().iteration();
    if (out.rejections.empty()) latest[in.sender] = FromWire(in.message.estimate()).x;
  }
  // Counted when taken (a message refused is counted as rejected instead); a handshake that fails
  // is counted too, as it was received in full.
  if (session->duplicates() != duplicates_before) {
    counters.RecordDuplicate(in.sender);  // a resend after a restart: heard already
  } else if (out.rejections.empty()) {
    counters.RecordReceived(in.sender, CostOf(in.message), in.message_bytes);
    Heard(in.sender, label);
  }
  if (options.fault_exit_when_done && !was_done && session->done() && session->incarnation() == 0) {
    log.Info(
        absl::StrCat("finished ", session->program()->steps(), " iterations: exiting now (--fault_exit_when_done)"));
    std::_Exit(137);
  }
  CountEmitted();
  if (status.ok()) status = Persist();
  // Acknowledged only once taken and written down (the acks ride on what Carry sends).
  if (status.ok()) transport->Taken(in);
  Carry(in.peer, was_running, steps_before);
  return status;
}

std::string Agent::Impl::DescribeWaitFor(NodeId j) {
  const PeerTransport::Liveness live = transport->LivenessOf(j);
  if (live.connected) return "";
  std::uint64_t label = 0;
  {
    std::lock_guard lock(public_state.mu);
    auto l = public_state.liveness.find(j);
    if (l != public_state.liveness.end()) label = l->second.last_label;
  }
  const auto since = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - live.changed).count();
  return absl::StrCat(" (not connected for ", since, " s",
                      label > 0 ? absl::StrCat(", last heard iteration ", label) : "", ")");
}

std::string Agent::Impl::DescribeWait(const NodeSession::Wait& wait) {
  std::vector<std::string> parts;
  for (NodeId j : wait.nodes) parts.push_back(absl::StrCat(j, DescribeWaitFor(j)));
  if (parts.empty()) return "";
  // The program's wait is shown as the nodes alone.
  return absl::StrCat(wait.what == "estimate" ? "" : wait.what + " from ", absl::StrJoin(parts, ", "));
}

void Agent::Impl::RecordHistory() {
  const NodeProgram* program = session->program();
  const Vector& x = program->x();
  const std::uint64_t step = program->steps();
  if (step % history_stride == 0) {
    const double scale = std::max(1.0, x.norm());
    pb::HistoryPoint p;
    p.set_iteration(step);
    p.set_seconds(std::chrono::duration<double>(Clock::now() - algorithm_started).count());
    p.set_change(history_x.size() == x.size() ? (x - history_x).norm() / scale : 0.0);
    double disagreement = 0.0;
    for (const auto& [j, xj] : latest) {
      if (xj.size() == x.size()) disagreement = std::max(disagreement, (x - xj).norm() / scale);
    }
    p.set_disagreement(disagreement);
    const std::optional<StopDiagnostics> stop = program->stop_diagnostics();
    p.set_primal_residual(stop.has_value() ? stop->primal_residual : 0.0);
    p.set_dual_residual(stop.has_value() ? stop->dual_residual : 0.0);
    p.set_rho(PenaltyNow(*program, stop, options.settings.dadmm.rho));
    const LocalProblem* local = program->local_problem();
    p.set_objective(local != nullptr ? local->Objective(x) : std::numeric_limits<double>::quiet_NaN());
    const CountersSnapshot c = counters.Snapshot();
    p.set_messages_sent(c.algorithm.Total().messages_sent);
    std::uint64_t bytes = 0;
    for (const auto& [j, w] : c.message_bytes) bytes += w.sent;
    p.set_message_bytes_sent(bytes);
    google::protobuf::RepeatedPtrField<pb::NeighbourCounters> links;
    FillNeighbourCounters(c, {}, &links, topology.neighbours(options.node_id));
    const pb::Energy energy = FillEnergy(c, topology, options.node_id, options.radio, &links);
    p.set_energy_joules(energy.sent() + energy.received());
    history.push_back(std::move(p));
    while (history.size() > options.history) {
      history_stride *= 2;
      std::erase_if(history, [&](const pb::HistoryPoint& h) { return h.iteration() % history_stride != 0; });
    }
  }
  history_x = x;
}

void Agent::Impl::PublishEstimate(bool force) {
  const Clock::time_point now = Clock::now();
  if (!force && now < next_publish) return;
  next_publish = now + std::chrono::milliseconds(100);
  const NodeProgram* program = session->program();
  const std::optional<StopDiagnostics> stop = program->stop_diagnostics();
  const Vector& x = program->x();
  const double scale = std::max(1.0, x.norm());
  double change = 0.0, disagreement = 0.0;
  if (stop.has_value()) {
    change = stop->change;
    disagreement = stop->disagreement;
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
  public_state.primal_residual = stop.has_value() ? stop->primal_residual : 0.0;
  public_state.dual_residual = stop.has_value() ? stop->dual_residual : 0.0;
  public_state.rho = PenaltyNow(*program, stop, options.settings.dadmm.rho);
  if (const EdgePenalties* edges = program->edge_penalties(); edges != nullptr && edges->adaptive()) {
    // The program holds its edges in the order of the neighbours' ids.
    std::vector<NodeId> ids = topology.neighbours(options.node_id);
    std::sort(ids.begin(), ids.end());
    for (std::size_t i = 0; i < ids.size(); ++i) public_state.edge_rho[ids[i]] = edges->rho(i);
  }
  public_state.computation_iterations = program->computation_iterations();
  const NodeProgram::SolveCounts solves = program->local_solves();
  public_state.local_solves = solves.solves;
  public_state.local_solves_capped = solves.capped;
  public_state.objective = objective;
  public_state.dimension = static_cast<std::uint64_t>(x.size());
  public_state.x_norm = x.norm();
  public_state.x_head.assign(x.data(), x.data() + std::min<Eigen::Index>(x.size(), 8));
}

absl::Status Agent::Impl::Fail(absl::Status error) {
  log.Info(absl::StrCat("FAILED: ", error.message()));
  {
    std::lock_guard lock(public_state.mu);
    public_state.state = pb::AGENT_STATE_FAILED;
    public_state.error = std::string(error.message());
  }
  if (status != nullptr) status->StateIsFinal();
  // What is queued (our hello first) still goes out, so that the neighbours see the same mismatch.
  transport->BeginClose();
  transport->Linger(Clock::now() + std::chrono::seconds(5), /*links_only=*/true);
  return error;
}

absl::Status Agent::Impl::Write(Clock::time_point started, std::string outcome) {
  return WriteResult(
      {.options = options,
       .topology = topology,
       .session = *session,
       .problem_kind = problem_kind,
       .counters = counters.Snapshot(),
       .wall_seconds = std::chrono::duration<double>(Clock::now() - started).count(),
       .algorithm_seconds = std::chrono::duration<double>(algorithm_finished - algorithm_started).count(),
       .outcome = std::move(outcome),
       .history = &history,
       .history_stride = history_stride},
      log);
}

absl::Status Agent::Impl::NeighbourLost(NodeId j, Clock::time_point started) {
  const NodeProgram* program = session->program();
  const std::uint64_t steps = program != nullptr ? program->steps() : 0;
  const std::string why =
      absl::StrCat("neighbour ", j, " lost:", DescribeWaitFor(j), " while this node waited for it ",
                   program != nullptr ? absl::StrCat("at iteration ", steps + 1) : std::string("in the bootstrap"),
                   " (--neighbour_timeout=", absl::FormatDuration(absl::FromChrono(options.neighbour_timeout)), ")");
  log.Info(why);
  {
    std::lock_guard lock(public_state.mu);
    public_state.state = pb::AGENT_STATE_FAILED;
    public_state.error = why;
  }
  if (status != nullptr) status->StateIsFinal();
  absl::Status written = absl::OkStatus();
  if (program != nullptr) {
    algorithm_finished = Clock::now();
    PublishEstimate(/*force=*/true);
    written = Write(started, "neighbour-lost");
  }
  if (!written.ok()) return written;
  return absl::DeadlineExceededError(absl::StrCat(
      why, program != nullptr ? "; the result holds the last iterate" : "; no iterate yet, no result written"));
}

absl::Status Agent::Impl::Run() {
  const Clock::time_point started = Clock::now();
  const NodeId self = options.node_id;
  // A local solver outside the process (--problem=external): the session owns it from here on.
  ExternalProblem* const external = dynamic_cast<ExternalProblem*>(problem.get());
  absl::StatusOr<std::unique_ptr<NodeSession>> made = NodeSession::Create(
      topology, self, std::move(problem), options.problem.Parameters(), options.settings, ArithmeticProfile());
  if (!made.ok()) return made.status();
  session = *std::move(made);
  // A checkpoint in --state_dir: resume from it (the next incarnation), else start afresh.
  std::optional<std::string> checkpoint;
  if (!options.state_dir.empty()) {
    absl::StatusOr<std::optional<std::string>> read = ReadCheckpointFile(options.state_dir, self);
    if (!read.ok()) return Fail(read.status());
    checkpoint = *std::move(read);
  }
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

  StatusService status_service(topology, self, options.radio, &public_state, &counters, options.tls, &log);
  // Metrics are read from what Status reads, on the exposer's own threads; it stops before those go.
  const StatusSource metrics_source(topology, self, options.radio, &public_state, &counters);
  std::unique_ptr<MetricsServer> metrics;
  if (!options.metrics_address.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsServer>> started_metrics =
        MetricsServer::Start(options.metrics_address, &metrics_source);
    if (!started_metrics.ok()) return started_metrics.status();
    metrics = *std::move(started_metrics);
    log.Info(absl::StrCat("Prometheus metrics on http://", options.metrics_address, "/metrics"));
  }
  grpc::ServerBuilder builder;
  ConfigureServer(builder);
  // The largest message a correct peer sends is an estimate: 8 bytes per entry of x, the agreed
  // stop's bits (one per node at most), framing. Anything larger is refused by gRPC unread.
  const std::int64_t dimension = session->hello().dimension;
  builder.SetMaxReceiveMessageSize(static_cast<int>(std::min<std::int64_t>(
      8 * dimension + 2 * static_cast<std::int64_t>(topology.size()) + 64 * 1024, std::int64_t{1} << 30)));
  int bound_port = 0;
  builder.AddListeningPort(
      options.listen_address,
      options.tls != nullptr ? options.tls->ServerCredentials() : grpc::InsecureServerCredentials(), &bound_port);
  transport->AddTo(builder);
  status_service.AddTo(builder);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  // On every way out below: the Status service stops, then the transport drains the queue and shuts
  // the server down (once; the `shutdown` below does the same earlier), before either goes.
  struct ShutdownGuard {
    Impl& impl;
    StatusService& status_service;
    grpc::Server* server;
    ~ShutdownGuard() {
      status_service.Stop();
      if (server != nullptr) impl.transport->Shutdown(server);
      impl.status = nullptr;
    }
  } shutdown_guard{*this, status_service, server.get()};
  if (server == nullptr || bound_port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen_address, " (address in use or not local?)"));
  }
  status_service.Start(transport.get());
  status = &status_service;
  log.Info(absl::StrCat("listening on ", options.listen_address, "; ", topology.degree(self),
                        " neighbour(s); topology ", session->hello().topology_fingerprint.substr(0, 12),
                        "...; handshake and "
                        "colouring with the neighbours first"));

  absl::Status begun;
  if (checkpoint.has_value()) {
    // The session's checkpoint, then the counters as they stood.
    StateReader r(*checkpoint, CheckpointPath(options.state_dir, self));
    const std::string session_bytes = r.Bytes();
    const std::string counted = r.Bytes();
    begun = r.status();
    if (begun.ok()) begun = session->Resume(session_bytes, out);
    if (begun.ok()) {
      StateReader c(counted, CheckpointPath(options.state_dir, self) + " (its counters)");
      counters.Load(c);
      begun = c.status();
    }
    if (!begun.ok()) {
      begun = absl::DataLossError(absl::StrCat(CheckpointPath(options.state_dir, self), ": ", begun.message(),
                                               " (not loaded: move it away to start this node afresh)"));
    }
  }
  transport->set_incarnation(session->incarnation());
  transport->set_hello(session->hello());
  {
    std::lock_guard lock(public_state.mu);
    public_state.incarnation = session->incarnation();
  }
  transport->Start();
  if (external != nullptr) {
    // While the local solver computes, Status and the links are served (messages stay queued).
    external->set_idle([this](Clock::time_point until) { transport->Poll(until); });
    external->set_waiting([this](const std::string& text) {
      log.Info(text.empty() ? "no longer waiting for the local solver" : absl::StrCat("waiting for ", text));
      std::lock_guard lock(public_state.mu);
      public_state.waiting_for = text;
    });
  }
  // The Status calls in flight end first (a watch's last state goes out), for half a second at most.
  auto shutdown = [&] {
    status_service.Stop();
    const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(500);
    while (status_service.open_calls() > 0 && Clock::now() < deadline) {
      transport->Poll(std::min(deadline, Clock::now() + std::chrono::milliseconds(10)));
    }
    transport->Shutdown(server.get());
  };

  // The hello goes first on every stream; then this node's first colour announcements; with no
  // neighbours, the program starts at once. Resumed: the hello of the next incarnation, and the
  // estimates the neighbours may lack.
  // A local solver that gives no valid answer (agent/local_solver_client.h) ends the run here:
  // nothing it did not compute is sent.
  auto solver_failed = [&](const LocalSolverFailed& e) {
    absl::Status failed = Fail(absl::ResourceExhaustedError(
        absl::StrCat(e.what(), "; stopping without sending anything the solver did not compute",
                     options.state_dir.empty() ? "" : " (a restart resumes from the checkpoint)")));
    shutdown();
    return failed;
  };
  if (!checkpoint.has_value()) {
    try {
      begun = session->Start(out);
    } catch (const LocalSolverFailed& e) {
      return solver_failed(e);
    }
  }
  CountEmitted();
  if (begun.ok()) begun = Persist();
  if (!begun.ok()) {
    shutdown();
    return Fail(begun);
  }
  Carry("", /*was_running=*/false, 0);
  if (session->program() == nullptr) SetState(BootstrapState(), 0, DescribeWait(session->awaited()));

  // What Status shows is refreshed at most ten times a second (and when the state changes), not per
  // message: the wait text costs a string per neighbour. Watches are told when the state is final.
  std::vector<NodeId> last_wait = session->awaited().nodes;
  std::uint64_t last_steps = 0;
  std::optional<NodeId> lost;  // --neighbour_timeout
  pb::AgentState last_state = session->program() != nullptr ? pb::AGENT_STATE_RUNNING : BootstrapState();
  Clock::time_point waiting_since = Clock::now();
  Clock::time_point next_wait_log = waiting_since + std::chrono::seconds(5);
  Clock::time_point next_status = Clock::now();
  bool finished = false;  // the program is done; the loop waits for the neighbours' end messages
  while (!session->may_exit() && !stop_requested) {
    std::optional<Incoming> in = transport->Next(Clock::now() + std::chrono::milliseconds(100));
    if (transport->refused().has_value()) {
      absl::Status failed = Fail(absl::AbortedError(*transport->refused()));
      shutdown();
      return failed;
    }
    if (transport->mismatch().has_value()) {  // the handshake failed at the neighbour
      absl::Status failed = Fail(absl::FailedPreconditionError(*transport->mismatch()));
      shutdown();
      return failed;
    }
    if (in.has_value()) {
      absl::Status s;
      try {
        s = Handle(*std::move(in));
      } catch (const LocalSolverFailed& e) {
        return solver_failed(e);
      }
      if (!s.ok()) {
        absl::Status failed = Fail(s);
        shutdown();
        return failed;
      }
    }
    const NodeProgram* program = session->program();
    if (session->done() && !finished) {
      finished = true;
      log.Info(absl::StrCat(program->outcome() == Outcome::kStopped ? "agreed stop: every node's test held; " : "",
                            "finished ", program->steps(),
                            " iterations; the last estimates and the end message sent, waiting for the "
                            "neighbours' end messages"));
      algorithm_finished = Clock::now();
      PublishEstimate(/*force=*/true);
    }
    const pb::AgentState state = program != nullptr ? pb::AGENT_STATE_RUNNING : BootstrapState();
    const Clock::time_point now = Clock::now();
    if (state == last_state && now < next_status) continue;
    next_status = now + std::chrono::milliseconds(100);
    last_state = state;
    const NodeSession::Wait awaited = session->awaited();
    const std::vector<NodeId>& wait_nodes = awaited.nodes;
    const std::string wait = DescribeWait(awaited);
    const std::uint64_t steps = program != nullptr ? program->steps() : 0;
    if (wait_nodes != last_wait || steps != last_steps) {
      last_wait = wait_nodes;
      last_steps = steps;
      waiting_since = now;
      next_wait_log = waiting_since + std::chrono::seconds(5);
    } else if (!wait.empty() && now >= next_wait_log) {
      const auto waited = std::chrono::duration_cast<std::chrono::seconds>(now - waiting_since).count();
      log.Info(absl::StrCat(program != nullptr ? absl::StrCat("iteration ", steps + 1, ": ") : "", "waiting for ", wait,
                            " for ", waited, " s"));
      next_wait_log = now + std::chrono::seconds(waited < 30 ? 5 : 30);
    }
    SetState(state, steps, wait);
    if (options.neighbour_timeout > std::chrono::milliseconds(0)) {
      for (NodeId j : wait_nodes) {
        const PeerTransport::Liveness live = transport->LivenessOf(j);
        if (!live.connected && now - live.changed >= options.neighbour_timeout) lost = j;
      }
      if (lost.has_value()) break;
    }
  }
  if (lost.has_value() && !session->done()) {
    absl::Status ended = NeighbourLost(*lost, started);
    shutdown();
    return ended;
  }
  if (lost.has_value()) {
    log.Info(absl::StrCat("node ", *lost, " sent no end message and is not connected", DescribeWaitFor(*lost),
                          " (--neighbour_timeout); this node's result is complete, ending"));
  }

  const NodeProgram* program = session->program();
  if (!session->done()) {
    const std::uint64_t steps = program != nullptr ? program->steps() : 0;
    log.Info(absl::StrCat("stopping at iteration ", steps, " on request, before finishing"));
    SetState(pb::AGENT_STATE_FAILED, steps, "");
    shutdown();
    return absl::CancelledError(absl::StrCat("stopped at iteration ", steps, " before finishing"));
  }

  if (!finished) {  // done at once (resumed from a checkpoint of a finished program, or no neighbours)
    algorithm_finished = Clock::now();
    PublishEstimate(/*force=*/true);
  }
  const bool ended = session->may_exit();
  if (ended) log.Info("every neighbour has ended: closing the links");
  SetState(pb::AGENT_STATE_RUNNING, program->steps(), "");
  // Flush every link (its last messages are what the neighbours still need), then give the
  // neighbours time to finish and close their streams to us before the server goes away. DONE once
  // the links are flushed, so that Status then shows the final counts.
  const Clock::time_point deadline = Clock::now() + options.linger;
  transport->BeginClose();
  if (!transport->Linger(deadline, /*links_only=*/true)) {
    log.Info(absl::StrCat("giving up on neighbour(s) ", absl::StrJoin(transport->Unacknowledged(), ", "),
                          " not acknowledged after the linger time"));
  }
  SetState(pb::AGENT_STATE_DONE, program->steps(), "");
  if (!transport->Linger(deadline)) {
    log.Info("some neighbours still have streams open after the linger time; closing anyway");
  }
  absl::Status written = Write(started);
  if (written.ok() && !options.state_dir.empty() && !ended) {
    log.Info(absl::StrCat("the checkpoint stays in ", options.state_dir,
                          ": a neighbour that has not ended may still need this node (restart it the same way)"));
  } else if (written.ok() && !options.state_dir.empty()) {
    // The run is over and its result written: a restart now starts a new run.
    if (absl::Status s = RemoveCheckpointFile(options.state_dir, self); !s.ok()) log.Info(std::string(s.message()));
  }
  if (options.hold > std::chrono::milliseconds(0) && written.ok()) {
    log.Info(absl::StrCat("answering Status for ", absl::FormatDuration(absl::FromChrono(options.hold)),
                          " more (--hold_seconds)"));
    const Clock::time_point hold_until = Clock::now() + options.hold;
    while (Clock::now() < hold_until && !stop_requested) {
      transport->RunUntil(std::min(hold_until, Clock::now() + std::chrono::milliseconds(50)));
    }
  }
  shutdown();
  return written;
}

}  // namespace dadmm::agent
