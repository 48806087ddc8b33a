#include "coordinator-free-bootstrap/stopping_program.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace dadmm {

std::uint32_t DiameterBound(const Topology& topology) {
  return std::max<std::uint32_t>(1, static_cast<std::uint32_t>(topology.Diameter()));
}

absl::StatusOr<std::unique_ptr<AgreedStopProgram>> AgreedStopProgram::Create(std::unique_ptr<NodeProgram> program,
                                                                             std::vector<NodeId> neighbours,
                                                                             const StopRule& rule) {
  if (program == nullptr) return absl::InvalidArgumentError("agreed stop: no program to wrap");
  if (rule.residual()) {
    if (!(rule.eps_abs >= 0.0) || !std::isfinite(rule.eps_abs) || !(rule.eps_rel >= 0.0) ||
        !std::isfinite(rule.eps_rel)) {
      return absl::InvalidArgumentError(
          absl::StrCat("eps_abs and eps_rel must be finite numbers >= 0, got ", rule.eps_abs, " and ", rule.eps_rel));
    }
    if (rule.tolerance != 0.0) {
      return absl::InvalidArgumentError("give either a tolerance (the change test) or eps_abs / eps_rel (the "
                                        "residual rule), not both");
    }
    if (!(rule.rho > 0.0) || !std::isfinite(rule.rho)) {
      return absl::InvalidArgumentError(absl::StrCat("the residual rule needs the penalty rho > 0, got ", rule.rho));
    }
    if (program->dual() == nullptr) {
      return absl::InvalidArgumentError("the residual stopping rule needs an ADMM (a dual variable): d-admm, "
                                        "algorithm3 (c-admm) or ic-admm");
    }
  } else if (!(rule.tolerance > 0.0) || !std::isfinite(rule.tolerance)) {
    return absl::InvalidArgumentError(absl::StrCat("tolerance must be a finite number > 0, got ", rule.tolerance));
  }
  if (rule.diameter_bound < 1) return absl::InvalidArgumentError("agreed stop: the diameter bound must be >= 1");
  std::sort(neighbours.begin(), neighbours.end());
  if (std::adjacent_find(neighbours.begin(), neighbours.end()) != neighbours.end()) {
    return absl::InvalidArgumentError("agreed stop: a neighbour is listed twice");
  }
  return std::unique_ptr<AgreedStopProgram>(new AgreedStopProgram(std::move(program), std::move(neighbours), rule));
}

AgreedStopProgram::AgreedStopProgram(std::unique_ptr<NodeProgram> program, std::vector<NodeId> neighbours,
                                     const StopRule& rule)
    : program_(std::move(program)),
      neighbours_(std::move(neighbours)),
      tolerance_(rule.tolerance),
      rule_(rule),
      stop_(rule.diameter_bound),
      received_(neighbours_.size()),
      change_(std::numeric_limits<double>::infinity()),
      disagreement_(std::numeric_limits<double>::infinity()) {
  if (rule_.residual()) primal_residual_ = dual_residual_ = std::numeric_limits<double>::infinity();
  program_->set_broadcast_hook(this);
}

void AgreedStopProgram::Start(std::vector<Broadcast>& out) { program_->Start(out); }

absl::Status AgreedStopProgram::Receive(const Estimate& m, std::vector<Broadcast>& out) {
  if (m.control.size() != stop_.bytes()) {
    return absl::InvalidArgumentError(absl::StrCat("estimate from ", m.sender, " for iteration ", m.iteration,
                                                   " carries ", m.control.size(), " stop byte(s), expected ",
                                                   stop_.bytes(), " (a different diameter bound?)"));
  }
  const std::size_t i = static_cast<std::size_t>(
      std::lower_bound(neighbours_.begin(), neighbours_.end(), m.sender) - neighbours_.begin());
  const bool known = i < neighbours_.size() && neighbours_[i] == m.sender;
  // The estimate may complete the step whose broadcast needs it, so it is visible to OnBroadcast
  // during the call; it is kept only if the wrapped program accepts it.
  if (known) {
    pending_ = &m;
    pending_index_ = i;
    pending_bits_.assign(m.control.begin(), m.control.end());
  }
  absl::Status s = program_->Receive(m, out);
  pending_ = nullptr;
  if (!s.ok()) return s;  // the wrapped program refused it before doing anything
  if (!known) return absl::InternalError(absl::StrCat("agreed stop: node ", m.sender, " is not a neighbour"));
  // Labels below the last broadcast's - 1 are never needed again.
  if (last_label_ == 0 || m.iteration + 1 >= last_label_) {
    received_[i][m.iteration] = Received{.x = m.x, .bits = std::move(pending_bits_)};
  }
  if (!error_.empty()) return absl::InternalError(error_);
  return absl::OkStatus();
}

AgreedStopProgram::Seen AgreedStopProgram::EstimateOf(std::size_t i, std::uint64_t label) const {
  if (pending_ != nullptr && pending_index_ == i && pending_->iteration == label) {
    return {.x = pending_->x.data(), .bits = &pending_bits_};
  }
  auto it = received_[i].find(label);
  if (it == received_[i].end()) return {};
  return {.x = it->second.x.data(), .bits = &it->second.bits};
}

bool AgreedStopProgram::OnBroadcast(Broadcast& b) {
  const std::uint64_t label = b.iteration;
  bool test = false;
  std::vector<const StopBits*> previous;
  if (last_label_ != 0) {
    if (label != last_label_ + 1 && error_.empty()) {
      error_ = absl::StrCat("agreed stop: estimate ", label, " after ", last_label_);
    }
    const double scale = std::max(1.0, b.x.norm());
    change_ = (b.x - previous_x_).norm() / scale;
    double disagreement = 0.0;
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
        continue;
      }
      disagreement = std::max(disagreement, (previous_x_ - Eigen::Map<const Vector>(seen.x, b.x.size())).norm());
      previous.push_back(seen.bits);
    }
    disagreement_ = complete ? disagreement / scale : std::numeric_limits<double>::infinity();
    if (!rule_.residual()) {
      test = complete && change_ <= tolerance_ && disagreement_ <= tolerance_;
    } else if (complete) {
      // Seed 002 §3.3, per node (see the header).
      const double n = static_cast<double>(b.x.size()), degree = static_cast<double>(neighbours_.size());
      double r2 = 0.0, neighbours2 = 0.0;
      for (std::size_t i = 0; i < neighbours_.size(); ++i) {
        const Eigen::Map<const Vector> xj(EstimateOf(i, label - 1).x, b.x.size());
        r2 += (previous_x_ - xj).squaredNorm();
        neighbours2 += xj.squaredNorm();
      }
      primal_residual_ = std::sqrt(r2);
      dual_residual_ = rule_.rho * std::sqrt(degree) * (b.x - previous_x_).norm();
      const double eps_pri = std::sqrt(n * degree) * rule_.eps_abs +
                             rule_.eps_rel * std::max(std::sqrt(degree) * previous_x_.norm(), std::sqrt(neighbours2));
      const double eps_dual = std::sqrt(n) * rule_.eps_abs + rule_.eps_rel * program_->dual()->norm();
      test = primal_residual_ <= eps_pri && dual_residual_ <= eps_dual;
    }
  }
  local_test_ = test;
  b.control = stop_.Step(test, previous);
  previous_x_ = b.x;
  last_label_ = label;
  for (auto& by_label : received_) by_label.erase(by_label.begin(), by_label.lower_bound(label - 1));
  return stop_.stop();
}

std::string StopRule::Describe() const {
  if (residual()) return absl::StrCat("residual eps_abs=", eps_abs, " eps_rel=", eps_rel);
  return absl::StrCat("change tol=", tolerance);
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

}  // namespace dadmm
