// The daemon's core: serves the Peer and Status services, opens a link to every neighbour, and feeds
// what neighbours send to the node program on one algorithm thread (the caller of Run).
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/tls.h"
#include "common/accounting/energy.h"
#include "common/network/topology.h"
#include "common/problems/node_data.h"
#include "common/problems/problem.h"
#include "common/programs/dadmm_node.h"
#include "coordinator-free-bootstrap/agent_pipeline.h"

namespace dadmm::agent {

struct AgentOptions {
  NodeId node_id = 0;
  std::string listen_address;               // host:port to serve on
  std::map<NodeId, std::string> dial;       // neighbours reached elsewhere than at their topology address
  PipelineSettings settings;                // algorithm, rho, maximum iterations, agreed-stop tolerance
  ProblemSpec problem;                      // kind and shared parameters (the handshake compares them)
  std::string output_path;                  // JSON result; empty: none
  std::chrono::milliseconds linger{30000};  // after finishing: how long to wait for neighbours to close
  // After the result is written: keep answering Status (state DONE) this long, or until Stop(), so
  // that a monitor or a health check that polls sees the end (containers: the run may be shorter
  // than a polling interval).
  std::chrono::milliseconds hold{0};
  bool log_iterations = false;
  // A neighbour this agent waits for that stays disconnected this long ends the run: outcome
  // "neighbour-lost", the result written with the last iterate, Run returns kNeighbourLost's status.
  // Zero: wait for ever.
  std::chrono::milliseconds neighbour_timeout{0};
  // Where the checkpoint goes (agent/checkpoint_file.h), written before anything that depends on it
  // is sent; an agent started with a checkpoint there resumes from it. Empty: no checkpoints.
  std::string state_dir;
  // Fault injection (tests): the first incarnation exits with code 137 when its program finishes,
  // before the checkpoint of the end and the end message.
  bool fault_exit_when_done = false;
  RadioModel radio;  // for the modelled energy in Status and the result
  // Mutual TLS on the peer streams and on Status (agent/tls.h); null: plaintext, anyone who can reach
  // the port may connect (--insecure).
  std::shared_ptr<Tls> tls;
  // Where to serve Prometheus metrics over plain HTTP (agent/metrics.h), HOST:PORT; empty: nowhere.
  std::string metrics_address;
  // At most this many points of the run, step by step, in the result (0: none): pb::HistoryPoint.
  std::size_t history = 0;
};

// Run's status when --neighbour_timeout ended the run (DEADLINE_EXCEEDED is used for nothing else);
// dadmm-agent exits with kExitNeighbourLost then.
constexpr int kExitNeighbourLost = 3;
inline bool IsNeighbourLost(const absl::Status& s) { return absl::IsDeadlineExceeded(s); }
// Run's status when this node cannot take part with what it has: its checkpoint is corrupt or of
// another run (DATA_LOSS), or its neighbours refused it because it restarted without its checkpoint
// into a run they are in (ABORTED). A restart with the same state fails the same way, so dadmm-agent
// exits with kExitRefused, which the systemd unit does not restart.
constexpr int kExitRefused = 4;
inline bool IsRefused(const absl::Status& s) { return absl::IsDataLoss(s) || absl::IsAborted(s); }

// Run's status when the local solver (--problem=external, agent/local_solver_client.h) gave no valid
// answer in time: dadmm-agent exits with kExitSolverFailed. Nothing the solver did not compute was
// sent; with --state_dir, a restart once the solver is back resumes from the last checkpoint.
constexpr int kExitSolverFailed = 5;
inline bool IsSolverFailed(const absl::Status& s) { return absl::IsResourceExhausted(s); }

class Agent {
 public:
  Agent(Topology topology, std::unique_ptr<LocalProblem> problem, AgentOptions options);
  ~Agent();

  // Runs to the end. OK when the node program finished and the result was written; Cancelled when
  // Stop() was called first; another error when the agent could not serve or start.
  absl::Status Run();

  // Asks Run to return soon. Async-signal-unsafe: call from a normal thread.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The hello this agent would send (serialized dadmm.v1.Hello), for --print_hello: what a tool or a
// test that speaks for a node needs to open a stream.
absl::StatusOr<std::string> HelloBytes(const Topology& topology, std::unique_ptr<LocalProblem> problem,
                                       const AgentOptions& options);

// The address to listen on when none is given: the node's own address from the topology when its
// host is an IP literal or "localhost", else all interfaces on its port (DNS names such as compose
// service names resolve to an interface address the agent cannot always bind by name).
std::string DefaultListenAddress(const std::string& topology_address);

// --dial's value, "ID=HOST:PORT,...": where to reach some of `self`'s neighbours instead of at their
// topology addresses. Each id must be a neighbour, named once, with a host:port.
absl::StatusOr<std::map<NodeId, std::string>> ParseDialFlag(const std::string& value, const Topology& topology,
                                                            NodeId self);

}  // namespace dadmm::agent
