// The client of a user's local solver (agent/local_solver_client.h) against a LocalSolver service in
// this process that forwards to the built-in problems: a network whose nodes ask it computes what the
// built-in problems compute, bit for bit, for every algorithm (the local step, the subgradient and
// projection, the smooth gradient and prox of IC-ADMM); replies that do not fit are refused naming the
// solver, the method and the value.
#include "agent/local_solver_client.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/network/generators.h"
#include "common/problems/instance.h"
#include "common/problems/instances.h"
#include "coordinator-free-bootstrap/session_simulation.h"
#include "dadmm/proto/local_solver.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace dadmm::agent {
namespace {

using ::testing::HasSubstr;
namespace v1 = ::dadmm::v1;

enum class Fault { kNone, kShort, kNan, kNoise, kNoDimension };

// Answers for every node of a built-in instance, as a user's solver would for its own problem.
class ForwardingSolver final : public v1::LocalSolver::Service {
 public:
  ForwardingSolver(const ProblemInstance& instance, const Topology& t) {
    for (const NodeSpec& n : t.nodes()) problems_.emplace(n.id, instance.MakeLocal(n.id));
  }
  std::atomic<Fault> fault{Fault::kNone};
  std::atomic<int> calls{0};  // vectors answered

  grpc::Status Describe(grpc::ServerContext*, const v1::DescribeRequest* request,
                        v1::SolverDescription* reply) override {
    LocalProblem* p = Find(request->node());
    if (p == nullptr) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such node");
    reply->set_dimension(fault == Fault::kNoDimension ? 0 : static_cast<std::uint64_t>(p->dimension()));
    reply->set_problem(absl::StrCat("forwarded ", p->kind()));
    reply->set_has_subgradient(p->HasProjection());
    if (const auto* composite = dynamic_cast<const CompositeProblem*>(p); composite != nullptr) {
      const CompositeProblem::Constants k = composite->constants();
      reply->set_has_composite(true);
      reply->set_lipschitz_f(k.lipschitz_f);
      reply->set_convexity_f(k.convexity_f);
      reply->set_gram_norm(k.gram_norm);
    }
    return grpc::Status::OK;
  }

  grpc::Status LocalStep(grpc::ServerContext*, const v1::LocalStepRequest* request,
                         v1::LocalStepReply* reply) override {
    std::lock_guard lock(mu_);
    LocalProblem* p = Find(request->node());
    if (p == nullptr) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such node");
    Vector x = Eigen::Map<const Vector>(request->x_warm().data(), request->x_warm_size());
    // The iterations the built-in problem counts (LocalProblem::solver_iterations), as a solver reports its own.
    const std::uint64_t counted = p->solver_iterations();
    const SolveInfo info = p->Solve(Eigen::Map<const Vector>(request->v().data(), request->v_size()), request->c(), x);
    if (fault == Fault::kNoise) x[0] += 1e-12 * (++noise_);
    Put(x, reply->mutable_x());
    reply->set_iterations(p->solver_iterations() - counted);
    reply->set_capped(!info.converged);
    return grpc::Status::OK;
  }

  grpc::Status Subgradient(grpc::ServerContext*, const v1::PointRequest* request, v1::VectorReply* reply) override {
    std::lock_guard lock(mu_);
    Put(Find(request->node())->Subgradient(Point(*request)), reply->mutable_x());
    return grpc::Status::OK;
  }
  grpc::Status Project(grpc::ServerContext*, const v1::PointRequest* request, v1::VectorReply* reply) override {
    std::lock_guard lock(mu_);
    Vector x = Point(*request);
    Find(request->node())->Project(x);
    Put(x, reply->mutable_x());
    return grpc::Status::OK;
  }
  grpc::Status SmoothGradient(grpc::ServerContext*, const v1::PointRequest* request, v1::VectorReply* reply) override {
    std::lock_guard lock(mu_);
    Vector g;
    dynamic_cast<CompositeProblem&>(*Find(request->node())).SmoothGradient(Point(*request), g);
    Put(g, reply->mutable_x());
    return grpc::Status::OK;
  }
  grpc::Status Prox(grpc::ServerContext*, const v1::ProxRequest* request, v1::VectorReply* reply) override {
    std::lock_guard lock(mu_);
    Vector x;
    dynamic_cast<CompositeProblem&>(*Find(request->node()))
        .Prox(Eigen::Map<const Vector>(request->s().data(), request->s_size()), request->gamma(), x);
    Put(x, reply->mutable_x());
    return grpc::Status::OK;
  }
  // Objective is left unimplemented: the client must then report it unknown (NaN), not fail.

 private:
  LocalProblem* Find(std::uint32_t node) {
    auto it = problems_.find(node);
    return it == problems_.end() ? nullptr : it->second.get();
  }
  static Vector Point(const v1::PointRequest& r) { return Eigen::Map<const Vector>(r.x().data(), r.x_size()); }
  void Put(const Vector& x, google::protobuf::RepeatedField<double>* out) {
    ++calls;
    out->Add(x.data(), x.data() + x.size());
    if (fault == Fault::kShort) out->RemoveLast();
    if (fault == Fault::kNan && out->size() > 1) out->Set(1, std::nan(""));
  }

  std::mutex mu_;
  std::map<NodeId, std::unique_ptr<LocalProblem>> problems_;
  int noise_ = 0;
};

struct Served {
  std::unique_ptr<ForwardingSolver> service;
  std::unique_ptr<grpc::Server> server;
  std::string address;
};

Served Serve(const ProblemInstance& instance, const Topology& t, const std::string& name) {
  Served s;
  s.service = std::make_unique<ForwardingSolver>(instance, t);
  s.address = absl::StrCat("unix://", std::filesystem::temp_directory_path().string(), "/dadmm-lsc-", getpid(), "-",
                           name, ".sock");
  grpc::ServerBuilder builder;
  builder.AddListeningPort(s.address, grpc::InsecureServerCredentials());
  builder.RegisterService(s.service.get());
  s.server = builder.BuildAndStart();
  EXPECT_NE(s.server, nullptr) << s.address;
  return s;
}

Topology SmallNetwork() {
  absl::StatusOr<GeneratedNetwork> net = GenerateNetwork(*TableIISpec(3, 8, 1));
  EXPECT_TRUE(net.ok()) << net.status();
  return std::move(net->topology);
}

std::map<NodeId, std::unique_ptr<LocalProblem>> External(const Topology& t, const std::string& address) {
  std::map<NodeId, std::unique_ptr<LocalProblem>> problems;
  absl::StatusOr<NetworkSolvers> solvers = ConnectEveryNode(t, address, std::chrono::milliseconds(20000));
  EXPECT_TRUE(solvers.ok()) << solvers.status();
  if (solvers.ok()) {
    for (auto& [id, p] : solvers->problems) problems.emplace(id, std::move(p));
  }
  return problems;
}

std::map<NodeId, std::unique_ptr<LocalProblem>> BuiltIn(const Topology& t, const ProblemInstance& instance) {
  std::map<NodeId, std::unique_ptr<LocalProblem>> problems;
  for (const NodeSpec& n : t.nodes()) problems.emplace(n.id, instance.MakeLocal(n.id));
  return problems;
}

TEST(LocalSolverClient, ANetworkOnExternalSolversComputesTheBuiltInBitsForEveryAlgorithm) {
  const Topology t = SmallNetwork();
  struct Case {
    std::string instance;
    Eigen::Index dimension;
    PipelineSettings settings;
  };
  const std::vector<Case> cases = {
      {"consensus", 3, {.dadmm = {.rho = 1.0, .max_iterations = 60}}},
      {"consensus", 2, {.dadmm = {.rho = 1.0, .max_iterations = 2000}, .tolerance = 1e-6}},
      {"bpdn-dct", 1, {.algorithm = Algorithm::kAlgorithm3, .dadmm = {.rho = 0.5, .max_iterations = 20}}},
      {"bpdn-dct", 1, {.algorithm = Algorithm::kSubgradient, .dadmm = {.rho = 0.1, .max_iterations = 25}}},
      {"sparse-lr-textures", 16, {.algorithm = Algorithm::kIcAdmm, .dadmm = {.rho = 0.05, .max_iterations = 30}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.instance + " " + AlgorithmName(c.settings.algorithm));
    auto instance = MakeInstance(c.instance, t, 1, "", c.dimension);
    ASSERT_TRUE(instance.ok()) << instance.status();
    absl::StatusOr<SimulatedNetwork> builtin = SimulateAgentNetwork(t, BuiltIn(t, **instance), c.settings);
    ASSERT_TRUE(builtin.ok()) << builtin.status();
    Served served = Serve(**instance, t, c.instance);
    absl::StatusOr<SimulatedNetwork> external = SimulateAgentNetwork(t, External(t, served.address), c.settings);
    ASSERT_TRUE(external.ok()) << external.status();
    EXPECT_GT(served.service->calls.load(), 0);
    ASSERT_EQ(external->result.nodes.size(), builtin->result.nodes.size());
    EXPECT_EQ(external->result.steps, builtin->result.steps);
    EXPECT_EQ(external->result.messages, builtin->result.messages);
    for (std::size_t k = 0; k < builtin->result.nodes.size(); ++k) {
      const SimulatedNode& a = builtin->result.nodes[k];
      const SimulatedNode& b = external->result.nodes[k];
      ASSERT_EQ(a.x.size(), b.x.size());
      EXPECT_EQ(std::memcmp(a.x.data(), b.x.data(), sizeof(double) * a.x.size()), 0) << "node " << a.id;
      EXPECT_EQ(a.computation_iterations, b.computation_iterations) << "node " << a.id;
    }
    served.server->Shutdown();
  }
}

TEST(LocalSolverClient, RepliesThatDoNotFitAreRefusedNamingTheSolverAndTheValue) {
  const Topology t = SmallNetwork();
  auto instance = MakeInstance("consensus", t, 1, "", 3);
  ASSERT_TRUE(instance.ok()) << instance.status();
  Served served = Serve(**instance, t, "faults");
  auto p = ExternalProblem::Connect(1, {.address = served.address, .timeout = std::chrono::milliseconds(5000)});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->dimension(), 3);
  EXPECT_EQ((*p)->description().problem(), "forwarded consensus");
  EXPECT_EQ((*p)->ProbeDeterminism(), "");
  // Objective is not implemented by this solver: unknown, not a failure.
  EXPECT_TRUE(std::isnan((*p)->Objective(Vector::Zero(3))));

  Vector x = Vector::Zero(3);
  const Vector v = Vector::Ones(3);
  served.service->fault = Fault::kShort;
  try {
    (*p)->Solve(v, 1.0, x);
    ADD_FAILURE() << "a short reply was taken";
  } catch (const LocalSolverFailed& e) {
    EXPECT_THAT(e.what(), HasSubstr(absl::StrCat("local solver at ", served.address,
                                                 " (node 1): LocalStep returned 2 value(s); its dimension is 3")));
  }
  served.service->fault = Fault::kNan;
  try {
    (*p)->Subgradient(x);
    ADD_FAILURE() << "a NaN was taken";
  } catch (const LocalSolverFailed& e) {
    EXPECT_THAT(e.what(), HasSubstr("Subgradient returned nan at entry 2"));
  }
  served.service->fault = Fault::kNoise;
  EXPECT_THAT((*p)->ProbeDeterminism(),
              HasSubstr("is not deterministic: the same local step (v = 0, c = 1) gave x[1]"));
  // The reply hash follows what the algorithm was given, and only that.
  served.service->fault = Fault::kNone;
  const std::uint64_t before = (*p)->reply_hash();
  (*p)->Solve(v, 1.0, x);
  EXPECT_NE((*p)->reply_hash(), before);

  served.service->fault = Fault::kNoDimension;
  auto refused = ExternalProblem::Connect(2, {.address = served.address, .timeout = std::chrono::milliseconds(5000)});
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()),
              HasSubstr("(node 2): Describe gave dimension 0 (must be in 1.."));
  served.server->Shutdown();
}

TEST(LocalSolverClient, ASolverThatIsNotThereIsWaitedForToTheTimeoutAndNamed) {
  const std::string address =
      absl::StrCat("unix://", std::filesystem::temp_directory_path().string(), "/dadmm-lsc-nobody-", getpid(), ".sock");
  auto p = ExternalProblem::Connect(4, {.address = address, .timeout = std::chrono::milliseconds(300)});
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()),
              HasSubstr(absl::StrCat("local solver at ", address, " (node 4): Describe failed after 0.3 s")));
}

TEST(LocalSolverClient, OnlyAddressesOnThisDeviceAreTaken) {
  for (const char* ok :
       {"unix:/run/dadmm/s.sock", "unix:///run/dadmm/s.sock", "localhost:5000", "127.0.0.1:5000", "[::1]:5000"}) {
    EXPECT_TRUE(CheckSolverAddress(ok).ok()) << ok;
  }
  for (const char* bad : {"10.0.0.5:5000", "solver.example.org:5000", "dns:///localhost:5000", "", "unix:"}) {
    EXPECT_FALSE(CheckSolverAddress(bad).ok()) << bad;
  }
  EXPECT_EQ(SolverAddressFor("unix:///run/dadmm/solver-{node}.sock", 12), "unix:///run/dadmm/solver-12.sock");
  EXPECT_EQ(SolverAddressFor("localhost:7000", 3), "localhost:7000");
}

}  // namespace
}  // namespace dadmm::agent
