#include "agent/local_solver_client.h"

#include <cmath>
#include <cstring>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace dadmm::agent {
namespace {

using Clock = LocalSolverOptions::Clock;

constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;
// A call shorter than this is waited for in the solver's queue alone; beyond it, `idle` runs between
// looks at the queue, every kIdleSlice.
constexpr auto kBusyWait = std::chrono::milliseconds(20);
constexpr auto kIdleSlice = std::chrono::milliseconds(2);
// A wait this long is announced (Status, log).
constexpr auto kAnnounceAfter = std::chrono::seconds(1);
// Vectors longer than this are refused (a dimension from a solver is data from outside).
constexpr std::uint64_t kMaxDimension = std::uint64_t{1} << 26;

// gRPC takes system_clock times; the waits are measured on the steady clock.
std::chrono::system_clock::time_point SystemTime(Clock::time_point t) {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(t - Clock::now());
}

std::string ClockTime() { return absl::FormatTime("%H:%M:%S", absl::Now(), absl::LocalTimeZone()); }

std::string StateText(grpc_connectivity_state s) {
  switch (s) {
    case GRPC_CHANNEL_READY:
      return "computing";
    case GRPC_CHANNEL_CONNECTING:
      return "connecting";
    case GRPC_CHANNEL_IDLE:
      return "idle";
    case GRPC_CHANNEL_TRANSIENT_FAILURE:
      return "not reachable";
    case GRPC_CHANNEL_SHUTDOWN:
      return "shut down";
  }
  return "?";
}

grpc::ChannelArguments SolverChannelArguments() {
  grpc::ChannelArguments args;
  // A solver that restarts is reconnected within a fifth of a second of coming back (gRPC's default
  // backoff grows to two minutes).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  args.SetMaxReceiveMessageSize(static_cast<int>(8 * kMaxDimension + 1024));
  args.SetMaxSendMessageSize(-1);
  return args;
}

void CopyTo(const Eigen::Ref<const Vector>& x, google::protobuf::RepeatedField<double>* out) {
  out->Resize(static_cast<int>(x.size()), 0.0);
  if (x.size() > 0) std::memcpy(out->mutable_data(), x.data(), sizeof(double) * static_cast<std::size_t>(x.size()));
}

}  // namespace

std::string SolverAddressFor(const std::string& pattern, NodeId node) {
  return absl::StrReplaceAll(pattern, {{"{node}", absl::StrCat(node)}});
}

absl::Status CheckSolverAddress(const std::string& address) {
  if (address.empty()) return absl::InvalidArgumentError("no solver address (unix:PATH or localhost:PORT)");
  if (absl::StartsWith(address, "unix:")) {
    if (address.size() == 5 || address == "unix://") {
      return absl::InvalidArgumentError(absl::StrCat("'", address, "' names no socket file"));
    }
    return absl::OkStatus();
  }
  const std::size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", address, "' is neither unix:PATH nor HOST:PORT (the solver must be on this device)"));
  }
  const std::string host = address.substr(0, colon);
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 1 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("'", address, "': the port must be a number in 1..65535"));
  }
  if (host != "localhost" && host != "127.0.0.1" && host != "[::1]") {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", address,
        "': the solver holds this node's private data over a plaintext channel, so it must be on this device "
        "(unix:PATH, localhost, 127.0.0.1 or [::1])"));
  }
  return absl::OkStatus();
}

ExternalProblem::ExternalProblem(NodeId node, LocalSolverOptions options, std::shared_ptr<grpc::Channel> channel,
                                 pb::SolverDescription description)
    : node_(node),
      options_(std::move(options)),
      channel_(std::move(channel)),
      stub_(pb::LocalSolver::NewStub(channel_)),
      cq_(std::make_unique<grpc::CompletionQueue>()),
      description_(std::move(description)),
      hash_(kFnvOffset) {}

ExternalProblem::~ExternalProblem() {
  // No call is outstanding between calls: the queue is empty, and drains at once.
  cq_->Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq_->Next(&tag, &ok)) {
  }
}

absl::StatusOr<std::unique_ptr<ExternalProblem>> ExternalProblem::Connect(NodeId node, LocalSolverOptions options) {
  options.address = SolverAddressFor(options.address, node);
  if (absl::Status s = CheckSolverAddress(options.address); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--solver: ", s.message()));
  }
  if (options.timeout <= std::chrono::milliseconds(0)) {
    return absl::InvalidArgumentError("the solver timeout must be positive");
  }
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.address, grpc::InsecureChannelCredentials(), SolverChannelArguments());
  // Describe through the same retrying call as the others, on a problem that knows no dimension yet.
  std::unique_ptr<ExternalProblem> probe(new ExternalProblem(node, options, channel, pb::SolverDescription()));
  pb::SolverDescription d;
  try {
    pb::DescribeRequest request;
    request.set_node(node);
    d = probe->Call<pb::SolverDescription>(
        "Describe", [&](pb::LocalSolver::Stub* stub, grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
          return stub->PrepareAsyncDescribe(ctx, request, cq);
        });
  } catch (const LocalSolverFailed& e) {
    return absl::UnavailableError(e.what());
  }
  const std::string where = absl::StrCat("local solver at ", options.address, " (node ", node, "): ");
  if (d.dimension() < 1 || d.dimension() > kMaxDimension) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "Describe gave dimension ", d.dimension(), " (must be in 1..", kMaxDimension, ")"));
  }
  for (const auto& [field, value] : {std::pair<const char*, double>{"lipschitz_f", d.lipschitz_f()},
                                     {"convexity_f", d.convexity_f()},
                                     {"gram_norm", d.gram_norm()}}) {
    if (!std::isfinite(value) || value < 0.0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "Describe gave ", field, " = ", value, " (must be finite and >= 0)"));
    }
  }
  if (d.has_composite() && (d.lipschitz_f() <= 0.0 || d.gram_norm() <= 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "has_composite needs lipschitz_f and gram_norm > 0 (seed 001's (13))"));
  }
  if (d.description().size() > 1000) d.mutable_description()->resize(1000);
  for (char& c : *d.mutable_description()) {
    if (c < 0x20 || c == 0x7f) c = ' ';  // for one log line
  }
  if (d.has_composite()) {
    return std::unique_ptr<ExternalProblem>(new ExternalCompositeProblem(node, std::move(options), channel, d));
  }
  return std::unique_ptr<ExternalProblem>(new ExternalProblem(node, std::move(options), channel, d));
}

template <typename Reply, typename Start>
Reply ExternalProblem::Call(const char* method, Start start) const {
  const Clock::time_point asked = Clock::now();
  const Clock::time_point deadline = asked + options_.timeout;
  const std::string where = absl::StrCat("local solver at ", options_.address, " (node ", node_, ")");
  const std::string since = ClockTime();
  bool announced = false;
  auto done = [&] {
    seconds_ += std::chrono::duration<double>(Clock::now() - asked).count();
    if (options_.reply_log != nullptr) options_.reply_log->seconds = seconds_;
    if (announced && options_.waiting) options_.waiting("");
  };
  grpc::CompletionQueue& cq = *cq_;
  std::string last_error;
  for (int attempt = 1;; ++attempt) {
    grpc::ClientContext ctx;
    ctx.set_deadline(SystemTime(deadline));
    ctx.set_wait_for_ready(true);  // a solver not (yet, or again) listening is waited for, to the deadline
    Reply reply;
    grpc::Status status;
    auto reader = start(stub_.get(), &ctx, &cq);
    reader->StartCall();
    reader->Finish(&reply, &status, reinterpret_cast<void*>(1));
    for (;;) {
      void* tag = nullptr;
      bool ok = false;
      const Clock::time_point now = Clock::now();
      grpc::CompletionQueue::NextStatus next;
      if (now < asked + kBusyWait || !options_.idle) {
        // Alone in the queue: until the busy wait ends (then `idle` takes turns), or a tenth of a
        // second (to announce a long wait).
        const Clock::time_point until =
            options_.idle ? asked + kBusyWait : std::min(deadline, now + std::chrono::milliseconds(100));
        next = cq.AsyncNext(&tag, &ok, SystemTime(until));
      } else {
        next = cq.AsyncNext(&tag, &ok, SystemTime(now));
        if (next == grpc::CompletionQueue::TIMEOUT) options_.idle(now + kIdleSlice);
      }
      if (next == grpc::CompletionQueue::GOT_EVENT) break;
      if (!announced && Clock::now() - asked >= kAnnounceAfter && options_.waiting) {
        announced = true;
        options_.waiting(absl::StrCat("the ", where, " since ", since, " (", method, ", ",
                                      StateText(channel_->GetState(false)), ")"));
      }
    }
    if (status.ok()) {
      done();
      return reply;
    }
    last_error = absl::StrCat(grpc::StatusCode(status.error_code()) == grpc::StatusCode::DEADLINE_EXCEEDED
                                  ? "no answer"
                                  : status.error_message(),
                              " (", static_cast<int>(status.error_code()), ")");
    // Only a solver that is not there (crashed, restarting) is waited for again: an error it
    // answers with would be the same the next time.
    const bool again = status.error_code() == grpc::StatusCode::UNAVAILABLE && Clock::now() < deadline;
    if (!again) break;
    if (!announced && options_.waiting) {
      announced = true;
      options_.waiting(absl::StrCat("the ", where, " since ", since, " (", method, ": ", status.error_message(), ")"));
    }
    // wait_for_ready waits for the channel; a failed call on a READY channel (the solver died during
    // the call) is asked again after a moment.
    const Clock::time_point retry = Clock::now() + std::chrono::milliseconds(50);
    if (options_.idle) {
      options_.idle(retry);
    } else {
      std::this_thread::sleep_until(retry);
    }
  }
  done();
  const double waited = std::chrono::duration<double>(Clock::now() - asked).count();
  throw LocalSolverFailed(absl::StrFormat("%s: %s failed after %.1f s: %s", where, method, waited, last_error));
}

void ExternalProblem::Hash(const Vector& x) const {
  const auto* bytes = reinterpret_cast<const unsigned char*>(x.data());
  for (std::size_t i = 0; i < sizeof(double) * static_cast<std::size_t>(x.size()); ++i) {
    hash_ = (hash_ ^ bytes[i]) * kFnvPrime;
  }
  if (options_.reply_log != nullptr) options_.reply_log->hash = hash_;
}

void ExternalProblem::CheckVector(const char* method, const google::protobuf::RepeatedField<double>& x) const {
  const std::string where = absl::StrCat("local solver at ", options_.address, " (node ", node_, "): ", method);
  if (static_cast<std::uint64_t>(x.size()) != description_.dimension()) {
    throw LocalSolverFailed(
        absl::StrCat(where, " returned ", x.size(), " value(s); its dimension is ", description_.dimension()));
  }
  for (int i = 0; i < x.size(); ++i) {
    if (!std::isfinite(x[i])) throw LocalSolverFailed(absl::StrCat(where, " returned ", x[i], " at entry ", i + 1));
  }
}

SolveInfo ExternalProblem::Solve(const Eigen::Ref<const Vector>& v, double c, Vector& x) {
  pb::LocalStepRequest request;
  request.set_node(node_);
  CopyTo(v, request.mutable_v());
  request.set_c(c);
  CopyTo(x.size() == dimension() ? Eigen::Ref<const Vector>(x) : Eigen::Ref<const Vector>(Vector::Zero(dimension())),
         request.mutable_x_warm());
  const pb::LocalStepReply reply = Call<pb::LocalStepReply>(
      "LocalStep", [&](pb::LocalSolver::Stub* stub, grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
        return stub->PrepareAsyncLocalStep(ctx, request, cq);
      });
  CheckVector("LocalStep", reply.x());
  x = Eigen::Map<const Vector>(reply.x().data(), reply.x_size());
  Hash(x);
  iterations_ += reply.iterations();
  return {.iterations = reply.iterations(), .converged = !reply.capped()};
}

std::string ExternalProblem::ProbeDeterminism() {
  pb::LocalStepRequest request;
  request.set_node(node_);
  request.set_c(1.0);
  request.mutable_v()->Resize(static_cast<int>(dimension()), 0.0);
  request.mutable_x_warm()->Resize(static_cast<int>(dimension()), 0.0);
  auto ask = [&] {
    const pb::LocalStepReply reply = Call<pb::LocalStepReply>(
        "LocalStep", [&](pb::LocalSolver::Stub* stub, grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
          return stub->PrepareAsyncLocalStep(ctx, request, cq);
        });
    CheckVector("LocalStep", reply.x());
    return reply;
  };
  const pb::LocalStepReply first = ask();
  const pb::LocalStepReply second = ask();
  for (int i = 0; i < first.x_size(); ++i) {
    if (std::memcmp(first.x().data() + i, second.x().data() + i, sizeof(double)) != 0) {
      return absl::StrFormat(
          "the local solver at %s (node %d) is not deterministic: the same local step (v = 0, c = 1) gave x[%d] = "
          "%.17g, then %.17g; the network's result cannot be checked against the simulator bit for bit",
          options_.address, node_, i + 1, first.x(i), second.x(i));
    }
  }
  return "";
}

double ExternalProblem::Objective(const Eigen::Ref<const Vector>& x) const {
  if (objective_missing_) return std::nan("");
  pb::PointRequest request;
  request.set_node(node_);
  CopyTo(x, request.mutable_x());
  try {
    const pb::ObjectiveReply reply = Call<pb::ObjectiveReply>(
        "Objective", [&](pb::LocalSolver::Stub* stub, grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
          return stub->PrepareAsyncObjective(ctx, request, cq);
        });
    return reply.value();  // for Status only: any double, NaN included, is shown as it is
  } catch (const LocalSolverFailed&) {
    // Objective is for Status and the result, not the algorithm: a solver without it, or one that
    // fails at it, leaves it unknown (NaN) and is not asked again.
    objective_missing_ = true;
    return std::nan("");
  }
}

Vector ExternalProblem::VectorCall(const char* method, const pb::PointRequest* point,
                                   const pb::ProxRequest* prox) const {
  const pb::VectorReply reply = Call<pb::VectorReply>(
      method, [&](pb::LocalSolver::Stub* stub, grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
        if (prox != nullptr) return stub->PrepareAsyncProx(ctx, *prox, cq);
        if (std::strcmp(method, "Subgradient") == 0) return stub->PrepareAsyncSubgradient(ctx, *point, cq);
        if (std::strcmp(method, "Project") == 0) return stub->PrepareAsyncProject(ctx, *point, cq);
        return stub->PrepareAsyncSmoothGradient(ctx, *point, cq);
      });
  CheckVector(method, reply.x());
  Vector x = Eigen::Map<const Vector>(reply.x().data(), reply.x_size());
  Hash(x);
  return x;
}

Vector ExternalProblem::Subgradient(const Eigen::Ref<const Vector>& x) const {
  pb::PointRequest request;
  request.set_node(node_);
  CopyTo(x, request.mutable_x());
  return VectorCall("Subgradient", &request, nullptr);
}

void ExternalProblem::Project(Vector& x) const {
  if (!description_.has_subgradient()) return;
  pb::PointRequest request;
  request.set_node(node_);
  CopyTo(x, request.mutable_x());
  x = VectorCall("Project", &request, nullptr);
}

void ExternalProblem::SaveState(StateWriter& w) const {
  w.U64(iterations_);
  w.U64(hash_);
}

void ExternalProblem::LoadState(StateReader& r) {
  iterations_ = r.U64();
  hash_ = r.U64();
  if (options_.reply_log != nullptr) options_.reply_log->hash = hash_;
}

void ExternalCompositeProblem::SmoothGradient(const Eigen::Ref<const Vector>& x, Vector& gradient) const {
  pb::PointRequest request;
  request.set_node(node_);
  CopyTo(x, request.mutable_x());
  gradient = VectorCall("SmoothGradient", &request, nullptr);
}

void ExternalCompositeProblem::Prox(const Eigen::Ref<const Vector>& s, double gamma, Vector& x) const {
  pb::ProxRequest request;
  request.set_node(node_);
  CopyTo(s, request.mutable_s());
  request.set_gamma(gamma);
  x = VectorCall("Prox", nullptr, &request);
}

CompositeProblem::Constants ExternalCompositeProblem::constants() const {
  return {.lipschitz_f = description().lipschitz_f(),
          .convexity_f = description().convexity_f(),
          .gram_norm = description().gram_norm()};
}

absl::StatusOr<NetworkSolvers> ConnectEveryNode(const Topology& topology, const std::string& address,
                                                std::chrono::milliseconds timeout) {
  NetworkSolvers solvers;
  for (const NodeSpec& n : topology.nodes()) {
    auto log = std::make_shared<SolverReplyLog>();
    absl::StatusOr<std::unique_ptr<ExternalProblem>> connected =
        ExternalProblem::Connect(n.id, {.address = address, .timeout = timeout, .reply_log = log});
    if (!connected.ok()) return connected.status();
    solvers.logs.emplace(n.id, std::move(log));
    solvers.problems.emplace(n.id, *std::move(connected));
  }
  return solvers;
}

}  // namespace dadmm::agent
