#include "agent/status_service.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

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

grpc::Status StatusService::Refuse(grpc::ServerContext* context, grpc::StatusCode code, const std::string& kind,
                                   const std::string& why) {
  counters_->RecordRejected();
  std::string host = context->peer();
  if (const std::size_t colon = host.rfind(':'); colon != std::string::npos && colon > 5) host.resize(colon);
  bool first = false;
  {
    std::lock_guard lock(pace_mu_);
    if (refusals_.size() < 10000) first = ++refusals_[{host, kind}] == 1;
  }
  if (first && log_ != nullptr) {
    log_->Info(absl::StrCat("refused a Status call from ", context->peer(), ": ", why, " [more of this kind from ",
                            host, " are counted, not logged]"));
  }
  return grpc::Status(code, why);
}

grpc::Status StatusService::Admit(grpc::ServerContext* context) {
  if (tls_ != nullptr) {
    absl::StatusOr<PeerIdentity> caller = tls_->Verify(*context->auth_context());
    if (!caller.ok()) {
      return Refuse(context, grpc::StatusCode::UNAUTHENTICATED, std::string(caller.status().message()),
                    absl::StrCat("node ", self_, " refuses the caller: ", caller.status().message()));
    }
  }
  std::lock_guard lock(pace_mu_);
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

grpc::Status StatusService::GetStatus(grpc::ServerContext* context, const pb::StatusRequest*, pb::StatusReply* reply) {
  if (grpc::Status admitted = Admit(context); !admitted.ok()) return admitted;
  Fill(reply);
  return grpc::Status::OK;
}

grpc::Status StatusService::WatchStatus(grpc::ServerContext* context, const pb::WatchRequest* request,
                                        grpc::ServerWriter<pb::StatusReply>* writer) {
  if (grpc::Status admitted = Admit(context); !admitted.ok()) return admitted;
  if (watches_.fetch_add(1) >= kMaxWatches) {
    watches_.fetch_sub(1);
    return Refuse(context, grpc::StatusCode::RESOURCE_EXHAUSTED, "watch",
                  absl::StrCat("node ", self_, " serves at most ", kMaxWatches, " watches at once"));
  }
  struct Release {
    std::atomic<int>& n;
    ~Release() { n.fetch_sub(1); }
  } release{watches_};
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

void StatusService::Fill(pb::StatusReply* reply) {
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
    n.set_seconds_since_heard(l.last_heard ? std::chrono::duration<double>(now - *l.last_heard).count() : -1.0);
  }
}

}  // namespace dadmm::agent
