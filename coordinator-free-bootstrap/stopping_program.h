// A node program with the agreed stopping rule: any algorithm's program (D-ADMM, Algorithm 3, ...)
// wrapped so that it stops, at every node at the same iteration, once a local tolerance has held at
// every node, with no coordinator and no extra messages (see agreed_stop.h).
//
// The local test of the estimate labelled L (x_p^L, broadcast once per step) uses what the node has
// when it broadcasts it: its own previous estimate and every neighbour's estimate labelled L - 1, all
// received by then in D-ADMM and in the synchronous algorithms alike:
//   change       ||x_p^L - x_p^{L-1}||
//   disagreement max_j ||x_p^{L-1} - x_j^{L-1}||
// both relative to s = max(1, ||x_p^L||) (relative for estimates of norm >= 1, absolute below), and
// f_p = (change <= tol s and disagreement <= tol s). The D + 1 stop bits of label L ride on the
// estimate itself (Broadcast::control). When bit D is set, the estimate just broadcast is the last:
// the wrapped program completes that step and ends (Outcome::kStopped), at every node after the same
// number of steps, D steps after the one where every node's test held.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "common/node_program.h"
#include "common/topology.h"
#include "coordinator-free-bootstrap/agreed_stop.h"

namespace dadmm {

struct StopRule {
  double tolerance = 0.0;             // > 0
  std::uint32_t diameter_bound = 0;   // >= the network's diameter, the same at every node
};

// The bound every agent computes from the (fingerprint-checked) topology file: its diameter.
std::uint32_t DiameterBound(const Topology& topology);

class AgreedStopProgram final : public NodeProgram, private BroadcastHook {
 public:
  // `neighbours`: the node's neighbours (as the wrapped program has them).
  static absl::StatusOr<std::unique_ptr<AgreedStopProgram>> Create(std::unique_ptr<NodeProgram> program,
                                                                   std::vector<NodeId> neighbours,
                                                                   const StopRule& rule);

  void Start(std::vector<Broadcast>& out) override;
  // Also refuses stop bits of the wrong length; the wrapped program checks the rest.
  absl::Status Receive(const Estimate& message, std::vector<Broadcast>& out) override;
  Outcome outcome() const override { return program_->outcome(); }
  std::uint64_t steps() const override { return program_->steps(); }
  const Vector& x() const override { return program_->x(); }
  std::uint64_t estimate_step() const override { return program_->estimate_step(); }
  std::uint64_t first_label() const override { return program_->first_label(); }
  std::vector<NodeId> awaited() const override { return program_->awaited(); }
  const LocalProblem* local_problem() const override { return program_->local_problem(); }
  std::uint64_t computation_iterations() const override { return program_->computation_iterations(); }

  // The last local test's measures (relative, see above; infinite before the second estimate), and
  // the label of the last estimate broadcast.
  double change() const { return change_; }
  double disagreement() const { return disagreement_; }
  bool local_test() const { return local_test_; }
  std::uint64_t last_label() const { return last_label_; }
  std::size_t control_bytes() const { return stop_.bytes(); }
  const NodeProgram& wrapped() const { return *program_; }

 private:
  AgreedStopProgram(std::unique_ptr<NodeProgram> program, std::vector<NodeId> neighbours, const StopRule& rule);
  bool OnBroadcast(Broadcast& b) override;
  // Neighbour i's estimate labelled `label` (of the program's dimension) and its bits: stored, or the
  // message being received; x == nullptr if neither.
  struct Seen {
    const double* x = nullptr;
    const StopBits* bits = nullptr;
  };
  Seen EstimateOf(std::size_t i, std::uint64_t label) const;

  struct Received {
    Vector x;
    StopBits bits;
  };

  std::unique_ptr<NodeProgram> program_;
  std::vector<NodeId> neighbours_;  // sorted
  double tolerance_;
  AgreedStop stop_;
  std::vector<std::map<std::uint64_t, Received>> received_;  // per neighbour, by label
  Vector previous_x_;
  std::uint64_t last_label_ = 0;
  double change_;
  double disagreement_;
  bool local_test_ = false;
  // During Receive: the message being received, from neighbour pending_index_.
  const Estimate* pending_ = nullptr;
  std::size_t pending_index_ = 0;
  StopBits pending_bits_;
  std::string error_;  // an inconsistency found in OnBroadcast, reported by the call that caused it
};

// Wraps every program of a network (for the simulator).
absl::Status WrapWithAgreedStop(const Topology& topology, std::map<NodeId, std::unique_ptr<NodeProgram>>& programs,
                                double tolerance);

}  // namespace dadmm
