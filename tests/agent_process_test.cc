// dadmm-agent as separate processes on loopback, checked against the simulator and the true average.
#include <signal.h>

#include <cstring>
#include <map>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/results.h"
#include "common/colouring.h"
#include "common/consensus.h"
#include "common/csv.h"
#include "common/dadmm_node.h"
#include "common/simulator.h"
#include "common/topology.h"
#include "dadmm/proto/dadmm.grpc.pb.h"
#include "tests/process.h"

namespace dadmm {
namespace {

using ::dadmm::testing::Child;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// Figure 1's graph from the example file, with free loopback ports for this run.
std::string Fig1WithPorts(const std::vector<int>& ports) {
  absl::StatusOr<Topology> fig1 = LoadTopologyFile(DADMM_SOURCE_DIR "/deploy/examples/fig1/topology.yaml");
  EXPECT_TRUE(fig1.ok());
  std::vector<NodeSpec> nodes = fig1->nodes();
  std::vector<EdgeSpec> edges;
  for (std::size_t i = 0; i < nodes.size(); ++i) nodes[i].address = absl::StrCat("127.0.0.1:", ports[i]);
  for (const auto& [a, b] : fig1->edges()) edges.push_back({.a = a, .b = b});
  return TopologyToYaml(*Topology::Create("fig1", nodes, edges));
}

std::vector<std::string> NonEmptyLines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

TEST(AgentProcesses, SevenAgentsMatchTheSimulatorBitForBit) {
  const std::string dir = testing::MakeTempDir("seven");
  const std::string topology_path = dir + "/net.yaml";
  testing::WriteFile(topology_path, Fig1WithPorts(testing::FreePorts(7)));
  absl::StatusOr<Topology> topology = LoadTopologyFile(topology_path);
  ASSERT_TRUE(topology.ok()) << topology.status();
  const auto thetas = GenerateConsensusData(*topology, 1, 2026);
  const std::uint64_t kSteps = 40;
  const double kRho = 1.0;

  // Started in reverse id order, so that most agents start before the neighbours they wait for.
  std::vector<Child> agents;
  for (auto it = thetas.rbegin(); it != thetas.rend(); ++it) {
    const auto& [id, theta] = *it;
    const std::string data = absl::StrCat(dir, "/node-", id, ".csv");
    ASSERT_TRUE(WriteVectorCsv(data, theta).ok());
    agents.push_back(testing::Spawn(
        {DADMM_AGENT_BIN, absl::StrCat("--node_id=", id), "--topology=" + topology_path, "--data=" + data,
         absl::StrCat("--rho=", kRho), absl::StrCat("--iterations=", kSteps),
         absl::StrCat("--output=", dir, "/node-", id, ".json")},
        absl::StrCat(dir, "/node-", id, ".out"), absl::StrCat(dir, "/node-", id, ".log")));
  }
  for (const Child& a : agents) {
    const std::optional<int> code = testing::WaitFor(a, 120s);
    EXPECT_EQ(code, 0) << testing::ReadFile(a.stderr_path);
    if (!code) testing::Kill(a);
  }

  absl::StatusOr<std::map<NodeId, v1::AgentResult>> results = agent::ReadNetworkResults(*topology, dir);
  ASSERT_TRUE(results.ok()) << results.status();

  // The same inputs in the simulator.
  const Colouring colouring = GreedyLargestFirstColouring(*topology);
  std::map<NodeId, std::unique_ptr<NodeProgram>> programs;
  for (const auto& [id, theta] : thetas) {
    programs.emplace(id, *MakeDadmmNode(*topology, colouring, id, std::make_unique<ConsensusProblem>(theta),
                                        {.rho = kRho, .max_iterations = kSteps}));
  }
  absl::StatusOr<SimulationResult> simulated = Simulate(*topology, programs);
  ASSERT_TRUE(simulated.ok()) << simulated.status();

  // The true average, summed directly.
  long double sum = 0;
  for (const auto& [id, theta] : thetas) sum += theta[0];
  const Vector x_star = Vector::Constant(1, static_cast<double>(sum / thetas.size()));

  std::vector<Vector> estimates;
  std::uint64_t messages = 0;
  for (const SimulatedNode& s : simulated->nodes) {
    const v1::AgentResult& r = results->at(s.id);
    ASSERT_EQ(r.x_size(), 1);
    const double x = r.x(0);
    estimates.push_back(Vector::Constant(1, x));
    EXPECT_EQ(std::memcmp(&x, s.x.data(), sizeof x), 0)
        << "node " << s.id << ": agent " << x << " vs simulator " << s.x[0];
    EXPECT_EQ(r.iterations(), simulated->steps) << "node " << s.id;
    EXPECT_EQ(r.iterations(), kSteps);
    EXPECT_EQ(r.colour(), colouring.at(s.id));
    EXPECT_EQ(r.messages_sent(), topology->degree(s.id) * kSteps) << "node " << s.id;
    EXPECT_EQ(r.messages_received(), topology->degree(s.id) * kSteps) << "node " << s.id;
    EXPECT_EQ(r.payload_bytes_sent(), 8 * topology->degree(s.id) * kSteps);
    EXPECT_EQ(r.rejected_messages(), 0u);
    ASSERT_EQ(static_cast<std::size_t>(r.neighbours_size()), topology->degree(s.id));
    for (const v1::NeighbourCounters& n : r.neighbours()) {
      EXPECT_EQ(n.messages_sent(), kSteps) << "edge " << s.id << "->" << n.node_id();
      EXPECT_EQ(n.messages_received(), kSteps) << "edge " << n.node_id() << "->" << s.id;
      EXPECT_EQ(n.messages_sent(), s.counters.of(n.node_id()).messages_sent);
    }
    messages += r.messages_sent();
    // The agent's stdout carries its result line.
    EXPECT_THAT(testing::ReadFile(absl::StrCat(dir, "/node-", s.id, ".out")),
                HasSubstr(absl::StrCat("node ", s.id, ": finished after 40 steps")));
  }
  EXPECT_EQ(messages, 2 * topology->num_edges() * kSteps);
  EXPECT_EQ(messages, simulated->messages);
  EXPECT_LE(RelativeError(estimates, x_star), 1e-4);
}

TEST(AgentProcesses, BadTopologyFileGivesItsOneLineError) {
  const std::string dir = testing::MakeTempDir("badtopo");
  testing::WriteFile(dir + "/net.yaml",
                     "nodes:\n  - {id: 1, address: \"127.0.0.1:1\"}\n  - {id: 3, address: \"127.0.0.1:3\"}\n"
                     "edges:\n  - [1, 3]\n  - [3, 9]\n");
  const Child c = testing::Spawn({DADMM_AGENT_BIN, "--node_id=1", "--topology=" + dir + "/net.yaml", "--theta=1"},
                                 dir + "/out", dir + "/err");
  EXPECT_EQ(testing::WaitFor(c, 30s), 2);
  const std::vector<std::string> lines = NonEmptyLines(testing::ReadFile(dir + "/err"));
  ASSERT_EQ(lines.size(), 1u) << testing::ReadFile(dir + "/err");
  EXPECT_EQ(lines[0], "dadmm-agent: " + dir + "/net.yaml:6: edge [3, 9]: node 9 is not declared");
}

TEST(AgentProcesses, UnknownNodeIdIsRefused) {
  const std::string dir = testing::MakeTempDir("unknownid");
  testing::WriteFile(dir + "/net.yaml", Fig1WithPorts(testing::FreePorts(7)));
  const Child c = testing::Spawn({DADMM_AGENT_BIN, "--node_id=42", "--topology=" + dir + "/net.yaml", "--theta=1"},
                                 dir + "/out", dir + "/err");
  const std::optional<int> code = testing::WaitFor(c, 30s);
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  const std::vector<std::string> lines = NonEmptyLines(testing::ReadFile(dir + "/err"));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("node 42 is not in " + dir + "/net.yaml"));
}

TEST(AgentProcesses, BadFlagsAreRefusedWithOneLine) {
  const std::string dir = testing::MakeTempDir("badflags");
  testing::WriteFile(dir + "/net.yaml", Fig1WithPorts(testing::FreePorts(7)));
  const std::string topo = "--topology=" + dir + "/net.yaml";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--node_id=1", topo}, "give exactly one of --theta and --data"},
      {{"--node_id=1", topo, "--theta=abc"}, "--theta:1: 'abc' is not a finite number"},
      {{"--node_id=1", topo, "--theta=1", "--rho=0"}, "rho must be a finite number > 0"},
      {{"--node_id=1", topo, "--theta=1", "--iterations=0"}, "--iterations must be >= 1"},
      {{"--node_id=1", topo, "--data=" + dir + "/missing.csv"}, dir + "/missing.csv: cannot open data file"},
      {{topo, "--theta=1"}, "--node_id is required"},
  };
  for (const auto& [flags, expected] : cases) {
    std::vector<std::string> argv = {DADMM_AGENT_BIN};
    argv.insert(argv.end(), flags.begin(), flags.end());
    const Child c = testing::Spawn(argv, dir + "/out", dir + "/err");
    EXPECT_EQ(testing::WaitFor(c, 30s), 2) << expected;
    const std::vector<std::string> lines = NonEmptyLines(testing::ReadFile(dir + "/err"));
    ASSERT_EQ(lines.size(), 1u) << testing::ReadFile(dir + "/err");
    EXPECT_THAT(lines[0], HasSubstr(expected));
  }
}

TEST(AgentProcesses, AgentWaitsForANeighbourThatNeverComesUpAndSaysWhom) {
  const std::string dir = testing::MakeTempDir("waiting");
  const std::vector<int> ports = testing::FreePorts(7);
  testing::WriteFile(dir + "/net.yaml", Fig1WithPorts(ports));
  // Node 1's neighbours are 2 and 3; neither is ever started.
  const Child c = testing::Spawn({DADMM_AGENT_BIN, "--node_id=1", "--topology=" + dir + "/net.yaml", "--theta=5"},
                                 dir + "/out", dir + "/err");
  const bool said = testing::Eventually(
      [&] {
        const std::string log = testing::ReadFile(dir + "/err");
        return log.find(absl::StrCat("waiting for neighbour 2 at 127.0.0.1:", ports[1])) != std::string::npos &&
               log.find(absl::StrCat("waiting for neighbour 3 at 127.0.0.1:", ports[2])) != std::string::npos;
      },
      20s);
  EXPECT_TRUE(said) << testing::ReadFile(dir + "/err");

  // It keeps serving: Status says it runs and whom it waits for.
  auto stub = v1::Status::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", ports[0]), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  context.set_wait_for_ready(true);
  v1::StatusReply reply;
  ASSERT_TRUE(stub->GetStatus(&context, v1::StatusRequest(), &reply).ok());
  EXPECT_EQ(reply.node_id(), 1u);
  EXPECT_EQ(reply.state(), v1::AGENT_STATE_RUNNING);
  EXPECT_EQ(reply.iteration(), 0u);
  EXPECT_EQ(reply.messages_sent(), 0u);
  EXPECT_THAT(reply.waiting_for(), HasSubstr("not connected"));

  EXPECT_FALSE(testing::WaitFor(c, 500ms).has_value()) << "the agent must keep waiting";
  kill(c.pid, SIGTERM);
  const std::optional<int> code = testing::WaitFor(c, 20s);
  EXPECT_EQ(code, 128 + SIGTERM);
  if (!code) testing::Kill(c);
  EXPECT_THAT(testing::ReadFile(dir + "/err"), HasSubstr("stopped by signal"));
}

}  // namespace
}  // namespace dadmm
