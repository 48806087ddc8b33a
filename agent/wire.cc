#include "agent/wire.h"

#include <string>
#include <variant>

namespace dadmm::agent {

namespace pb = ::dadmm::v1;

namespace {

// A peer's text, cut to `limit` characters; a cut text ends in "..." so that it never equals ours.
std::string Bounded(const std::string& text, std::size_t limit) {
  return text.size() <= limit ? text : text.substr(0, limit) + "...";
}

}  // namespace

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
    case pb::PeerMessage::kFinished:
      return m.finished().sender();
    default:
      return std::nullopt;
  }
}

pb::PeerMessage ToWire(const Hello& hello) {
  pb::PeerMessage m;
  pb::Hello* h = m.mutable_hello();
  h->set_sender(hello.node_id);
  h->set_protocol_version(hello.protocol_version);
  h->set_topology_fingerprint(hello.topology_fingerprint);
  h->set_degree(hello.degree);
  h->set_dimension(hello.dimension);
  h->set_arithmetic(hello.arithmetic);
  h->set_incarnation(hello.incarnation);
  h->set_colour(hello.colour);
  ToWire(hello.config, h->mutable_run_config());
  return m;
}

pb::PeerMessage ToWire(NodeId sender, const ColourAnnouncement& a) {
  pb::PeerMessage m;
  pb::ColourAnnouncement* c = m.mutable_colour();
  c->set_sender(sender);
  c->set_pass(a.pass);
  c->set_colour(a.colour);
  c->set_round(a.round);
  c->set_chain(a.chain);
  return m;
}

pb::PeerMessage ToWire(NodeId sender, const ColourMaxima& x) {
  pb::PeerMessage m;
  pb::ColourMaxima* c = m.mutable_maxima();
  c->set_sender(sender);
  c->set_round(x.round);
  c->set_max_chain0(x.maxima[0]);
  c->set_max_chain1(x.maxima[1]);
  return m;
}

pb::PeerMessage ToWire(const Finished& f) {
  pb::PeerMessage m;
  pb::Finished* w = m.mutable_finished();
  w->set_sender(f.sender);
  w->set_steps(f.steps);
  return m;
}

Finished FromWire(const pb::Finished& f) { return Finished{.sender = f.sender(), .steps = f.steps()}; }

pb::PeerMessage ToWire(NodeId sender, const Broadcast& b) {
  pb::PeerMessage m;
  pb::Estimate* e = m.mutable_estimate();
  e->set_sender(sender);
  e->set_iteration(b.iteration);
  e->mutable_x()->Add(b.x.data(), b.x.data() + b.x.size());
  if (!b.control.empty()) e->set_stop_bits(std::string(b.control.begin(), b.control.end()));
  return m;
}

void ToWire(const std::vector<NamedValue>& values, pb::RunConfig* config) {
  for (const NamedValue& v : values) {
    pb::ConfigField* f = config->add_fields();
    f->set_name(v.name);
    if (const double* d = std::get_if<double>(&v.value)) f->set_real(*d);
    if (const std::int64_t* i = std::get_if<std::int64_t>(&v.value)) f->set_integer(*i);
    if (const std::string* s = std::get_if<std::string>(&v.value)) f->set_text(*s);
  }
}

std::vector<NamedValue> FromWire(const pb::RunConfig& config) {
  std::vector<NamedValue> values;
  // A correct peer sends a few dozen settings; more than 1000 is cut (the check then names the first
  // that differs).
  const int n = std::min(config.fields_size(), 1000);
  for (int k = 0; k < n; ++k) {
    const pb::ConfigField& f = config.fields(k);
    NamedValue v{.name = Bounded(f.name(), 80), .value = std::string()};
    switch (f.value_case()) {
      case pb::ConfigField::kReal:
        v.value = f.real();
        break;
      case pb::ConfigField::kInteger:
        v.value = f.integer();
        break;
      case pb::ConfigField::kText:
        v.value = Bounded(f.text(), 200);
        break;
      default:
        v.value = std::string("(no value)");
        break;
    }
    values.push_back(std::move(v));
  }
  return values;
}

Hello FromWire(const pb::Hello& h) {
  Hello hello{.node_id = h.sender(),
              .protocol_version = h.protocol_version(),
              .topology_fingerprint = Bounded(h.topology_fingerprint(), 200),
              .degree = h.degree(),
              .dimension = h.dimension(),
              .arithmetic = Bounded(h.arithmetic(), 80),
              .incarnation = h.incarnation(),
              .colour = h.colour()};
  hello.config = FromWire(h.run_config());
  return hello;
}

ColourAnnouncement FromWire(const pb::ColourAnnouncement& c) {
  return {.sender = c.sender(), .chain = c.chain(), .pass = c.pass(), .colour = c.colour(), .round = c.round()};
}

ColourMaxima FromWire(const pb::ColourMaxima& c) {
  return {.sender = c.sender(), .round = c.round(), .maxima = {c.max_chain0(), c.max_chain1()}};
}

Estimate FromWire(const pb::Estimate& e) {
  return {.sender = e.sender(),
          .iteration = e.iteration(),
          .x = Eigen::Map<const Vector>(e.x().data(), e.x_size()),
          .control =
              absl::MakeConstSpan(reinterpret_cast<const std::uint8_t*>(e.stop_bits().data()), e.stop_bits().size())};
}

absl::Status ReceiveWire(NodeSession& session, NodeId from, const pb::PeerMessage& m, SessionOutput& out) {
  switch (m.body_case()) {
    case pb::PeerMessage::kHello:
      return session.Receive(from, FromWire(m.hello()), out);
    case pb::PeerMessage::kColour:
      return session.Receive(from, FromWire(m.colour()), out);
    case pb::PeerMessage::kMaxima:
      return session.Receive(from, FromWire(m.maxima()), out);
    case pb::PeerMessage::kFinished:
      return session.Receive(from, FromWire(m.finished()), out);
    case pb::PeerMessage::kEstimate:
      return session.Receive(from, FromWire(m.estimate()), out);
    default:
      out.rejections.push_back({from, "an empty message"});
      return absl::OkStatus();
  }
}

}  // namespace dadmm::agent
