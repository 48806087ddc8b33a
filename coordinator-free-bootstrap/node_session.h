// One node's whole session with its neighbours, as a pure state machine: messages in, messages out,
// no sockets, threads or clocks. The agent (agent/) wraps it in gRPC streams, files and Status; the
// session simulation (session_simulation.h) runs one per node over the fake network. Both therefore
// run the same code from the first hello to the last estimate.
//
// The session, in order:
//   1. Handshake. Start() emits this node's hello, the first message to every neighbour. A neighbour's
//      hello is checked field by field (handshake.h: CheckHello); a mismatch is fatal (Receive returns
//      it), because the two nodes would compute different things. Nothing but a hello is taken from a
//      neighbour before its hello, and a second hello is refused.
//   2. Colouring (colouring_protocol.h: two chains of kColouringPasses passes, then the flood of the
//      colour counts over D = DiameterBound rounds), started with the hello: a node may hear a
//      neighbour's colours before every other neighbour's hello.
//   3. The program (agent_pipeline.h: MakeAgentProgram), started once this node's and every
//      neighbour's final colour are known. A neighbour that knew its colours first may already have
//      sent estimates: up to kEarlyEstimates per neighbour are kept (copied) and given to the program
//      when it starts, in the order they came.
//   4. The end: the program is done (its maximum of iterations, or the agreed stop). What it emitted
//      last is in the output, and after it an end message (Finished) to every neighbour: "this node
//      is done and its checkpoint says so; it will never need your estimates again". A node may go
//      away (may_exit) only once it is done and has every neighbour's end message: until then a
//      neighbour that crashes and restarts from an older checkpoint may need this node's last
//      estimates again. A driver writes a checkpoint when a neighbour's end message is taken
//      (checkpoint_due), before it acknowledges it, so that a neighbour that saw its end message
//      acknowledged knows it will not be waited for.
//
// Crash and restart. Once its program runs, the session's Checkpoint() is what a node needs to resume
// bit for bit: the bootstrap messages it received (replayed on resume: the same colours, the hellos
// checked again), its program's exact state (NodeProgram::SaveState), the last estimate heard from
// each neighbour, and its own last kRetained estimates. A driver writes it before it transmits what
// the call emitted. Resume() rebuilds the session from it with the incarnation one higher and emits a
// hello that says so (with its colour) and its retained estimates; a neighbour that sees the higher
// incarnation checks the colour and resends its own retained estimates to that node only
// (SessionOutput::resends). Estimates are taken once per (sender, iteration): a copy of one already
// heard is dropped (counted in duplicates()); after a resume, an estimate beyond the next one expected
// is dropped too until the neighbour's resend fills the gap. A neighbour that restarts without its
// state (a hello with no colour after this node started) is refused with one line naming both nodes.
//
// A message no correct neighbour can send (out of turn, refused by the colouring or the program) is
// not fatal: it is added to the output's rejections with one line naming the sender, and the state
// is unchanged. Not thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "common/network/topology.h"
#include "common/problems/problem.h"
#include "common/programs/node_program.h"
#include "coordinator-free-bootstrap/agent_pipeline.h"
#include "coordinator-free-bootstrap/colouring_protocol.h"
#include "coordinator-free-bootstrap/colouring_simulation.h"
#include "coordinator-free-bootstrap/handshake.h"
#include "coordinator-free-bootstrap/stopping_program.h"

namespace dadmm {

// Estimates kept per neighbour before this node's program starts: a neighbour can be at most one
// estimate ahead (it waits for ours of its second step), so a few are all a correct one sends.
constexpr int kEarlyEstimates = 4;
// Every program's first broadcast carries label 1 or 2 (NodeProgram::first_label()); an early
// estimate beyond it, or out of sequence after it, is from no correct neighbour.
constexpr std::uint64_t kFirstLabelAtMost = 2;
// Own estimates kept to resend to a restarted neighbour: a neighbour's checkpoint is at most
// checkpoint_every steps behind what it had done, and it was at most a couple of steps behind this
// node (each waits for the other's estimates every step), so the last checkpoint_every + 3 cover it.
// Memory: that many x the dimension x 8 bytes (4 with a checkpoint every step).
inline std::size_t RetainedEstimates(std::uint32_t checkpoint_every) { return checkpoint_every + 3u; }

// The end message: `sender` is done after `steps` iterations (see the top). One per neighbour and
// run, counted with the bootstrap's messages (kFinishedBytes of content: the id and the steps).
struct Finished {
  NodeId sender = 0;
  std::uint64_t steps = 0;
};
constexpr std::uint64_t kFinishedBytes = 12;

struct Rejection {
  NodeId sender = 0;
  std::string why;
};

// What one call asks the driver to do, in this order: send the hello, the colouring messages and the
// estimates to every neighbour (each in the order given), and log the rejections and notes.
struct SessionOutput {
  std::vector<Hello> hellos;  // at most one: Start's
  ColouringOutput colouring;
  std::vector<Broadcast> estimates;
  // Estimates for one neighbour only (a restarted one), after the broadcasts above.
  struct Resend {
    NodeId to = 0;
    Broadcast estimate;
  };
  std::vector<Resend> resends;
  // Bootstrap messages for one neighbour only (a restarted one still colouring, or whose crash took
  // them), before the estimates above.
  struct BootstrapResend {
    NodeId to = 0;
    std::variant<Hello, ColourAnnouncement, ColourMaxima> message;
  };
  std::vector<BootstrapResend> bootstrap_resends;
  // This node's end message, to every neighbour, after everything above; and to one neighbour each
  // (a restarted one), again.
  std::optional<Finished> finished;
  std::vector<NodeId> finished_resends;
  std::vector<Rejection> rejections;
  // What happened, for the log: a handshake done, an arithmetic that differs, the colours, the start.
  std::vector<std::string> notes;

  // Whether there is anything to send (what a checkpoint must precede).
  bool sends() const;
  void clear();
};

enum class SessionState {
  kColouring,  // handshakes and colouring under way
  kRunning,    // the program runs
  kDone,       // the program is done
};

class NodeSession {
 public:
  // `problem_parameters`: the problem kind and its parameters (common/node_data.h: ProblemSpec::
  // Parameters), which go into the hello with the settings (DescribeRun). `arithmetic`: this build's
  // ArithmeticProfile(); a neighbour with another is only noted.
  static absl::StatusOr<std::unique_ptr<NodeSession>> Create(const Topology& topology, NodeId self,
                                                             std::unique_ptr<LocalProblem> problem,
                                                             std::vector<NamedValue> problem_parameters,
                                                             const PipelineSettings& settings, std::string arithmetic);

  // Emits the hello, and the first colour announcements; with no neighbours, starts the program.
  absl::Status Start(SessionOutput& out);

  // What this node needs to resume (see the top); FailedPrecondition before Start.
  absl::StatusOr<std::string> Checkpoint();
  // Whether a checkpoint is due: in the bootstrap, always (it is small and changes with every
  // message); once the program runs, when none was taken in the last checkpoint_every steps; once
  // it is done, when none was taken since (the end is checkpointed before the end message goes).
  // A driver writes it before it sends what the call emitted (SessionOutput::sends).
  bool checkpoint_due() const;
  // A neighbour's end message was taken since the last checkpoint: a driver writes one before it
  // acknowledges that message, even if the call emitted nothing.
  bool end_unsaved() const { return end_unsaved_; }
  // A session made by Create with this run's arguments, resumed from `checkpoint` instead of Start:
  // emits the hello of the next incarnation and the retained estimates. DataLoss if the bytes are
  // not a checkpoint of this node, or do not fit its topology, problem or settings (naming what).
  absl::Status Resume(absl::string_view checkpoint, SessionOutput& out);
  std::uint64_t incarnation() const { return hello_.incarnation; }
  std::uint64_t duplicates() const { return duplicates_; }

  // A message from neighbour `from` (the node the transport says it comes from; a message naming
  // another sender is refused). Non-OK only for what ends the run: a handshake mismatch, or a program
  // that cannot be built.
  absl::Status Receive(NodeId from, const Hello& m, SessionOutput& out);
  absl::Status Receive(NodeId from, const ColourAnnouncement& m, SessionOutput& out);
  absl::Status Receive(NodeId from, const ColourMaxima& m, SessionOutput& out);
  // `m.x` and `m.control` need only live during the call.
  absl::Status Receive(NodeId from, const Estimate& m, SessionOutput& out);
  absl::Status Receive(NodeId from, const Finished& m, SessionOutput& out);

  SessionState state() const;
  bool done() const { return state() == SessionState::kDone; }
  // Done, and every neighbour's end message taken: no neighbour will need anything from this node.
  bool may_exit() const;
  // Whether neighbour j's end message was taken.
  bool finished(NodeId j) const;
  // This node's end message (once done).
  Finished end_message() const {
    return Finished{.sender = self_, .steps = program_ != nullptr ? program_->steps() : 0};
  }
  NodeId self() const { return self_; }
  const Hello& hello() const { return hello_; }
  const std::vector<NodeId>& neighbours() const { return neighbours_; }
  bool greeted(NodeId j) const;
  std::size_t greeted_count() const { return greeted_.size(); }
  const ColouringProtocol& colouring() const { return *colouring_; }
  // Own and known neighbours' final colours (0: not yet), neighbours sorted by id.
  std::map<NodeId, std::uint32_t> known_colours() const;
  // The program, once started (nullptr before); with the agreed stop around it if the run has one
  // (its measures: program()->stop_diagnostics()).
  const NodeProgram* program() const { return program_.get(); }
  // Estimates that came before the program started and were kept for it.
  std::uint64_t early_estimates() const { return early_total_; }

  // Whom the session waits for, and for what: "hello" (neighbours not yet greeted), "colour" (the
  // colouring), "estimate" (the program), "end" (done, the neighbours' end messages); empty nodes
  // when it waits for nothing.
  struct Wait {
    std::string what;
    std::vector<NodeId> nodes;
  };
  Wait awaited() const;

 private:
  struct EarlyEstimate {
    NodeId sender = 0;
    std::uint64_t iteration = 0;
    Vector x;
    std::vector<std::uint8_t> control;
  };

  NodeSession(const Topology& topology, NodeId self, std::unique_ptr<LocalProblem> problem,
              const PipelineSettings& settings, Hello hello);
  // Refuses a colouring or estimate message out of turn; true if it may be handled.
  bool Admit(NodeId from, NodeId sender, const char* what, SessionOutput& out);
  // A colouring message, admitted: to the protocol, then what follows from it.
  template <typename M>
  absl::Status Colour(NodeId from, const M& m, SessionOutput& out);
  absl::Status AfterColouring(const ColouringOutput& produced, bool was_complete, SessionOutput& out);
  absl::Status StartProgram(SessionOutput& out);
  absl::Status Deliver(const Estimate& m, SessionOutput& out);
  bool catching_up() const;
  template <typename M>
  bool HoldBeforeHello(NodeId from, const M& m);
  // Whether the bootstrap log holds this very message from `from`.
  template <typename M>
  bool Heard(NodeId from, const M& m) const;
  absl::Status CatchUp(std::size_t i, const Estimate& m, SessionOutput& out);
  void DrainHeld(SessionOutput& out);
  // Once the program is done: this node's end message, once (again after a resume).
  void Announce(SessionOutput& out);

  // A bootstrap message as received, for the checkpoint's replay.
  using BootstrapMessage = std::variant<Hello, ColourAnnouncement, ColourMaxima>;
  void Retain(std::size_t emitted_before, const SessionOutput& out);
  std::size_t IndexOf(NodeId j) const;

  const Topology& topology_;
  const NodeId self_;
  const std::vector<NodeId> neighbours_;
  const PipelineSettings settings_;
  Hello hello_;
  std::unique_ptr<LocalProblem> problem_;  // moved into the program once colours are known
  const Eigen::Index dimension_;           // the problem's, for the checks of early estimates
  std::vector<NodeId> greeted_;            // sorted
  std::unique_ptr<ColouringProtocol> colouring_;
  std::unique_ptr<NodeProgram> program_;
  std::vector<EarlyEstimate> early_;
  std::map<NodeId, int> early_count_;
  std::uint64_t early_total_ = 0;
  bool started_ = false;
  std::vector<std::pair<NodeId, BootstrapMessage>> bootstrap_log_;
  std::vector<BootstrapMessage> sent_bootstrap_;  // own hello and colouring messages, in order
  void RecordSent(const SessionOutput& out, std::size_t announcements_before, std::size_t maxima_before);
  void ResendTo(NodeId j, SessionOutput& out) const;
  std::vector<std::uint64_t> heard_;         // per neighbour: the last estimate's iteration (0: none)
  std::vector<std::uint64_t> incarnations_;  // per neighbour: its incarnation, from its hellos
  // After a resume: estimates the program cannot take yet, per neighbour by label, until it caught up.
  std::vector<std::map<std::uint64_t, EarlyEstimate>> held_;
  // After a resume in the bootstrap: what a neighbour sent before its hello reached this incarnation.
  using Waiting = std::variant<ColourAnnouncement, ColourMaxima, EarlyEstimate, Finished>;
  std::map<NodeId, std::vector<Waiting>> before_hello_;
  std::optional<std::uint64_t> catch_up_until_;      // the program's steps by which it has caught up
  std::vector<std::uint32_t> claimed_colours_;       // per neighbour: the colour it restarted with, if not yet known
  std::deque<Broadcast> retained_;                   // own last RetainedEstimates(checkpoint_every) estimates
  std::optional<std::uint64_t> checkpointed_steps_;  // the program's steps at the last checkpoint
  bool announced_ = false;                           // this node's end message emitted
  bool done_checkpointed_ = false;                   // a checkpoint taken since the program was done
  std::vector<std::uint64_t> ended_;                 // per neighbour: 1 once its end message was taken
  bool end_unsaved_ = false;                         // one taken since the last checkpoint
  std::uint64_t duplicates_ = 0;
};

}  // namespace dadmm
