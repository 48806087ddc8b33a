// local-solver-bench: what a local step costs when the node's f_p is the built-in consensus kind
// (a function call), an external solver in C++ (a gRPC call over a unix socket to a LocalSolver
// service, proto/local_solver.proto) and the same solver in Python (python/examples/consensus.py).
// The closed form is the same in all three (x = (2 theta - v) / (2 + c), seed 000 (18)), so what
// differs is the call: the figures are microseconds per local step, the median of five rounds.
//
//   build/bench/local-solver-bench [--python=/usr/bin/python3] [--calls=2000] [--dimensions=1,100,10000]
//
// The Python solver is skipped (with a line that says why) if it does not start.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "agent/local_solver_client.h"
#include "common/problems/consensus.h"
#include "dadmm/proto/local_solver.grpc.pb.h"
#include "grpcpp/grpcpp.h"

ABSL_FLAG(std::string, python, "/usr/bin/python3",
          "Python with grpcio and numpy, for the Python solver ('' skips it).");
ABSL_FLAG(int, calls, 2000, "Local steps per round (five rounds; the median is printed).");
ABSL_FLAG(std::string, dimensions, "1,100,10000", "Dimensions n to measure, comma-separated.");

namespace {

namespace pb = ::dadmm::v1;
using Clock = std::chrono::steady_clock;

// The consensus local step as a LocalSolver service: what a user's C++ solver looks like.
class ConsensusService final : public pb::LocalSolver::Service {
 public:
  explicit ConsensusService(dadmm::Vector theta) : theta_(std::move(theta)) {}

  grpc::Status Describe(grpc::ServerContext*, const pb::DescribeRequest*, pb::SolverDescription* reply) override {
    reply->set_dimension(static_cast<uint64_t>(theta_.size()));
    reply->set_problem("consensus-c++");
    reply->set_description("local-solver-bench");
    return grpc::Status::OK;
  }

  grpc::Status LocalStep(grpc::ServerContext*, const pb::LocalStepRequest* request,
                         pb::LocalStepReply* reply) override {
    if (request->v_size() != theta_.size()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "v has the wrong length");
    }
    const Eigen::Map<const dadmm::Vector> v(request->v().data(), request->v_size());
    reply->mutable_x()->Resize(static_cast<int>(theta_.size()), 0.0);
    Eigen::Map<dadmm::Vector>(reply->mutable_x()->mutable_data(), theta_.size()) =
        (2.0 * theta_ - v) / (2.0 + request->c());
    return grpc::Status::OK;
  }

 private:
  dadmm::Vector theta_;
};

// Microseconds per Solve of `problem`, the median of five rounds of `calls`.
double MicrosPerStep(dadmm::LocalProblem& problem, int calls) {
  const Eigen::Index n = problem.dimension();
  dadmm::Vector v = dadmm::Vector::LinSpaced(n, -1.0, 1.0);
  dadmm::Vector x = dadmm::Vector::Zero(n);
  double sink = 0.0;
  std::vector<double> rounds;
  for (int round = 0; round < 5; ++round) {
    const Clock::time_point start = Clock::now();
    for (int k = 0; k < calls; ++k) {
      v[0] += 1e-9;  // a new request each time
      problem.Solve(v, 1.5, x);
      sink += x[0];
    }
    rounds.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count() / calls);
  }
  if (!(sink == sink)) std::cerr << "(not finite)\n";  // keeps the loop from being optimized away
  std::sort(rounds.begin(), rounds.end());
  return rounds[2];
}

// The Python solver on `socket`, started from a data directory with node-1.csv = theta.
class PythonSolver {
 public:
  PythonSolver(const std::string& python, const std::filesystem::path& dir, const dadmm::Vector& theta,
               const std::string& socket) {
    std::filesystem::create_directories(dir);
    std::ofstream csv(dir / "node-1.csv");
    csv.precision(17);
    for (Eigen::Index i = 0; i < theta.size(); ++i) csv << theta[i] << "\n";
    csv.close();
    const std::string script = std::string(DADMM_SOURCE_DIR) + "/python/examples/consensus.py";
    const std::string listen = "unix://" + socket;
    const std::string data = dir.string();
    const std::string log = (dir / "solver.log").string();
    std::fflush(nullptr);  // what this process has buffered is not the child's to write
    pid_ = fork();
    if (pid_ == 0) {
      std::freopen(log.c_str(), "w", stdout);
      std::freopen(log.c_str(), "a", stderr);
      execl(python.c_str(), python.c_str(), script.c_str(), "--data", data.c_str(), "--listen", listen.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~PythonSolver() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool started() const { return pid_ > 0; }

 private:
  pid_t pid_ = -1;
};

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "the cost of one local step: the built-in consensus kind, an external C++ solver and the same in Python "
      "(bench/local_solver_bench.cc)");
  absl::ParseCommandLine(argc, argv);
  const int calls = absl::GetFlag(FLAGS_calls);
  if (calls < 1 || calls > 10000000) {
    std::cerr << "local-solver-bench: --calls must be in 1..1e7\n";
    return 2;
  }
  std::vector<int64_t> dimensions;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_dimensions), ',')) {
    int64_t n = 0;
    if (!absl::SimpleAtoi(s, &n) || n < 1 || n > 10000000) {
      std::cerr << "local-solver-bench: --dimensions: '" << s << "' is not a dimension in 1..1e7\n";
      return 2;
    }
    dimensions.push_back(n);
  }
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / absl::StrCat("dadmm-local-solver-bench-", getpid());
  std::filesystem::create_directories(dir);

  std::cout << absl::StrFormat("%-8s %-14s %-14s %-14s  (microseconds per local step, median of 5 x %d)\n", "n",
                               "built-in", "external C++", "external Py", calls);
  bool kept_log = false;
  std::mt19937_64 random(1);
  std::normal_distribution<double> normal;
  for (const int64_t n : dimensions) {
    dadmm::Vector theta(n);
    for (Eigen::Index i = 0; i < n; ++i) theta[i] = normal(random);

    dadmm::ConsensusProblem builtin(theta);
    const double builtin_us = MicrosPerStep(builtin, calls);

    // The C++ service in this process, on its own threads (grpc++'s synchronous server).
    const std::string cpp_socket = (dir / absl::StrCat("cpp-", n, ".sock")).string();
    ConsensusService service(theta);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix://" + cpp_socket, grpc::InsecureServerCredentials());
    builder.RegisterService(&service);
    builder.SetMaxReceiveMessageSize(-1);
    builder.SetMaxSendMessageSize(-1);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    double cpp_us = -1.0;
    if (server == nullptr) {
      std::cerr << "local-solver-bench: cannot listen on " << cpp_socket << "\n";
    } else {
      auto cpp = dadmm::agent::ExternalProblem::Connect(1, {.address = "unix://" + cpp_socket});
      if (!cpp.ok()) {
        std::cerr << "local-solver-bench: " << cpp.status().message() << "\n";
      } else {
        cpp_us = MicrosPerStep(**cpp, calls);
      }
      server->Shutdown();
    }

    double py_us = -1.0;
    std::string py_note;
    if (const std::string python = absl::GetFlag(FLAGS_python); !python.empty() && access(python.c_str(), X_OK) != 0) {
      py_note = absl::StrCat(" (python solver: ", python, " is not an executable)");
    } else if (!python.empty()) {
      const std::string py_socket = (dir / absl::StrCat("py-", n, ".sock")).string();
      PythonSolver solver(python, dir / absl::StrCat("py-", n), theta, py_socket);
      auto py = dadmm::agent::ExternalProblem::Connect(
          1, {.address = "unix://" + py_socket, .timeout = std::chrono::milliseconds(20000)});
      if (!py.ok()) {
        py_note = absl::StrCat(" (python solver: ", py.status().message(), ")");
        kept_log = true;
      } else {
        // Python is slower: fewer calls, so that a round stays short.
        py_us = MicrosPerStep(**py, std::max(1, calls / 4));
      }
    }
    auto cell = [](double us) { return us < 0 ? std::string("-") : absl::StrFormat("%.3f", us); };
    std::cout << absl::StrFormat("%-8d %-14s %-14s %-14s%s\n", n, cell(builtin_us), cell(cpp_us), cell(py_us), py_note);
  }
  if (kept_log) {
    std::cout << "(the Python solver's logs are kept in " << dir.string() << ")\n";
  } else {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return 0;
}
