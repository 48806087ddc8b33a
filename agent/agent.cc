#include "agent/agent.h"

#include <arpa/inet.h>

#include <fstream>
#include <iostream>
#include <optional>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/channel_args.h"
#include "agent/counters.h"
#include "agent/inbox.h"
#include "agent/log.h"
#include "agent/peer_link.h"
#include "common/colouring.h"
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
  std::uint64_t iteration = 0;
  Vector x;
  std::uint64_t message_bytes = 0;
  std::string peer;  // transport address, for logs
};

// What Status reports; written by the algorithm thread, read by gRPC threads.
struct PublicState {
  std::mutex mu;
  pb::AgentState state = pb::AGENT_STATE_CONNECTING;
  std::uint64_t iteration = 0;
  std::string waiting_for;
};

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
    std::optional<NodeId> sender;
    std::uint64_t accepted = 0;
    pb::PeerMessage message;
    while (reader->Read(&message)) {
      std::string problem;
      if (!message.has_estimate()) {
        problem = "a message with no estimate";
      } else if (!neighbours_.contains(message.estimate().sender())) {
        problem = absl::StrCat("an estimate from node ", message.estimate().sender(), ", not a neighbour of node ",
                               self_);
      } else if (sender.has_value() && *sender != message.estimate().sender()) {
        problem = absl::StrCat("an estimate from node ", message.estimate().sender(), " on the stream of node ",
                               *sender);
      }
      if (!problem.empty()) {
        counters_->RecordRejected();
        log_->Info(absl::StrCat("rejected ", problem, " (peer ", context->peer(), ")"));
        continue;
      }
      const pb::Estimate& e = message.estimate();
      sender = e.sender();
      Incoming in{.sender = e.sender(),
                  .iteration = e.iteration(),
                  .x = Eigen::Map<const Vector>(e.x().data(), e.x_size()),
                  .message_bytes = message.ByteSizeLong(),
                  .peer = context->peer()};
      inbox_->Push(std::move(in));
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

void FillNeighbourCounters(const CountersSnapshot& c, google::protobuf::RepeatedPtrField<pb::NeighbourCounters>* out,
                           const std::vector<NodeId>& neighbours) {
  for (NodeId j : neighbours) {
    pb::NeighbourCounters* n = out->Add();
    n->set_node_id(j);
    const LinkCounters link = c.algorithm.of(j);
    n->set_messages_sent(link.messages_sent);
    n->set_messages_received(link.messages_received);
    n->set_payload_bytes_sent(link.payload_bytes_sent);
    n->set_payload_bytes_received(link.payload_bytes_received);
    auto wb = c.message_bytes.find(j);
    if (wb != c.message_bytes.end()) {
      n->set_message_bytes_sent(wb->second.sent);
      n->set_message_bytes_received(wb->second.received);
    }
  }
}

class StatusService final : public pb::Status::Service {
 public:
  StatusService(NodeId self, std::uint32_t colour, std::vector<NodeId> neighbours, PublicState* state,
                const SharedCounters* counters)
      : self_(self), colour_(colour), neighbours_(std::move(neighbours)), state_(state), counters_(counters) {}

  grpc::Status GetStatus(grpc::ServerContext*, const pb::StatusRequest*, pb::StatusReply* reply) override {
    reply->set_node_id(self_);
    reply->set_colour(colour_);
    reply->set_version(DADMM_VERSION);
    {
      std::lock_guard lock(state_->mu);
      reply->set_state(state_->state);
      reply->set_iteration(state_->iteration);
      reply->set_waiting_for(state_->waiting_for);
    }
    const CountersSnapshot c = counters_->Snapshot();
    const LinkCounters total = c.algorithm.Total();
    reply->set_messages_sent(total.messages_sent);
    reply->set_messages_received(total.messages_received);
    FillNeighbourCounters(c, reply->mutable_neighbours(), neighbours_);
    return grpc::Status::OK;
  }

 private:
  const NodeId self_;
  const std::uint32_t colour_;
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

struct Agent::Impl {
  Topology topology;
  std::unique_ptr<LocalProblem> problem;  // moved into the node program by Run
  std::string problem_kind;
  AgentOptions options;
  Logger log;
  std::atomic<bool> stop_requested{false};
  Inbox<Incoming> inbox;
  SharedCounters counters;
  PublicState public_state;

  Impl(Topology t, std::unique_ptr<LocalProblem> p, AgentOptions o)
      : topology(std::move(t)),
        problem(std::move(p)),
        problem_kind(problem->kind()),
        options(std::move(o)),
        log(options.node_id) {}

  void SetState(pb::AgentState s, std::uint64_t iteration, std::string waiting_for) {
    std::lock_guard lock(public_state.mu);
    public_state.state = s;
    public_state.iteration = iteration;
    public_state.waiting_for = std::move(waiting_for);
  }

  absl::Status WriteResult(const NodeProgram& program, std::uint32_t colour, double wall_seconds);
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

absl::Status Agent::Impl::WriteResult(const NodeProgram& program, std::uint32_t colour, double wall_seconds) {
  const CountersSnapshot c = counters.Snapshot();
  const LinkCounters total = c.algorithm.Total();
  pb::AgentResult r;
  r.set_node_id(options.node_id);
  r.set_algorithm("d-admm");
  r.set_problem(problem_kind);
  r.set_topology_name(topology.name());
  r.set_colour(colour);
  r.set_iterations(program.steps());
  for (Eigen::Index i = 0; i < program.x().size(); ++i) r.add_x(program.x()[i]);
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
  FillNeighbourCounters(c, r.mutable_neighbours(), topology.neighbours(options.node_id));
  r.set_wall_seconds(wall_seconds);
  r.set_rho(options.settings.rho);
  r.set_rejected_messages(c.rejected);

  std::cout << "node " << options.node_id << ": finished after " << program.steps() << " steps, x = ["
            << absl::StrJoin(r.x(), ", ") << "], messages sent " << total.messages_sent << ", received "
            << total.messages_received << ", payload bytes sent " << total.payload_bytes_sent << std::endl;
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
  // Colouring: for now the same deterministic rule on every agent (see coordinator-free-bootstrap/).
  const Colouring colouring = GreedyLargestFirstColouring(topology);
  const std::uint32_t colour = colouring.at(self);
  absl::StatusOr<std::unique_ptr<DadmmNode>> made =
      MakeDadmmNode(topology, colouring, self, std::move(problem), options.settings);
  if (!made.ok()) return made.status();
  std::unique_ptr<DadmmNode> program = std::move(*made);
  problem = nullptr;

  PeerService peer_service(topology, self, &inbox, &counters, &log);
  StatusService status_service(self, colour, topology.neighbours(self), &public_state, &counters);
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
  log.Info(absl::StrCat("listening on ", options.listen_address, "; colour ", colour, " of ", NumColours(colouring),
                        "; ", topology.degree(self), " neighbour(s); rho ", options.settings.rho, "; ",
                        options.settings.max_iterations, " iterations"));

  std::map<NodeId, std::unique_ptr<PeerLink>> links;
  for (NodeId j : topology.neighbours(self)) {
    links[j] = std::make_unique<PeerLink>(j, topology.node(j).address, &counters, &log);
    links[j]->Start();
  }

  std::vector<Broadcast> out;
  auto dispatch = [&] {
    for (const Broadcast& b : out) {
      pb::PeerMessage m;
      pb::Estimate* e = m.mutable_estimate();
      e->set_sender(self);
      e->set_iteration(b.iteration);
      e->mutable_x()->Add(b.x.data(), b.x.data() + b.x.size());
      for (auto& [j, link] : links) link->Send(m);
    }
    out.clear();
  };
  auto describe_wait = [&]() -> std::string {
    std::vector<std::string> parts;
    for (NodeId j : program->awaited()) {
      parts.push_back(absl::StrCat(j, links.at(j)->connected() ? "" : " (not connected)"));
    }
    return absl::StrJoin(parts, ", ");
  };

  SetState(pb::AGENT_STATE_RUNNING, 0, "");
  program->Start(out);
  dispatch();
  std::vector<NodeId> last_awaited = program->awaited();
  Clock::time_point waiting_since = Clock::now();
  Clock::time_point next_wait_log = waiting_since + std::chrono::seconds(5);
  while (!program->done() && !stop_requested) {
    std::optional<Incoming> in = inbox.Pop(std::chrono::milliseconds(500));
    if (in.has_value()) {
      const std::uint64_t before = program->steps();
      const Estimate estimate{.sender = in->sender, .iteration = in->iteration, .x = Eigen::Map<const Vector>(in->x.data(), in->x.size())};
      if (absl::Status s = program->Receive(estimate, out); !s.ok()) {
        counters.RecordRejected();
        log.Info(absl::StrCat("rejected a message from peer ", in->peer, ": ", s.message()));
        continue;
      }
      counters.RecordReceived(in->sender, PayloadBytes(in->x.size()), in->message_bytes);
      dispatch();
      if (options.log_iterations && program->steps() != before) {
        log.Info(absl::StrCat("iteration ", program->steps(), " done, x[0] = ", program->x()[0]));
      }
    }
    std::vector<NodeId> awaited = program->awaited();
    if (awaited != last_awaited) {
      last_awaited = awaited;
      waiting_since = Clock::now();
      next_wait_log = waiting_since + std::chrono::seconds(5);
    } else if (!awaited.empty() && Clock::now() >= next_wait_log) {
      const auto waited = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - waiting_since).count();
      log.Info(absl::StrCat("iteration ", program->steps() + 1, ": waiting for neighbour(s) ", describe_wait(),
                            " for ", waited, " s"));
      next_wait_log = Clock::now() + std::chrono::seconds(waited < 30 ? 5 : 30);
    }
    SetState(pb::AGENT_STATE_RUNNING, program->steps(), describe_wait());
  }

  if (!program->done()) {
    log.Info(absl::StrCat("stopping at iteration ", program->steps(), " on request, before finishing"));
    SetState(pb::AGENT_STATE_FAILED, program->steps(), "");
    for (auto& [j, link] : links) link->Abort();
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    return absl::CancelledError(absl::StrCat("stopped at iteration ", program->steps(), " before finishing"));
  }

  log.Info(absl::StrCat("finished ", program->steps(), " iterations; sending the last estimates"));
  SetState(pb::AGENT_STATE_DONE, program->steps(), "");
  // Flush every link (its last messages are what the neighbours still need), then give the
  // neighbours time to finish and close their streams to us before the server goes away.
  const Clock::time_point deadline = Clock::now() + options.linger;
  for (auto& [j, link] : links) link->BeginClose();
  for (auto& [j, link] : links) link->FinishClose(deadline);
  if (!peer_service.WaitAllClosed(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()))) {
    log.Info("some neighbours still have streams open after the linger time; closing anyway");
  }
  const double wall = std::chrono::duration<double>(Clock::now() - started).count();
  absl::Status written = WriteResult(*program, colour, wall);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return written;
}

}  // namespace dadmm::agent
