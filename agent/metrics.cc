#include "agent/metrics.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/tls.h"
#include "prometheus/collectable.h"
#include "prometheus/exposer.h"

namespace dadmm::agent {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

using Labels = std::vector<ClientMetric::Label>;

// Builds the families of one reply; every series gets the network and node labels first.
class Families {
 public:
  Families(std::string network, std::uint32_t node)
      : base_{{"network", std::move(network)}, {"node", absl::StrCat(node)}} {}

  void Gauge(const std::string& name, const std::string& help, double value, const Labels& extra = {}) {
    Add(name, help, MetricType::Gauge, extra).gauge.value = value;
  }
  void Counter(const std::string& name, const std::string& help, double value, const Labels& extra = {}) {
    Add(name, help, MetricType::Counter, extra).counter.value = value;
  }
  // One series per neighbour of the reply, labelled neighbour="j", where `get` gives a value.
  template <typename Get>
  void PerNeighbour(const pb::StatusReply& s, const std::string& name, const std::string& help, MetricType type,
                    Get get) {
    for (const pb::NeighbourCounters& n : s.neighbours()) {
      const std::optional<double> value = get(n);
      if (!value.has_value()) continue;
      ClientMetric& m = Add(name, help, type, {{"neighbour", absl::StrCat(n.node_id())}});
      (type == MetricType::Counter ? m.counter.value : m.gauge.value) = *value;
    }
  }
  std::vector<MetricFamily> Take() && { return std::move(families_); }

 private:
  ClientMetric& Add(const std::string& name, const std::string& help, MetricType type, const Labels& extra) {
    if (families_.empty() || families_.back().name != name) {
      families_.push_back(MetricFamily{.name = name, .help = help, .type = type, .metric = {}});
    }
    ClientMetric& m = families_.back().metric.emplace_back();
    m.label = base_;
    m.label.insert(m.label.end(), extra.begin(), extra.end());
    return m;
  }

  Labels base_;
  std::vector<MetricFamily> families_;
};

// "AGENT_STATE_RUNNING" -> "running".
std::string StateLabel(pb::AgentState state) {
  std::string name = pb::AgentState_Name(state);
  if (absl::StartsWith(name, "AGENT_STATE_")) name = name.substr(12);
  return absl::AsciiStrToLower(name);
}

}  // namespace

std::vector<MetricFamily> MetricFamilies(const pb::StatusReply& s, const std::string& network) {
  Families f(network, s.node_id());
  f.Gauge(
      "dadmm_info", "The run, as labels; always 1.", 1.0,
      {{"version", s.version()}, {"problem", s.problem()}, {"algorithm", s.algorithm()}, {"stop_rule", s.stop_rule()}});
  // One series per state, 1 for the current one (a state set).
  for (int v = pb::AgentState_MIN; v <= pb::AgentState_MAX; ++v) {
    if (!pb::AgentState_IsValid(v) || v == pb::AGENT_STATE_UNSPECIFIED) continue;
    f.Gauge("dadmm_state", "1 for the agent's current state, 0 for the others.", s.state() == v ? 1.0 : 0.0,
            {{"state", StateLabel(static_cast<pb::AgentState>(v))}});
  }
  auto count = [](std::uint64_t v) { return static_cast<double>(v); };
  f.Gauge("dadmm_iteration", "Communication steps completed.", count(s.iteration()));
  f.Gauge("dadmm_max_iterations", "The run's bound on steps.", count(s.max_iterations()));
  f.Gauge("dadmm_colour", "This node's colour (0 until coloured).", s.colour());
  f.Gauge("dadmm_waiting", "1 while the agent waits for a neighbour (Status's waiting_for says whom).",
          s.waiting_for().empty() ? 0.0 : 1.0);
  f.Gauge("dadmm_change", "||x_p^k - x_p^(k-1)||, the last step's change of the estimate.", s.change());
  f.Gauge("dadmm_disagreement", "max_j ||x_p - x_j|| over the neighbours' latest estimates.", s.disagreement());
  f.Gauge("dadmm_primal_residual", "r_p, the local primal residual (residual stop rule).", s.primal_residual());
  f.Gauge("dadmm_dual_residual", "s_p, the local dual residual (residual stop rule).", s.dual_residual());
  f.Gauge("dadmm_rho", "The penalty rho in use.", s.rho());
  f.Gauge("dadmm_objective", "f_p(x_p), this node's cost at its estimate.", s.objective());
  f.Gauge("dadmm_estimate_norm", "||x_p||.", s.x_norm());
  f.Gauge("dadmm_dimension", "Entries of x_p.", count(s.dimension()));
  f.Gauge("dadmm_uptime_seconds", "Seconds since the agent started.", s.uptime_seconds());
  f.Counter("dadmm_restarts_total", "Restarts from the checkpoint (--state_dir).", count(s.incarnation()));
  f.Counter("dadmm_local_solver_iterations_total", "The local solver's iterations.", count(s.computation_iterations()));
  f.Counter("dadmm_local_solves_total", "Local problems solved.", count(s.local_solves()));
  f.Counter("dadmm_local_solves_capped_total", "Local solves stopped at their iteration cap (not converged).",
            count(s.local_solves_capped()));
  f.Counter("dadmm_rejected_messages_total", "Peer messages, streams and Status calls refused.",
            count(s.rejected_messages()));
  f.Counter("dadmm_broadcasts_total", "Estimates broadcast (one per step, each to every neighbour).",
            count(s.energy().broadcasts()));
  f.Counter("dadmm_broadcast_equivalent_energy_joules_total",
            "Modelled energy had every estimate been one radio broadcast to the farthest neighbour.",
            s.energy().broadcast_equivalent());

  using N = const pb::NeighbourCounters&;
  using V = std::optional<double>;
  const MetricType kCounter = MetricType::Counter, kGauge = MetricType::Gauge;
  if (std::any_of(s.neighbours().begin(), s.neighbours().end(), [](N n) { return n.rho() > 0.0; })) {
    f.PerNeighbour(s, "dadmm_edge_rho", "The edge's own penalty (--vary_rho_rule=edge).", kGauge,
                   [](N n) -> V { return n.rho(); });
  }
  f.PerNeighbour(s, "dadmm_messages_sent_total", "Estimates sent to the neighbour (resends not counted).", kCounter,
                 [](N n) -> V { return n.messages_sent(); });
  f.PerNeighbour(s, "dadmm_messages_received_total", "Estimates received from the neighbour.", kCounter,
                 [](N n) -> V { return n.messages_received(); });
  f.PerNeighbour(s, "dadmm_payload_bytes_sent_total", "The estimates' payload sent, 8 bytes per entry.", kCounter,
                 [](N n) -> V { return n.payload_bytes_sent(); });
  f.PerNeighbour(s, "dadmm_payload_bytes_received_total", "The estimates' payload received.", kCounter,
                 [](N n) -> V { return n.payload_bytes_received(); });
  f.PerNeighbour(s, "dadmm_message_bytes_sent_total", "Serialized peer messages sent, all kinds.", kCounter,
                 [](N n) -> V { return n.message_bytes_sent(); });
  f.PerNeighbour(s, "dadmm_message_bytes_received_total", "Serialized peer messages received, all kinds.", kCounter,
                 [](N n) -> V { return n.message_bytes_received(); });
  f.PerNeighbour(s, "dadmm_bootstrap_messages_sent_total", "Hello and colour announcements sent.", kCounter,
                 [](N n) -> V { return n.bootstrap_messages_sent(); });
  f.PerNeighbour(s, "dadmm_bootstrap_messages_received_total", "Hello and colour announcements received.", kCounter,
                 [](N n) -> V { return n.bootstrap_messages_received(); });
  f.PerNeighbour(s, "dadmm_resent_messages_total", "Messages sent again on a reopened stream.", kCounter,
                 [](N n) -> V { return n.resent_messages(); });
  f.PerNeighbour(s, "dadmm_duplicate_messages_total", "Messages received twice (resends) and dropped.", kCounter,
                 [](N n) -> V { return n.duplicates_dropped(); });
  f.PerNeighbour(s, "dadmm_energy_sent_joules_total", "Modelled radio energy of the estimates sent.", kCounter,
                 [](N n) -> V { return n.energy_sent_joules(); });
  f.PerNeighbour(s, "dadmm_energy_received_joules_total", "Modelled radio energy of the estimates received.", kCounter,
                 [](N n) -> V { return n.energy_received_joules(); });
  f.PerNeighbour(s, "dadmm_bootstrap_energy_joules_total", "Modelled radio energy of the bootstrap, both ways.",
                 kCounter, [](N n) -> V { return n.bootstrap_energy_joules(); });
  f.PerNeighbour(s, "dadmm_neighbour_connected", "1 while both streams of the link are up.", kGauge,
                 [](N n) -> V { return n.connected() ? 1.0 : 0.0; });
  f.PerNeighbour(s, "dadmm_neighbour_seconds_since_heard",
                 "Seconds since anything was received from the neighbour (absent: never).", kGauge, [](N n) -> V {
                   if (n.seconds_since_heard() < 0) return std::nullopt;
                   return n.seconds_since_heard();
                 });
  f.PerNeighbour(s, "dadmm_neighbour_last_iteration", "The label of the neighbour's last estimate received.", kGauge,
                 [](N n) -> V { return n.last_iteration_heard(); });
  f.PerNeighbour(s, "dadmm_neighbour_colour", "The neighbour's colour (0 until known).", kGauge,
                 [](N n) -> V { return n.colour(); });
  f.PerNeighbour(s, "dadmm_link_distance_meters", "The link's length in the radio model.", kGauge,
                 [](N n) -> V { return n.distance_m(); });
  return std::move(f).Take();
}

class MetricsServer::Collector : public prometheus::Collectable {
 public:
  explicit Collector(const StatusSource* source) : source_(source), network_(NetworkName(source->topology().name())) {}
  std::vector<MetricFamily> Collect() const override {
    pb::StatusReply reply;
    source_->Fill(&reply);
    return MetricFamilies(reply, network_);
  }

 private:
  const StatusSource* source_;
  const std::string network_;
};

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& address,
                                                                    const StatusSource* source) {
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  server->collector_ = std::make_shared<Collector>(source);
  try {
    server->exposer_ = std::make_unique<prometheus::Exposer>(address, /*num_threads=*/2);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on ", address, ": ", e.what()));
  }
  server->exposer_->RegisterCollectable(server->collector_);
  const std::vector<int> ports = server->exposer_->GetListeningPorts();
  server->port_ = ports.empty() ? 0 : ports.front();
  return server;
}

MetricsServer::~MetricsServer() = default;

}  // namespace dadmm::agent
