// Per-edge penalties (common/programs/edge_penalties.h) in D-ADMM, in the simulator: with no change
// they are the paper's algorithm with one rho; adapted, the two ends of every edge
// hold the same penalty, the answer is the centralized one, reached from poor starts sooner than
// with the poor rho kept, and message order changes no bit.
#include "common/programs/edge_penalties.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iostream>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/network/colouring.h"
#include "common/network/generators.h"
#include "common/problems/instances.h"
#include "common/programs/algorithms.h"
#include "common/sim/experiment.h"
#include "common/sim/simulator.h"
#include "coordinator-free-bootstrap/agent_pipeline.h"
#include "coordinator-free-bootstrap/penalty_simulation.h"
#include "coordinator-free-bootstrap/stopping_program.h"

namespace dadmm {
namespace {

struct Network {
  Topology topology;
  Colouring colouring;
  std::unique_ptr<ProblemInstance> instance;
};

Network Make(const std::string& problem, std::size_t nodes) {
  absl::StatusOr<GeneratedNetwork> net = GenerateNetwork(*TableIISpec(1, nodes, 2));
  EXPECT_TRUE(net.ok()) << net.status();
  auto instance = MakeInstance(problem, net->topology, 1, "", 1);
  EXPECT_TRUE(instance.ok()) << instance.status();
  Colouring colouring = GreedyLargestFirstColouring(net->topology);
  return {std::move(net->topology), std::move(colouring), *std::move(instance)};
}

// Runs settings.max_iterations steps (no tolerance) and returns every node's x.
std::vector<Vector> FinalEstimates(const Network& n, const AlgorithmSettings& settings,
                                   Delivery delivery = Delivery::kFifo) {
  std::map<NodeId, std::unique_ptr<NodeProgram>> programs;
  for (const NodeSpec& s : n.topology.nodes()) {
    auto p = MakeNodeProgram(n.topology, n.colouring, s.id, n.instance->MakeLocal(s.id), settings);
    EXPECT_TRUE(p.ok()) << p.status();
    programs[s.id] = *std::move(p);
  }
  absl::StatusOr<SimulationResult> r =
      Simulate(n.topology, programs, {.delivery = delivery, .seed = 7, .error = n.instance->error_measure()});
  EXPECT_TRUE(r.ok()) << r.status();
  std::vector<Vector> xs;
  if (r.ok()) {
    for (const auto& node : r->nodes) xs.push_back(node.x);
  }
  return xs;
}

EdgePenaltySettings Adaptive(std::uint32_t max_changes = 100) {
  return {.adaptive = true, .mu = 2.0, .tau = 100.0, .every = 2, .max_changes = max_changes};
}

TEST(EdgePenalties, WithoutChangesTheyAreThePapersOneRho) {
  const Network n = Make("bpdn-dct", 20);
  for (double rho : {0.5, 20.0}) {
    SCOPED_TRACE(absl::StrCat("rho ", rho));
    const AlgorithmSettings plain{.algorithm = Algorithm::kDadmm, .rho = rho, .max_iterations = 60};
    AlgorithmSettings per_edge = plain;
    per_edge.edge = Adaptive(/*max_changes=*/0);  // the per-edge arithmetic, every rho_pj = rho
    const std::vector<Vector> expected = FinalEstimates(n, plain), got = FinalEstimates(n, per_edge);
    ASSERT_EQ(got.size(), expected.size());
    ASSERT_FALSE(got.empty());
    for (std::size_t i = 0; i < got.size(); ++i) {
      // sum_j rho x_j against rho sum_j x_j: equal up to rounding.
      EXPECT_LE((got[i] - expected[i]).norm(), 1e-10 * std::max(1.0, expected[i].norm())) << "node " << i;
    }
  }
}

TEST(EdgePenalties, BothEndsAgreeAndPoorStartsRecover) {
  const Network n = Make("bpdn-dct", 20);
  const Algorithm a = Algorithm::kDadmm;
  {
    for (double start : {1e-4, 10.0}) {
      SCOPED_TRACE(absl::StrCat(AlgorithmName(a), " from rho ", start));
      // The poor rho kept, for at most 600 steps (it needs more).
      absl::StatusOr<RunOutcome> fixed =
          RunExperiment(n.topology, n.colouring, *n.instance,
                        {.settings = {.algorithm = a, .rho = start, .max_iterations = 600}, .tolerance = 1e-4});
      ASSERT_TRUE(fixed.ok()) << fixed.status();
      RunSpec spec{.settings = {.algorithm = a, .rho = start, .max_iterations = 3000}, .tolerance = 1e-4};
      spec.settings.edge = Adaptive();
      const StopRule rule{.rho = start, .penalty_rule = PenaltyRule::kEdge};
      // RunWithPenaltyRule fails if the two ends of an edge hold different penalties.
      absl::StatusOr<PenaltyRunOutcome> adapted = RunWithPenaltyRule(n.topology, n.colouring, *n.instance, spec, rule);
      ASSERT_TRUE(adapted.ok()) << adapted.status();
      std::cout << AlgorithmName(a) << ", bpdn-dct, 20 nodes, from rho " << start << ": fixed "
                << (fixed->reached ? absl::StrCat(fixed->steps) : "> 600") << " steps; per edge " << adapted->run.steps
                << " steps, rho " << adapted->rho_min << " to " << adapted->rho_max << " (geometric mean "
                << adapted->final_rho << ") after " << adapted->changes << " changes\n";
      // The centralized solution (the instance's x*), reached, and sooner than with the poor rho.
      EXPECT_TRUE(adapted->run.reached);
      EXPECT_LT(adapted->run.final_error, 1e-4);
      EXPECT_LT(adapted->run.steps, fixed->steps);
      // The penalties moved, and not all alike: they are per edge.
      EXPECT_GT(adapted->changes, 0u);
      EXPECT_LT(adapted->rho_min, adapted->rho_max);
      // No change was bigger than the rule allows in total: every edge within tau^changes of the start.
      EXPECT_GT(adapted->rho_min, 0.0);
      // Message order changes no bit: the same steps, shuffled, end with the same estimates.
      AlgorithmSettings same = spec.settings;
      same.max_iterations = adapted->run.steps;
      const std::vector<Vector> fifo = FinalEstimates(n, same), shuffled = FinalEstimates(n, same, Delivery::kShuffled);
      ASSERT_EQ(fifo.size(), n.topology.size());
      EXPECT_EQ(shuffled, fifo);
    }
  }
}

// Seed 002 §3.3's residual stop with per-edge penalties: s_p uses sqrt(sum_j rho_pj^2) for rho sqrt(D_p).
// Every node stops at the same step, near x*, and sooner than with the poor rho kept.
TEST(EdgePenalties, TheResidualStopMeasuresWithTheEdgesPenalties) {
  const Network n = Make("bpdn-dct", 20);
  struct Stopped {
    std::uint64_t steps = 0;
    double error = 0.0;
    bool all_stopped = true;
  };
  auto run = [&](const PipelineSettings& settings) {
    std::map<NodeId, std::unique_ptr<NodeProgram>> programs;
    for (const NodeSpec& s : n.topology.nodes()) {
      absl::StatusOr<NodeView> view = ViewOf(n.topology, n.colouring, s.id);
      EXPECT_TRUE(view.ok()) << view.status();
      auto p = MakeAgentProgram(*view, DiameterBound(n.topology), n.instance->MakeLocal(s.id), settings);
      EXPECT_TRUE(p.ok()) << p.status();
      programs[s.id] = *std::move(p);
    }
    absl::StatusOr<SimulationResult> r = Simulate(n.topology, programs, {.error = n.instance->error_measure()});
    EXPECT_TRUE(r.ok()) << r.status();
    Stopped out;
    if (!r.ok()) return out;
    out.steps = r->steps;
    out.error = r->errors.back();
    for (const auto& node : r->nodes) out.all_stopped = out.all_stopped && node.outcome == Outcome::kStopped;
    return out;
  };
  PipelineSettings fixed{.dadmm = {.rho = 10.0, .max_iterations = 3000}, .eps_abs = 1e-6, .eps_rel = 1e-4};
  PipelineSettings per_edge = fixed;
  per_edge.vary_rho_every = 2;
  per_edge.vary_rho_votes = 100;
  per_edge.vary_rho_mu = 2.0;
  per_edge.vary_rho_tau = 100.0;
  per_edge.vary_rho_rule = PenaltyRule::kEdge;
  ASSERT_TRUE(per_edge.Validate().ok());
  const Stopped a = run(per_edge), b = run(fixed);
  std::cout << "bpdn-dct, 20 nodes, from rho 10, residual stop (1e-6, 1e-4): per edge " << a.steps << " steps (error "
            << a.error << "), rho fixed " << b.steps << " steps (error " << b.error << ")\n";
  EXPECT_TRUE(a.all_stopped);  // by the agreed residual test, not the maximum
  EXPECT_LT(a.steps, 3000u);
  EXPECT_LT(a.error, 1e-3);  // the centralized x*
  EXPECT_LT(a.steps, b.steps);
}

TEST(EdgePenalties, ChangesStopAfterTheirBoundAndSettingsAreChecked) {
  const Network n = Make("consensus", 20);
  RunSpec spec{.settings = {.algorithm = Algorithm::kDadmm, .rho = 1e-3, .max_iterations = 3000}, .tolerance = 1e-8};
  spec.settings.edge = Adaptive(/*max_changes=*/3);
  absl::StatusOr<PenaltyRunOutcome> r =
      RunWithPenaltyRule(n.topology, n.colouring, *n.instance, spec, {.rho = 1e-3, .penalty_rule = PenaltyRule::kEdge});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->changes, 0u);
  EXPECT_LE(r->changes, 3 * n.topology.num_edges());
  // After at most 3 changes of a factor of at most 100, every edge is within 1e6 of the start.
  EXPECT_LE(r->rho_max, 1e-3 * 1e6 * (1 + 1e-12));
  EXPECT_GE(r->rho_min, 1e-3 / 1e6 * (1 - 1e-12));
  // Consensus: x* is the average; the error measure is against it.
  EXPECT_TRUE(r->run.reached);
  EXPECT_LT(r->run.final_error, 1e-8);

  EXPECT_FALSE((EdgePenaltySettings{.adaptive = true, .mu = 1.0}).Validate().ok());
  EXPECT_FALSE((EdgePenaltySettings{.adaptive = true, .tau = 0.5}).Validate().ok());
  EXPECT_FALSE((EdgePenaltySettings{.adaptive = true, .every = 0}).Validate().ok());
  EXPECT_TRUE((EdgePenaltySettings{.adaptive = false, .mu = 0.0}).Validate().ok());  // unused when off
  for (Algorithm other : {Algorithm::kAlgorithm3, Algorithm::kSubgradient, Algorithm::kIcAdmm}) {
    AlgorithmSettings settings{.algorithm = other, .rho = 0.1};
    settings.edge = Adaptive();
    const NodeId first = n.topology.nodes().front().id;
    absl::StatusOr<std::unique_ptr<NodeProgram>> p =
        MakeNodeProgram(n.topology, n.colouring, first, n.instance->MakeLocal(first), settings);
    ASSERT_FALSE(p.ok()) << AlgorithmName(other);
    EXPECT_THAT(std::string(p.status().message()), ::testing::HasSubstr("apply to d-admm"));
  }
  EXPECT_EQ(DescribeAlgorithm({.algorithm = Algorithm::kDadmm}), "d-admm");
  AlgorithmSettings described{.algorithm = Algorithm::kDadmm};
  described.edge = Adaptive();
  EXPECT_EQ(DescribeAlgorithm(described), "d-admm edge-rho mu=2 tau=100 every=2 changes=100");
}

}  // namespace
}  // namespace dadmm
