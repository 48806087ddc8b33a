#include "coordinator-free-bootstrap/node_session.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace dadmm {

void SessionOutput::clear() {
  hellos.clear();
  colouring = ColouringOutput();
  estimates.clear();
  rejections.clear();
  notes.clear();
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
      colouring_(MakeColouringProtocol(topology, ChainPriorities(topology), self, kColouringPasses,
                                       DiameterBound(topology))) {}

SessionState NodeSession::state() const {
  if (program_ == nullptr) return SessionState::kColouring;
  return program_->done() ? SessionState::kDone : SessionState::kRunning;
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
  ColouringOutput produced;
  if (absl::Status s = colouring_->Start(produced); !s.ok()) return s;
  return AfterColouring(produced, /*was_complete=*/false, out);
}

absl::Status NodeSession::Receive(NodeId from, const Hello& m, SessionOutput& out) {
  if (!std::binary_search(neighbours_.begin(), neighbours_.end(), from)) {
    out.rejections.push_back({from, absl::StrCat("a hello from node ", from, ", not a neighbour of node ", self_)});
    return absl::OkStatus();
  }
  if (greeted(from)) {
    out.rejections.push_back({from, "a second hello"});
    return absl::OkStatus();
  }
  if (absl::Status s = CheckHello(hello_, m, from); !s.ok()) return s;
  greeted_.insert(std::upper_bound(greeted_.begin(), greeted_.end(), from), from);
  out.notes.push_back(
      absl::StrCat("handshake with node ", from, " done (", greeted_.size(), " of ", neighbours_.size(), ")"));
  if (m.arithmetic != hello_.arithmetic) {
    out.notes.push_back(absl::StrCat("warning: node ", from, " computes with '", m.arithmetic.substr(0, 80),
                                     "' arithmetic, this node with '", hello_.arithmetic,
                                     "': the run goes on, but its results may differ from the simulator's in "
                                     "the last bits (build every agent with DADMM_PORTABLE_FLOAT=ON, the default)"));
  }
  return absl::OkStatus();
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

absl::Status NodeSession::Receive(NodeId from, const ColourAnnouncement& m, SessionOutput& out) {
  if (!Admit(from, m.sender, "a colour announcement", out)) return absl::OkStatus();
  return Colour(from, m, out);
}

absl::Status NodeSession::Receive(NodeId from, const ColourMaxima& m, SessionOutput& out) {
  if (!Admit(from, m.sender, "colour maxima", out)) return absl::OkStatus();
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
  return AfterColouring(produced, was_complete, out);
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
  std::vector<NeighbourColour> neighbours;
  for (std::size_t i = 0; i < known.size(); ++i) {
    const NodeId j = colouring_->neighbours()[i].id;
    // The protocol refuses a neighbour's announcement of our colour; checked again before starting.
    if (known[i] == 0 || known[i] == colour) {
      return absl::InternalError(absl::StrCat("node ", self_, " and neighbour ", j, " both have colour ", colour));
    }
    neighbours.push_back({.id = j, .colour = known[i]});
  }
  const std::string kind(problem_->kind());
  absl::StatusOr<std::unique_ptr<NodeProgram>> made =
      MakeAgentProgram(topology_, self_, colour, std::move(neighbours), std::move(problem_), settings_);
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
  return absl::OkStatus();
}

absl::Status NodeSession::Receive(NodeId from, const Estimate& m, SessionOutput& out) {
  if (!Admit(from, m.sender, "an estimate", out)) return absl::OkStatus();
  if (program_ == nullptr) {
    if (++early_count_[from] > kEarlyEstimates) {
      out.rejections.push_back({from, "too many estimates before this node could start"});
      return absl::OkStatus();
    }
    ++early_total_;
    early_.push_back({.sender = from,
                      .iteration = m.iteration,
                      .x = m.x,
                      .control = std::vector<std::uint8_t>(m.control.begin(), m.control.end())});
    return absl::OkStatus();
  }
  return Deliver(m, out);
}

absl::Status NodeSession::Deliver(const Estimate& m, SessionOutput& out) {
  if (absl::Status s = program_->Receive(m, out.estimates); !s.ok()) {
    out.rejections.push_back({m.sender, std::string(s.message())});
  }
  return absl::OkStatus();
}

NodeSession::Wait NodeSession::awaited() const {
  if (program_ != nullptr) return {"estimate", program_->awaited()};
  Wait wait{"hello", {}};
  for (NodeId j : neighbours_) {
    if (!greeted(j)) wait.nodes.push_back(j);
  }
  if (wait.nodes.empty()) wait = {"colour", colouring_->awaited()};
  return wait;
}

}  // namespace dadmm
