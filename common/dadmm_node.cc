#include "common/dadmm_node.h"

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
  return absl::OkStatus();
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
  std::vector<Neighbour> list;
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
    Neighbour j;
    j.id = n.id;
    j.lower = n.colour < colour;
    list.push_back(std::move(j));
  }
  return std::unique_ptr<DadmmNode>(new DadmmNode(self, std::move(list), std::move(problem), settings));
}

DadmmNode::DadmmNode(NodeId self, std::vector<Neighbour> neighbours, std::unique_ptr<LocalProblem> problem,
                     const DadmmSettings& settings)
    : self_(self),
      neighbours_(std::move(neighbours)),
      problem_(std::move(problem)),
      settings_(settings),
      degree_rho_(static_cast<double>(neighbours_.size()) * settings.rho) {
  const Eigen::Index n = problem_->dimension();
  // Initialization of Algorithm 2: gamma_p^1 = x_p^1 = 0, and so are the x_j^1 a node assumes.
  x_ = Vector::Zero(n);
  gamma_ = Vector::Zero(n);
  v_ = Vector::Zero(n);
  for (Neighbour& j : neighbours_) j.x_k = Vector::Zero(n);
}

void DadmmNode::Start(std::vector<Broadcast>& out) {
  if (phase_ != Phase::kNotStarted) return;
  phase_ = Phase::kAwaitLower;
  Advance(out);
}

bool DadmmNode::HaveAll(bool lower) const {
  return std::all_of(neighbours_.begin(), neighbours_.end(),
                     [lower](const Neighbour& j) { return j.lower != lower || j.slot[0].has_value(); });
}

void DadmmNode::Advance(std::vector<Broadcast>& out) {
  for (;;) {
    if (phase_ == Phase::kAwaitLower) {
      if (!HaveAll(/*lower=*/true)) return;
      // Step 3: v_p^k = gamma_p^k - rho sum_{lower j} x_j^{k+1} - rho sum_{higher j} x_j^k,
      // summed in neighbour-id order so that every driver rounds identically.
      v_.setZero();
      for (const Neighbour& j : neighbours_) v_ += j.lower ? *j.slot[0] : j.x_k;
      v_ = gamma_ - settings_.rho * v_;
      // Step 4: x_p^{k+1} = argmin_{x in X_p} f_p(x) + v'x + (D_p rho / 2) ||x||^2.
      problem_->Solve(v_, degree_rho_, x_);
      // Step 5: send x_p^{k+1} to every neighbour.
      out.push_back({.iteration = k_ + 1, .x = x_});
      phase_ = Phase::kAwaitHigher;
    }
    if (phase_ == Phase::kAwaitHigher) {
      if (!HaveAll(/*lower=*/false)) return;
      // Step 8: gamma_p^{k+1} = gamma_p^k + rho sum_j (x_p^{k+1} - x_j^{k+1}).
      v_.setZero();
      for (const Neighbour& j : neighbours_) v_ += *j.slot[0];
      gamma_ += settings_.rho * (static_cast<double>(neighbours_.size()) * x_ - v_);
      for (Neighbour& j : neighbours_) {
        j.x_k = std::move(*j.slot[0]);
        j.slot[0] = std::move(j.slot[1]);
        j.slot[1].reset();
      }
      ++k_;  // step 10
      if (steps() >= settings_.max_iterations) {
        phase_ = Phase::kDone;
        outcome_ = Outcome::kMaxIterations;
        return;
      }
      phase_ = Phase::kAwaitLower;
      continue;
    }
    return;
  }
}

absl::Status DadmmNode::Receive(const Estimate& m, std::vector<Broadcast>& out) {
  auto it = std::lower_bound(neighbours_.begin(), neighbours_.end(), m.sender,
                             [](const Neighbour& j, NodeId id) { return j.id < id; });
  const std::string from = absl::StrCat("node ", self_, ": estimate from ", m.sender, " for iteration ",
                                        m.iteration, ": ");
  if (it == neighbours_.end() || it->id != m.sender) {
    return absl::InvalidArgumentError(absl::StrCat(from, "sender is not a neighbour"));
  }
  Neighbour& j = *it;
  if (phase_ == Phase::kDone || phase_ == Phase::kNotStarted) {
    return absl::InvalidArgumentError(
        absl::StrCat(from, phase_ == Phase::kDone ? "this node has finished" : "this node has not started"));
  }
  if (m.x.size() != problem_->dimension()) {
    return absl::InvalidArgumentError(
        absl::StrCat(from, "dimension ", m.x.size(), ", expected ", problem_->dimension()));
  }
  if (!m.x.allFinite()) return absl::InvalidArgumentError(absl::StrCat(from, "non-finite entries"));
  if (m.iteration != j.next_iteration) {
    return absl::InvalidArgumentError(
        absl::StrCat(from, "out of sequence, expected iteration ", j.next_iteration));
  }
  // Which estimates a correct neighbour can have sent by now (see the class comment).
  const std::uint64_t ahead = m.iteration - (k_ + 1);
  const bool we_sent = phase_ == Phase::kAwaitHigher;  // x_p^{k+1} is out
  const bool possible = ahead == 0 ? (j.lower || we_sent) : (ahead == 1 && j.lower && we_sent);
  if (!possible) {
    return absl::InvalidArgumentError(absl::StrCat(
        from, "too early: this node is at iteration ", k_, " and the sender's colour is ",
        j.lower ? "lower" : "higher"));
  }
  j.slot[ahead] = m.x;
  ++j.next_iteration;
  Advance(out);
  return absl::OkStatus();
}

std::vector<NodeId> DadmmNode::awaited() const {
  std::vector<NodeId> ids;
  if (phase_ != Phase::kAwaitLower && phase_ != Phase::kAwaitHigher) return ids;
  const bool lower = phase_ == Phase::kAwaitLower;
  for (const Neighbour& j : neighbours_) {
    if (j.lower == lower && !j.slot[0].has_value()) ids.push_back(j.id);
  }
  return ids;
}

}  // namespace dadmm

#include "common/topology.h"

namespace dadmm {

absl::StatusOr<std::unique_ptr<DadmmNode>> MakeDadmmNode(const Topology& topology,
                                                         const std::map<NodeId, std::uint32_t>& colouring,
                                                         NodeId self, std::unique_ptr<LocalProblem> problem,
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

}  // namespace dadmm
