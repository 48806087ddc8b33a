#include "common/programs/neighbour_estimates.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace dadmm {

NeighbourEstimates::NeighbourEstimates(NodeId self, std::vector<NodeId> ids, Eigen::Index n, std::uint64_t first_label)
    : self_(self),
      ids_(std::move(ids)),
      xk_(Eigen::MatrixXd::Zero(n, static_cast<Eigen::Index>(ids_.size()))),
      s0_(Eigen::MatrixXd::Zero(n, static_cast<Eigen::Index>(ids_.size()))),
      s1_(Eigen::MatrixXd::Zero(n, static_cast<Eigen::Index>(ids_.size()))),
      have0_(ids_.size(), 0),
      have1_(ids_.size(), 0),
      next_label_(ids_.size(), first_label) {}

absl::StatusOr<NeighbourEstimates::Placement> NeighbourEstimates::Check(const Estimate& m,
                                                                        std::uint64_t current_label) const {
  auto it = std::lower_bound(ids_.begin(), ids_.end(), m.sender);
  auto error = [&](absl::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("node ", self_, ": estimate from ", m.sender, " for iteration ", m.iteration, ": ", what));
  };
  if (it == ids_.end() || *it != m.sender) return error("sender is not a neighbour");
  const std::size_t i = static_cast<std::size_t>(it - ids_.begin());
  if (m.x.size() != xk_.rows()) return error(absl::StrCat("dimension ", m.x.size(), ", expected ", xk_.rows()));
  if (!m.x.allFinite()) return error("non-finite entries");
  if (m.iteration != next_label_[i]) {
    return error(absl::StrCat("out of sequence, expected iteration ", next_label_[i]));
  }
  // next_label_[i] >= current_label always: the slots before it are full.
  return Placement{.index = i, .ahead = m.iteration - current_label};
}

absl::Status NeighbourEstimates::TooEarly(const Estimate& m, std::uint64_t current_label, absl::string_view why) const {
  return absl::InvalidArgumentError(absl::StrCat("node ", self_, ": estimate from ", m.sender, " for iteration ",
                                                 m.iteration, ": too early: this node waits for iteration ",
                                                 current_label, why.empty() ? "" : " and ", why));
}

void NeighbourEstimates::Store(const Placement& p, const Estimate& m) {
  const auto col = static_cast<Eigen::Index>(p.index);
  if (p.ahead == 0) {
    s0_.col(col) = m.x;
    have0_[p.index] = 1;
  } else {
    s1_.col(col) = m.x;
    have1_[p.index] = 1;
  }
  ++next_label_[p.index];
}

bool NeighbourEstimates::all_next() const {
  return std::all_of(have0_.begin(), have0_.end(), [](std::uint8_t h) { return h != 0; });
}

void NeighbourEstimates::Shift() {
  xk_.swap(s0_);
  s0_.swap(s1_);
  have0_.swap(have1_);
  std::fill(have1_.begin(), have1_.end(), 0);
}

void NeighbourEstimates::SaveState(StateWriter& w) const {
  w.Matrix(xk_);
  w.Matrix(s0_);
  w.Matrix(s1_);
  w.Integers(have0_);
  w.Integers(have1_);
  w.Integers(next_label_);
}

void NeighbourEstimates::LoadState(StateReader& r) {
  xk_ = r.Matrix(xk_.rows(), xk_.cols(), "the neighbours' estimates");
  s0_ = r.Matrix(s0_.rows(), s0_.cols(), "the neighbours' next estimates");
  s1_ = r.Matrix(s1_.rows(), s1_.cols(), "the neighbours' estimates after next");
  have0_ = r.Integers<std::uint8_t>();
  have1_ = r.Integers<std::uint8_t>();
  next_label_ = r.Integers<std::uint64_t>();
  if (r.ok() && (have0_.size() != ids_.size() || have1_.size() != ids_.size() || next_label_.size() != ids_.size())) {
    r.Fail(absl::StrCat("state for ", have0_.size(), " neighbours, this node has ", ids_.size()));
  }
}

}  // namespace dadmm
