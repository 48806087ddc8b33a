#include "common/programs/dadmm_node.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"

namespace dadmm {

absl::Status DadmmSettings::Validate() const {
  if (!(rho > 0.0) || !std::isfinite(rho)) {
    return absl::InvalidArgumentError(absl::StrCat("rho must be a finite number > 0, got ", rho));
  }
  if (max_iterations < 1) return absl::InvalidArgumentError("max_iterations must be >= 1");
  return edge.Validate();
}

absl::StatusOr<std::unique_ptr<DadmmNode>> DadmmNode::Create(NodeId self, std::uint32_t colour,
                                                             std::vector<NeighbourColour> neighbours,
                                                             std::unique_ptr<LocalProblem> problem,
                                                             const DadmmSettings& settings) {
  if (absl::Status s = settings.Validate(); !s.ok()) return s;
  if (problem == nullptr || problem->dimension() < 1) {
    return absl::InvalidArgumentError("D-ADMM needs a problem of dimension >= 1");
  }
  std::sort(neighbours.begin(), neighbours.end(),
            [](const NeighbourColour& a, const NeighbourColour& b) { return a.id < b.id; });
  std::vector<NodeId> ids;
  std::vector<std::uint8_t> lower;
  for (std::size_t i = 0; i < neighbours.size(); ++i) {
    const NeighbourColour& n = neighbours[i];
    if (n.id == self) return absl::InvalidArgumentError(absl::StrCat("node ", self, " lists itself as a neighbour"));
    if (i > 0 && neighbours[i - 1].id == n.id) {
      return absl::InvalidArgumentError(absl::StrCat("node ", self, ": neighbour ", n.id, " listed twice"));
    }
    if (n.colour == colour) {
      return absl::InvalidArgumentError(
          absl::StrCat("node ", self, " and its neighbour ", n.id, " share colour ", colour));
    }
    ids.push_back(n.id);
    lower.push_back(n.colour < colour ? 1 : 0);
  }
  return std::unique_ptr<DadmmNode>(
      new DadmmNode(self, std::move(ids), std::move(lower), std::move(problem), settings));
}

DadmmNode::DadmmNode(NodeId self, std::vector<NodeId> ids, std::vector<std::uint8_t> lower,
                     std::unique_ptr<LocalProblem> problem, const DadmmSettings& settings)
    : self_(self),
      // Initialization of Algorithm 2: x_p^1 = 0 at every node, so the x_j^1 a node assumes are zero
      // and the first estimate it receives is x_j^2.
      neighbours_(self, std::move(ids), problem->dimension(), 2),
      lower_(std::move(lower)),
      problem_(std::move(problem)),
      settings_(settings),
      degree_rho_(static_cast<double>(neighbours_.size()) * settings.rho),
      edges_(neighbours_.size(), problem_->dimension(), settings.rho, settings.edge) {
  const Eigen::Index n = problem_->dimension();
  last_step_ = settings_.max_iterations;
  x_ = Vector::Zero(n);      // x_p^1 = 0
  gamma_ = Vector::Zero(n);  // gamma_p^1 = 0
  v_ = Vector::Zero(n);
  x_previous_ = Vector::Zero(n);
}

void DadmmNode::Start(std::vector<Broadcast>& out) {
  if (phase_ != Phase::kNotStarted) return;
  phase_ = Phase::kAwaitLower;
  Advance(out);
}

bool DadmmNode::HaveAll(bool lower) const {
  for (std::size_t i = 0; i < neighbours_.size(); ++i) {
    if ((lower_[i] != 0) == lower && !neighbours_.has_next(i)) return false;
  }
  return true;
}

void DadmmNode::Advance(std::vector<Broadcast>& out) {
  for (;;) {
    if (phase_ == Phase::kAwaitLower) {
      if (!HaveAll(/*lower=*/true)) return;
      // Step 3: v_p^k = gamma_p^k - rho sum_{lower j} x_j^{k+1} - rho sum_{higher j} x_j^k,
      // summed in neighbour-id order so that every driver rounds identically.
      if (edges_.adaptive()) {
        // With a penalty per edge (edge_penalties.h): v_p^k = gamma_p^k - sum_j rho_pj x_j, and the
        // quadratic term (sum_j rho_pj / 2) ||x||^2.
        v_ = gamma_;
        for (std::size_t i = 0; i < neighbours_.size(); ++i) {
          v_ -= edges_.rho(i) * (lower_[i] != 0 ? neighbours_.next(i) : neighbours_.current(i));
        }
        x_previous_ = x_;
        solves_.Add(problem_->Solve(v_, edges_.sum(), x_));
      } else {
        v_.setZero();
        for (std::size_t i = 0; i < neighbours_.size(); ++i) {
          if (lower_[i] != 0) {
            v_ += neighbours_.next(i);
          } else {
            v_ += neighbours_.current(i);
          }
        }
        v_ = gamma_ - settings_.rho * v_;
        // Step 4: x_p^{k+1} = argmin_{x in X_p} f_p(x) + v'x + (D_p rho / 2) ||x||^2.
        solves_.Add(problem_->Solve(v_, degree_rho_, x_));
      }
      // Step 5: send x_p^{k+1} to every neighbour.
      if (Emit({.iteration = k_ + 1, .x = x_}, out)) {
        // The stop rule made x_p^{k+1} the last estimate: iteration k, ending with step 8, is the last.
        end_requested_ = true;
        last_step_ = std::min(last_step_, k_);
      }
      phase_ = Phase::kAwaitHigher;
    }
    if (phase_ == Phase::kAwaitHigher) {
      if (!HaveAll(/*lower=*/false)) return;
      // Step 8: gamma_p^{k+1} = gamma_p^k + rho sum_j (x_p^{k+1} - x_j^{k+1}).
      if (edges_.adaptive()) {
        // gamma_p^{k+1} = gamma_p^k + sum_j rho_pj (x_p^{k+1} - x_j^{k+1}); then both ends of each
        // edge adapt its penalty for iteration k + 1 from the same estimates.
        for (std::size_t i = 0; i < neighbours_.size(); ++i) gamma_ += edges_.rho(i) * (x_ - neighbours_.next(i));
        edges_.Update(k_, x_, x_previous_, neighbours_);
      } else {
        v_.setZero();
        for (std::size_t i = 0; i < neighbours_.size(); ++i) v_ += neighbours_.next(i);
        gamma_ += settings_.rho * (static_cast<double>(neighbours_.size()) * x_ - v_);
      }
      neighbours_.Shift();
      ++k_;  // step 10
      if (steps() >= last_step_) {
        phase_ = Phase::kDone;
        outcome_ = end_requested_ ? Outcome::kStopped : Outcome::kMaxIterations;
        return;
      }
      phase_ = Phase::kAwaitLower;
      continue;
    }
    return;
  }
}

absl::Status DadmmNode::Receive(const Estimate& m, std::vector<Broadcast>& out) {
  if (phase_ == Phase::kDone || phase_ == Phase::kNotStarted) {
    return absl::InvalidArgumentError(absl::StrCat("node ", self_, ": estimate from ", m.sender, " for iteration ",
                                                   m.iteration, ": this node ",
                                                   phase_ == Phase::kDone ? "has finished" : "has not started"));
  }
  absl::StatusOr<NeighbourEstimates::Placement> p = neighbours_.Check(m, k_ + 1);
  if (!p.ok()) return p.status();
  // Which estimates a correct neighbour can have sent by now (see the class comment): x_j^{k+1}
  // from a lower neighbour at any time, from a higher one only after we sent x_p^{k+1}; x_j^{k+2}
  // only from a lower neighbour, after we sent x_p^{k+1}.
  const bool lower = lower_[p->index] != 0;
  const bool we_sent = phase_ == Phase::kAwaitHigher;
  const bool possible = p->ahead == 0 ? (lower || we_sent) : (p->ahead == 1 && lower && we_sent);
  if (!possible) {
    return neighbours_.TooEarly(m, k_ + 1, lower ? "the sender's colour is lower" : "the sender's colour is higher");
  }
  neighbours_.Store(*p, m);
  Advance(out);
  return absl::OkStatus();
}

std::vector<NodeId> DadmmNode::awaited() const {
  std::vector<NodeId> ids;
  if (phase_ != Phase::kAwaitLower && phase_ != Phase::kAwaitHigher) return ids;
  const bool lower = phase_ == Phase::kAwaitLower;
  for (std::size_t i = 0; i < neighbours_.size(); ++i) {
    if ((lower_[i] != 0) == lower && !neighbours_.has_next(i)) ids.push_back(neighbours_.id(i));
  }
  return ids;
}

}  // namespace dadmm

#include "common/network/topology.h"

namespace dadmm {

absl::StatusOr<std::unique_ptr<DadmmNode>> MakeDadmmNode(const Topology& topology,
                                                         const std::map<NodeId, std::uint32_t>& colouring, NodeId self,
                                                         std::unique_ptr<LocalProblem> problem,
                                                         const DadmmSettings& settings) {
  if (!topology.Contains(self)) {
    return absl::NotFoundError(absl::StrCat("node ", self, " is not in the topology"));
  }
  auto colour_of = [&](NodeId id) -> absl::StatusOr<std::uint32_t> {
    auto it = colouring.find(id);
    if (it == colouring.end()) return absl::NotFoundError(absl::StrCat("node ", id, " has no colour"));
    return it->second;
  };
  absl::StatusOr<std::uint32_t> colour = colour_of(self);
  if (!colour.ok()) return colour.status();
  std::vector<NeighbourColour> neighbours;
  for (NodeId j : topology.neighbours(self)) {
    absl::StatusOr<std::uint32_t> c = colour_of(j);
    if (!c.ok()) return c.status();
    neighbours.push_back({.id = j, .colour = *c});
  }
  return DadmmNode::Create(self, *colour, std::move(neighbours), std::move(problem), settings);
}

bool DadmmNode::set_penalty(double rho) {
  settings_.rho = rho;
  degree_rho_ = static_cast<double>(neighbours_.size()) * rho;
  edges_.SetAll(rho);
  return true;
}

void DadmmNode::SaveState(StateWriter& w) const {
  w.Bytes("d-admm");
  w.U64(neighbours_.size());
  neighbours_.SaveState(w);
  problem_->SaveState(w);
  w.U64(solves_.solves);
  w.U64(solves_.capped);
  w.F64(settings_.rho);
  w.F64(degree_rho_);
  w.U64(k_);
  w.U64(last_step_);
  w.Bool(end_requested_);
  w.U64(static_cast<std::uint64_t>(phase_));
  w.U64(static_cast<std::uint64_t>(outcome_));
  w.Vec(x_);
  w.Vec(gamma_);
  if (edges_.adaptive()) {
    edges_.SaveState(w);
    w.Vec(x_previous_);
  }
}

absl::Status DadmmNode::LoadState(StateReader& r) {
  if (const std::string tag = r.Bytes(); r.ok() && tag != "d-admm")
    r.Fail(absl::StrCat("a state of ", tag, ", not d-admm"));
  if (const std::uint64_t degree = r.U64(); r.ok() && degree != neighbours_.size()) {
    r.Fail(absl::StrCat("a state for ", degree, " neighbours, this node has ", neighbours_.size()));
  }
  neighbours_.LoadState(r);
  problem_->LoadState(r);
  solves_.solves = r.U64();
  solves_.capped = r.U64();
  settings_.rho = r.F64();
  degree_rho_ = r.F64();
  k_ = r.U64();
  last_step_ = r.U64();
  end_requested_ = r.Bool();
  const std::uint64_t phase = r.U64(), outcome = r.U64();
  if (r.ok() &&
      (phase > static_cast<std::uint64_t>(Phase::kDone) || outcome > static_cast<std::uint64_t>(Outcome::kStopped))) {
    r.Fail(absl::StrCat("phase ", phase, " or outcome ", outcome, " is not one of d-admm's"));
  }
  phase_ = static_cast<Phase>(phase);
  outcome_ = static_cast<Outcome>(outcome);
  x_ = r.Vec(x_.size(), "x");
  gamma_ = r.Vec(gamma_.size(), "gamma");
  if (edges_.adaptive()) {
    edges_.LoadState(r);
    x_previous_ = r.Vec(x_.size(), "x_previous");
  }
  return r.status(/*whole=*/false);
}

}  // namespace dadmm
