// dadmm-agent: one node of a network that solves a separable convex problem with D-ADMM, talking
// only to its neighbours.
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <map>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "agent/agent.h"
#include "agent/config.h"
#include "agent/local_solver_client.h"
#include "common/cli/problem_flags.h"
#include "common/cli/usage.h"
#include "common/io/csv.h"
#include "common/network/topology.h"
#include "common/problems/consensus.h"
#include "common/problems/node_data.h"
#include "common/programs/algorithms.h"
#include "common/programs/ic_admm.h"
#include "coordinator-free-bootstrap/stopping_program.h"

ABSL_FLAG(std::string, config, "",
          "A YAML config file whose keys are these flags' names (node_id, topology, data, ...); flags on the "
          "command line override it; relative paths are from the file's directory.");
ABSL_FLAG(int64_t, node_id, -1, "This agent's node id in the topology file (required).");
ABSL_FLAG(std::string, topology, "", "Topology file (YAML: nodes with id and address, edges) (required).");
ABSL_FLAG(std::string, problem, "consensus",
          absl::StrCat("The problem, every agent the same: ", dadmm::AgentProblemHelp(), "."));
ABSL_FLAG(std::string, theta, "", "consensus: this node's private value theta_p, or a comma-separated vector.");
ABSL_FLAG(std::string, data, "",
          "This node's private data, CSV: consensus theta_p; bpdn its rows of [A b]; svm its points, label "
          "(+1/-1) last (see common/node_data.h; dadmm-sim --write_data writes them).");
ABSL_FLAG(std::string, solver, "",
          "--problem=external: where this node's local solver answers (proto/local_solver.proto), on this device: "
          "unix:PATH or localhost:PORT; {node} is replaced by the node id.");
ABSL_FLAG(double, solver_timeout_seconds, 120.0,
          "--problem=external: how long one answer of the local solver may take, waits for a solver that is not "
          "(yet, or again) running included; then the agent stops (exit 5) without sending anything more.");
ABSL_FLAG(std::string, algorithm, "d-admm", dadmm::AlgorithmHelp());
ABSL_FLAG(std::string, listen, "",
          "Address to serve on (host:port). Default: this node's address from the topology file "
          "(all interfaces on its port when the host there is a DNS name).");
ABSL_FLAG(std::string, dial, "",
          "Reach these neighbours at other addresses than the topology's: ID=HOST:PORT,... (a tunnel, a port "
          "forward, NAT, a test's fault proxy). The topology, and so the handshake, are unchanged.");
ABSL_FLAG(double, rho, 1.0,
          "Penalty rho > 0 of D-ADMM and Algorithm 3 (c of C-ADMM and IC-ADMM); the subgradient method's step "
          "scale.");
ABSL_FLAG(double, ic_beta, 1.2, "ic-admm: the proximal weight beta > 0 of seed 001 (8); checked against (13).");
ABSL_FLAG(int64_t, iterations, 100,
          "Maximum of communication steps (>= 1); with --tolerance=0 exactly this many. Every agent must be "
          "given the same (the handshake checks).");
ABSL_FLAG(double, tolerance, 0.0,
          "Agreed stop: end when, at every node, the change of x_p and its disagreement with the neighbours "
          "are <= tolerance * max(1, |x_p|); every agent stops at the same iteration. 0: run --iterations.");
ABSL_FLAG(double, eps_abs, 0.0,
          "Agreed stop with seed 002's primal/dual residual rule (3.3) instead of --tolerance: its absolute "
          "tolerance (per node: r_p <= sqrt(n D_p) eps_abs + eps_rel ..., see stopping_program.h).");
ABSL_FLAG(double, eps_rel, 0.0, "The residual rule's relative tolerance (seed 002 suggests 1e-3 or 1e-4).");
ABSL_FLAG(std::string, vary_rho_every, "0",
          "The varying penalty, decided with no coordinator (see --vary_rho_rule): every this many steps (> the "
          "network's diameter D) the nodes flood their largest primal and dual residuals and all change rho at the "
          "same step. 'auto': every D + 1 steps (with --vary_rho_rule=edge: every 2 steps); 0: rho stays "
          "fixed.");
ABSL_FLAG(int64_t, vary_rho_votes, 0,
          "The varying penalty: at most this many votes, then rho stays fixed (edge: changes per edge); 0: the "
          "rule's default (vote 10, balance 1000, edge 100).");
ABSL_FLAG(double, vary_rho_mu, 0.0,
          "The varying penalty's mu > 1: rho changes when one residual exceeds mu times the other; 0: the rule's "
          "default (vote 10, balance and edge 2).");
ABSL_FLAG(double, vary_rho_tau, 0.0,
          "The varying penalty's tau > 1: (3.13)'s factor (vote), or the largest factor of one change (balance); 0: "
          "the rule's default (vote 2, balance and edge 100).");
ABSL_FLAG(std::string, vary_rho_rule, "auto",
          "How rho varies (with --vary_rho_every): 'edge' (d-admm only) keeps a penalty per edge that both ends "
          "balance alike on the edge's own residuals, changing it at the same step with no message or vote "
          "(Song et al. 2016; common/programs/edge_penalties.h); 'balance' is a network-wide vote every D + 1 steps "
          "that balances the relative residuals with the factor sqrt(R/S), at most --vary_rho_tau (Wohlberg 2017; "
          "coordinator-free-bootstrap/stopping_program.h); 'vote' is seed 002's (3.13) on the largest residuals. "
          "'auto': edge for d-admm, balance for the other ADMMs (what won the penalty experiment, results/README.md).");
ABSL_FLAG(std::string, output, "", "Write the result (x_p, steps, counters) as JSON to this file.");
ABSL_FLAG(double, linger_seconds, 30.0,
          "After finishing, how long to wait for neighbours to receive the last estimates and close.");
ABSL_FLAG(double, hold_seconds, 0.0,
          "After writing the result, keep answering Status (state done) this long, so that monitors and "
          "health checks that poll see the end; SIGTERM ends it early.");
ABSL_FLAG(bool, log_iterations, false, "Log a line per iteration.");
ABSL_FLAG(std::string, state_dir, "",
          "Directory for this node's checkpoint (node-<id>.checkpoint), written atomically before anything that "
          "depends on it is sent; an agent started with a checkpoint there resumes the run from it (its neighbours "
          "resend what it lacks), so a crashed agent restarted with the same flags rejoins. Removed once the "
          "result is written. Empty: no checkpoints (a restarted agent is refused by its neighbours).");
ABSL_FLAG(int64_t, checkpoint_every, 1,
          "With --state_dir: a checkpoint every this many iterations (1..1e6). Larger K writes less (an SD card "
          "wears with every write) but a restarted agent redoes up to K iterations, and every agent keeps K + 3 of "
          "its estimates for a restarted neighbour (K + 3 x n x 8 bytes); neighbours must agree on it.");
ABSL_FLAG(double, neighbour_timeout, 0.0,
          "Seconds a neighbour this agent waits for may stay disconnected before the run ends with outcome "
          "neighbour-lost: the result is written with the last iterate and the agent exits 3. 0: wait for ever.");
ABSL_FLAG(bool, fault_exit_when_done, false,
          "Fault injection, for tests of crash recovery: the first incarnation exits at once (code 137, as if "
          "killed) when its program finishes, before it checkpoints that and sends its end message; restarted "
          "from its --state_dir it runs to the end.");
ABSL_FLAG(std::string, tls_ca, "",
          "Mutual TLS: the network's CA certificate (PEM); peers and monitors must present a certificate it "
          "signed. With --tls_cert and --tls_key (deploy/make-certs.sh makes all three). The files are re-read "
          "every second: replace them (atomically) to rotate with no restart.");
ABSL_FLAG(std::string, tls_cert, "",
          "Mutual TLS: this node's certificate (PEM), naming it by the URI dadmm://<topology name>/node/<id>.");
ABSL_FLAG(std::string, tls_key, "", "Mutual TLS: this node's private key (PEM); readable by the agent only.");
ABSL_FLAG(bool, insecure, false,
          "Run without TLS: streams and Status in plaintext, and anyone who can reach the port can claim to be "
          "a neighbour. Only on a network you own; an agent without TLS settings refuses to start unless given.");
ABSL_FLAG(bool, print_hello, false,
          "Print the hello this agent would send its neighbours (serialized dadmm.v1.Hello, hexadecimal) and exit: "
          "for tools and tests that open a stream in a node's name.");
ABSL_FLAG(std::string, metrics_address, "",
          "Serve Prometheus metrics on http://HOST:PORT/metrics (plain HTTP, no authentication: bind it to "
          "127.0.0.1 or a monitoring network). Empty: off.");
ABSL_FLAG(int64_t, history, 0,
          "Record the run step by step in the result, at most this many points (residuals, f_p(x_p), "
          "messages, energy; for dadmm-ctl plot). When full, every other point goes and the stride doubles. "
          "0: off.");
ABSL_FLAG(double, radio_e_elec_nj, 50.0, "Radio model: electronics energy E_elec, nJ per bit (sent or received).");
ABSL_FLAG(double, radio_eps_amp_pj, 100.0, "Radio model: amplifier energy eps_amp, pJ per bit per m^2.");
ABSL_FLAG(double, radio_distance_m, 10.0,
          "Radio model: link length in metres where the topology gives no positions for both ends.");

namespace {

// Whether this process can listen on `address` (host:port, the host an IP literal or "localhost"):
// "" if it can, else why not. Checked before the server starts, so that a port in use or an
// address of another machine is one line and exit 2, not gRPC's log.
std::string CheckListen(const std::string& address) {
  const std::size_t colon = address.rfind(':');
  if (colon == std::string::npos) return "not HOST:PORT";
  std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port_number = 0;
  if (port.empty() || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      port.size() > 5 || !absl::SimpleAtoi(port, &port_number) || port_number < 1 || port_number > 65535) {
    return absl::StrCat("the port '", port, "' is not a number from 1 to 65535");
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return gai_strerror(rc);
  }
  std::string why;
  const int fd = socket(found->ai_family, found->ai_socktype, found->ai_protocol);
  const int one = 1;
  if (fd < 0) {
    why = std::strerror(errno);
  } else {
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // as gRPC does: TIME_WAIT is no conflict
    if (bind(fd, found->ai_addr, found->ai_addrlen) != 0) why = std::strerror(errno);
    close(fd);
  }
  freeaddrinfo(found);
  return why;
}

// Why the result could not be written to `path` at the end of the run, or "".
std::string CheckOutput(const std::string& path) {
  if (path.empty()) return "";
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return "is a directory; give a file name";
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return absl::StrCat("the directory ", dir, " does not exist");
  if (::access(dir.c_str(), W_OK) != 0) return absl::StrCat("the directory ", dir, " is not writable");
  return "";
}

int Fail(const std::string& message, int code = 2) {
  std::cerr << "dadmm-agent: " << message << std::endl;
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  dadmm::SetUsage(
      "runs one node of a dadmm network.\n\n"
      "  dadmm-agent --node_id=3 --topology=net.yaml --theta=12.5 [--rho=1] [--iterations=100]\n"
      "  dadmm-agent --config=node-3.yaml [--rho=0.5]      (settings from a file, flags override)\n\n"
      "The agent serves its neighbours on its address from the topology file and opens a stream to each\n"
      "(waiting for neighbours that are not up yet). With every neighbour it checks a hello (topology\n"
      "fingerprint, parameters; a mismatch stops both agents), agrees on colours by the distributed\n"
      "colouring protocol, then runs D-ADMM (Mota et al., Algorithm 2) until --iterations or, with\n"
      "--tolerance, until the agreed stop, prints its result and exits 0. SIGINT/SIGTERM stop it early.\n"
      "Exit codes: 0 done, 1 failed (e.g. a handshake mismatch; also a flag value the flag library cannot\n"
      "parse at all, e.g. --iterations=many, or an unknown flag), 2 bad flags, files or certificates, or an\n"
      "address it cannot listen on, 3 a neighbour lost\n"
      "(--neighbour_timeout), 4 refused (a corrupt checkpoint, or restarted without it into a running\n"
      "network), 128+N stopped by signal N.");
  // Debian's Abseil checks every Mutex acquisition for lock-order cycles (a debugging aid): about 7%
  // of the agents' CPU in gRPC's locks under perf on a 50-agent run. Off, as in Abseil's release mode.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Block the stop signals in every thread; one thread below waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGUSR2);  // internal: wakes the signal thread when the agent finished
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // The config file first, so that the command line overrides it.
  if (const std::string config = dadmm::agent::ConfigPathFromArgs(argc, argv); !config.empty()) {
    if (absl::Status s = dadmm::agent::ApplyConfigFile(config); !s.ok()) return Fail(std::string(s.message()));
  }
  const std::vector<char*> positional = dadmm::ParseCommandLine(argc, argv);
  if (positional.size() > 1) return Fail(absl::StrCat("unexpected argument '", positional[1], "' (see --help)"));

  const int64_t node_id = absl::GetFlag(FLAGS_node_id);
  if (node_id < 0 || node_id > UINT32_MAX) return Fail("--node_id is required (an id from the topology file)");
  if (absl::GetFlag(FLAGS_topology).empty()) return Fail("--topology is required");
  absl::StatusOr<dadmm::Topology> topology = dadmm::LoadTopologyFile(absl::GetFlag(FLAGS_topology));
  if (!topology.ok()) return Fail(std::string(topology.status().message()));
  const auto self = static_cast<dadmm::NodeId>(node_id);
  if (!topology->Contains(self)) {
    return Fail(absl::StrCat("node ", self, " is not in ", absl::GetFlag(FLAGS_topology), " (it declares ",
                             topology->size(), " nodes)"));
  }

  dadmm::ProblemSpec spec = dadmm::ProblemSpecFromFlags(absl::GetFlag(FLAGS_problem));
  const bool external = spec.kind == "external";
  if (!external) {
    if (absl::Status s = spec.Validate(); !s.ok()) return Fail(absl::StrCat("--", s.message()));
  }
  const std::string theta_flag = absl::GetFlag(FLAGS_theta);
  const std::string data_flag = absl::GetFlag(FLAGS_data);
  const std::string solver_flag = absl::GetFlag(FLAGS_solver);
  const double solver_timeout = absl::GetFlag(FLAGS_solver_timeout_seconds);
  if (!(solver_timeout > 0.0 && solver_timeout <= 86400.0))
    return Fail("--solver_timeout_seconds must be in (0, 86400]");
  if (!theta_flag.empty() && spec.kind != "consensus" && !external) {
    return Fail("--theta is for the consensus problem; give --data");
  }
  if (external) {
    if (solver_flag.empty()) {
      return Fail("--problem=external needs --solver (where the local solver answers: unix:PATH or localhost:PORT)");
    }
    if (!theta_flag.empty() || !data_flag.empty()) {
      return Fail("--problem=external: the data are the local solver's; give no --data or --theta");
    }
    if (absl::Status s = dadmm::agent::CheckSolverAddress(dadmm::agent::SolverAddressFor(solver_flag, self)); !s.ok()) {
      return Fail(absl::StrCat("--solver: ", s.message()));
    }
  } else {
    if (!solver_flag.empty()) return Fail("--solver is for --problem=external");
    if (theta_flag.empty() == data_flag.empty()) return Fail("give exactly one of --theta and --data");
  }
  absl::StatusOr<std::unique_ptr<dadmm::LocalProblem>> problem;
  if (external) {
    const std::string address = dadmm::agent::SolverAddressFor(solver_flag, self);
    std::cerr << "dadmm-agent: node " << self << ": asking the local solver at " << address
              << " what it solves (waiting up to " << solver_timeout << " s for it to answer)" << std::endl;
    absl::StatusOr<std::unique_ptr<dadmm::agent::ExternalProblem>> connected = dadmm::agent::ExternalProblem::Connect(
        self,
        {.address = solver_flag, .timeout = std::chrono::milliseconds(static_cast<int64_t>(solver_timeout * 1000.0))});
    if (!connected.ok()) {
      return Fail(absl::StrCat("node ", self, ": ", connected.status().message()), dadmm::agent::kExitSolverFailed);
    }
    const dadmm::agent::pb::SolverDescription& d = (*connected)->description();
    spec.solver_problem = d.problem();
    if (absl::Status s = spec.Validate(); !s.ok()) {
      return Fail(absl::StrCat("local solver at ", address, ": ", s.message()), dadmm::agent::kExitSolverFailed);
    }
    std::cerr << "dadmm-agent: node " << self << ": local solver: " << d.problem() << ", n = " << d.dimension()
              << (d.description().empty() ? "" : "; ") << d.description() << std::endl;
    try {
      if (const std::string warning = (*connected)->ProbeDeterminism(); !warning.empty()) {
        std::cerr << "dadmm-agent: node " << self << ": warning: " << warning << std::endl;
      }
    } catch (const dadmm::agent::LocalSolverFailed& e) {
      return Fail(absl::StrCat("node ", self, ": ", e.what()), dadmm::agent::kExitSolverFailed);
    }
    problem = std::unique_ptr<dadmm::LocalProblem>(*std::move(connected));
  } else if (theta_flag.empty()) {
    problem = dadmm::LoadLocalProblem(spec, data_flag, topology->size());
  } else {
    absl::StatusOr<dadmm::Vector> theta = dadmm::ParseVectorCsv(theta_flag, "--theta");
    problem = theta.ok()
                  ? dadmm::MakeLocalProblem(spec, Eigen::MatrixXd(theta->transpose()), "--theta", topology->size())
                  : absl::StatusOr<std::unique_ptr<dadmm::LocalProblem>>(theta.status());
  }
  if (!problem.ok()) return Fail(std::string(problem.status().message()));
  absl::StatusOr<dadmm::Algorithm> algorithm = dadmm::ParseAlgorithm(absl::GetFlag(FLAGS_algorithm));
  if (!algorithm.ok()) return Fail(absl::StrCat("--algorithm: ", algorithm.status().message()));
  if (*algorithm == dadmm::Algorithm::kAveraging && spec.kind != "consensus") {
    return Fail("--algorithm=averaging solves the consensus problem only");
  }

  dadmm::agent::AgentOptions options;
  options.node_id = self;
  options.listen_address = absl::GetFlag(FLAGS_listen).empty()
                               ? dadmm::agent::DefaultListenAddress(topology->node(self).address)
                               : absl::GetFlag(FLAGS_listen);
  if (absl::StatusOr<std::map<dadmm::NodeId, std::string>> dial =
          dadmm::agent::ParseDialFlag(absl::GetFlag(FLAGS_dial), *topology, self);
      dial.ok()) {
    options.dial = *std::move(dial);
  } else {
    return Fail(absl::StrCat("--dial: ", dial.status().message()));
  }
  options.problem = spec;
  options.settings.algorithm = *algorithm;
  options.settings.dadmm.rho = absl::GetFlag(FLAGS_rho);
  const int64_t iterations = absl::GetFlag(FLAGS_iterations);
  if (iterations < 1) return Fail("--iterations must be >= 1");
  options.settings.dadmm.max_iterations = static_cast<uint64_t>(iterations);
  options.settings.tolerance = absl::GetFlag(FLAGS_tolerance);
  options.settings.ic_beta = absl::GetFlag(FLAGS_ic_beta);
  options.settings.eps_abs = absl::GetFlag(FLAGS_eps_abs);
  options.settings.eps_rel = absl::GetFlag(FLAGS_eps_rel);
  const std::string rule_text = absl::GetFlag(FLAGS_vary_rho_rule);
  const std::optional<dadmm::PenaltyRule> rule =
      rule_text == "auto" ? std::optional(*algorithm == dadmm::Algorithm::kDadmm ? dadmm::PenaltyRule::kEdge
                                                                                 : dadmm::PenaltyRule::kBalance)
                          : dadmm::ParsePenaltyRule(rule_text);
  if (!rule) {
    return Fail(
        absl::StrCat("--vary_rho_rule=", absl::GetFlag(FLAGS_vary_rho_rule), ": expected auto, edge, balance or vote"));
  }
  const dadmm::PenaltyRuleDefaults defaults = dadmm::DefaultsOf(*rule);
  const std::string every_text = absl::GetFlag(FLAGS_vary_rho_every);
  int64_t every = 0;
  const bool edge = *rule == dadmm::PenaltyRule::kEdge;
  if (every_text == "auto") {
    every = edge ? dadmm::EdgePenaltySettings{}.every : dadmm::DiameterBound(*topology) + 1;
  } else if (!absl::SimpleAtoi(every_text, &every) || every < 0 || every > 1000000) {
    return Fail(absl::StrCat("--vary_rho_every=", every_text, ": expected auto or a number of steps in 0..1e6"));
  }
  const int64_t votes = absl::GetFlag(FLAGS_vary_rho_votes);
  if (votes < 0 || votes > 1000000) return Fail("--vary_rho_votes must be in 1..1e6 (0: the rule's default)");
  options.settings.vary_rho_every = static_cast<uint32_t>(every);
  options.settings.vary_rho_rule = *rule;
  options.settings.vary_rho_votes = votes > 0 ? static_cast<uint32_t>(votes) : defaults.votes;
  options.settings.vary_rho_mu =
      absl::GetFlag(FLAGS_vary_rho_mu) != 0.0 ? absl::GetFlag(FLAGS_vary_rho_mu) : defaults.mu;
  options.settings.vary_rho_tau =
      absl::GetFlag(FLAGS_vary_rho_tau) != 0.0 ? absl::GetFlag(FLAGS_vary_rho_tau) : defaults.tau;
  if (absl::Status s = options.settings.Validate(); !s.ok()) return Fail(absl::StrCat("--", s.message()));
  if (!edge && every > 0 && static_cast<uint32_t>(every) <= dadmm::DiameterBound(*topology)) {
    return Fail(absl::StrCat("--vary_rho_every=", every, ": a vote floods for ", dadmm::DiameterBound(*topology),
                             " steps (the network's diameter); give more, or auto"));
  }
  options.output_path = absl::GetFlag(FLAGS_output);
  if (const std::string why = CheckOutput(options.output_path); !why.empty()) {
    return Fail(absl::StrCat("--output=", options.output_path, ": ", why, " (checked now, not after the run)"));
  }
  const double linger = absl::GetFlag(FLAGS_linger_seconds);
  if (!(linger >= 0.0 && linger <= 86400.0)) return Fail("--linger_seconds must be in [0, 86400]");
  const double hold = absl::GetFlag(FLAGS_hold_seconds);
  if (!(hold >= 0.0 && hold <= 86400.0)) return Fail("--hold_seconds must be in [0, 86400]");
  options.hold = std::chrono::milliseconds(static_cast<int64_t>(hold * 1000.0));
  options.linger = std::chrono::milliseconds(static_cast<int64_t>(linger * 1000.0));
  options.log_iterations = absl::GetFlag(FLAGS_log_iterations);
  const double neighbour_timeout = absl::GetFlag(FLAGS_neighbour_timeout);
  if (!(neighbour_timeout >= 0.0 && neighbour_timeout <= 86400.0 * 365)) {
    return Fail("--neighbour_timeout must be in [0, 31536000] seconds");
  }
  options.neighbour_timeout = std::chrono::milliseconds(static_cast<int64_t>(neighbour_timeout * 1000.0));
  options.state_dir = absl::GetFlag(FLAGS_state_dir);
  options.fault_exit_when_done = absl::GetFlag(FLAGS_fault_exit_when_done);
  const int64_t checkpoint_every = absl::GetFlag(FLAGS_checkpoint_every);
  if (checkpoint_every < 1 || checkpoint_every > 1000000) return Fail("--checkpoint_every must be in 1..1e6");
  options.settings.checkpoint_every = static_cast<uint32_t>(checkpoint_every);
  options.radio = {.e_elec = absl::GetFlag(FLAGS_radio_e_elec_nj) * 1e-9,
                   .eps_amp = absl::GetFlag(FLAGS_radio_eps_amp_pj) * 1e-12,
                   .default_distance = absl::GetFlag(FLAGS_radio_distance_m)};
  if (absl::Status s = options.radio.Validate(); !s.ok()) return Fail(std::string(s.message()));
  if (const std::string why = CheckListen(options.listen_address); !why.empty() && !absl::GetFlag(FLAGS_print_hello)) {
    return Fail(absl::StrCat(
        "cannot listen on ", options.listen_address, ": ", why,
        absl::GetFlag(FLAGS_listen).empty() ? " (node's address in the topology; --listen)" : " (--listen)"));
  }
  const int64_t history = absl::GetFlag(FLAGS_history);
  if (history < 0 || history > 1000000) return Fail("--history must be in 0..1000000 (points)");
  options.history = static_cast<std::size_t>(history);
  options.metrics_address = absl::GetFlag(FLAGS_metrics_address);
  if (!options.metrics_address.empty() && !absl::GetFlag(FLAGS_print_hello)) {
    if (options.metrics_address == options.listen_address) {
      return Fail(absl::StrCat("--metrics_address=", options.metrics_address, " is the agent's own peer address"));
    }
    if (const std::string why = CheckListen(options.metrics_address); !why.empty()) {
      return Fail(absl::StrCat("--metrics_address=", options.metrics_address, ": cannot listen: ", why));
    }
  }
  if (absl::GetFlag(FLAGS_print_hello)) {
    absl::StatusOr<std::string> hello = dadmm::agent::HelloBytes(*topology, *std::move(problem), options);
    if (!hello.ok()) return Fail(std::string(hello.status().message()));
    std::cout << absl::BytesToHexString(*hello) << std::endl;
    return 0;
  }
  const dadmm::agent::TlsFiles tls_files{
      .ca = absl::GetFlag(FLAGS_tls_ca), .cert = absl::GetFlag(FLAGS_tls_cert), .key = absl::GetFlag(FLAGS_tls_key)};
  if (absl::GetFlag(FLAGS_insecure)) {
    if (!tls_files.empty()) return Fail("--insecure and --tls_* exclude each other: give one or the other");
    std::cerr << "dadmm-agent: node " << self
              << ": warning: --insecure: no TLS; anyone who can reach this agent's port can read its estimates and "
                 "claim to be a neighbour"
              << std::endl;
  } else {
    if (tls_files.empty()) {
      return Fail(
          "no TLS settings: give --tls_ca, --tls_cert and --tls_key (deploy/make-certs.sh makes them), or "
          "--insecure to run in plaintext on a network you own");
    }
    const std::string network = dadmm::agent::NetworkName(topology->name());
    absl::StatusOr<std::shared_ptr<dadmm::agent::Tls>> tls =
        dadmm::agent::Tls::Create(tls_files, network, dadmm::agent::NodeIdentity(network, self));
    if (!tls.ok()) return Fail(std::string(tls.status().message()));
    options.tls = *std::move(tls);
  }

  if (*algorithm == dadmm::Algorithm::kIcAdmm) {
    // Seed 001's (13) with this node's own constants: a lower bound on the network's right-hand side
    // (lambda_max of the block-diagonal A~'A~ is the largest node's), so exceeding it here means (13)
    // fails; staying below it is necessary, not sufficient. Theorem 1's condition is sufficient only:
    // the run goes on either way.
    if (const auto* composite = dynamic_cast<const dadmm::CompositeProblem*>(problem->get()); composite != nullptr) {
      const double bound = dadmm::IcAdmmBetaBound(composite->constants(), options.settings.dadmm.rho,
                                                  dadmm::LambdaMinDegreePlusAdjacency(*topology));
      if (!(options.settings.ic_beta > bound)) {
        std::cerr << "dadmm-agent: node " << self << ": warning: beta = " << options.settings.ic_beta
                  << " violates seed 001's convergence condition (13), which needs beta > " << bound
                  << " with this node's data alone; IC-ADMM may still converge (the condition is sufficient, "
                     "not necessary)"
                  << std::endl;
      }
    }
  }
  dadmm::agent::Agent agent(*std::move(topology), *std::move(problem), std::move(options));
  std::atomic<int> signal_received{0};
  std::thread signal_thread([&] {
    int sig = 0;
    if (sigwait(&stop_signals, &sig) == 0 && sig != SIGUSR2) {
      signal_received = sig;
      agent.Stop();
    }
  });
  const absl::Status status = agent.Run();
  if (signal_received == 0) pthread_kill(signal_thread.native_handle(), SIGUSR2);
  signal_thread.join();
  if (signal_received != 0) {
    std::cerr << "dadmm-agent: node " << self << ": stopped by signal " << signal_received << std::endl;
    return 128 + signal_received;
  }
  if (dadmm::agent::IsNeighbourLost(status)) {
    std::cerr << "dadmm-agent: node " << self << ": " << status.message() << std::endl;
    return dadmm::agent::kExitNeighbourLost;
  }
  if (dadmm::agent::IsSolverFailed(status)) {
    return Fail(absl::StrCat("node ", self, ": ", status.message()), dadmm::agent::kExitSolverFailed);
  }
  if (dadmm::agent::IsRefused(status))
    return Fail(absl::StrCat("node ", self, ": ", status.message()), dadmm::agent::kExitRefused);
  if (!status.ok()) return Fail(absl::StrCat("node ", self, ": ", status.message()), 1);
  return 0;
}
