// Agreed termination (coordinator-free-bootstrap/agreed_stop.h), run over whole networks in lock
// step and checked against the rule computed directly from every node's local tests.
#include "coordinator-free-bootstrap/agreed_stop.h"

#include <gtest/gtest.h>

#include "common/base/random.h"
#include "common/network/generators.h"

namespace dadmm {
namespace {

// Runs every node's AgreedStop for up to `max_k` iterations with local tests test[p][k - 1].
// Returns each node's stop iteration (0: none).
std::vector<std::uint64_t> RunNetwork(const Topology& t, std::uint32_t bound,
                                      const std::vector<std::vector<bool>>& test, std::uint64_t max_k) {
  const std::size_t P = t.size();
  std::vector<AgreedStop> nodes(P, AgreedStop(bound));
  std::vector<StopBits> previous(P);
  std::vector<std::uint64_t> stopped(P, 0);
  for (std::uint64_t k = 1; k <= max_k; ++k) {
    std::vector<StopBits> current(P);
    for (std::size_t p = 0; p < P; ++p) {
      std::vector<const StopBits*> in;
      for (NodeId j : t.neighbours(t.nodes()[p].id)) in.push_back(&previous[t.IndexOf(j)]);
      current[p] = nodes[p].Step(test[p][k - 1], in);
      if (nodes[p].stop() && stopped[p] == 0) stopped[p] = k;
    }
    previous = std::move(current);
  }
  return stopped;
}

TEST(AgreedStop, EveryNodeStopsAtTheSameIterationDAfterAllTestsHeld) {
  for (int number = 1; number <= 7; ++number) {
    absl::StatusOr<GeneratedNetwork> net = GenerateNetwork(*TableIISpec(number, 50, 1));
    ASSERT_TRUE(net.ok());
    const Topology& t = net->topology;
    const auto D = static_cast<std::uint32_t>(t.Diameter());
    Rng rng(static_cast<std::uint64_t>(number));
    const std::uint64_t max_k = 200;
    // Local tests that flicker at first, then hold from a random iteration on.
    std::vector<std::vector<bool>> test(t.size(), std::vector<bool>(max_k));
    for (auto& row : test) {
      const std::uint64_t settles = 20 + rng.Below(100);
      for (std::uint64_t k = 1; k <= max_k; ++k) row[k - 1] = k >= settles || rng.Uniform() < 0.3;
    }
    // The rule, directly: the first k > D such that every node's test held at k - D.
    std::uint64_t expected = 0;
    for (std::uint64_t k = D + 1; k <= max_k && expected == 0; ++k) {
      bool all = true;
      for (const auto& row : test) all = all && row[k - D - 1];
      if (all) expected = k;
    }
    ASSERT_GT(expected, 0u);
    for (std::uint32_t bound : {D, D + 3}) {
      const std::vector<std::uint64_t> stopped = RunNetwork(t, bound, test, max_k);
      std::uint64_t want = 0;  // with a looser bound, the same rule at k - bound
      for (std::uint64_t k = bound + 1; k <= max_k && want == 0; ++k) {
        bool all = true;
        for (const auto& row : test) all = all && row[k - bound - 1];
        if (all) want = k;
      }
      if (bound == D) {
        EXPECT_EQ(want, expected);
      }
      for (std::size_t p = 0; p < t.size(); ++p) {
        EXPECT_EQ(stopped[p], want) << "network " << number << ", bound " << bound << ", node index " << p;
      }
    }
  }
}

TEST(AgreedStop, BoundBelowTheDiameterCanStopTooEarly) {
  // A path 1-2-3-4-5 (diameter 4) where only node 5 never passes its test: with the right bound
  // nobody stops; with bound 2, node 1 cannot hear of node 5 and would stop. This is why D must bound
  // the diameter (agents compute it from the shared topology file).
  std::vector<NodeSpec> nodes;
  std::vector<EdgeSpec> edges;
  for (NodeId i = 1; i <= 5; ++i) nodes.push_back({.id = i, .address = "h:" + std::to_string(i)});
  for (NodeId i = 1; i < 5; ++i) edges.push_back({.a = i, .b = i + 1});
  absl::StatusOr<Topology> t = Topology::Create("path", nodes, edges);
  ASSERT_TRUE(t.ok());
  std::vector<std::vector<bool>> test(5, std::vector<bool>(30, true));
  test[4].assign(30, false);
  for (std::uint64_t s : RunNetwork(*t, 4, test, 30)) EXPECT_EQ(s, 0u);
  EXPECT_GT(RunNetwork(*t, 2, test, 30)[0], 0u);
}

TEST(AgreedStop, MalformedNeighbourBitsOnlyDelay) {
  AgreedStop a(3);
  const StopBits ones(1, 0xFF), bad(5, 0xFF);
  for (int k = 0; k < 10; ++k) a.Step(true, {&ones});
  EXPECT_TRUE(a.stop());
  a.Step(true, {&bad});
  EXPECT_FALSE(a.stop());
  EXPECT_EQ(a.bytes(), 1u);
}

}  // namespace
}  // namespace dadmm
