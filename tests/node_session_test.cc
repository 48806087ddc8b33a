// The agent's session (coordinator-free-bootstrap/node_session.h): networks of sessions over the fake
// network compute what the node programs compute when assembled by hand from the colouring (an
// independent assembly of the same pipeline), whatever the interleaving; a session refuses what no
// correct neighbour sends and keeps estimates that come early; a silenced node or edge makes the
// network stall with every waiting node named.
#include "coordinator-free-bootstrap/node_session.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <deque>
#include <iostream>
#include <limits>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "common/base/portable_float.h"
#include "common/network/generators.h"
#include "common/problems/consensus.h"
#include "common/problems/instances.h"
#include "common/sim/simulator.h"
#include "coordinator-free-bootstrap/colouring_simulation.h"
#include "coordinator-free-bootstrap/session_simulation.h"

namespace dadmm {
namespace {

using ::testing::HasSubstr;

std::map<NodeId, std::unique_ptr<LocalProblem>> Problems(const Topology& t, const ProblemInstance& instance) {
  std::map<NodeId, std::unique_ptr<LocalProblem>> problems;
  for (const NodeSpec& n : t.nodes()) problems[n.id] = instance.MakeLocal(n.id);
  return problems;
}

// The same run assembled by hand: the colouring simulation's colours, MakeAgentProgram per node, the
// programs' simulator.
SimulationResult ByHand(const Topology& t, const ProblemInstance& instance, const PipelineSettings& settings) {
  absl::StatusOr<ColouringRun> colouring = SimulateColouring(t, 1);
  EXPECT_TRUE(colouring.ok()) << colouring.status();
  std::map<NodeId, std::unique_ptr<NodeProgram>> programs;
  for (const NodeSpec& n : t.nodes()) {
    absl::StatusOr<NodeView> view = ViewOf(t, colouring->colouring, n.id);
    EXPECT_TRUE(view.ok()) << view.status();
    auto p = MakeAgentProgram(*view, DiameterBound(t), instance.MakeLocal(n.id), settings);
    EXPECT_TRUE(p.ok()) << p.status();
    programs[n.id] = *std::move(p);
  }
  absl::StatusOr<SimulationResult> r = Simulate(t, programs);
  EXPECT_TRUE(r.ok()) << r.status();
  return *std::move(r);
}

// Table II's network `number` with `nodes` nodes, and consensus data of dimension `dimension` on it.
struct Consensus {
  Topology t;
  std::unique_ptr<ProblemInstance> instance;
};
Consensus ConsensusOn(int number, std::size_t nodes, std::uint64_t data_seed, Eigen::Index dimension) {
  absl::StatusOr<GeneratedNetwork> net = GenerateNetwork(*TableIISpec(number, nodes, 1));
  EXPECT_TRUE(net.ok()) << net.status();
  auto instance = MakeInstance("consensus", net->topology, data_seed, "", dimension);
  EXPECT_TRUE(instance.ok()) << instance.status();
  return {std::move(net->topology), *std::move(instance)};
}

TEST(NodeSession, SessionsComputeWhatTheProgramsComputeBitForBitInAnyInterleaving) {
  const Consensus c = ConsensusOn(3, 30, 1, 3);
  const Topology& t = c.t;
  const auto* instance = &c.instance;
  for (const PipelineSettings& settings :
       {PipelineSettings{.dadmm = {.rho = 1.0, .max_iterations = 60}},
        PipelineSettings{.dadmm = {.rho = 1.0, .max_iterations = 3000}, .tolerance = 1e-6},
        PipelineSettings{.algorithm = Algorithm::kAlgorithm3, .dadmm = {.rho = 1.0, .max_iterations = 50}},
        PipelineSettings{.algorithm = Algorithm::kSubgradient, .dadmm = {.rho = 1.0, .max_iterations = 50}}}) {
    const SimulationResult expected = ByHand(t, **instance, settings);
    for (Delivery delivery : {Delivery::kFifo, Delivery::kShuffled}) {
      for (std::uint64_t seed : {1, 2, 3}) {
        SCOPED_TRACE(testing::Message() << AlgorithmName(settings.algorithm) << " tol " << settings.tolerance
                                        << " delivery " << static_cast<int>(delivery) << " seed " << seed);
        absl::StatusOr<SimulatedNetwork> sim =
            SimulateAgentNetwork(t, Problems(t, **instance), settings, {.delivery = delivery, .seed = seed});
        ASSERT_TRUE(sim.ok()) << sim.status();
        const SimulationResult& got = sim->result;
        EXPECT_EQ(got.steps, expected.steps);
        EXPECT_EQ(got.messages, expected.messages);
        EXPECT_EQ(got.messages, 2 * t.num_edges() * got.steps);
        EXPECT_EQ(got.control_bytes, expected.control_bytes);
        ASSERT_EQ(got.nodes.size(), expected.nodes.size());
        for (std::size_t i = 0; i < got.nodes.size(); ++i) {
          EXPECT_EQ(got.nodes[i].outcome, expected.nodes[i].outcome);
          ASSERT_EQ(got.nodes[i].x.size(), expected.nodes[i].x.size());
          EXPECT_EQ(std::memcmp(got.nodes[i].x.data(), expected.nodes[i].x.data(),
                                sizeof(double) * static_cast<std::size_t>(got.nodes[i].x.size())),
                    0)
              << "node " << got.nodes[i].id;
          for (NodeId j : t.neighbours(got.nodes[i].id)) {
            EXPECT_EQ(got.nodes[i].counters.of(j).messages_sent, expected.nodes[i].counters.of(j).messages_sent);
          }
        }
        // Bootstrap: one announcement per pass of each chain and one message per flood round, both ways.
        EXPECT_EQ(sim->colouring.messages,
                  static_cast<std::uint64_t>(2 * kColouringPasses + DiameterBound(t)) * 2 * t.num_edges());
      }
    }
  }
  // And the answer is the true average (an independent reference), with the agreed stop.
  absl::StatusOr<SimulatedNetwork> stopped = SimulateAgentNetwork(
      t, Problems(t, **instance), {.dadmm = {.rho = 1.0, .max_iterations = 3000}, .tolerance = 1e-7});
  ASSERT_TRUE(stopped.ok());
  std::vector<Vector> x;
  for (const SimulatedNode& n : stopped->result.nodes) x.push_back(n.x);
  EXPECT_LE((*instance)->error_measure()(x), 1e-4);
}

// The agents' delivery windows (delivery.h) under broken streams and duplicated messages: every
// seed must give the programs' own results bit for bit, with first transmissions still 2E x steps.
// 1000 seeds of consensus over four algorithm settings, and a few of BPDN. The long run:
// DADMM_LINK_FAULT_SEEDS=25000 build/tests/unit_tests --gtest_filter='*BrokenStreams*' (10^5 runs;
// a failing seed is named, and reproduces alone).
TEST(NodeSession, BrokenStreamsAndDuplicatesChangeNothingSeedBySeed) {
  const Consensus c = ConsensusOn(3, 8, 2, 2);
  const char* env = std::getenv("DADMM_LINK_FAULT_SEEDS");
  const std::uint64_t per_case = env != nullptr ? std::strtoull(env, nullptr, 10) : 250;
  ASSERT_GT(per_case, 0u) << "DADMM_LINK_FAULT_SEEDS must be a positive number";
  struct Case {
    const Topology* t;
    const ProblemInstance* instance;
    PipelineSettings settings;
    std::uint64_t seeds;
  };
  absl::StatusOr<std::unique_ptr<ProblemInstance>> bpdn = MakeInstance("bpdn-dct", c.t, 1, "", 1);
  ASSERT_TRUE(bpdn.ok()) << bpdn.status();
  const std::vector<Case> cases = {
      {&c.t, c.instance.get(), {.dadmm = {.rho = 1.0, .max_iterations = 30}}, per_case},
      {&c.t, c.instance.get(), {.dadmm = {.rho = 1.0, .max_iterations = 3000}, .tolerance = 1e-6}, per_case},
      {&c.t,
       c.instance.get(),
       {.algorithm = Algorithm::kAlgorithm3, .dadmm = {.rho = 1.0, .max_iterations = 30}},
       per_case},
      {&c.t,
       c.instance.get(),
       {.algorithm = Algorithm::kSubgradient, .dadmm = {.rho = 1.0, .max_iterations = 30}},
       per_case},
      {&c.t, bpdn->get(), {.dadmm = {.rho = 0.1, .max_iterations = 15}}, 5},
  };
  std::uint64_t runs = 0, broken = 0, resent = 0, duplicates = 0, failed = 0;
  for (const Case& k : cases) {
    const SimulationResult expected = ByHand(*k.t, *k.instance, k.settings);
    for (std::uint64_t seed = 1; seed <= k.seeds; ++seed) {
      SCOPED_TRACE(testing::Message() << AlgorithmName(k.settings.algorithm) << " tol " << k.settings.tolerance
                                      << " seed " << seed);
      const LinkFaults faults{.break_stream = 0.05 + 0.1 * static_cast<double>(seed % 4),
                              .duplicate = 0.1 * static_cast<double>(seed % 3),
                              .seed = seed};
      absl::StatusOr<SimulatedNetwork> sim =
          SimulateAgentNetwork(*k.t, Problems(*k.t, *k.instance), k.settings,
                               {.delivery = Delivery::kShuffled, .seed = seed, .link_faults = faults});
      ++runs;
      ASSERT_TRUE(sim.ok()) << sim.status();
      broken += sim->streams_broken;
      resent += sim->resent;
      duplicates += sim->duplicates_dropped;
      const SimulationResult& got = sim->result;
      bool same = got.steps == expected.steps && got.messages == expected.messages &&
                  got.messages == 2 * k.t->num_edges() * got.steps && got.nodes.size() == expected.nodes.size();
      for (std::size_t i = 0; same && i < got.nodes.size(); ++i) {
        same = got.nodes[i].x.size() == expected.nodes[i].x.size() &&
               std::memcmp(got.nodes[i].x.data(), expected.nodes[i].x.data(),
                           sizeof(double) * static_cast<std::size_t>(got.nodes[i].x.size())) == 0;
      }
      EXPECT_TRUE(same) << "steps " << got.steps << " vs " << expected.steps << ", messages " << got.messages << " vs "
                        << expected.messages;
      failed += same ? 0 : 1;
    }
  }
  EXPECT_EQ(runs, 4 * per_case + 5);
  EXPECT_EQ(failed, 0u);
  // The faults happened: streams broke, their messages went again, and the copies that had arrived
  // were dropped as duplicates.
  EXPECT_GT(broken, 1000u);
  EXPECT_GT(resent, broken);
  EXPECT_GT(duplicates, 1000u);
  std::cout << runs << " runs with link faults, " << runs - failed << " bit-identical: " << broken
            << " streams broken, " << resent << " messages resent, " << duplicates << " duplicates dropped\n";
}

// Crashes (session_simulation.h: CrashFaults): nodes die before or after taking a message, before or
// after their checkpoint, stay down while messages to them are lost, and resume from their last
// checkpoint; their neighbours resend what they lack. Every other seed also breaks streams and
// duplicates messages (LinkFaults). Every run ends bit for bit as the undisturbed one,
// with the same steps and algorithm messages. DADMM_CRASH_SEEDS seeds per case (default 150: 1053 runs;
// the long command, DADMM_CRASH_SEEDS=14000, runs 98 003).
TEST(NodeSession, CrashesAndRestartsChangeNothingSeedBySeed) {
  const Consensus c = ConsensusOn(3, 8, 2, 2);
  const char* env = std::getenv("DADMM_CRASH_SEEDS");
  const std::uint64_t per_case = env != nullptr ? std::strtoull(env, nullptr, 10) : 150;
  ASSERT_GT(per_case, 0u) << "DADMM_CRASH_SEEDS must be a positive number";
  absl::StatusOr<std::unique_ptr<ProblemInstance>> bpdn = MakeInstance("bpdn-dct", c.t, 1, "", 1);
  ASSERT_TRUE(bpdn.ok()) << bpdn.status();
  struct Case {
    const ProblemInstance* instance;
    PipelineSettings settings;
    std::uint64_t seeds;
  };
  const std::vector<Case> cases = {
      {c.instance.get(), {.dadmm = {.rho = 1.0, .max_iterations = 30}}, per_case},
      {c.instance.get(), {.dadmm = {.rho = 1.0, .max_iterations = 3000}, .tolerance = 1e-6}, per_case},
      {c.instance.get(),
       {.dadmm = {.rho = 0.05, .max_iterations = 400}, .tolerance = 1e-6, .vary_rho_every = 12},
       per_case},
      {c.instance.get(),
       {.dadmm = {.rho = 0.05, .max_iterations = 400},
        .tolerance = 1e-6,
        .vary_rho_every = 12,
        .vary_rho_mu = 2.0,
        .vary_rho_tau = 100.0,
        .vary_rho_rule = PenaltyRule::kBalance},
       std::max<std::uint64_t>(1, per_case / 3)},
      {c.instance.get(),
       {.dadmm = {.rho = 0.05, .max_iterations = 400},
        .tolerance = 1e-6,
        .vary_rho_every = 2,
        .vary_rho_votes = 100,
        .vary_rho_mu = 2.0,
        .vary_rho_tau = 100.0,
        .vary_rho_rule = PenaltyRule::kEdge},
       std::max<std::uint64_t>(1, per_case / 3)},
      {c.instance.get(), {.algorithm = Algorithm::kAlgorithm3, .dadmm = {.rho = 1.0, .max_iterations = 30}}, per_case},
      {c.instance.get(), {.algorithm = Algorithm::kAveraging, .dadmm = {.rho = 1.0, .max_iterations = 30}}, per_case},
      // A checkpoint every 5 or 20 steps: a restarted node redoes up to that many, its neighbours keep
      // that many + 3 estimates for it.
      {c.instance.get(), {.dadmm = {.rho = 1.0, .max_iterations = 60}, .checkpoint_every = 5}, per_case},
      {c.instance.get(),
       {.dadmm = {.rho = 1.0, .max_iterations = 3000}, .tolerance = 1e-6, .checkpoint_every = 20},
       per_case},
      {bpdn->get(), {.dadmm = {.rho = 0.1, .max_iterations = 15}, .eps_abs = 1e-5, .eps_rel = 1e-4}, 3},
  };
  std::uint64_t runs = 0, crashes = 0, in_bootstrap = 0, at_end = 0, lost = 0, duplicates = 0, failed = 0;
  for (const Case& k : cases) {
    const SimulationResult expected = ByHand(c.t, *k.instance, k.settings);
    for (std::uint64_t seed = 1; seed <= k.seeds; ++seed) {
      SCOPED_TRACE(testing::Message() << AlgorithmName(k.settings.algorithm) << " tol " << k.settings.tolerance
                                      << " seed " << seed);
      // Every third seed, a node may crash as its program finishes, its neighbours maybe done already.
      const CrashFaults faults{.probability = 0.002 + 0.01 * static_cast<double>(seed % 5),
                               .at_end = seed % 3 == 0 ? 0.3 : 0.0,
                               .max_crashes = 1 + static_cast<std::uint32_t>(seed % 4),
                               .max_down = static_cast<std::uint32_t>(seed % 3) * 20,
                               .seed = seed,
                               .problem = [&](NodeId id) { return k.instance->MakeLocal(id); }};
      // Every other seed, broken streams and duplicated messages as well (the transports' windows).
      const LinkFaults links =
          seed % 2 == 0 ? LinkFaults{.break_stream = 0.05, .duplicate = 0.1, .seed = seed} : LinkFaults{};
      absl::StatusOr<SimulatedNetwork> sim = SimulateAgentNetwork(
          c.t, Problems(c.t, *k.instance), k.settings,
          {.delivery = Delivery::kShuffled, .seed = seed, .link_faults = links, .crashes = faults});
      ++runs;
      ASSERT_TRUE(sim.ok()) << sim.status();
      crashes += sim->crashes;
      in_bootstrap += sim->crashes_in_bootstrap;
      at_end += sim->crashes_at_end;
      // Every node went away, and none before its neighbours were done with it (a neighbour that
      // needed it would have stalled the run: an error above).
      EXPECT_EQ(sim->exits, c.t.size());
      EXPECT_EQ(sim->end_messages, 2 * c.t.num_edges());
      lost += sim->lost_to_crashes;
      duplicates += sim->session_duplicates;
      const SimulationResult& got = sim->result;
      bool same =
          got.steps == expected.steps && got.messages == expected.messages && got.nodes.size() == expected.nodes.size();
      for (std::size_t i = 0; same && i < got.nodes.size(); ++i) {
        same = got.nodes[i].x.size() == expected.nodes[i].x.size() &&
               got.nodes[i].outcome == expected.nodes[i].outcome &&
               std::memcmp(got.nodes[i].x.data(), expected.nodes[i].x.data(),
                           sizeof(double) * static_cast<std::size_t>(got.nodes[i].x.size())) == 0;
      }
      EXPECT_TRUE(same) << "steps " << got.steps << " vs " << expected.steps << ", messages " << got.messages << " vs "
                        << expected.messages << ", crashes " << sim->crashes;
      failed += same ? 0 : 1;
    }
  }
  EXPECT_EQ(failed, 0u);
  // The crashes happened, messages went down with them, and resends were dropped where heard already.
  EXPECT_GT(crashes, runs);
  EXPECT_GT(in_bootstrap, runs / 10);  // in the handshake and colouring too
  EXPECT_GT(at_end, runs / 10);        // and at the very end
  EXPECT_GT(lost, crashes);
  EXPECT_GT(duplicates, crashes);
  std::cout << runs << " runs with crashes, " << runs - failed << " bit-identical: " << crashes << " (" << in_bootstrap
            << " in the bootstrap, " << at_end << " at the end)"
            << " crashes and restarts, " << lost << " messages lost with crashed nodes, " << duplicates
            << " resent copies dropped\n";
}

// A checkpoint is of one node and one run: another node's, another run's (other settings), or bytes
// cut short are refused, naming why; none resumes the session.
TEST(NodeSession, ACheckpointOfAnotherNodeOrRunOrTruncatedIsRefused) {
  const Consensus c = ConsensusOn(3, 8, 2, 2);
  const PipelineSettings settings{.dadmm = {.rho = 1.0, .max_iterations = 30}};
  // A checkpoint of node 1, taken mid-run by a crash fault's own machinery: run a network and keep the
  // first session's checkpoint through a crash-free simulation's equivalent, by hand.
  std::map<NodeId, std::unique_ptr<NodeSession>> sessions;
  for (const NodeSpec& n : c.t.nodes()) {
    auto s = NodeSession::Create(c.t, n.id, c.instance->MakeLocal(n.id), {{"problem", std::string("consensus")}},
                                 settings, ArithmeticProfile());
    ASSERT_TRUE(s.ok()) << s.status();
    sessions[n.id] = *std::move(s);
  }
  const NodeId first = c.t.nodes().front().id;
  EXPECT_THAT(sessions[first]->Checkpoint().status().message(), HasSubstr("no checkpoint before Start"));
  // Deliver everything in FIFO order until node `first`'s program has run a few steps.
  std::deque<std::tuple<NodeId, NodeId, SessionOutput>> queue;
  SessionOutput out;
  auto flush = [&](NodeId from) {
    if (!out.hellos.empty() || !out.colouring.empty() || !out.estimates.empty()) queue.emplace_back(from, 0, out);
    out.clear();
  };
  for (auto& [id, s] : sessions) {
    ASSERT_TRUE(s->Start(out).ok());
    flush(id);
  }
  while (!queue.empty() && (sessions[first]->program() == nullptr || sessions[first]->program()->steps() < 5)) {
    auto [from, unused, o] = std::move(queue.front());
    queue.pop_front();
    for (NodeId j : c.t.neighbours(from)) {
      NodeSession& s = *sessions[j];
      for (const Hello& h : o.hellos) ASSERT_TRUE(s.Receive(from, h, out).ok());
      for (const ColourAnnouncement& a : o.colouring.announcements) ASSERT_TRUE(s.Receive(from, a, out).ok());
      for (const ColourMaxima& m : o.colouring.maxima) ASSERT_TRUE(s.Receive(from, m, out).ok());
      for (const Broadcast& b : o.estimates) {
        ASSERT_TRUE(s.Receive(from,
                              Estimate{.sender = from,
                                       .iteration = b.iteration,
                                       .x = Eigen::Map<const Vector>(b.x.data(), b.x.size()),
                                       .control = b.control},
                              out)
                        .ok());
      }
      ASSERT_TRUE(out.rejections.empty()) << out.rejections.front().why;
      flush(j);
    }
  }
  absl::StatusOr<std::string> bytes = sessions[first]->Checkpoint();
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  auto fresh = [&](NodeId id, const PipelineSettings& s) {
    return *NodeSession::Create(c.t, id, c.instance->MakeLocal(id), {{"problem", std::string("consensus")}}, s,
                                ArithmeticProfile());
  };
  // Resumed by the same node and run: the next incarnation, its colour, the same step.
  std::unique_ptr<NodeSession> resumed = fresh(first, settings);
  SessionOutput o;
  ASSERT_TRUE(resumed->Resume(*bytes, o).ok());
  EXPECT_EQ(resumed->incarnation(), 1u);
  EXPECT_EQ(resumed->program()->steps(), sessions[first]->program()->steps());
  ASSERT_EQ(o.hellos.size(), 1u);
  EXPECT_EQ(o.hellos[0].colour, sessions[first]->colouring().colour());
  EXPECT_EQ(o.resends.size(), RetainedEstimates(settings.checkpoint_every) * c.t.neighbours(first).size());
  // Another node, another run, cut short.
  const NodeId other = c.t.nodes()[1].id;
  EXPECT_THAT(fresh(other, settings)->Resume(*bytes, o).message(), HasSubstr(absl::StrCat("written by node ", first)));
  EXPECT_THAT(fresh(first, {.dadmm = {.rho = 0.5, .max_iterations = 30}})->Resume(*bytes, o).message(),
              HasSubstr("checkpoint is of another run: handshake between node"));
  for (std::size_t cut : {std::size_t{3}, bytes->size() / 3, bytes->size() - 2}) {
    absl::Status s = fresh(first, settings)->Resume(absl::string_view(*bytes).substr(0, cut), o);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << cut << ": " << s;
  }
}

// Two sessions of the path 1 - 2 - 3, driven by hand: node 2 and its neighbour 1.
class TwoSessions : public ::testing::Test {
 protected:
  void SetUp() override {
    t_ = *Topology::Create("path", {{1, "a:1"}, {2, "a:2"}, {3, "a:3"}}, {{1, 2}, {2, 3}});
    auto instance = MakeInstance("consensus", t_, 1, "", 2);
    ASSERT_TRUE(instance.ok());
    instance_ = *std::move(instance);
    settings_ = {.dadmm = {.rho = 1.0, .max_iterations = 20}};
  }
  std::unique_ptr<NodeSession> Make(NodeId id, const PipelineSettings& settings) {
    auto s = NodeSession::Create(t_, id, instance_->MakeLocal(id), {{"problem", std::string("consensus")}}, settings,
                                 ArithmeticProfile());
    EXPECT_TRUE(s.ok()) << s.status();
    return *std::move(s);
  }

  Topology t_;
  std::unique_ptr<ProblemInstance> instance_;
  PipelineSettings settings_;
};

TEST_F(TwoSessions, RefusesWhatNoCorrectNeighbourSendsAndKeepsServing) {
  std::unique_ptr<NodeSession> two = Make(2, settings_);
  std::unique_ptr<NodeSession> one = Make(1, settings_);
  SessionOutput out, from_one;
  ASSERT_TRUE(two->Start(out).ok());
  ASSERT_EQ(out.hellos.size(), 1u);
  EXPECT_EQ(out.hellos[0].node_id, 2u);
  ASSERT_TRUE(one->Start(from_one).ok());
  out.clear();
  auto rejected = [&](auto&& deliver) {
    out.clear();
    EXPECT_TRUE(deliver().ok());
    EXPECT_EQ(out.rejections.size(), 1u);
    return out.rejections.empty() ? std::string() : out.rejections[0].why;
  };
  // Before node 1's hello: nothing else from it.
  EXPECT_THAT(rejected([&] { return two->Receive(1, ColourAnnouncement{.sender = 1, .pass = 1, .colour = 1}, out); }),
              HasSubstr("before its hello"));
  const Vector x = Vector::Ones(2);  // the problem's dimension
  auto estimate = [](std::uint64_t iteration, const Vector& v) {
    return Estimate{.sender = 1, .iteration = iteration, .x = Eigen::Map<const Vector>(v.data(), v.size())};
  };
  EXPECT_THAT(rejected([&] {
                return two->Receive(
                    1, Estimate{.sender = 1, .iteration = 2, .x = Eigen::Map<const Vector>(x.data(), 2)}, out);
              }),
              HasSubstr("an estimate before its hello"));
  EXPECT_THAT(rejected([&] { return two->Receive(7, from_one.hellos[0], out); }), HasSubstr("not a neighbour"));
  // A message that names another sender than its link.
  out.clear();
  ASSERT_TRUE(two->Receive(1, from_one.hellos[0], out).ok());
  EXPECT_TRUE(out.rejections.empty());
  EXPECT_TRUE(two->greeted(1));
  EXPECT_THAT(rejected([&] { return two->Receive(1, ColourMaxima{.sender = 3, .round = 1}, out); }),
              HasSubstr("says it is from node 3"));
  EXPECT_THAT(rejected([&] { return two->Receive(1, from_one.hellos[0], out); }), HasSubstr("a second hello"));
  // Early estimates are checked as the program would check them: none of these takes the place of
  // the estimate node 1 sends for that iteration.
  Vector wrong = Vector::Ones(3);
  EXPECT_THAT(rejected([&] { return two->Receive(1, estimate(2, wrong), out); }), HasSubstr("dimension 3, expected 2"));
  for (double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                     -std::numeric_limits<double>::infinity()}) {
    Vector v = x;
    v[1] = bad;
    EXPECT_THAT(rejected([&] { return two->Receive(1, estimate(2, v), out); }), HasSubstr("non-finite entries"));
  }
  EXPECT_THAT(rejected([&] { return two->Receive(1, estimate(std::uint64_t{1} << 60, x), out); }),
              HasSubstr("out of sequence, expected iteration at most 2"));
  EXPECT_EQ(two->early_estimates(), 0u);
  // Early estimates (node 1 may know its colours first): kEarlyEstimates kept, then refused. A copy
  // of one already kept is dropped as a duplicate (once per sender and iteration).
  for (std::uint64_t k = 0; k < kEarlyEstimates; ++k) {
    out.clear();
    ASSERT_TRUE(
        two->Receive(1, Estimate{.sender = 1, .iteration = 2 + k, .x = Eigen::Map<const Vector>(x.data(), 2)}, out)
            .ok());
    EXPECT_TRUE(out.rejections.empty());
  }
  out.clear();
  ASSERT_TRUE(
      two->Receive(1, Estimate{.sender = 1, .iteration = 3, .x = Eigen::Map<const Vector>(x.data(), 2)}, out).ok());
  EXPECT_TRUE(out.rejections.empty());
  EXPECT_EQ(two->duplicates(), 1u);
  EXPECT_THAT(rejected([&] { return two->Receive(1, estimate(2 + kEarlyEstimates + 5, x), out); }),
              HasSubstr(absl::StrCat("out of sequence, expected iteration ", 2 + kEarlyEstimates)));
  EXPECT_EQ(two->early_estimates(), static_cast<std::uint64_t>(kEarlyEstimates));
  EXPECT_THAT(rejected([&] {
                return two->Receive(
                    1,
                    Estimate{.sender = 1, .iteration = 2 + kEarlyEstimates, .x = Eigen::Map<const Vector>(x.data(), 2)},
                    out);
              }),
              HasSubstr("too many estimates"));
  EXPECT_EQ(two->state(), SessionState::kColouring);
  const NodeSession::Wait wait = two->awaited();
  EXPECT_EQ(wait.what, "hello");
  EXPECT_EQ(wait.nodes, std::vector<NodeId>{3});
}

TEST_F(TwoSessions, AHandshakeMismatchIsFatalWithOneLine) {
  PipelineSettings a = settings_;
  a.vary_rho_every = 5;
  a.vary_rho_mu = 10.000000001;
  PipelineSettings b = a;
  b.vary_rho_mu = 10.0000000012;
  std::unique_ptr<NodeSession> two = Make(2, a);
  std::unique_ptr<NodeSession> one = Make(1, b);
  SessionOutput out, from_one;
  ASSERT_TRUE(two->Start(out).ok());
  ASSERT_TRUE(one->Start(from_one).ok());
  absl::Status s = two->Receive(1, from_one.hellos[0], out);
  EXPECT_EQ(s.message(),
            "handshake between node 2 and node 1: vary_rho_mu differs (node 2 has 10.000000001, node 1 has "
            "10.0000000012)");
  EXPECT_FALSE(two->greeted(1));
}

// The early-estimate buffer, end to end: a node may know every colour (and start, sending its first
// estimate) while a neighbour still waits for another neighbour's last flood round. Over 20
// interleavings some estimates do come early, and every node's estimates and counts are still those
// of the programs' run.
TEST(NodeSession, EstimatesThatComeEarlyAreGivenToTheProgramOnceItStarts) {
  const Consensus c = ConsensusOn(1, 20, 4, 1);
  const Topology& t = c.t;
  const auto* instance = &c.instance;
  const PipelineSettings settings{.dadmm = {.rho = 1.0, .max_iterations = 30}};
  const SimulationResult expected = ByHand(t, **instance, settings);
  std::uint64_t early = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    absl::StatusOr<SimulatedNetwork> sim =
        SimulateAgentNetwork(t, Problems(t, **instance), settings, {.delivery = Delivery::kShuffled, .seed = seed});
    ASSERT_TRUE(sim.ok()) << sim.status();
    EXPECT_EQ(sim->result.steps, 30u);
    for (std::size_t i = 0; i < expected.nodes.size(); ++i) {
      EXPECT_EQ(sim->result.nodes[i].x[0], expected.nodes[i].x[0]) << "seed " << seed;
      EXPECT_EQ(sim->result.nodes[i].counters.Total().messages_received,
                expected.nodes[i].counters.Total().messages_received);
    }
    early += sim->early_estimates;
  }
  EXPECT_GT(early, 0u);  // the interleavings did make some estimates come early
}

TEST(NodeSession, ASilentNodeOrEdgeStallsTheNetworkAndTheErrorNamesWhoWaitsForWhom) {
  const Topology path = *Topology::Create("path", {{1, "a:1"}, {2, "a:2"}, {3, "a:3"}}, {{1, 2}, {2, 3}});
  auto instance = MakeInstance("consensus", path, 1, "", 1);
  ASSERT_TRUE(instance.ok());
  const PipelineSettings settings{.dadmm = {.rho = 1.0, .max_iterations = 30}};
  // Node 3 sends nothing from iteration 10 on: node 2 waits for it, then node 1 for node 2.
  absl::StatusOr<SimulatedNetwork> sim = SimulateAgentNetwork(path, Problems(path, **instance), settings,
                                                              {.faults = {.nodes = {{.node = 3, .from_step = 10}}}});
  ASSERT_FALSE(sim.ok());
  EXPECT_EQ(sim.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(sim.status().message(), HasSubstr("2 (waits for estimate from 3)"));
  EXPECT_THAT(sim.status().message(), HasSubstr("1 (waits for estimate from 2)"));
  // Silent from the start: not even its hello goes out.
  sim = SimulateAgentNetwork(path, Problems(path, **instance), settings,
                             {.faults = {.nodes = {{.node = 3, .from_step = 0}}}});
  ASSERT_FALSE(sim.ok());
  EXPECT_THAT(sim.status().message(), HasSubstr("2 (waits for hello from 3)"));
  // An edge: both of its ends wait.
  sim = SimulateAgentNetwork(path, Problems(path, **instance), settings,
                             {.faults = {.edges = {{.a = 1, .b = 2, .from_step = 5}}}});
  ASSERT_FALSE(sim.ok());
  EXPECT_THAT(sim.status().message(), HasSubstr("1 (waits for estimate from 2)"));
  EXPECT_THAT(sim.status().message(), HasSubstr("2 (waits for estimate from 1)"));
  // Faults name nodes and edges of the topology.
  sim = SimulateAgentNetwork(path, Problems(path, **instance), settings,
                             {.faults = {.edges = {{.a = 1, .b = 3, .from_step = 5}}}});
  EXPECT_THAT(sim.status().message(), HasSubstr("faults: no edge [1, 3]"));
  // The programs' simulator stalls alike, naming the awaited nodes.
  std::map<NodeId, std::unique_ptr<NodeProgram>> programs;
  const Colouring colouring = {{1, 1}, {2, 2}, {3, 1}};
  for (const NodeSpec& n : path.nodes()) {
    programs[n.id] =
        *MakeAgentProgram(*ViewOf(path, colouring, n.id), DiameterBound(path), (*instance)->MakeLocal(n.id), settings);
  }
  absl::StatusOr<SimulationResult> r = Simulate(path, programs, {.faults = {.nodes = {{.node = 3, .from_step = 10}}}});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("2 (waits for 3)"));
}

}  // namespace
}  // namespace dadmm
