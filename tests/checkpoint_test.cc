// Node programs saved and restored as exact bytes (NodeProgram::SaveState / LoadState): a program
// replaced mid-run by a fresh one that loads the saved bytes continues bit for bit as the original
// would have, for every algorithm, the agreed stop and the varying penalty included, on every kind of
// local problem; bytes that do not fit are refused, naming why.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <deque>

#include "common/network/generators.h"
#include "common/problems/instances.h"
#include "coordinator-free-bootstrap/agent_pipeline.h"
#include "coordinator-free-bootstrap/colouring_simulation.h"

namespace dadmm {
namespace {

using ::testing::HasSubstr;

struct Network {
  Topology topology;
  std::map<NodeId, std::uint32_t> colours;
  std::unique_ptr<ProblemInstance> instance;
};

Network Make(const std::string& instance, std::size_t nodes, Eigen::Index dimension) {
  absl::StatusOr<GeneratedNetwork> net = GenerateNetwork(*TableIISpec(2, nodes, 1));
  EXPECT_TRUE(net.ok()) << net.status();
  absl::StatusOr<ColouringRun> colouring = SimulateColouring(net->topology, 1);
  EXPECT_TRUE(colouring.ok()) << colouring.status();
  auto made = MakeInstance(instance, net->topology, 1, DADMM_SOURCE_DIR "/deploy/data", dimension);
  EXPECT_TRUE(made.ok()) << made.status();
  return {std::move(net->topology), colouring->colouring, *std::move(made)};
}

std::unique_ptr<NodeProgram> Program(const Network& n, NodeId id, const PipelineSettings& settings) {
  absl::StatusOr<NodeView> view = ViewOf(n.topology, n.colours, id);
  EXPECT_TRUE(view.ok()) << view.status();
  auto p = MakeAgentProgram(*view, DiameterBound(n.topology), n.instance->MakeLocal(id), settings);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *std::move(p) : nullptr;
}

struct Final {
  std::vector<std::string> x_bits;  // per node, the bytes of x
  std::vector<std::uint64_t> steps;
  std::vector<int> outcomes;
  std::uint64_t restores = 0;
};

// Runs the network with FIFO queues per directed edge, delivering round-robin over the edges. After
// every `every`-th delivery (0: never), the receiving node's program is saved and replaced by a fresh
// one that loads the bytes.
Final RunNetwork(const Network& n, const PipelineSettings& settings, std::uint64_t every) {
  const Topology& t = n.topology;
  std::map<NodeId, std::unique_ptr<NodeProgram>> programs;
  for (const NodeSpec& s : t.nodes()) programs[s.id] = Program(n, s.id, settings);
  std::map<std::pair<NodeId, NodeId>, std::deque<std::shared_ptr<const Broadcast>>> queues;
  auto send = [&](NodeId from, std::vector<Broadcast>& out) {
    for (Broadcast& b : out) {
      auto shared = std::make_shared<const Broadcast>(std::move(b));
      for (NodeId j : t.neighbours(from)) queues[{from, j}].push_back(shared);
    }
    out.clear();
  };
  std::vector<Broadcast> out;
  for (auto& [id, p] : programs) {
    p->Start(out);
    send(id, out);
  }
  Final f;
  std::uint64_t deliveries = 0;
  for (bool any = true; any;) {
    any = false;
    for (auto& [edge, q] : queues) {
      if (q.empty()) continue;
      any = true;
      const std::shared_ptr<const Broadcast> b = q.front();
      q.pop_front();
      const auto [from, to] = edge;
      const Estimate m{.sender = from,
                       .iteration = b->iteration,
                       .x = Eigen::Map<const Vector>(b->x.data(), b->x.size()),
                       .control = b->control};
      absl::Status s = programs[to]->Receive(m, out);
      EXPECT_TRUE(s.ok()) << s;
      if (!s.ok()) return f;
      send(to, out);
      if (every > 0 && ++deliveries % every == 0) {
        StateWriter w;
        programs[to]->SaveState(w);
        std::unique_ptr<NodeProgram> fresh = Program(n, to, settings);
        StateReader r(w.bytes(), absl::StrCat("node ", to, "'s state"));
        absl::Status loaded = fresh->LoadState(r);
        EXPECT_TRUE(loaded.ok()) << loaded;
        EXPECT_TRUE(r.at_end()) << "node " << to << ": bytes left after loading";
        // Saved again, the fresh program gives the very same bytes.
        StateWriter again;
        fresh->SaveState(again);
        EXPECT_EQ(again.bytes(), w.bytes()) << "node " << to;
        programs[to] = std::move(fresh);
        ++f.restores;
      }
    }
  }
  for (const auto& [id, p] : programs) {
    f.x_bits.emplace_back(reinterpret_cast<const char*>(p->x().data()), sizeof(double) * p->x().size());
    f.steps.push_back(p->steps());
    f.outcomes.push_back(static_cast<int>(p->outcome()));
    EXPECT_TRUE(p->done()) << "node " << id << " did not finish";
  }
  return f;
}

struct Case {
  std::string instance;
  Eigen::Index dimension;
  PipelineSettings settings;
};

TEST(Checkpoint, ARestoredProgramContinuesBitForBit) {
  const std::vector<Case> cases = {
      {"consensus", 3, {.dadmm = {.rho = 1.0, .max_iterations = 40}}},
      {"consensus", 2, {.dadmm = {.rho = 1.0, .max_iterations = 2000}, .tolerance = 1e-5}},
      {"consensus", 2, {.dadmm = {.rho = 0.01, .max_iterations = 400}, .tolerance = 1e-5, .vary_rho_every = 12}},
      {"consensus", 1, {.algorithm = Algorithm::kAveraging, .dadmm = {.rho = 1.0, .max_iterations = 30}}},
      {"bpdn-dct",
       1,
       {.dadmm = {.rho = 10.0, .max_iterations = 60},
        .tolerance = 1e-5,
        .vary_rho_every = 2,
        .vary_rho_votes = 100,
        .vary_rho_mu = 2.0,
        .vary_rho_tau = 100.0,
        .vary_rho_rule = PenaltyRule::kEdge}},
      {"bpdn-dct",
       1,
       {.dadmm = {.rho = 10.0, .max_iterations = 200},
        .eps_abs = 1e-5,
        .eps_rel = 1e-3,
        .vary_rho_every = 2,
        .vary_rho_votes = 100,
        .vary_rho_mu = 2.0,
        .vary_rho_tau = 100.0,
        .vary_rho_rule = PenaltyRule::kEdge}},
      {"bpdn-dct", 1, {.dadmm = {.rho = 0.5, .max_iterations = 30}, .eps_abs = 1e-4, .eps_rel = 1e-3}},
      {"bpdn-dct", 1, {.algorithm = Algorithm::kAlgorithm3, .dadmm = {.rho = 0.5, .max_iterations = 20}}},
      {"lasso-dct", 1, {.dadmm = {.rho = 1.0, .max_iterations = 20}}},
      {"svm-iris", 1, {.dadmm = {.rho = 1.0, .max_iterations = 25}, .tolerance = 1e-4}},
      {"bpdn-dct", 1, {.algorithm = Algorithm::kSubgradient, .dadmm = {.rho = 0.1, .max_iterations = 25}}},
      {"logreg-cancer", 1, {.dadmm = {.rho = 1.0, .max_iterations = 15}}},
      {"sparse-lr-textures", 16, {.algorithm = Algorithm::kIcAdmm, .dadmm = {.rho = 0.05, .max_iterations = 30}}},
      {"sparse-lr-textures", 16, {.dadmm = {.rho = 0.05, .max_iterations = 15}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.instance + " " + AlgorithmName(c.settings.algorithm));
    const Network n = Make(c.instance, 8, c.dimension);
    const Final undisturbed = RunNetwork(n, c.settings, 0);
    ASSERT_FALSE(undisturbed.x_bits.empty());
    for (std::uint64_t every : {1, 7, 23}) {
      const Final restored = RunNetwork(n, c.settings, every);
      EXPECT_GT(restored.restores, 0u);
      EXPECT_EQ(restored.x_bits, undisturbed.x_bits) << "restored after every " << every << " deliveries";
      EXPECT_EQ(restored.steps, undisturbed.steps);
      EXPECT_EQ(restored.outcomes, undisturbed.outcomes);
    }
  }
}

TEST(Checkpoint, BytesThatDoNotFitAreRefusedNamingWhy) {
  const Network n = Make("consensus", 6, 2);
  const PipelineSettings stop{.dadmm = {.rho = 1.0, .max_iterations = 50}, .tolerance = 1e-6};
  std::unique_ptr<NodeProgram> p = Program(n, 1, stop);
  std::vector<Broadcast> out;
  p->Start(out);
  StateWriter w;
  p->SaveState(w);
  const std::string bytes = w.bytes();

  // Truncated anywhere: refused, never loaded as if whole.
  for (std::size_t cut : {std::size_t{0}, std::size_t{5}, bytes.size() / 2, bytes.size() - 1}) {
    StateReader r(absl::string_view(bytes).substr(0, cut), "node 1's checkpoint");
    absl::Status s = Program(n, 1, stop)->LoadState(r);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << cut;
    EXPECT_THAT(s.message(), HasSubstr("node 1's checkpoint: truncated")) << cut;
  }
  // Another algorithm's program, or one without the agreed stop: named.
  StateReader other(bytes, "node 1's checkpoint");
  EXPECT_THAT(
      Program(n, 1,
              {.algorithm = Algorithm::kAlgorithm3, .dadmm = {.rho = 1.0, .max_iterations = 50}, .tolerance = 1e-6})
          ->LoadState(other)
          .message(),
      HasSubstr("a state of d-admm, not algorithm3"));
  // Another node (another degree, or the same degree and another dimension).
  const Network wider = Make("consensus", 6, 3);
  StateReader dim(bytes, "node 1's checkpoint");
  EXPECT_THAT(Program(wider, 1, stop)->LoadState(dim).message(),
              HasSubstr("the neighbours' estimates: 2 x 5, expected 3 x 5"));
}

}  // namespace
}  // namespace dadmm
