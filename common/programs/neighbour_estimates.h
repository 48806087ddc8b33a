// The estimates a node holds of its neighbours, for algorithms in which no neighbour is ever more
// than one iteration ahead: for each neighbour j (sorted by id) x_j^k, and two slots for x_j^{k+1}
// and x_j^{k+2}. Stored as n x D matrices (one column per neighbour), so that a node of degree
// 1500 holds three allocations, not 4500.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/programs/node_program.h"

namespace dadmm {

class NeighbourEstimates {
 public:
  // `ids` sorted and unique; every x_j^k starts at zero; the first estimate expected from each
  // neighbour carries `first_label`.
  NeighbourEstimates(NodeId self, std::vector<NodeId> ids, Eigen::Index n, std::uint64_t first_label);

  std::size_t size() const { return ids_.size(); }
  NodeId id(std::size_t i) const { return ids_[i]; }
  const std::vector<NodeId>& ids() const { return ids_; }

  // Checks what holds for every correct message whatever the algorithm: the sender is a neighbour,
  // the dimension is n, the entries are finite, and the label is the next one from that sender.
  // Returns the sender's index and the message's slot relative to `current_label` (the label of
  // x_j^{k+1}): 0, 1, or more (which the caller rejects as too early).
  struct Placement {
    std::size_t index = 0;
    std::uint64_t ahead = 0;
  };
  absl::StatusOr<Placement> Check(const Estimate& m, std::uint64_t current_label) const;
  // Stores a checked message.
  void Store(const Placement& p, const Estimate& m);
  // The error for a message that passed Check but cannot have been sent yet by a correct neighbour.
  absl::Status TooEarly(const Estimate& m, std::uint64_t current_label, absl::string_view why) const;

  bool has_next(std::size_t i) const { return have0_[i] != 0; }
  bool all_next() const;
  auto current(std::size_t i) const { return xk_.col(static_cast<Eigen::Index>(i)); }  // x_j^k
  auto next(std::size_t i) const { return s0_.col(static_cast<Eigen::Index>(i)); }     // x_j^{k+1}
  // x_j^k <- x_j^{k+1}, x_j^{k+1} <- x_j^{k+2}, for every j. Requires all_next().
  void Shift();

  void SaveState(StateWriter& w) const;
  void LoadState(StateReader& r);

 private:
  NodeId self_;
  std::vector<NodeId> ids_;
  Eigen::MatrixXd xk_, s0_, s1_;
  std::vector<std::uint8_t> have0_, have1_;
  std::vector<std::uint64_t> next_label_;
};

}  // namespace dadmm
