// D-ADMM (seed 000, Algorithm 2) on the consensus problem (18), in the simulator, checked against the
// average computed directly.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/base/random.h"
#include "common/network/colouring.h"
#include "common/network/topology.h"
#include "common/problems/consensus.h"
#include "common/programs/dadmm_node.h"
#include "common/sim/simulator.h"

namespace dadmm {
namespace {

using ::testing::HasSubstr;

Topology Fig1() {
  absl::StatusOr<Topology> t = LoadTopologyFile(DADMM_SOURCE_DIR "/deploy/examples/fig1/topology.yaml");
  EXPECT_TRUE(t.ok()) << t.status();
  return *std::move(t);
}

// A connected Erdos-Renyi graph: G(n, p) redrawn until connected.
Topology RandomGraph(std::size_t n, double p, std::uint64_t seed) {
  Rng rng(seed);
  for (;;) {
    std::vector<NodeSpec> nodes;
    std::vector<EdgeSpec> edges;
    for (NodeId i = 1; i <= n; ++i) nodes.push_back({.id = i, .address = absl::StrCat("127.0.0.1:", 20000 + i)});
    for (NodeId i = 1; i <= n; ++i) {
      for (NodeId j = i + 1; j <= n; ++j) {
        if (rng.Uniform() < p) edges.push_back({.a = i, .b = j});
      }
    }
    absl::StatusOr<Topology> t = Topology::Create(absl::StrCat("er", n), nodes, edges);
    if (t.ok()) return *std::move(t);
  }
}

Topology Ring(std::size_t n) {
  std::vector<NodeSpec> nodes;
  std::vector<EdgeSpec> edges;
  for (NodeId i = 1; i <= n; ++i) {
    nodes.push_back({.id = i, .address = absl::StrCat("h", i, ":1")});
    edges.push_back({.a = i, .b = static_cast<NodeId>(i % n + 1)});
  }
  return *Topology::Create("ring", nodes, edges);
}

// The average, summed in long double: a reference independent of the algorithm's arithmetic.
Vector DirectAverage(const std::map<NodeId, Vector>& thetas) {
  const Eigen::Index n = thetas.begin()->second.size();
  Vector avg(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    long double s = 0;
    for (const auto& [id, theta] : thetas) s += theta[i];
    avg[i] = static_cast<double>(s / thetas.size());
  }
  return avg;
}

absl::StatusOr<SimulationResult> RunDadmm(const Topology& t, const std::map<NodeId, Vector>& thetas,
                                          const DadmmSettings& settings, const SimulatorOptions& options = {}) {
  const Colouring colouring = GreedyLargestFirstColouring(t);
  std::map<NodeId, std::unique_ptr<NodeProgram>> programs;
  for (const auto& [id, theta] : thetas) {
    auto node = MakeDadmmNode(t, colouring, id, std::make_unique<ConsensusProblem>(theta), settings);
    if (!node.ok()) return node.status();
    programs.emplace(id, *std::move(node));
  }
  return Simulate(t, programs, options);
}

double ErrorOf(const SimulationResult& r, const Vector& x_star) {
  std::vector<Vector> xs;
  for (const SimulatedNode& n : r.nodes) xs.push_back(n.x);
  return RelativeError(xs, x_star);
}

TEST(ConsensusProblem, LocalSolutionSatisfiesOptimality) {
  Rng rng(7);
  Vector theta(4);
  for (int i = 0; i < 4; ++i) theta[i] = rng.Normal(10, 100);
  ConsensusProblem problem(theta);
  for (double c : {0.0, 1e-3, 1.0, 7.5, 1e4}) {
    Vector v(4);
    for (int i = 0; i < 4; ++i) v[i] = rng.Normal(0, 50);
    Vector x = Vector::Zero(4);
    problem.Solve(v, c, x);
    // Stationarity of f(x) + v'x + (c/2)||x||^2: 2(x - theta) + v + c x = 0.
    const Vector gradient = 2.0 * (x - theta) + v + c * x;
    EXPECT_LT(gradient.norm(), 1e-12 * (1.0 + theta.norm() + v.norm())) << "c = " << c;
  }
}

TEST(Dadmm, Fig1ReachesTheAverage) {
  const Topology t = Fig1();
  const auto thetas = GenerateConsensusData(t, 1, 1);
  absl::StatusOr<SimulationResult> r = RunDadmm(t, thetas, {.rho = 1.0, .max_iterations = 40});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_LE(ErrorOf(*r, DirectAverage(thetas)), 1e-4);
  EXPECT_EQ(r->steps, 40u);
  for (const SimulatedNode& n : r->nodes) EXPECT_EQ(n.outcome, Outcome::kMaxIterations);
}

// Vector thetas, several graphs (bipartite ring, random graphs with many colours).
TEST(Dadmm, ReachesTheAverageOnSeveralNetworks) {
  const std::vector<Topology> graphs = {Ring(10), RandomGraph(10, 0.3, 2), RandomGraph(30, 0.2, 3),
                                        RandomGraph(50, 0.1, 4)};
  for (const Topology& t : graphs) {
    const auto thetas = GenerateConsensusData(t, 3, 11);
    absl::StatusOr<SimulationResult> r = RunDadmm(t, thetas, {.rho = 0.5, .max_iterations = 300});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_LE(ErrorOf(*r, DirectAverage(thetas)), 1e-4)
        << t.name() << " with " << NumColours(GreedyLargestFirstColouring(t)) << " colours";
  }
}

TEST(Dadmm, MessagesAreTwoEdgesTimesSteps) {
  const Topology t = RandomGraph(30, 0.2, 5);
  const auto thetas = GenerateConsensusData(t, 2, 3);
  absl::StatusOr<SimulationResult> r = RunDadmm(t, thetas, {.rho = 1.0, .max_iterations = 25});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->messages, 2 * t.num_edges() * 25);
  EXPECT_EQ(r->payload_bytes, 2 * t.num_edges() * 25 * 16);
  for (const SimulatedNode& n : r->nodes) {
    const LinkCounters c = n.counters.Total();
    EXPECT_EQ(c.messages_sent, t.degree(n.id) * 25) << "node " << n.id;
    EXPECT_EQ(c.messages_received, t.degree(n.id) * 25) << "node " << n.id;
    for (NodeId j : t.neighbours(n.id)) EXPECT_EQ(n.counters.of(j).messages_sent, 25u);
  }
}

TEST(Dadmm, ResultDoesNotDependOnDeliveryOrder) {
  const Topology t = RandomGraph(40, 0.15, 8);
  const auto thetas = GenerateConsensusData(t, 2, 5);
  const DadmmSettings settings{.rho = 0.7, .max_iterations = 60};
  absl::StatusOr<SimulationResult> fifo = RunDadmm(t, thetas, settings);
  ASSERT_TRUE(fifo.ok()) << fifo.status();
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    absl::StatusOr<SimulationResult> shuffled =
        RunDadmm(t, thetas, settings, {.delivery = Delivery::kShuffled, .seed = seed});
    ASSERT_TRUE(shuffled.ok()) << shuffled.status();
    for (std::size_t i = 0; i < fifo->nodes.size(); ++i) {
      const Vector& a = fifo->nodes[i].x;
      const Vector& b = shuffled->nodes[i].x;
      EXPECT_EQ(std::memcmp(a.data(), b.data(), sizeof(double) * a.size()), 0)
          << "node " << fifo->nodes[i].id << " differs with seed " << seed;
    }
    EXPECT_EQ(fifo->steps, shuffled->steps);
    EXPECT_EQ(shuffled->messages, fifo->messages);
  }
}

// A node program in isolation: node 2 of the triangle 1-2-3 with colours 1, 2, 3.
class DadmmNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = DadmmNode::Create(2, 2, {{.id = 1, .colour = 1}, {.id = 3, .colour = 3}},
                                  std::make_unique<ConsensusProblem>(Vector::Constant(1, 5.0)),
                                  {.rho = 1.0, .max_iterations = 2});
    ASSERT_TRUE(made.ok()) << made.status();
    node_ = *std::move(made);
    node_->Start(out_);
    EXPECT_TRUE(out_.empty()) << "node 2 must wait for node 1 (lower colour) first";
    EXPECT_THAT(node_->awaited(), ::testing::ElementsAre(1));
  }
  absl::Status Give(NodeId from, std::uint64_t k, double value) {
    const Vector x = Vector::Constant(1, value);
    return node_->Receive({.sender = from, .iteration = k, .x = Eigen::Map<const Vector>(x.data(), 1)}, out_);
  }
  std::unique_ptr<DadmmNode> node_;
  std::vector<Broadcast> out_;
};

TEST_F(DadmmNodeTest, FollowsAlgorithm2StepByStep) {
  ASSERT_TRUE(Give(1, 2, 4.0).ok());
  // Step 3: v = gamma - rho (x_1^2 + x_3^1) = 0 - (4 + 0) = -4; step 4 with c = D_p rho = 2:
  // x = (2 * 5 - (-4)) / (2 + 2) = 3.5.
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].iteration, 2u);
  EXPECT_EQ(out_[0].x[0], 3.5);
  EXPECT_THAT(node_->awaited(), ::testing::ElementsAre(3));
  out_.clear();
  ASSERT_TRUE(Give(3, 2, 2.0).ok());
  // Step 8: gamma = 0 + rho ((3.5 - 4) + (3.5 - 2)) = 1.
  EXPECT_EQ(node_->gamma()[0], 1.0);
  EXPECT_EQ(node_->steps(), 1u);
  EXPECT_TRUE(out_.empty());
  ASSERT_TRUE(Give(1, 3, 6.0).ok());
  // v = 1 - (6 + 2) = -7; x = (10 + 7) / 4 = 4.25.
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].x[0], 4.25);
  ASSERT_TRUE(Give(3, 3, 4.0).ok());
  EXPECT_TRUE(node_->done());
  EXPECT_EQ(node_->steps(), 2u);
  EXPECT_EQ(node_->x()[0], 4.25);
}

TEST_F(DadmmNodeTest, RejectsWhatNoCorrectNeighbourSends) {
  EXPECT_THAT(std::string(Give(9, 2, 1.0).message()), HasSubstr("sender is not a neighbour"));
  EXPECT_THAT(std::string(Give(3, 2, 1.0).message()), HasSubstr("too early"));
  EXPECT_THAT(std::string(Give(1, 3, 1.0).message()), HasSubstr("out of sequence, expected iteration 2"));
  EXPECT_THAT(std::string(Give(1, 2, std::nan("")).message()), HasSubstr("non-finite"));
  const Vector two = Vector::Zero(2);
  EXPECT_THAT(
      std::string(
          node_->Receive({.sender = 1, .iteration = 2, .x = Eigen::Map<const Vector>(two.data(), 2)}, out_).message()),
      HasSubstr("dimension 2, expected 1"));
  EXPECT_TRUE(out_.empty());
  // None of that changed the state: the run continues exactly as in FollowsAlgorithm2StepByStep.
  ASSERT_TRUE(Give(1, 2, 4.0).ok());
  ASSERT_EQ(out_.size(), 1u);
  EXPECT_EQ(out_[0].x[0], 3.5);
  EXPECT_THAT(std::string(Give(1, 2, 4.0).message()), HasSubstr("out of sequence"));
  ASSERT_TRUE(Give(1, 3, 6.0).ok());  // a lower neighbour may run one iteration ahead
  EXPECT_THAT(std::string(Give(1, 4, 6.0).message()), HasSubstr("too early"));
  ASSERT_TRUE(Give(3, 2, 2.0).ok());
  ASSERT_TRUE(Give(3, 3, 4.0).ok());
  ASSERT_TRUE(node_->done());
  EXPECT_EQ(node_->x()[0], 4.25);
  EXPECT_THAT(std::string(Give(1, 4, 1.0).message()), HasSubstr("finished"));
}

TEST(DadmmNode, CreateValidates) {
  auto problem = [] { return std::make_unique<ConsensusProblem>(Vector::Zero(1)); };
  EXPECT_THAT(std::string(DadmmNode::Create(1, 1, {{.id = 2, .colour = 1}}, problem(), {}).status().message()),
              HasSubstr("share colour 1"));
  EXPECT_THAT(std::string(DadmmNode::Create(1, 1, {{.id = 1, .colour = 2}}, problem(), {}).status().message()),
              HasSubstr("lists itself"));
  EXPECT_THAT(std::string(DadmmNode::Create(1, 1, {}, problem(), {.rho = -1}).status().message()),
              HasSubstr("rho must be"));
  EXPECT_THAT(std::string(DadmmNode::Create(1, 1, {}, problem(), {.max_iterations = 0}).status().message()),
              HasSubstr("max_iterations"));
}

}  // namespace
}  // namespace dadmm
