#include "coordinator-free-bootstrap/stopping_program.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/base/named_value.h"
#include "common/programs/edge_penalties.h"

namespace dadmm {

const char* PenaltyRuleName(PenaltyRule rule) {
  switch (rule) {
    case PenaltyRule::kBalance:
      return "balance";
    case PenaltyRule::kEdge:
      return "edge";
    case PenaltyRule::kVote:
      break;
  }
  return "vote";
}

PenaltyRuleDefaults DefaultsOf(PenaltyRule rule) {
  switch (rule) {
    case PenaltyRule::kBalance:
      return {.votes = 1000, .mu = 2.0, .tau = 100.0};
    case PenaltyRule::kEdge:  // votes: the changes per edge
      return {.votes = 100, .mu = 2.0, .tau = 100.0};
    case PenaltyRule::kVote:
      break;
  }
  return {.votes = 10, .mu = 10.0, .tau = 2.0};
}

std::optional<PenaltyRule> ParsePenaltyRule(absl::string_view name) {
  if (name == "vote") return PenaltyRule::kVote;
  if (name == "balance") return PenaltyRule::kBalance;
  if (name == "edge") return PenaltyRule::kEdge;
  return std::nullopt;
}

std::uint32_t DiameterBound(const Topology& topology) {
  return std::max<std::uint32_t>(1, static_cast<std::uint32_t>(topology.Diameter()));
}

absl::Status StopRule::Validate() const {
  if (residual()) {
    if (!(eps_abs >= 0.0) || !std::isfinite(eps_abs) || !(eps_rel >= 0.0) || !std::isfinite(eps_rel)) {
      return absl::InvalidArgumentError(
          absl::StrCat("eps_abs and eps_rel must be finite numbers >= 0, got ", eps_abs, " and ", eps_rel));
    }
    if (tolerance != 0.0) {
      return absl::InvalidArgumentError(
          "give either a tolerance (the change test) or eps_abs / eps_rel (the "
          "residual rule), not both");
    }
    if (!(rho > 0.0) || !std::isfinite(rho)) {
      return absl::InvalidArgumentError(absl::StrCat("the residual rule needs the penalty rho > 0, got ", rho));
    }
  } else if (!(tolerance > 0.0 || (tolerance == 0.0 && adapts())) || !std::isfinite(tolerance)) {
    return absl::InvalidArgumentError(absl::StrCat("tolerance must be a finite number > 0, got ", tolerance));
  }
  if (adapts()) {
    if (penalty_rule == PenaltyRule::kEdge) {
      return absl::InvalidArgumentError("the per-edge penalty rule has no votes: it is the program's (its settings)");
    }
    if (adapt_interval <= diameter_bound) {
      return absl::InvalidArgumentError(absl::StrCat("the varying penalty votes every ", adapt_interval,
                                                     " steps; the flood of a vote takes ", diameter_bound,
                                                     " (the diameter bound): give an interval > ", diameter_bound));
    }
    if (!(adapt_mu > 1.0) || !std::isfinite(adapt_mu) || !(adapt_tau > 1.0) || !std::isfinite(adapt_tau)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the varying penalty needs mu > 1 and tau > 1 (seed 002 (3.13)), got ", adapt_mu, " and ", adapt_tau));
    }
    if (!(rho > 0.0) || !std::isfinite(rho)) {
      return absl::InvalidArgumentError(absl::StrCat("the varying penalty needs a penalty rho > 0, got ", rho));
    }
  }
  if (diameter_bound < 1) return absl::InvalidArgumentError("agreed stop: the diameter bound must be >= 1");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<AgreedStopProgram>> AgreedStopProgram::Create(std::unique_ptr<NodeProgram> program,
                                                                             std::vector<NodeId> neighbours,
                                                                             const StopRule& rule) {
  if (program == nullptr) return absl::InvalidArgumentError("agreed stop: no program to wrap");
  if (absl::Status s = rule.Validate(); !s.ok()) return s;
  if (rule.residual() && program->dual() == nullptr) {
    return absl::InvalidArgumentError(
        "the residual stopping rule needs an ADMM (a dual variable): d-admm, "
        "algorithm3 (c-admm) or ic-admm");
  }
  if (rule.adapts() && !program->set_penalty(rule.rho)) {
    return absl::InvalidArgumentError(
        "the varying penalty needs an ADMM with a penalty rho > 0: d-admm, algorithm3 "
        "(c-admm) or ic-admm");
  }
  if (rule.adapts() && rule.penalty_rule == PenaltyRule::kBalance && program->dual() == nullptr) {
    return absl::InvalidArgumentError("the balancing penalty rule needs an ADMM with a dual variable");
  }
  std::sort(neighbours.begin(), neighbours.end());
  if (std::adjacent_find(neighbours.begin(), neighbours.end()) != neighbours.end()) {
    return absl::InvalidArgumentError("agreed stop: a neighbour is listed twice");
  }
  return std::unique_ptr<AgreedStopProgram>(new AgreedStopProgram(std::move(program), std::move(neighbours), rule));
}

AgreedStopProgram::AgreedStopProgram(std::unique_ptr<NodeProgram> program, std::vector<NodeId> neighbours,
                                     const StopRule& rule)
    : ProgramWrapper(std::move(program)),
      neighbours_(std::move(neighbours)),
      rule_(rule),
      stop_(rule.diameter_bound),
      received_(neighbours_.size()),
      change_(std::numeric_limits<double>::infinity()),
      disagreement_(std::numeric_limits<double>::infinity()),
      rho_(rule.rho) {
  if (rule_.residual()) primal_residual_ = dual_residual_ = std::numeric_limits<double>::infinity();
  inner().set_broadcast_hook(this);
}

std::optional<StopDiagnostics> AgreedStopProgram::stop_diagnostics() const {
  return StopDiagnostics{.change = change_,
                         .disagreement = disagreement_,
                         .primal_residual = primal_residual_,
                         .dual_residual = dual_residual_,
                         .penalty = rho_,
                         .penalty_changes = penalty_changes_};
}

absl::Status AgreedStopProgram::Receive(const Estimate& m, std::vector<Broadcast>& out) {
  if (m.control.size() != control_bytes()) {
    return absl::InvalidArgumentError(absl::StrCat("estimate from ", m.sender, " for iteration ", m.iteration,
                                                   " carries ", m.control.size(), " control byte(s), expected ",
                                                   control_bytes(), " (a different diameter bound or stopping rule?)"));
  }
  // The control bytes: the stop bits, then (with votes) the vote, read once here.
  Vote vote{};
  if (rule_.adapts()) {
    std::memcpy(vote.data(), m.control.data() + stop_.bytes(), sizeof(vote));
    if (!std::isfinite(vote[0]) || !std::isfinite(vote[1]) || vote[0] < 0.0 || vote[1] < 0.0) {
      return absl::InvalidArgumentError(absl::StrCat("estimate from ", m.sender, " for iteration ", m.iteration,
                                                     " carries residuals ", vote[0], ", ", vote[1],
                                                     " for the penalty vote (finite numbers >= 0 expected)"));
    }
  }
  const std::size_t i = static_cast<std::size_t>(std::lower_bound(neighbours_.begin(), neighbours_.end(), m.sender) -
                                                 neighbours_.begin());
  const bool known = i < neighbours_.size() && neighbours_[i] == m.sender;
  // The estimate may complete the step whose broadcast needs it, so it is visible to OnBroadcast
  // during the call; it is kept only if the wrapped program accepts it.
  if (known) {
    pending_ = &m;
    pending_index_ = i;
    pending_bits_.assign(m.control.begin(), m.control.begin() + static_cast<std::ptrdiff_t>(stop_.bytes()));
    pending_vote_ = vote;
  }
  absl::Status s = ProgramWrapper::Receive(m, out);
  pending_ = nullptr;
  if (!s.ok()) return s;  // the wrapped program refused it before doing anything
  if (!known) return absl::InternalError(absl::StrCat("agreed stop: node ", m.sender, " is not a neighbour"));
  // Labels below the last broadcast's - 1 are never needed again.
  if (last_label_ == 0 || m.iteration + 1 >= last_label_) {
    received_[i][m.iteration] = Received{.x = m.x, .bits = std::move(pending_bits_), .vote = pending_vote_};
  }
  if (!error_.empty()) return absl::InternalError(error_);
  return absl::OkStatus();
}

AgreedStopProgram::Seen AgreedStopProgram::EstimateOf(std::size_t i, std::uint64_t label) const {
  if (pending_ != nullptr && pending_index_ == i && pending_->iteration == label) {
    return {.x = pending_->x.data(), .bits = &pending_bits_, .vote = &pending_vote_};
  }
  auto it = received_[i].find(label);
  if (it == received_[i].end()) return {};
  return {.x = it->second.x.data(), .bits = &it->second.bits, .vote = &it->second.vote};
}

bool AgreedStopProgram::OnBroadcast(Broadcast& b) {
  const std::uint64_t label = b.iteration;
  bool test = false;
  double neighbours2 = 0.0;  // sum_j ||x_j^{L-1}||^2, the residuals' scale
  std::vector<const StopBits*> previous;
  std::vector<const Vote*> previous_votes;
  if (last_label_ != 0) {
    if (label != last_label_ + 1 && error_.empty()) {
      error_ = absl::StrCat("agreed stop: estimate ", label, " after ", last_label_);
    }
    const double scale = std::max(1.0, b.x.norm());
    change_ = (b.x - previous_x_).norm() / scale;
    double disagreement = 0.0;
    double r2 = 0.0;  // for the residuals: sum_j ||x_p - x_j||^2, sum_j ||x_j||^2
    bool complete = true;
    for (std::size_t i = 0; i < neighbours_.size(); ++i) {
      const Seen seen = EstimateOf(i, label - 1);
      if (seen.x == nullptr) {
        // Cannot happen with the programs here (every estimate labelled L - 1 is in before L is
        // sent); the test then fails and the bits are zero, which can only delay the stop.
        if (error_.empty()) {
          error_ = absl::StrCat("agreed stop: estimate ", label - 1, " of neighbour ", neighbours_[i],
                                " missing when sending ", label);
        }
        complete = false;
        previous.push_back(nullptr);
        previous_votes.push_back(nullptr);
        continue;
      }
      const Eigen::Map<const Vector> xj(seen.x, b.x.size());
      const double d2 = (previous_x_ - xj).squaredNorm();
      disagreement = std::max(disagreement, std::sqrt(d2));
      r2 += d2;
      neighbours2 += xj.squaredNorm();
      previous.push_back(seen.bits);
      previous_votes.push_back(seen.vote);
    }
    disagreement_ = complete ? disagreement / scale : std::numeric_limits<double>::infinity();
    if (complete && (rule_.residual() || rule_.adapts())) {
      // Seed 002 §3.3, per node (see the header).
      const double n = static_cast<double>(b.x.size()), degree = static_cast<double>(neighbours_.size());
      primal_residual_ = std::sqrt(r2);
      // With per-edge penalties (edge_penalties.h) the block of A'rho over p's edges has the norm
      // sqrt(sum_j rho_pj^2) instead of rho sqrt(D_p): the penalties that computed this estimate.
      const EdgePenalties* edges = wrapped().edge_penalties();
      const double penalty_norm =
          edges != nullptr && edges->adaptive() ? edges->root_sum_of_squares() : rho_ * std::sqrt(degree);
      dual_residual_ = penalty_norm * (b.x - previous_x_).norm();
      if (rule_.residual()) {
        const double eps_pri = std::sqrt(n * degree) * rule_.eps_abs +
                               rule_.eps_rel * std::max(std::sqrt(degree) * previous_x_.norm(), std::sqrt(neighbours2));
        const double eps_dual = std::sqrt(n) * rule_.eps_abs + rule_.eps_rel * wrapped().dual()->norm();
        test = primal_residual_ <= eps_pri && dual_residual_ <= eps_dual;
      }
    }
    if (!rule_.residual() && rule_.tolerance > 0.0) {
      test = complete && change_ <= rule_.tolerance && disagreement_ <= rule_.tolerance;
    }
  }
  local_test_ = test;
  b.control = stop_.Step(test, previous);
  if (rule_.adapts()) {
    // The vote of window m (labels first + m T .. + D), see the header.
    // The vote's windows start at labels first + m T, m = 1 .. votes; the balancing rule's at
    // first + 1 + m T, m = 0 .. votes - 1: its first measurement is the first one there is (the second
    // estimate), so that a poor rho is corrected after D + 1 steps, not T + D.
    const bool balance = rule_.penalty_rule == PenaltyRule::kBalance;
    const std::uint64_t first = wrapped().first_label() + (balance ? 1 : 0);
    const std::uint64_t since = label >= first ? label - first : 0;
    const std::uint64_t window = since / rule_.adapt_interval, offset = since % rule_.adapt_interval;
    const bool voting = label >= first &&
                        (balance ? window < rule_.adapt_votes : window >= 1 && window <= rule_.adapt_votes) &&
                        offset <= rule_.diameter_bound;
    double r = 0.0, s = 0.0;
    if (voting && offset == 0 && balance) {
      // Relative residuals (see the header); a zero scale (every estimate 0, or gamma_p = 0) leaves
      // the residual as it is rather than dividing by 0.
      const double degree = static_cast<double>(neighbours_.size());
      const double primal_scale = std::max(std::sqrt(degree) * previous_x_.norm(), std::sqrt(neighbours2));
      const double dual_scale = wrapped().dual()->norm();
      r = primal_scale > 0.0 ? primal_residual_ / primal_scale : primal_residual_;
      s = dual_scale > 0.0 ? dual_residual_ / dual_scale : dual_residual_;
      if (!std::isfinite(r)) r = 0.0;
      if (!std::isfinite(s)) s = 0.0;
    } else if (voting && offset == 0) {
      r = primal_residual_;
      s = dual_residual_;
    } else if (voting) {
      r = vote_r_;
      s = vote_s_;
      for (const Vote* v : previous_votes) {
        if (v == nullptr) continue;
        r = std::max(r, (*v)[0]);
        s = std::max(s, (*v)[1]);
      }
    }
    vote_r_ = r;
    vote_s_ = s;
    const double vote[2] = {r, s};
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(vote);
    b.control.insert(b.control.end(), bytes, bytes + sizeof(vote));
    if (voting && offset == rule_.diameter_bound) {
      // Every node now holds the same R and S: (3.13).
      double next = rho_;
      if (balance) {
        // Wohlberg's adaptive multiplier: the factor sqrt(R / S), at most tau.
        if (r > rule_.adapt_mu * s)
          next = rho_ * (s > 0.0 ? std::min(std::sqrt(r / s), rule_.adapt_tau) : rule_.adapt_tau);
        if (s > rule_.adapt_mu * r)
          next = rho_ / (r > 0.0 ? std::min(std::sqrt(s / r), rule_.adapt_tau) : rule_.adapt_tau);
      } else {
        if (r > rule_.adapt_mu * s) next = rho_ * rule_.adapt_tau;
        if (s > rule_.adapt_mu * r) next = rho_ / rule_.adapt_tau;
      }
      if (next != rho_) {
        rho_ = next;
        inner().set_penalty(rho_);
        ++penalty_changes_;
      }
    }
  }
  previous_x_ = b.x;
  last_label_ = label;
  for (auto& by_label : received_) by_label.erase(by_label.begin(), by_label.lower_bound(label - 1));
  return stop_.stop();
}

std::string StopRule::Describe() const {
  auto exact = [](double v) { return ShortestRoundTrip(v); };
  std::string s = residual()        ? absl::StrCat("residual eps_abs=", exact(eps_abs), " eps_rel=", exact(eps_rel))
                  : tolerance > 0.0 ? absl::StrCat("change tol=", exact(tolerance))
                                    : "none";
  if (adapts()) {
    absl::StrAppend(&s, " vary-rho every=", adapt_interval, " votes=", adapt_votes, " mu=", exact(adapt_mu),
                    " tau=", exact(adapt_tau));
    // The balancing rule only (the vote's description stays what agents of earlier versions compare).
    if (penalty_rule != PenaltyRule::kVote) absl::StrAppend(&s, " rule=", PenaltyRuleName(penalty_rule));
  }
  return s;
}

absl::Status WrapWithAgreedStop(const Topology& topology, std::map<NodeId, std::unique_ptr<NodeProgram>>& programs,
                                double tolerance) {
  const StopRule rule{.tolerance = tolerance, .diameter_bound = DiameterBound(topology)};
  for (auto& [id, program] : programs) {
    absl::StatusOr<std::unique_ptr<AgreedStopProgram>> wrapped =
        AgreedStopProgram::Create(std::move(program), topology.neighbours(id), rule);
    if (!wrapped.ok()) return wrapped.status();
    program = std::move(*wrapped);
  }
  return absl::OkStatus();
}

void AgreedStopProgram::SaveState(StateWriter& w) const {
  wrapped().SaveState(w);
  w.Bytes("agreed-stop");
  stop_.SaveState(w);
  w.U64(received_.size());
  for (const std::map<std::uint64_t, Received>& from : received_) {
    w.U64(from.size());
    for (const auto& [label, r] : from) {
      w.U64(label);
      w.Vec(r.x);
      w.Integers(r.bits);
      w.F64(r.vote[0]);
      w.F64(r.vote[1]);
    }
  }
  w.Vec(previous_x_);
  w.U64(last_label_);
  for (double v : {change_, disagreement_, primal_residual_, dual_residual_, rho_, vote_r_, vote_s_}) w.F64(v);
  w.U64(penalty_changes_);
  w.Bool(local_test_);
}

absl::Status AgreedStopProgram::LoadState(StateReader& r) {
  if (absl::Status s = inner().LoadState(r); !s.ok()) return s;
  if (const std::string tag = r.Bytes(); r.ok() && tag != "agreed-stop") {
    r.Fail(absl::StrCat("a state of ", tag, ", not the agreed stop's (was the run started without a stopping rule?)"));
  }
  stop_.LoadState(r);
  if (const std::uint64_t n = r.U64(); r.ok() && n != received_.size()) {
    r.Fail(absl::StrCat("the agreed stop's state is for ", n, " neighbours, this node has ", received_.size()));
  }
  const Eigen::Index dimension = wrapped().x().size();
  for (std::size_t i = 0; r.ok() && i < received_.size(); ++i) {
    received_[i].clear();
    const std::uint64_t count = r.U64();
    for (std::uint64_t k = 0; r.ok() && k < count; ++k) {
      const std::uint64_t label = r.U64();
      Received& got = received_[i][label];
      got.x = r.Vec(dimension, "a neighbour's estimate");
      got.bits = r.Integers<std::uint8_t>();
      got.vote = {r.F64(), r.F64()};
    }
  }
  previous_x_ = r.Vec();
  last_label_ = r.U64();
  for (double* v : {&change_, &disagreement_, &primal_residual_, &dual_residual_, &rho_, &vote_r_, &vote_s_})
    *v = r.F64();
  penalty_changes_ = static_cast<std::uint32_t>(r.U64());
  local_test_ = r.Bool();
  return r.status(/*whole=*/false);
}

}  // namespace dadmm
