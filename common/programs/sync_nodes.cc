#include "common/programs/sync_nodes.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace dadmm {
namespace {

std::vector<NodeId> Ids(const std::vector<NeighbourDegree>& neighbours) {
  std::vector<NodeId> ids;
  ids.reserve(neighbours.size());
  for (const NeighbourDegree& n : neighbours) ids.push_back(n.id);
  return ids;
}

}  // namespace

absl::Status SynchronousNode::ValidateNeighbours(NodeId self, std::vector<NeighbourDegree>& neighbours) {
  std::sort(neighbours.begin(), neighbours.end(),
            [](const NeighbourDegree& a, const NeighbourDegree& b) { return a.id < b.id; });
  for (std::size_t i = 0; i < neighbours.size(); ++i) {
    if (neighbours[i].id == self) {
      return absl::InvalidArgumentError(absl::StrCat("node ", self, " lists itself as a neighbour"));
    }
    if (i > 0 && neighbours[i - 1].id == neighbours[i].id) {
      return absl::InvalidArgumentError(absl::StrCat("node ", self, ": neighbour ", neighbours[i].id, " listed twice"));
    }
    if (neighbours[i].degree < 1) {
      return absl::InvalidArgumentError(absl::StrCat("node ", self, ": neighbour ", neighbours[i].id, " has degree 0"));
    }
  }
  return absl::OkStatus();
}

absl::Status SynchronousNode::ValidateProblem(const std::unique_ptr<LocalProblem>& problem) {
  if (problem == nullptr || problem->dimension() < 1) {
    return absl::InvalidArgumentError("the algorithm needs a problem of dimension >= 1");
  }
  return absl::OkStatus();
}

SynchronousNode::SynchronousNode(NodeId self, const std::vector<NeighbourDegree>& neighbours, Eigen::Index n,
                                 std::uint64_t first_label, std::uint64_t max_steps)
    : self_(self),
      x_(Vector::Zero(n)),
      neighbours_(self, Ids(neighbours), n, first_label),
      first_label_(first_label),
      max_steps_(max_steps),
      label_(first_label) {
  for (const NeighbourDegree& d : neighbours) degrees_.push_back(d.degree);
}

void SynchronousNode::Start(std::vector<Broadcast>& out) {
  if (started_) return;
  started_ = true;
  Initialize();
  Send(out);
  Advance(out);
}

void SynchronousNode::Advance(std::vector<Broadcast>& out) {
  while (outcome_ == Outcome::kRunning && neighbours_.all_next()) {
    ++steps_;
    const bool last = steps_ >= max_steps_;
    Update(label_, last);
    neighbours_.Shift();
    ++label_;
    if (last) {
      outcome_ = end_requested_ ? Outcome::kStopped : Outcome::kMaxIterations;
      return;
    }
    Send(out);
  }
}

absl::Status SynchronousNode::Receive(const Estimate& m, std::vector<Broadcast>& out) {
  if (!started_ || outcome_ != Outcome::kRunning) {
    return absl::InvalidArgumentError(absl::StrCat("node ", self_, ": estimate from ", m.sender, " for iteration ",
                                                   m.iteration, ": this node ",
                                                   started_ ? "has finished" : "has not started"));
  }
  absl::StatusOr<NeighbourEstimates::Placement> p = neighbours_.Check(m, label_);
  if (!p.ok()) return p.status();
  // A neighbour can be one round ahead (it has our label_ estimate), never two.
  if (p->ahead > 1) return neighbours_.TooEarly(m, label_, "");
  neighbours_.Store(*p, m);
  Advance(out);
  return absl::OkStatus();
}

void SynchronousNode::Send(std::vector<Broadcast>& out) {
  if (Emit({.iteration = label_, .x = x_}, out)) {
    end_requested_ = true;
    max_steps_ = std::min(max_steps_, steps_ + 1);
  }
}

std::vector<NodeId> SynchronousNode::awaited() const {
  std::vector<NodeId> ids;
  if (!started_ || outcome_ != Outcome::kRunning) return ids;
  for (std::size_t i = 0; i < neighbours_.size(); ++i) {
    if (!neighbours_.has_next(i)) ids.push_back(neighbours_.id(i));
  }
  return ids;
}

// ---- Algorithm 3 ----

absl::Status Algorithm3Settings::Validate() const {
  if (!(rho > 0.0) || !std::isfinite(rho)) {
    return absl::InvalidArgumentError(absl::StrCat("rho must be a finite number > 0, got ", rho));
  }
  if (max_iterations < 1) return absl::InvalidArgumentError("max_iterations must be >= 1");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Algorithm3Node>> Algorithm3Node::Create(NodeId self,
                                                                       std::vector<NeighbourDegree> neighbours,
                                                                       std::unique_ptr<LocalProblem> problem,
                                                                       const Algorithm3Settings& settings) {
  if (absl::Status s = settings.Validate(); !s.ok()) return s;
  if (absl::Status s = ValidateProblem(problem); !s.ok()) return s;
  if (absl::Status s = ValidateNeighbours(self, neighbours); !s.ok()) return s;
  return std::unique_ptr<Algorithm3Node>(new Algorithm3Node(self, neighbours, std::move(problem), settings));
}

Algorithm3Node::Algorithm3Node(NodeId self, const std::vector<NeighbourDegree>& neighbours,
                               std::unique_ptr<LocalProblem> problem, const Algorithm3Settings& settings)
    : SynchronousNode(self, neighbours, problem->dimension(), /*first_label=*/2, settings.max_iterations),
      problem_(std::move(problem)),
      rho_(settings.rho),
      gamma_(Vector::Zero(problem_->dimension())),
      v_(Vector::Zero(problem_->dimension())) {}

void Algorithm3Node::SolveLocal() {
  // Step 3: x_p^{k+1} = argmin f_p(x) + v'x + rho D_p ||x||^2, i.e. (c/2)||x||^2 with c = 2 rho D_p.
  solves_.Add(problem_->Solve(v_, 2.0 * rho_ * static_cast<double>(degree()), x_));
}

void Algorithm3Node::Initialize() {
  // Initialization: gamma_p^1 = x_p^1 = 0 everywhere, so v_p^1 = 0 and x_p^2 needs no message.
  v_.setZero();
  SolveLocal();
  estimate_step_ = 1;
}

void Algorithm3Node::Update(std::uint64_t label, bool last) {
  // Round `label` = k + 1 is complete: x_ = x_p^{k+1}, next(j) = x_j^{k+1}.
  // Step 6: gamma_p^{k+1} = gamma_p^k + rho sum_j (x_p^{k+1} - x_j^{k+1}).
  v_.setZero();
  for (std::size_t i = 0; i < degree(); ++i) v_ += neighbours().next(i);
  gamma_ += rho_ * (static_cast<double>(degree()) * x_ - v_);
  if (last) return;
  // Step 3 of the next iteration: v = gamma - rho (D_p x_p + sum_j x_j).
  v_ = gamma_ - rho_ * (static_cast<double>(degree()) * x_ + v_);
  SolveLocal();
  estimate_step_ = label;
}

// ---- Subgradient (14) ----

absl::Status SubgradientSettings::Validate() const {
  if (!(step > 0.0) || !std::isfinite(step)) {
    return absl::InvalidArgumentError(absl::StrCat("step must be a finite number > 0, got ", step));
  }
  if (max_iterations < 1) return absl::InvalidArgumentError("max_iterations must be >= 1");
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SubgradientNode>> SubgradientNode::Create(NodeId self,
                                                                         std::vector<NeighbourDegree> neighbours,
                                                                         std::unique_ptr<LocalProblem> problem,
                                                                         const SubgradientSettings& settings) {
  if (absl::Status s = settings.Validate(); !s.ok()) return s;
  if (absl::Status s = ValidateProblem(problem); !s.ok()) return s;
  if (!problem->HasProjection()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the subgradient method needs a projection onto X_p, which ", problem->kind(), " lacks"));
  }
  if (absl::Status s = ValidateNeighbours(self, neighbours); !s.ok()) return s;
  return std::unique_ptr<SubgradientNode>(new SubgradientNode(self, neighbours, std::move(problem), settings));
}

SubgradientNode::SubgradientNode(NodeId self, const std::vector<NeighbourDegree>& neighbours,
                                 std::unique_ptr<LocalProblem> problem, const SubgradientSettings& settings)
    : SynchronousNode(self, neighbours, problem->dimension(), /*first_label=*/2, settings.max_iterations),
      problem_(std::move(problem)),
      step_(settings.step),
      mixed_(Vector::Zero(problem_->dimension())) {}

void SubgradientNode::Step(const Vector& mixed, std::uint64_t k) {
  x_ = mixed - (step_ / std::sqrt(static_cast<double>(k))) * problem_->Subgradient(mixed);
  problem_->Project(x_);
}

void SubgradientNode::Initialize() {
  // x_p^1 = 0 everywhere: the first weighted average is 0 and x_p^2 needs no message.
  Step(Vector::Zero(x_.size()), 1);
  estimate_step_ = 1;
}

void SubgradientNode::Update(std::uint64_t label, bool last) {
  if (last) return;
  // Round `label` = k: x_ = x_p^k, next(j) = x_j^k. (14) with Metropolis-Hastings weights.
  const double dp = static_cast<double>(degree());
  double self_weight = 1.0;
  mixed_.setZero();
  for (std::size_t i = 0; i < degree(); ++i) {
    const double a = 1.0 / (1.0 + std::max(dp, static_cast<double>(neighbour_degree(i))));
    mixed_ += a * neighbours().next(i);
    self_weight -= a;
  }
  mixed_ += self_weight * x_;
  Step(mixed_, label);
  estimate_step_ = label;
}

// ---- Averaging [26] ----

absl::StatusOr<std::unique_ptr<AveragingNode>> AveragingNode::Create(NodeId self,
                                                                     std::vector<NeighbourDegree> neighbours,
                                                                     Vector theta, std::uint64_t max_iterations) {
  if (max_iterations < 1) return absl::InvalidArgumentError("max_iterations must be >= 1");
  if (theta.size() < 1) return absl::InvalidArgumentError("averaging needs theta of dimension >= 1");
  if (absl::Status s = ValidateNeighbours(self, neighbours); !s.ok()) return s;
  return std::unique_ptr<AveragingNode>(new AveragingNode(self, neighbours, std::move(theta), max_iterations));
}

AveragingNode::AveragingNode(NodeId self, const std::vector<NeighbourDegree>& neighbours, Vector theta,
                             std::uint64_t max_iterations)
    : SynchronousNode(self, neighbours, theta.size(), /*first_label=*/1, max_iterations),
      theta_(std::move(theta)),
      next_(Vector::Zero(theta_.size())) {}

void AveragingNode::Initialize() {
  x_ = theta_;  // x^1 = theta: private, so it is the first thing sent
  estimate_step_ = 0;
}

void AveragingNode::Update(std::uint64_t label, bool /*last*/) {
  // x_p^{k+1} = x_p^k + (1/2) sum_j (x_j^k - x_p^k) / max(D_p, D_j), k = label.
  const double dp = static_cast<double>(degree());
  next_ = x_;
  for (std::size_t i = 0; i < degree(); ++i) {
    next_ += (0.5 / std::max(dp, static_cast<double>(neighbour_degree(i)))) * (neighbours().next(i) - x_);
  }
  x_.swap(next_);
  estimate_step_ = label;
}

void SynchronousNode::SaveState(StateWriter& w) const {
  w.Bytes(algorithm_name());
  w.U64(neighbours_.size());
  neighbours_.SaveState(w);
  w.Vec(x_);
  w.U64(estimate_step_);
  w.U64(max_steps_);
  w.Bool(end_requested_);
  w.U64(label_);
  w.U64(steps_);
  w.Bool(started_);
  w.U64(static_cast<std::uint64_t>(outcome_));
  SaveOwn(w);
}

absl::Status SynchronousNode::LoadState(StateReader& r) {
  if (const std::string tag = r.Bytes(); r.ok() && tag != algorithm_name()) {
    r.Fail(absl::StrCat("a state of ", tag, ", not ", algorithm_name()));
  }
  if (const std::uint64_t degree = r.U64(); r.ok() && degree != neighbours_.size()) {
    r.Fail(absl::StrCat("a state for ", degree, " neighbours, this node has ", neighbours_.size()));
  }
  neighbours_.LoadState(r);
  x_ = r.Vec(x_.size(), "x");
  estimate_step_ = r.U64();
  max_steps_ = r.U64();
  end_requested_ = r.Bool();
  label_ = r.U64();
  steps_ = r.U64();
  started_ = r.Bool();
  const std::uint64_t outcome = r.U64();
  if (r.ok() && outcome > static_cast<std::uint64_t>(Outcome::kStopped)) r.Fail(absl::StrCat("outcome ", outcome));
  outcome_ = static_cast<Outcome>(outcome);
  LoadOwn(r);
  return r.status(/*whole=*/false);
}

}  // namespace dadmm
