// A node's f_p and X_p answered by a local solver beside the agent (proto/local_solver.proto): a
// process in any language that holds the node's private data. To the node program it is one more
// LocalProblem; the agent, dadmm-ctl report (the simulator's run of the same network) and dadmm-sim
// all use this class, so a deterministic solver gives the same bits in every one of them.
//
// Every reply is validated like a peer message: its length is the dimension Describe gave, its
// values are finite. A call the solver cannot answer now (not running, crashed, restarting) is
// retried, waiting for the solver to come back, until the timeout; a hang ends at the timeout too.
// Then, or at a reply that is not valid, LocalSolverFailed is thrown: the program cannot go on, and
// nothing is sent that the solver did not compute (the agent stops; with --state_dir a restart
// resumes from the last checkpoint).
//
// The solver is asked for its first local step twice when connecting: replies that differ are
// reported (the run is then not reproducible). Every reply of the algorithm's calls is hashed in
// order (reply_hash); the hash is in the checkpoint and the result, so that dadmm-ctl report can say
// which node's solver answered the simulator differently.
//
// Threads: one, the caller's. While a call is outstanding beyond a few milliseconds, `idle` runs
// other work (the agent's transport queue: Status and the links go on, messages stay queued).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "absl/status/statusor.h"
#include "common/base/types.h"
#include "common/network/topology.h"
#include "common/problems/problem.h"
#include "dadmm/proto/local_solver.grpc.pb.h"

namespace dadmm::agent {

namespace pb = ::dadmm::v1;

// The local solver gave no valid answer in time; what() says which call, where, and why.
class LocalSolverFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a caller may want to know of a problem after handing it over (the simulator owns and drops
// its problems): the reply hash and the time in the solver, kept up to date.
struct SolverReplyLog {
  std::uint64_t hash = 0;
  double seconds = 0.0;
};

struct LocalSolverOptions {
  using Clock = std::chrono::steady_clock;
  // unix:PATH or unix:///PATH, or localhost / 127.0.0.1 / [::1] with a port: the solver holds the
  // node's private data and the channel is plaintext, so it must be on this device. "{node}" in it
  // is replaced by the node id (one solver per node).
  std::string address;
  // How long one answer may take, waits for a restarting solver included.
  std::chrono::milliseconds timeout{120000};
  // Runs other work until the given time while a call is outstanding; empty: just wait.
  std::function<void(Clock::time_point)> idle;
  // Told when a wait for the solver becomes long (a text for Status and the log: "the local solver
  // at ... since ..."), and with "" when it ends.
  std::function<void(const std::string&)> waiting;
  std::shared_ptr<SolverReplyLog> reply_log;  // optional
};

// `pattern` with "{node}" replaced by `node`.
std::string SolverAddressFor(const std::string& pattern, NodeId node);
// OK if `address` is one a solver may have (LocalSolverOptions::address), else why not.
absl::Status CheckSolverAddress(const std::string& address);

class ExternalProblem : public LocalProblem {
 public:
  using Clock = LocalSolverOptions::Clock;
  // Connects to node `node`'s solver and asks Describe (retrying until the timeout: the solver may
  // start after the agent), then validates what it says. Errors name the address.
  static absl::StatusOr<std::unique_ptr<ExternalProblem>> Connect(NodeId node, LocalSolverOptions options);
  ~ExternalProblem() override;

  absl::string_view kind() const override { return "external"; }
  Eigen::Index dimension() const override { return static_cast<Eigen::Index>(description_.dimension()); }
  SolveInfo Solve(const Eigen::Ref<const Vector>& v, double c, Vector& x) override;
  // NaN if the solver does not answer Objective (it is for Status only).
  double Objective(const Eigen::Ref<const Vector>& x) const override;
  Vector Subgradient(const Eigen::Ref<const Vector>& x) const override;
  bool HasProjection() const override { return description_.has_subgradient(); }
  void Project(Vector& x) const override;
  std::uint64_t solver_iterations() const override { return iterations_; }
  void SaveState(StateWriter& w) const override;
  void LoadState(StateReader& r) override;

  const pb::SolverDescription& description() const { return description_; }
  const std::string& address() const { return options_.address; }
  // Asks the first local step (v = 0, c = 1, x_warm = 0) twice; "" if the replies are the same bits,
  // else a line that says the solver is not deterministic. Not counted, not hashed.
  std::string ProbeDeterminism();
  // The hash (FNV-1a, 64 bits) of every reply of the algorithm's calls so far, in order.
  std::uint64_t reply_hash() const { return hash_; }
  // Wall time spent in calls to the solver (the algorithm's and Objective's).
  double seconds() const { return seconds_; }
  void set_idle(std::function<void(Clock::time_point)> idle) { options_.idle = std::move(idle); }
  void set_waiting(std::function<void(const std::string&)> waiting) { options_.waiting = std::move(waiting); }

 protected:
  ExternalProblem(NodeId node, LocalSolverOptions options, std::shared_ptr<grpc::Channel> channel,
                  pb::SolverDescription description);
  // A vector reply of `method`, checked (length n, finite) and hashed.
  Vector VectorCall(const char* method, const pb::PointRequest* point, const pb::ProxRequest* prox) const;

  const NodeId node_;

 private:
  template <typename Reply, typename Start>
  Reply Call(const char* method, Start start) const;
  void Hash(const Vector& x) const;
  void CheckVector(const char* method, const google::protobuf::RepeatedField<double>& x) const;

  LocalSolverOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::LocalSolver::Stub> stub_;
  std::unique_ptr<grpc::CompletionQueue> cq_;  // the calls', one at a time
  pb::SolverDescription description_;
  mutable std::uint64_t hash_;
  mutable double seconds_ = 0.0;
  mutable bool objective_missing_ = false;
  std::uint64_t iterations_ = 0;
};

// A solver that offers the composite form as well (SolverDescription.has_composite): what the
// inexact consensus ADMM (seed 001, Algorithm 2) needs.
class ExternalCompositeProblem final : public ExternalProblem, public CompositeProblem {
 public:
  ExternalCompositeProblem(NodeId node, LocalSolverOptions options, std::shared_ptr<grpc::Channel> channel,
                           pb::SolverDescription description)
      : ExternalProblem(node, std::move(options), std::move(channel), std::move(description)) {}
  void SmoothGradient(const Eigen::Ref<const Vector>& x, Vector& gradient) const override;
  void Prox(const Eigen::Ref<const Vector>& s, double gamma, Vector& x) const override;
  Constants constants() const override;
};

// Every node's solver of a network, for a simulator run (dadmm-sim, dadmm-ctl report): connected at
// `address` ({node} replaced per node) with its own reply log, which outlives the problem the
// simulator takes and drops. The first error names its node and address.
struct NetworkSolvers {
  std::map<NodeId, std::unique_ptr<ExternalProblem>> problems;
  std::map<NodeId, std::shared_ptr<SolverReplyLog>> logs;
};
absl::StatusOr<NetworkSolvers> ConnectEveryNode(const Topology& topology, const std::string& address,
                                                std::chrono::milliseconds timeout);

}  // namespace dadmm::agent
