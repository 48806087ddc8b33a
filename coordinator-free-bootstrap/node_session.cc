#include "coordinator-free-bootstrap/node_session.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace dadmm {

void SessionOutput::clear() {
  hellos.clear();
  colouring = ColouringOutput();
  estimates.clear();
  resends.clear();
  bootstrap_resends.clear();
  finished.reset();
  finished_resends.clear();
  rejections.clear();
  notes.clear();
}

bool SessionOutput::sends() const {
  return !hellos.empty() || !colouring.empty() || !estimates.empty() || !resends.empty() ||
         !bootstrap_resends.empty() || finished.has_value() || !finished_resends.empty();
}

absl::StatusOr<std::unique_ptr<NodeSession>> NodeSession::Create(const Topology& topology, NodeId self,
                                                                 std::unique_ptr<LocalProblem> problem,
                                                                 std::vector<NamedValue> problem_parameters,
                                                                 const PipelineSettings& settings,
                                                                 std::string arithmetic) {
  if (!topology.Contains(self)) return absl::NotFoundError(absl::StrCat("node ", self, " is not in the topology"));
  if (problem == nullptr) return absl::InvalidArgumentError(absl::StrCat("node ", self, ": no problem"));
  if (absl::Status s = settings.Validate(); !s.ok()) return s;
  Hello hello{.node_id = self,
              .protocol_version = kProtocolVersion,
              .topology_fingerprint = TopologyFingerprint(topology),
              .degree = topology.degree(self),
              .dimension = problem->dimension(),
              .config = DescribeRun(std::move(problem_parameters), settings),
              .arithmetic = std::move(arithmetic)};
  return std::unique_ptr<NodeSession>(new NodeSession(topology, self, std::move(problem), settings, std::move(hello)));
}

NodeSession::NodeSession(const Topology& topology, NodeId self, std::unique_ptr<LocalProblem> problem,
                         const PipelineSettings& settings, Hello hello)
    : topology_(topology),
      self_(self),
      neighbours_(topology.neighbours(self)),
      settings_(settings),
      hello_(std::move(hello)),
      problem_(std::move(problem)),
      dimension_(problem_->dimension()),
      colouring_(
          MakeColouringProtocol(topology, ChainPriorities(topology), self, kColouringPasses, DiameterBound(topology))),
      heard_(neighbours_.size(), 0),
      incarnations_(neighbours_.size(), 0),
      held_(neighbours_.size()),
      claimed_colours_(neighbours_.size(), 0),
      ended_(neighbours_.size(), 0) {}

std::size_t NodeSession::IndexOf(NodeId j) const {
  return static_cast<std::size_t>(std::lower_bound(neighbours_.begin(), neighbours_.end(), j) - neighbours_.begin());
}

void NodeSession::RecordSent(const SessionOutput& out, std::size_t announcements_before, std::size_t maxima_before) {
  // Constructed in place: GCC 12 for aarch64 warns (maybe-uninitialized, a false positive) on a
  // temporary variant moved in.
  for (std::size_t k = announcements_before; k < out.colouring.announcements.size(); ++k) {
    sent_bootstrap_.emplace_back(std::in_place_type<ColourAnnouncement>, out.colouring.announcements[k]);
  }
  for (std::size_t k = maxima_before; k < out.colouring.maxima.size(); ++k) {
    sent_bootstrap_.emplace_back(std::in_place_type<ColourMaxima>, out.colouring.maxima[k]);
  }
}

void NodeSession::Retain(std::size_t emitted_before, const SessionOutput& out) {
  for (std::size_t k = emitted_before; k < out.estimates.size(); ++k) {
    retained_.push_back(out.estimates[k]);
    if (retained_.size() > RetainedEstimates(settings_.checkpoint_every)) retained_.pop_front();
  }
}

SessionState NodeSession::state() const {
  if (program_ == nullptr) return SessionState::kColouring;
  return program_->done() ? SessionState::kDone : SessionState::kRunning;
}

bool NodeSession::may_exit() const {
  return done() && announced_ && std::all_of(ended_.begin(), ended_.end(), [](std::uint64_t e) { return e != 0; });
}

bool NodeSession::finished(NodeId j) const {
  const std::size_t i = IndexOf(j);
  return i < neighbours_.size() && neighbours_[i] == j && ended_[i] != 0;
}

void NodeSession::Announce(SessionOutput& out) {
  if (announced_ || program_ == nullptr || !program_->done()) return;
  announced_ = true;
  out.finished = Finished{.sender = self_, .steps = program_->steps()};
}

bool NodeSession::greeted(NodeId j) const { return std::binary_search(greeted_.begin(), greeted_.end(), j); }

std::map<NodeId, std::uint32_t> NodeSession::known_colours() const {
  std::map<NodeId, std::uint32_t> colours;
  const std::vector<std::uint32_t> known = colouring_->neighbour_colours();
  for (std::size_t i = 0; i < known.size(); ++i) {
    if (known[i] != 0) colours[colouring_->neighbours()[i].id] = known[i];
  }
  return colours;
}

absl::Status NodeSession::Start(SessionOutput& out) {
  if (started_) return absl::FailedPreconditionError(absl::StrCat("node ", self_, ": session started twice"));
  started_ = true;
  out.hellos.push_back(hello_);
  sent_bootstrap_.push_back(hello_);
  ColouringOutput produced;
  if (absl::Status s = colouring_->Start(produced); !s.ok()) return s;
  const std::size_t before = out.estimates.size();
  const std::size_t announcements = out.colouring.announcements.size(), maxima = out.colouring.maxima.size();
  absl::Status s = AfterColouring(produced, /*was_complete=*/false, out);
  RecordSent(out, announcements, maxima);
  Retain(before, out);
  return s;
}

absl::Status NodeSession::Receive(NodeId from, const Hello& m, SessionOutput& out) {
  if (!std::binary_search(neighbours_.begin(), neighbours_.end(), from)) {
    out.rejections.push_back({from, absl::StrCat("a hello from node ", from, ", not a neighbour of node ", self_)});
    return absl::OkStatus();
  }
  const std::size_t i = IndexOf(from);
  if (greeted(from)) {
    // This node resumed, and a neighbour's transport sends again what the previous incarnation had
    // not acknowledged: the hello it knows (the same incarnation and run) is heard, dropped. (A
    // neighbour restarted without its state is told apart by the agent's transport, by its process.)
    if ((hello_.incarnation > 0 || m.incarnation > 0) && m.incarnation == incarnations_[i] &&
        CheckHello(hello_, m, from).ok()) {
      const std::map<NodeId, std::uint32_t> colours = known_colours();
      const auto known = colours.find(from);
      if (m.colour == 0 || known == colours.end() || known->second == m.colour) {
        ++duplicates_;
        return absl::OkStatus();
      }
    }
    if (m.incarnation <= incarnations_[i]) {
      out.rejections.push_back(
          {from, program_ != nullptr && m.colour == 0
                     ? absl::StrCat("node ", from, " restarted without its state (a new first hello) into a run node ",
                                    self_, " is in at iteration ", program_->steps(),
                                    ": refused (restart it with its --state_dir, or start the whole network again)")
                     : "a second hello"});
      return absl::OkStatus();
    }
    // The neighbour restarted from its checkpoint.
    const std::map<NodeId, std::uint32_t> colours = known_colours();
    const auto known = colours.find(from);
    if (absl::Status s = CheckHello(hello_, m, from); !s.ok()) {
      out.rejections.push_back({from, absl::StrCat("restarted (incarnation ", m.incarnation, "): ", s.message())});
      return absl::OkStatus();
    }
    if (known == colours.end()) {
      // Its colouring messages all reached this node before it crashed (it had finished the colouring
      // to write a checkpoint); the colour it claims is checked once this node's colouring is done.
      incarnations_[i] = m.incarnation;
      claimed_colours_[i] = m.colour;
      ResendTo(from, out);
      out.notes.push_back(absl::StrCat("node ", from, " restarted from its checkpoint (incarnation ", m.incarnation,
                                       ") while this node is still colouring"));
      return absl::OkStatus();
    }
    if (m.colour != 0 && m.colour != known->second) {
      out.rejections.push_back(
          {from, absl::StrCat("node ", from, " restarted (incarnation ", m.incarnation, ") with colour ", m.colour,
                              "; node ", self_, " knows it as colour ", known->second, ": refused")});
      return absl::OkStatus();
    }
    incarnations_[i] = m.incarnation;
    ResendTo(from, out);
    for (const Broadcast& b : retained_) out.resends.push_back({from, b});
    out.notes.push_back(absl::StrCat(
        "node ", from, " restarted from its checkpoint (incarnation ", m.incarnation, "); resent it ", retained_.size(),
        " estimate(s)", retained_.empty() ? "" : absl::StrCat(" from iteration ", retained_.front().iteration)));
    return absl::OkStatus();
  }
  if (absl::Status s = CheckHello(hello_, m, from); !s.ok()) return s;
  incarnations_[i] = m.incarnation;
  bootstrap_log_.emplace_back(from, m);
  greeted_.insert(std::upper_bound(greeted_.begin(), greeted_.end(), from), from);
  // One of the two restarted since they last spoke: the neighbour may lack what this node sent (its
  // crash, or this node's, took it); it drops what it has.
  if (m.incarnation > 0 || hello_.incarnation > 0) ResendTo(from, out);
  out.notes.push_back(
      absl::StrCat("handshake with node ", from, " done (", greeted_.size(), " of ", neighbours_.size(), ")"));
  if (m.arithmetic != hello_.arithmetic) {
    out.notes.push_back(absl::StrCat("warning: node ", from, " computes with '", m.arithmetic.substr(0, 80),
                                     "' arithmetic, this node with '", hello_.arithmetic,
                                     "': the run goes on, but its results may differ from the simulator's in "
                                     "the last bits (build every agent with DADMM_PORTABLE_FLOAT=ON, the default)"));
  }
  // What came before the hello (this node resumed without it): taken now, in the order it came.
  auto waiting = before_hello_.find(from);
  if (waiting == before_hello_.end()) return absl::OkStatus();
  std::vector<Waiting> messages = std::move(waiting->second);
  before_hello_.erase(waiting);
  for (const Waiting& w : messages) {
    absl::Status s = std::visit(
        [&](const auto& message) -> absl::Status {
          if constexpr (std::is_same_v<std::decay_t<decltype(message)>, EarlyEstimate>) {
            return Receive(from,
                           Estimate{.sender = message.sender,
                                    .iteration = message.iteration,
                                    .x = Eigen::Map<const Vector>(message.x.data(), message.x.size()),
                                    .control = message.control},
                           out);
          } else {
            return Receive(from, message, out);
          }
        },
        w);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

template <typename M>
bool NodeSession::HoldBeforeHello(NodeId from, const M& m) {
  // Resumed from a checkpoint taken before a neighbour's hello, this node hears that neighbour go on
  // before the hello it resends (on seeing this node's new hello) comes: held until it does.
  if (hello_.incarnation == 0 || greeted(from) || m.sender != from) return false;
  std::vector<Waiting>& waiting = before_hello_[from];
  if (waiting.size() >= 256) return false;  // refused below, as before any hello
  if constexpr (std::is_same_v<M, Estimate>) {
    waiting.push_back(EarlyEstimate{.sender = m.sender,
                                    .iteration = m.iteration,
                                    .x = m.x,
                                    .control = std::vector<std::uint8_t>(m.control.begin(), m.control.end())});
  } else {
    waiting.push_back(m);
  }
  return true;
}

bool NodeSession::Admit(NodeId from, NodeId sender, const char* what, SessionOutput& out) {
  if (sender != from) {
    out.rejections.push_back({from, absl::StrCat(what, " that says it is from node ", sender)});
    return false;
  }
  // Streams keep order and the hello is the first message on every stream.
  if (!greeted(from)) {
    out.rejections.push_back({from, absl::StrCat(what, " before its hello")});
    return false;
  }
  return true;
}

namespace {

bool Same(const ColourAnnouncement& a, const ColourAnnouncement& b) {
  return a.sender == b.sender && a.chain == b.chain && a.pass == b.pass && a.colour == b.colour && a.round == b.round;
}
bool Same(const ColourMaxima& a, const ColourMaxima& b) {
  return a.sender == b.sender && a.round == b.round && a.maxima == b.maxima;
}

}  // namespace

template <typename M>
bool NodeSession::Heard(NodeId from, const M& m) const {
  return std::any_of(bootstrap_log_.begin(), bootstrap_log_.end(), [&](const auto& entry) {
    const M* logged = std::get_if<M>(&entry.second);
    return entry.first == from && logged != nullptr && Same(*logged, m);
  });
}

absl::Status NodeSession::Receive(NodeId from, const ColourAnnouncement& m, SessionOutput& out) {
  if (HoldBeforeHello(from, m)) return absl::OkStatus();
  if (!Admit(from, m.sender, "a colour announcement", out)) return absl::OkStatus();
  // A copy of one taken already (a neighbour's transport sends again what this node's previous
  // incarnation had not acknowledged, or a resumed neighbour its bootstrap): heard, dropped.
  if (Heard(from, m)) {
    ++duplicates_;
    return absl::OkStatus();
  }
  return Colour(from, m, out);
}

absl::Status NodeSession::Receive(NodeId from, const ColourMaxima& m, SessionOutput& out) {
  if (HoldBeforeHello(from, m)) return absl::OkStatus();
  if (!Admit(from, m.sender, "colour maxima", out)) return absl::OkStatus();
  if (Heard(from, m)) {
    ++duplicates_;
    return absl::OkStatus();
  }
  return Colour(from, m, out);
}

template <typename M>
absl::Status NodeSession::Colour(NodeId from, const M& m, SessionOutput& out) {
  const bool was_complete = colouring_->complete();
  ColouringOutput produced;
  if (absl::Status s = colouring_->Receive(m, produced); !s.ok()) {
    out.rejections.push_back({from, std::string(s.message())});
    return absl::OkStatus();
  }
  bootstrap_log_.emplace_back(from, m);
  const std::size_t before = out.estimates.size();
  const std::size_t announcements = out.colouring.announcements.size(), maxima = out.colouring.maxima.size();
  absl::Status s = AfterColouring(produced, was_complete, out);
  RecordSent(out, announcements, maxima);
  Retain(before, out);
  return s;
}

absl::Status NodeSession::AfterColouring(const ColouringOutput& produced, bool was_complete, SessionOutput& out) {
  out.colouring.announcements.insert(out.colouring.announcements.end(), produced.announcements.begin(),
                                     produced.announcements.end());
  out.colouring.maxima.insert(out.colouring.maxima.end(), produced.maxima.begin(), produced.maxima.end());
  if (was_complete || !colouring_->complete()) return absl::OkStatus();
  const std::array<std::uint32_t, 2> used = colouring_->network_colours();
  out.notes.push_back(absl::StrCat("colour ", colouring_->colour(), " of ", used[colouring_->chosen()],
                                   " (distributed colouring: largest-first ", used[0], " colours, smallest-last ",
                                   used[1], "; kept ", colouring_->chosen() == 0 ? "largest-first" : "smallest-last",
                                   "; ", colouring_->rounds(), " rounds)"));
  return StartProgram(out);
}

absl::Status NodeSession::StartProgram(SessionOutput& out) {
  const std::uint32_t colour = colouring_->colour();
  const std::vector<std::uint32_t> known = colouring_->neighbour_colours();
  std::map<NodeId, std::uint32_t> colours;
  for (std::size_t i = 0; i < known.size(); ++i) {
    const NodeId j = colouring_->neighbours()[i].id;
    // The protocol refuses a neighbour's announcement of our colour; checked again before starting.
    if (known[i] == 0 || known[i] == colour) {
      return absl::InternalError(absl::StrCat("node ", self_, " and neighbour ", j, " both have colour ", colour));
    }
    if (claimed_colours_[i] != 0 && claimed_colours_[i] != known[i]) {
      return absl::DataLossError(absl::StrCat("node ", j, " restarted with colour ", claimed_colours_[i], "; node ",
                                              self_, "'s colouring gives it colour ", known[i]));
    }
    colours[j] = known[i];
  }
  // The program is built from this node's own view: its colour, its neighbours' colours and degrees.
  NodeView view{.id = self_, .colour = colour};
  for (NodeId j : neighbours_)
    view.neighbours.push_back({.id = j, .colour = colours[j], .degree = topology_.degree(j)});
  const std::string kind(problem_->kind());
  absl::StatusOr<std::unique_ptr<NodeProgram>> made =
      MakeAgentProgram(view, DiameterBound(topology_), std::move(problem_), settings_);
  if (!made.ok()) return made.status();
  program_ = *std::move(made);
  out.notes.push_back(absl::StrCat(
      "colours of all ", known.size(), " neighbour(s) known; starting ", AlgorithmName(settings_.algorithm), " on ",
      kind, " (rho ", settings_.dadmm.rho, ", at most ", settings_.dadmm.max_iterations, " iterations",
      settings_.agreed_stop() ? absl::StrCat(", agreed stop: ", settings_.stop_rule(topology_).Describe(),
                                             ", D = ", DiameterBound(topology_))
                              : "",
      ")"));
  program_->Start(out.estimates);
  std::vector<EarlyEstimate> waiting = std::move(early_);
  early_.clear();
  for (const EarlyEstimate& e : waiting) {
    const Estimate view{.sender = e.sender,
                        .iteration = e.iteration,
                        .x = Eigen::Map<const Vector>(e.x.data(), e.x.size()),
                        .control = e.control};
    if (absl::Status s = Deliver(view, out); !s.ok()) return s;
  }
  if (catching_up()) DrainHeld(out);  // resumed in the bootstrap: what came meanwhile, in label order
  Announce(out);
  return absl::OkStatus();
}

absl::Status NodeSession::Receive(NodeId from, const Estimate& m, SessionOutput& out) {
  if (HoldBeforeHello(from, m)) return absl::OkStatus();
  if (!Admit(from, m.sender, "an estimate", out)) return absl::OkStatus();
  // Once per (sender, iteration): a copy of an estimate heard already is a resend's or a duplicate.
  const std::size_t i = IndexOf(from);
  if (m.iteration <= heard_[i]) {
    ++duplicates_;
    return absl::OkStatus();
  }
  if (catching_up()) {
    absl::Status s = CatchUp(i, m, out);
    Announce(out);
    return s;
  }
  if (program_ == nullptr) {
    // Kept until the program starts, so checked now as the program would: a bad one must not take
    // the place (heard_) of the estimate a correct neighbour sends for that iteration.
    const std::uint64_t next = heard_[i] == 0 ? kFirstLabelAtMost : heard_[i] + 1;
    std::string bad;
    if (m.x.size() != dimension_) {
      bad = absl::StrCat("dimension ", m.x.size(), ", expected ", dimension_);
    } else if (!m.x.allFinite()) {
      bad = "non-finite entries";
    } else if (heard_[i] == 0 ? m.iteration > next : m.iteration != next) {
      bad = absl::StrCat("out of sequence, expected iteration ", heard_[i] == 0 ? "at most " : "", next);
    }
    if (!bad.empty()) {
      out.rejections.push_back({from, absl::StrCat("node ", self_, ": early estimate from ", from, " for iteration ",
                                                   m.iteration, ": ", bad)});
      return absl::OkStatus();
    }
    if (++early_count_[from] > kEarlyEstimates) {
      out.rejections.push_back({from, "too many estimates before this node could start"});
      return absl::OkStatus();
    }
    ++early_total_;
    heard_[i] = m.iteration;
    early_.push_back({.sender = from,
                      .iteration = m.iteration,
                      .x = m.x,
                      .control = std::vector<std::uint8_t>(m.control.begin(), m.control.end())});
    return absl::OkStatus();
  }
  const std::size_t before = out.estimates.size();
  const std::size_t refused_before = out.rejections.size();
  absl::Status s = Deliver(m, out);
  if (out.rejections.size() == refused_before) heard_[i] = m.iteration;  // taken: a copy of it is a duplicate
  Retain(before, out);
  Announce(out);
  return s;
}

absl::Status NodeSession::Receive(NodeId from, const Finished& m, SessionOutput& out) {
  if (HoldBeforeHello(from, m)) return absl::OkStatus();
  if (!Admit(from, m.sender, "an end message", out)) return absl::OkStatus();
  const std::size_t i = IndexOf(from);
  if (ended_[i] != 0) {  // a copy (a resend after a restart)
    ++duplicates_;
    return absl::OkStatus();
  }
  if (program_ != nullptr && program_->done() && m.steps != program_->steps()) {
    // Every node of a run ends at the same step (a fixed number, or the agreed stop); a neighbour that
    // says otherwise is recorded as ended all the same (it needs nothing more), and named.
    out.rejections.push_back({from, absl::StrCat("node ", from, " says it ended after ", m.steps, " iterations, node ",
                                                 self_, " after ", program_->steps())});
  }
  ended_[i] = 1;
  end_unsaved_ = true;
  return absl::OkStatus();
}

bool NodeSession::catching_up() const {
  if (!catch_up_until_.has_value()) return false;
  if (program_ == nullptr || program_->steps() < *catch_up_until_) return true;
  return std::any_of(held_.begin(), held_.end(), [](const auto& h) { return !h.empty(); });
}

absl::Status NodeSession::CatchUp(std::size_t i, const Estimate& m, SessionOutput& out) {
  // Resumed from a checkpoint up to checkpoint_every steps old, this node may hear estimates its
  // program cannot take yet (its neighbours went on from what it had sent before the crash), and the
  // resends that fill the gaps come later: both are held, per neighbour in label order, and given to
  // the program as soon as it takes them.
  if (held_[i].count(m.iteration) != 0) {
    ++duplicates_;
    return absl::OkStatus();
  }
  if (held_[i].size() >= RetainedEstimates(settings_.checkpoint_every) + 2) {
    out.rejections.push_back({m.sender, absl::StrCat("estimate for iteration ", m.iteration, ": more than ",
                                                     held_[i].size(), " held while this node catches up")});
    return absl::OkStatus();
  }
  held_[i].emplace(m.iteration,
                   EarlyEstimate{.sender = m.sender,
                                 .iteration = m.iteration,
                                 .x = m.x,
                                 .control = std::vector<std::uint8_t>(m.control.begin(), m.control.end())});
  if (program_ == nullptr) return absl::OkStatus();  // given to the program once it starts
  DrainHeld(out);
  return absl::OkStatus();
}

void NodeSession::DrainHeld(SessionOutput& out) {
  const std::size_t before = out.estimates.size();
  for (bool progress = true; progress;) {
    progress = false;
    for (std::size_t j = 0; j < held_.size(); ++j) {
      while (!held_[j].empty()) {
        const EarlyEstimate& e = held_[j].begin()->second;
        const std::uint64_t next = heard_[j] == 0 ? program_->first_label() : heard_[j] + 1;
        if (e.iteration != next && heard_[j] != 0) break;
        const Estimate view{.sender = e.sender,
                            .iteration = e.iteration,
                            .x = Eigen::Map<const Vector>(e.x.data(), e.x.size()),
                            .control = e.control};
        if (!program_->Receive(view, out.estimates).ok()) break;  // not yet: held on
        heard_[j] = e.iteration;
        held_[j].erase(held_[j].begin());
        progress = true;
      }
    }
  }
  Retain(before, out);
}

absl::Status NodeSession::Deliver(const Estimate& m, SessionOutput& out) {
  if (absl::Status s = program_->Receive(m, out.estimates); !s.ok()) {
    out.rejections.push_back({m.sender, std::string(s.message())});
  }
  return absl::OkStatus();
}

NodeSession::Wait NodeSession::awaited() const {
  if (program_ != nullptr && program_->done()) {
    Wait wait{"end", {}};
    for (std::size_t i = 0; i < neighbours_.size(); ++i) {
      if (ended_[i] == 0) wait.nodes.push_back(neighbours_[i]);
    }
    return wait;
  }
  if (program_ != nullptr) return {"estimate", program_->awaited()};
  Wait wait{"hello", {}};
  for (NodeId j : neighbours_) {
    if (!greeted(j)) wait.nodes.push_back(j);
  }
  if (wait.nodes.empty()) wait = {"colour", colouring_->awaited()};
  return wait;
}

namespace {

constexpr absl::string_view kCheckpointTag = "dadmm-session-checkpoint-2";

void WriteHello(StateWriter& w, const Hello& h) {
  w.U64(h.node_id);
  w.U64(h.protocol_version);
  w.Bytes(h.topology_fingerprint);
  w.U64(h.degree);
  w.U64(static_cast<std::uint64_t>(h.dimension));
  w.U64(h.config.size());
  for (const NamedValue& v : h.config) {
    w.Bytes(v.name);
    w.U64(v.value.index());
    if (const double* d = std::get_if<double>(&v.value)) w.F64(*d);
    if (const std::int64_t* n = std::get_if<std::int64_t>(&v.value)) w.U64(static_cast<std::uint64_t>(*n));
    if (const std::string* t = std::get_if<std::string>(&v.value)) w.Bytes(*t);
  }
  w.Bytes(h.arithmetic);
  w.U64(h.incarnation);
  w.U64(h.colour);
}

Hello ReadHello(StateReader& r) {
  Hello h;
  h.node_id = static_cast<NodeId>(r.U64());
  h.protocol_version = static_cast<std::uint32_t>(r.U64());
  h.topology_fingerprint = r.Bytes();
  h.degree = r.U64();
  h.dimension = static_cast<std::int64_t>(r.U64());
  const std::uint64_t n = r.U64();
  for (std::uint64_t k = 0; r.ok() && k < n; ++k) {
    NamedValue v{.name = r.Bytes(), .value = 0.0};
    const std::uint64_t index = r.U64();
    if (index == 0)
      v.value = r.F64();
    else if (index == 1)
      v.value = static_cast<std::int64_t>(r.U64());
    else if (index == 2)
      v.value = r.Bytes();
    else
      r.Fail(absl::StrCat("a hello's parameter of type ", index));
    h.config.push_back(std::move(v));
  }
  h.arithmetic = r.Bytes();
  h.incarnation = r.U64();
  h.colour = static_cast<std::uint32_t>(r.U64());
  return h;
}

void WriteBroadcast(StateWriter& w, const Broadcast& b) {
  w.U64(b.iteration);
  w.Vec(b.x);
  w.Integers(b.control);
}

Broadcast ReadBroadcast(StateReader& r) {
  Broadcast b;
  b.iteration = r.U64();
  b.x = r.Vec();
  b.control = r.Integers<std::uint8_t>();
  return b;
}

}  // namespace

bool NodeSession::checkpoint_due() const {
  if (!started_) return false;
  if (program_ == nullptr) return true;
  if (program_->done()) return !done_checkpointed_ || end_unsaved_;
  return !checkpointed_steps_.has_value() || program_->steps() >= *checkpointed_steps_ + settings_.checkpoint_every;
}

void NodeSession::ResendTo(NodeId j, SessionOutput& out) const {
  // A restarted neighbour may lack any of them (what its checkpoint had not taken is gone with it); it
  // drops what it has heard.
  for (const BootstrapMessage& m : sent_bootstrap_) {
    std::visit([&](const auto& message) { out.bootstrap_resends.push_back({j, message}); }, m);
  }
  // Done already: it may lack the end message too (it drops a copy).
  if (announced_) out.finished_resends.push_back(j);
}

absl::StatusOr<std::string> NodeSession::Checkpoint() {
  if (!started_) return absl::FailedPreconditionError(absl::StrCat("node ", self_, ": no checkpoint before Start"));
  if (program_ != nullptr) checkpointed_steps_ = program_->steps();
  done_checkpointed_ = program_ != nullptr && program_->done();
  end_unsaved_ = false;
  StateWriter w;
  w.Bytes(kCheckpointTag);
  w.U64(self_);
  WriteHello(w, hello_);
  w.U64(bootstrap_log_.size());
  for (const auto& [from, m] : bootstrap_log_) {
    w.U64(from);
    w.U64(m.index());
    if (const Hello* h = std::get_if<Hello>(&m)) WriteHello(w, *h);
    if (const ColourAnnouncement* a = std::get_if<ColourAnnouncement>(&m)) {
      for (std::uint64_t v : {std::uint64_t{a->sender}, std::uint64_t{a->chain}, std::uint64_t{a->pass},
                              std::uint64_t{a->colour}, std::uint64_t{a->round}}) {
        w.U64(v);
      }
    }
    if (const ColourMaxima* x = std::get_if<ColourMaxima>(&m)) {
      for (std::uint64_t v : {std::uint64_t{x->sender}, std::uint64_t{x->round}, std::uint64_t{x->maxima[0]},
                              std::uint64_t{x->maxima[1]}}) {
        w.U64(v);
      }
    }
  }
  w.Integers(heard_);
  w.Integers(incarnations_);
  w.U64(early_total_);
  w.U64(retained_.size());
  for (const Broadcast& b : retained_) WriteBroadcast(w, b);
  // Estimates heard before the program started (in the bootstrap): they count as heard.
  w.U64(early_.size());
  for (const EarlyEstimate& e : early_) {
    w.U64(e.sender);
    WriteBroadcast(w, Broadcast{.iteration = e.iteration, .x = e.x, .control = e.control});
  }
  w.Bool(program_ != nullptr);  // else taken in the bootstrap
  StateWriter program;
  if (program_ != nullptr) program_->SaveState(program);
  w.Bytes(program.bytes());
  w.Integers(ended_);
  return w.Take();
}

absl::Status NodeSession::Resume(absl::string_view checkpoint, SessionOutput& out) {
  if (started_) return absl::FailedPreconditionError(absl::StrCat("node ", self_, ": session started twice"));
  StateReader r(checkpoint, absl::StrCat("node ", self_, "'s checkpoint"));
  if (const std::string tag = r.Bytes(); r.ok() && tag != kCheckpointTag) r.Fail("not a session checkpoint");
  if (const NodeId id = static_cast<NodeId>(r.U64()); r.ok() && id != self_) {
    r.Fail(absl::StrCat("written by node ", id));
  }
  const Hello saved = ReadHello(r);
  if (!r.ok()) return r.status(false);
  // The run the checkpoint is of must be this one: same topology, problem, dimension and settings.
  if (absl::Status s = CheckHello(saved, hello_, self_); !s.ok()) {
    return absl::DataLossError(absl::StrCat("node ", self_, "'s checkpoint is of another run: ", s.message()));
  }
  // Replay the bootstrap: the colouring computes the same colours from the same messages, and the
  // program is made as it was; what the replay emits was sent by the incarnation that wrote this.
  started_ = true;
  SessionOutput replayed;
  ColouringOutput produced;
  if (absl::Status s = colouring_->Start(produced); !s.ok()) return s;
  if (absl::Status s = AfterColouring(produced, false, replayed); !s.ok()) return s;
  const std::uint64_t entries = r.U64();
  for (std::uint64_t k = 0; r.ok() && k < entries; ++k) {
    const NodeId from = static_cast<NodeId>(r.U64());
    const std::uint64_t kind = r.U64();
    absl::Status s;
    if (kind == 0) {
      const Hello h = ReadHello(r);
      if (r.ok()) s = Receive(from, h, replayed);
    } else if (kind == 1) {
      ColourAnnouncement a;
      a.sender = static_cast<NodeId>(r.U64());
      a.chain = static_cast<std::uint32_t>(r.U64());
      a.pass = static_cast<std::uint32_t>(r.U64());
      a.colour = static_cast<std::uint32_t>(r.U64());
      a.round = static_cast<std::uint32_t>(r.U64());
      if (r.ok()) s = Receive(from, a, replayed);
    } else if (kind == 2) {
      ColourMaxima x;
      x.sender = static_cast<NodeId>(r.U64());
      x.round = static_cast<std::uint32_t>(r.U64());
      x.maxima = {static_cast<std::uint32_t>(r.U64()), static_cast<std::uint32_t>(r.U64())};
      if (r.ok()) s = Receive(from, x, replayed);
    } else {
      r.Fail(absl::StrCat("a bootstrap message of kind ", kind));
    }
    if (!s.ok())
      return absl::DataLossError(absl::StrCat("node ", self_, "'s checkpoint: its bootstrap replays to ", s.message()));
    if (!replayed.rejections.empty()) {
      return absl::DataLossError(absl::StrCat("node ", self_, "'s checkpoint: its bootstrap replays to a refusal (",
                                              replayed.rejections.front().why, ")"));
    }
  }
  std::vector<std::uint64_t> heard = r.Integers<std::uint64_t>();
  std::vector<std::uint64_t> incarnations = r.Integers<std::uint64_t>();
  early_total_ = r.U64();
  if (r.ok() && (heard.size() != neighbours_.size() || incarnations.size() != neighbours_.size())) {
    r.Fail(absl::StrCat("state for ", heard.size(), " neighbours, this node has ", neighbours_.size()));
  }
  const std::uint64_t retained = r.U64();
  if (r.ok() && retained > RetainedEstimates(settings_.checkpoint_every)) {
    r.Fail(absl::StrCat(retained, " retained estimates"));
  }
  std::deque<Broadcast> kept;
  for (std::uint64_t k = 0; r.ok() && k < retained; ++k) kept.push_back(ReadBroadcast(r));
  const std::uint64_t early = r.U64();
  if (r.ok() && early > neighbours_.size() * static_cast<std::uint64_t>(kEarlyEstimates)) {
    r.Fail(absl::StrCat(early, " early estimates"));
  }
  std::vector<EarlyEstimate> early_kept;
  std::map<NodeId, int> early_count;
  for (std::uint64_t k = 0; r.ok() && k < early; ++k) {
    const NodeId sender = static_cast<NodeId>(r.U64());
    Broadcast b = ReadBroadcast(r);
    ++early_count[sender];
    early_kept.push_back(
        {.sender = sender, .iteration = b.iteration, .x = std::move(b.x), .control = std::move(b.control)});
  }
  const bool running = r.Bool();
  const std::string program_state = r.Bytes();
  std::vector<std::uint64_t> ended = r.Integers<std::uint64_t>();
  if (r.ok() && ended.size() != neighbours_.size()) {
    r.Fail(absl::StrCat("end messages of ", ended.size(), " neighbours, this node has ", neighbours_.size()));
  }
  if (r.ok() && running != (program_ != nullptr)) {
    r.Fail(running ? "its bootstrap does not start the program" : "its bootstrap starts the program, it was not");
  }
  if (!r.ok()) return r.status(false);
  if (absl::Status s = r.status(); !s.ok()) return s;
  if (program_ != nullptr) {
    StateReader pr(program_state, absl::StrCat("node ", self_, "'s checkpoint (its program)"));
    if (absl::Status s = program_->LoadState(pr); !s.ok()) return s;
    if (absl::Status s = pr.status(); !s.ok()) return s;
  }
  heard_ = std::move(heard);
  incarnations_ = std::move(incarnations);
  ended_ = std::move(ended);
  retained_ = std::move(kept);
  early_ = std::move(early_kept);
  early_count_ = std::move(early_count);
  catch_up_until_ = (program_ != nullptr ? program_->steps() : 0) + RetainedEstimates(settings_.checkpoint_every) + 2;
  hello_.incarnation = saved.incarnation + 1;
  // Due at once: the next incarnation is written before its hello goes out, so that a second crash
  // before the next checkpoint restarts with a higher incarnation still.
  checkpointed_steps_.reset();
  hello_.colour = colouring_->complete() ? colouring_->colour() : 0;
  out.hellos.push_back(hello_);
  // Its own bootstrap messages again, as the replay made them: a neighbour still colouring may not
  // have had them all (the crash took what was not acknowledged); the others drop them as heard.
  sent_bootstrap_.assign(1, hello_);
  for (const ColourAnnouncement& a : replayed.colouring.announcements) sent_bootstrap_.push_back(a);
  for (const ColourMaxima& x : replayed.colouring.maxima) sent_bootstrap_.push_back(x);
  out.colouring = std::move(replayed.colouring);
  for (NodeId j : neighbours_) {
    for (const Broadcast& b : retained_) out.resends.push_back({j, b});
  }
  // Done before the crash: the end message again (the crash may have taken it, or its checkpoint).
  announced_ = false;
  Announce(out);
  out.notes.push_back(program_ != nullptr
                          ? absl::StrCat("resumed from the checkpoint at iteration ", program_->steps(),
                                         " (incarnation ", hello_.incarnation, ", colour ", hello_.colour,
                                         "); resending ", retained_.size(), " estimate(s)")
                          : absl::StrCat("resumed from the checkpoint in the bootstrap (incarnation ",
                                         hello_.incarnation, "); the colouring goes on"));
  return absl::OkStatus();
}

}  // namespace dadmm
