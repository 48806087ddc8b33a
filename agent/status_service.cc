#include "agent/status_service.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "grpcpp/alarm.h"

#ifndef DADMM_VERSION
#define DADMM_VERSION "unknown"
#endif

namespace dadmm::agent {

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

// --- calls ---------------------------------------------------------------------------------------
//
// Each call is an object that owns its context and counts its operations in flight; it is deleted
// when none is left. The "done" notification (AsyncNotifyWhenDone) comes only for a request that
// was matched, so it is counted from then on. Once the transport has shut its queue down, a call
// starts nothing more: what is in flight completes, and the call goes.

class StatusService::Call : public PeerTransport::Task {
 public:
  explicit Call(StatusService* service) : service_(service) {}
  virtual ~Call() = default;
  void Completed(int op, bool ok) final {
    --pending_;
    if (op == kRequest && ok) {
      ++pending_;  // kDone will come
      ++service_->open_;
    }
    if (op == kDone) --service_->open_;
    Handle(op, ok);
    if (pending_ == 0) service_->Forget(this);  // deletes this
  }
  virtual void Wake() {}  // the state is final, or the service stops
  bool idle() const { return pending_ == 0; }

 protected:
  enum Op { kRequest, kWrite, kAlarm, kFinish, kDone, kOps };
  virtual void Handle(int op, bool ok) = 0;
  void* tag(Op op) {
    tags_[op] = PeerTransport::TaskTag(this, op);
    ++pending_;
    return &tags_[op];
  }
  // The queue is shut down: nothing may be started.
  bool closed() const { return service_->transport_->queue_shut_down(); }
  grpc::Status Unavailable() const {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, absl::StrCat("node ", service_->self_, " is shutting down"));
  }

  StatusService* const service_;
  grpc::ServerContext context_;
  int pending_ = 0;

 private:
  PeerTransport::Tag tags_[kOps];
};

class StatusService::UnaryCall final : public StatusService::Call {
 public:
  explicit UnaryCall(StatusService* service) : Call(service), responder_(&context_) {
    context_.AsyncNotifyWhenDone(tag(kDone));
    --pending_;  // counted when the request is matched
    service_->service_.RequestGetStatus(&context_, &request_, &responder_, service_->cq_, service_->cq_, tag(kRequest));
  }

 private:
  void Handle(int op, bool ok) override {
    if (op != kRequest || !ok || closed()) return;
    if (service_->stopping_) return responder_.FinishWithError(Unavailable(), tag(kFinish));
    service_->calls_.insert(new UnaryCall(service_));  // the next caller's
    if (grpc::Status admitted = service_->Admit(context_); !admitted.ok()) {
      return responder_.FinishWithError(admitted, tag(kFinish));
    }
    service_->source_.Fill(&reply_);
    responder_.Finish(reply_, grpc::Status::OK, tag(kFinish));
  }

  pb::StatusRequest request_;
  pb::StatusReply reply_;
  grpc::ServerAsyncResponseWriter<pb::StatusReply> responder_;
};

class StatusService::WatchCall final : public StatusService::Call {
 public:
  explicit WatchCall(StatusService* service) : Call(service), writer_(&context_) {
    context_.AsyncNotifyWhenDone(tag(kDone));
    --pending_;  // counted when the request is matched
    service_->service_.RequestWatchStatus(&context_, &request_, &writer_, service_->cq_, service_->cq_, tag(kRequest));
  }
  ~WatchCall() override {
    if (counted_) --service_->watches_;
  }
  void Wake() override {
    if (alarm_pending_) alarm_.Cancel();  // completes at once, not OK
  }

 private:
  void Handle(int op, bool ok) override {
    if (op == kDone) {
      done_ = true;
      return Wake();
    }
    if (op == kAlarm) alarm_pending_ = false;
    if (closed() || op == kFinish) return;
    switch (op) {
      case kRequest:
        if (!ok) return;
        if (service_->stopping_) return writer_.Finish(Unavailable(), tag(kFinish));
        return Begin();
      case kWrite:
        if (done_) return;
        if (!ok || final_ || last_) return Finish();  // gone, or its last state went out
        if (service_->stopping_ || service_->Final()) return Write();
        return Arm();
      case kAlarm:
        if (done_) return;  // the caller went away
        if (service_->stopping_ || Clock::now() >= next_write_ || service_->Final()) return Write();
        return Arm();
    }
  }
  void Begin() {
    service_->calls_.insert(new WatchCall(service_));  // the next caller's
    grpc::Status admitted = service_->Admit(context_);
    if (admitted.ok() && service_->watches_ >= kMaxWatches) {
      admitted =
          service_->Refuse(context_, grpc::StatusCode::RESOURCE_EXHAUSTED, "watch",
                           absl::StrCat("node ", service_->self_, " serves at most ", kMaxWatches, " watches at once"));
    }
    if (!admitted.ok()) return writer_.Finish(admitted, tag(kFinish));
    counted_ = true;
    ++service_->watches_;
    double interval = request_.interval_seconds();
    if (!(interval > 0.0) || !std::isfinite(interval)) interval = 0.5;
    interval = std::clamp(interval, 0.05, 3600.0);
    period_ = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(interval));
    Write();
  }
  void Write() {
    reply_.Clear();
    service_->source_.Fill(&reply_);
    final_ = reply_.state() == pb::AGENT_STATE_DONE || reply_.state() == pb::AGENT_STATE_FAILED;
    last_ = service_->stopping_;
    next_write_ = Clock::now() + period_;
    writer_.Write(reply_, tag(kWrite));
  }
  void Arm() {
    alarm_pending_ = true;
    alarm_.Set(service_->cq_, std::chrono::system_clock::now() + (next_write_ - Clock::now()), tag(kAlarm));
  }
  void Finish() { writer_.Finish(grpc::Status::OK, tag(kFinish)); }

  pb::WatchRequest request_;
  pb::StatusReply reply_;
  grpc::ServerAsyncWriter<pb::StatusReply> writer_;
  grpc::Alarm alarm_;
  Clock::duration period_{};
  Clock::time_point next_write_;
  bool counted_ = false, final_ = false, done_ = false, alarm_pending_ = false;
  bool last_ = false;  // written after Stop: the stream ends with it
};

// --- the service -------------------------------------------------------------------------------

StatusService::StatusService(const Topology& topology, NodeId self, const RadioModel& radio, PublicState* state,
                             SharedCounters* counters, std::shared_ptr<Tls> tls, const Logger* log)
    : source_(topology, self, radio, state, counters),
      self_(self),
      state_(state),
      counters_(counters),
      tls_(std::move(tls)),
      log_(log) {}

// After the transport's drain every call is idle; one that is not (the queue never drained) would
// be completed later into freed memory, so it is left, not deleted.
StatusService::~StatusService() {
  for (Call* call : calls_) {
    if (call->idle()) delete call;
  }
}

void StatusService::AddTo(grpc::ServerBuilder& builder) { builder.RegisterService(&service_); }

void StatusService::Start(PeerTransport* transport) {
  transport_ = transport;
  cq_ = transport->queue();
  calls_.insert(new UnaryCall(this));
  calls_.insert(new WatchCall(this));
}

void StatusService::StateIsFinal() {
  for (Call* call : calls_) call->Wake();
}

void StatusService::Stop() {
  if (stopping_) return;
  stopping_ = true;
  for (Call* call : calls_) call->Wake();
}

void StatusService::Forget(Call* call) {
  calls_.erase(call);
  delete call;
}

bool StatusService::Final() {
  std::lock_guard lock(state_->mu);
  return state_->state == pb::AGENT_STATE_DONE || state_->state == pb::AGENT_STATE_FAILED;
}

grpc::Status StatusService::Refuse(grpc::ServerContext& context, grpc::StatusCode code, const std::string& kind,
                                   const std::string& why) {
  counters_->RecordRejected();
  std::string host = context.peer();
  if (const std::size_t colon = host.rfind(':'); colon != std::string::npos && colon > 5) host.resize(colon);
  bool first = false;
  if (refusals_.size() < 10000) first = ++refusals_[{host, kind}] == 1;
  if (first && log_ != nullptr) {
    log_->Info(absl::StrCat("refused a Status call from ", context.peer(), ": ", why, " [more of this kind from ", host,
                            " are counted, not logged]"));
  }
  return grpc::Status(code, why);
}

grpc::Status StatusService::Admit(grpc::ServerContext& context) {
  if (tls_ != nullptr) {
    absl::StatusOr<PeerIdentity> caller = tls_->Verify(*context.auth_context());
    if (!caller.ok()) {
      return Refuse(context, grpc::StatusCode::UNAUTHENTICATED, std::string(caller.status().message()),
                    absl::StrCat("node ", self_, " refuses the caller: ", caller.status().message()));
    }
  }
  const Clock::time_point now = Clock::now();
  tokens_ =
      std::min(kCallsPerSecond, tokens_ + kCallsPerSecond * std::chrono::duration<double>(now - refilled_).count());
  refilled_ = now;
  if (tokens_ < 1.0) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        absl::StrCat("node ", self_, " answers at most ", kCallsPerSecond, " Status calls a second"));
  }
  tokens_ -= 1.0;
  return grpc::Status::OK;
}

StatusSource::StatusSource(const Topology& topology, NodeId self, const RadioModel& radio, PublicState* state,
                           SharedCounters* counters)
    : topology_(topology),
      self_(self),
      radio_(radio),
      neighbours_(topology.neighbours(self)),
      state_(state),
      counters_(counters) {}

void StatusSource::Fill(pb::StatusReply* reply) const {
  reply->set_node_id(self_);
  reply->set_version(DADMM_VERSION);
  std::map<NodeId, std::uint32_t> colours;
  std::map<NodeId, NeighbourLiveness> liveness;
  std::map<NodeId, double> edge_rho;
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
    reply->set_local_solves(state_->local_solves);
    reply->set_local_solves_capped(state_->local_solves_capped);
    reply->set_incarnation(state_->incarnation);
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
    edge_rho = state_->edge_rho;
  }
  const CountersSnapshot c = counters_->Snapshot();
  const LinkCounters total = c.algorithm.Total();
  reply->set_messages_sent(total.messages_sent);
  reply->set_messages_received(total.messages_received);
  reply->set_rejected_messages(c.rejected);
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
    n.set_seconds_since_connection_change(std::chrono::duration<double>(now - l.changed).count());
    auto d = c.delivery.find(n.node_id());
    if (d != c.delivery.end()) {
      n.set_resent_messages(d->second.resent);
      n.set_duplicates_dropped(d->second.duplicates);
    }
    n.set_last_iteration_heard(l.last_label);
    if (auto e = edge_rho.find(n.node_id()); e != edge_rho.end()) n.set_rho(e->second);
    n.set_seconds_since_heard(l.last_heard ? std::chrono::duration<double>(now - *l.last_heard).count() : -1.0);
  }
}

}  // namespace dadmm::agent
