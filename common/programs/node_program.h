// The contract between an algorithm and the driver that runs it (the simulator or the agent).
//
// A node program is a deterministic state machine for ONE node: it is given its private problem,
// its neighbours and parameters, consumes estimates received from neighbours and emits estimates to
// send. It never waits, sleeps, locks or does I/O. Its iterates depend only on the messages' contents,
// never on the order in which messages from different neighbours arrive, so that every driver gets
// bit-identical results. Not thread-safe: a driver calls it from one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "common/base/state_codec.h"
#include "common/base/types.h"
#include "common/problems/problem.h"

namespace dadmm {

class EdgePenalties;

// x_sender^iteration, as received from a neighbour. A view: the vector stays owned by the driver
// and is valid only during the Receive call it is passed to.
struct Estimate {
  NodeId sender = 0;
  std::uint64_t iteration = 0;
  Eigen::Map<const Vector> x{nullptr, 0};
  // Control bytes a protocol layer piggybacks on the estimate (the agreed stop's bits, see
  // coordinator-free-bootstrap/); empty for a bare algorithm. Counted apart from the payload.
  absl::Span<const std::uint8_t> control;
};

// x_self^iteration, to be sent once to every neighbour (the driver fans it out and counts each copy).
struct Broadcast {
  std::uint64_t iteration = 0;
  Vector x;
  std::vector<std::uint8_t> control;  // see Estimate::control
};

// How a run ended, apart from errors.
enum class Outcome {
  kRunning,
  kMaxIterations,  // ran the maximum number of communication steps
  kStopped,        // ended by EndAtLastBroadcast (an agreed stopping rule)
};

// A protocol layer's view of a program's estimates (coordinator-free-bootstrap/ implements the agreed
// stop with it).
class BroadcastHook {
 public:
  virtual ~BroadcastHook() = default;
  // Called for every estimate as the program emits it, before it is sent and before the program goes
  // on. May set `b.control`. True makes `b` the run's last estimate: the program completes the step it
  // belongs to (still consuming the neighbours' estimates of that step), sends nothing further, and
  // ends with Outcome::kStopped.
  virtual bool OnBroadcast(Broadcast& b) = 0;
};

// What a protocol layer around a program measures (coordinator-free-bootstrap/'s agreed stop: its
// local test and the penalty votes), for Status, logs and the result record.
struct StopDiagnostics {
  double change = 0.0;        // the change test's relative change (infinite before the second estimate)
  double disagreement = 0.0;  // the largest relative distance to a neighbour's estimate
  double primal_residual = 0.0, dual_residual = 0.0;  // the residual rule's r_p and s_p (0 with the change test)
  double penalty = 0.0;                               // rho now
  std::uint32_t penalty_changes = 0;                  // how many times the votes changed it
};

class NodeProgram {
 public:
  virtual ~NodeProgram() = default;

  // Starts the program; appends what must be sent now to `out`. Called once, before Receive.
  virtual void Start(std::vector<Broadcast>& out) = 0;

  // Consumes one estimate from a neighbour; appends what must be sent as a result to `out`.
  // A message this node cannot have been sent by a correct neighbour (unknown sender, wrong
  // dimension, non-finite entries, an iteration outside the window, a duplicate, or anything after
  // the program finished) is rejected with InvalidArgument and leaves the state unchanged.
  virtual absl::Status Receive(const Estimate& message, std::vector<Broadcast>& out) = 0;

  // Lets a protocol layer see (and add control bytes to) every estimate as it is emitted, and end the
  // run there (see BroadcastHook). Set before Start; not owned; nullptr: none.
  void set_broadcast_hook(BroadcastHook* hook) { hook_ = hook; }

  virtual Outcome outcome() const = 0;
  bool done() const { return outcome() != Outcome::kRunning; }

  // Communication steps completed.
  virtual std::uint64_t steps() const = 0;
  // The node's current estimate x_p, and the number of communication steps it is the result of
  // (the paper's x_p^{k+1} after k steps). It grows by at most one per Start or Receive call.
  virtual const Vector& x() const = 0;
  virtual std::uint64_t estimate_step() const = 0;
  // The iteration label of the first estimate the program broadcasts; in the first k steps it
  // broadcasts labels first_label() .. first_label() + k - 1, one per step.
  virtual std::uint64_t first_label() const = 0;
  // Neighbours whose next estimate the program is waiting for, sorted by id.
  virtual std::vector<NodeId> awaited() const = 0;
  // The node's f_p, for monitoring (f_p(x_p)); nullptr for programs that keep only the data they need
  // (averaging keeps theta_p).
  virtual const LocalProblem* local_problem() const { return nullptr; }
  // Seed 001's computation iterations: the inner iterations the node's local solves took (FISTA steps
  // for C-ADMM), or one per gradient step (IC-ADMM); 0 where not counted.
  // The node's dual variable as it enters its own update (the A'y block of seed 002 §3.3 for the
  // constraints x_p = x_j on its edges): D-ADMM's and Algorithm 3's gamma_p, IC-ADMM's p_i; nullptr for
  // programs without one (subgradient, averaging).
  virtual const Vector* dual() const { return nullptr; }
  // Changes the penalty rho for every computation from now on (seed 002 §3.4.1's varying penalty; the
  // dual is unscaled, so it needs no rescaling); false if the program has no penalty to vary.
  virtual bool set_penalty(double /*rho*/) { return false; }
  // The per-edge penalties of D-ADMM and Algorithm 3 (edge_penalties.h); nullptr for other programs.
  virtual const EdgePenalties* edge_penalties() const { return nullptr; }
  virtual std::uint64_t computation_iterations() const {
    return local_problem() != nullptr ? local_problem()->solver_iterations() : 0;
  }
  // Local solves so far, and how many of them stopped at their solver's iteration cap
  // (SolveInfo::converged false); programs that solve no local problem report none.
  struct SolveCounts {
    std::uint64_t solves = 0;
    std::uint64_t capped = 0;
    void Add(const SolveInfo& info) {
      ++solves;
      capped += info.converged ? 0 : 1;
    }
  };
  virtual SolveCounts local_solves() const { return {}; }
  // The program's whole state between calls as exact bytes, its local problem's solver state
  // included (LocalProblem::SaveState), for checkpoints: a program made with the same arguments (and
  // data) that is given these bytes by LoadState, instead of Start, continues bit for bit as this one
  // would have. LoadState refuses bytes that do not fit (another dimension, degree or algorithm) with
  // DataLoss naming what, and is then not to be used.
  virtual void SaveState(StateWriter& w) const = 0;
  virtual absl::Status LoadState(StateReader& r) = 0;

  // The protocol layer's measures, for a program wrapped in one; none for a bare algorithm.
  virtual std::optional<StopDiagnostics> stop_diagnostics() const { return std::nullopt; }

 protected:
  // Appends `b` to `out` after showing it to the hook; true if it is to be the run's last estimate.
  bool Emit(Broadcast b, std::vector<Broadcast>& out) {
    const bool last = hook_ != nullptr && hook_->OnBroadcast(b);
    out.push_back(std::move(b));
    return last;
  }

 private:
  BroadcastHook* hook_ = nullptr;
};

// A program that runs another one (a protocol layer): everything is the wrapped program's unless the
// wrapper overrides it, so that a new accessor of NodeProgram needs no forwarding by hand.
class ProgramWrapper : public NodeProgram {
 public:
  explicit ProgramWrapper(std::unique_ptr<NodeProgram> program) : program_(std::move(program)) {}

  void Start(std::vector<Broadcast>& out) override { program_->Start(out); }
  absl::Status Receive(const Estimate& message, std::vector<Broadcast>& out) override {
    return program_->Receive(message, out);
  }
  Outcome outcome() const override { return program_->outcome(); }
  std::uint64_t steps() const override { return program_->steps(); }
  const Vector& x() const override { return program_->x(); }
  std::uint64_t estimate_step() const override { return program_->estimate_step(); }
  std::uint64_t first_label() const override { return program_->first_label(); }
  std::vector<NodeId> awaited() const override { return program_->awaited(); }
  const LocalProblem* local_problem() const override { return program_->local_problem(); }
  const Vector* dual() const override { return program_->dual(); }
  const EdgePenalties* edge_penalties() const override { return program_->edge_penalties(); }
  bool set_penalty(double rho) override { return program_->set_penalty(rho); }
  std::uint64_t computation_iterations() const override { return program_->computation_iterations(); }
  SolveCounts local_solves() const override { return program_->local_solves(); }
  std::optional<StopDiagnostics> stop_diagnostics() const override { return program_->stop_diagnostics(); }
  void SaveState(StateWriter& w) const override { program_->SaveState(w); }
  absl::Status LoadState(StateReader& r) override { return program_->LoadState(r); }

  const NodeProgram& wrapped() const { return *program_; }

 protected:
  NodeProgram& inner() { return *program_; }

 private:
  std::unique_ptr<NodeProgram> program_;
};

}  // namespace dadmm
