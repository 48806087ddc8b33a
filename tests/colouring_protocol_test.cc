// The distributed colouring protocol (coordinator-free-bootstrap/): proper, equal to the centralized
// largest-first greedy colouring, and independent of message order and delays.
#include "coordinator-free-bootstrap/colouring_protocol.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "common/colouring.h"
#include "common/generators.h"
#include "coordinator-free-bootstrap/colouring_simulation.h"

namespace dadmm {
namespace {

using ::testing::HasSubstr;

// Centralized iterated greedy (Culberson): greedy again over the previous colour classes in reverse
// order, each class in id order. An independent reference for the recolouring passes.
Colouring IteratedGreedy(const Topology& t, int passes) {
  Colouring c = GreedyLargestFirstColouring(t);
  for (int pass = 2; pass <= passes; ++pass) {
    std::vector<NodeId> order;
    for (const NodeSpec& n : t.nodes()) order.push_back(n.id);
    std::stable_sort(order.begin(), order.end(), [&](NodeId a, NodeId b) { return c.at(a) > c.at(b); });
    Colouring next;
    for (NodeId v : order) {
      std::set<std::uint32_t> used;
      for (NodeId j : t.neighbours(v)) {
        if (next.count(j)) used.insert(next.at(j));
      }
      std::uint32_t k = 1;
      while (used.count(k)) ++k;
      next[v] = k;
    }
    c = std::move(next);
  }
  return c;
}

TEST(ColouringProtocol, RecolouringPassesMatchIteratedGreedyAndNeverAddColours) {
  for (std::size_t nodes : {10, 50, 200}) {
    for (int number = 1; number <= 7; ++number) {
      absl::StatusOr<GeneratedNetwork> net = GenerateNetwork(*TableIISpec(number, nodes, 1));
      ASSERT_TRUE(net.ok());
      const Colouring reference = IteratedGreedy(net->topology, 3);
      for (std::uint64_t seed : {1, 2}) {
        absl::StatusOr<ColouringRun> run = SimulateColouring(net->topology, seed, 10.0, 3);
        ASSERT_TRUE(run.ok()) << run.status();
        EXPECT_TRUE(CheckColouring(net->topology, run->colouring).ok());
        EXPECT_EQ(run->colouring, reference) << "network " << number << "/" << nodes << " seed " << seed;
        EXPECT_LE(NumColours(run->colouring), NumColours(GreedyLargestFirstColouring(net->topology)));
        EXPECT_EQ(run->messages, 3 * 2 * net->topology.num_edges());
      }
    }
  }
  // On a dense network the passes do remove colours.
  absl::StatusOr<GeneratedNetwork> dense = GenerateNetwork(*TableIISpec(2, 200, 1));
  ASSERT_TRUE(dense.ok());
  absl::StatusOr<ColouringRun> run = SimulateColouring(dense->topology, 1, 1.0, 3);
  ASSERT_TRUE(run.ok());
  EXPECT_LT(NumColours(run->colouring), NumColours(GreedyLargestFirstColouring(dense->topology)));
}

TEST(ColouringProtocol, EqualsCentralizedGreedyUnderRandomDelays) {
  for (std::size_t nodes : {10, 50, 200}) {
    for (int number = 1; number <= 7; ++number) {
      absl::StatusOr<GeneratedNetwork> net = GenerateNetwork(*TableIISpec(number, nodes, 1));
      ASSERT_TRUE(net.ok());
      const Colouring greedy = GreedyLargestFirstColouring(net->topology);
      for (std::uint64_t seed : {1, 2, 3}) {
        for (double max_delay : {0.0, 1.0, 100.0}) {
          absl::StatusOr<ColouringRun> run = SimulateColouring(net->topology, seed, max_delay, 1);
          ASSERT_TRUE(run.ok()) << run.status();
          EXPECT_TRUE(CheckColouring(net->topology, run->colouring).ok()) << "network " << number << "/" << nodes;
          EXPECT_EQ(run->colouring, greedy) << "network " << number << "/" << nodes << " seed " << seed;
          EXPECT_EQ(run->messages, 2 * net->topology.num_edges());
          EXPECT_GE(run->rounds, 1u);
          EXPECT_LE(run->rounds, NumColours(greedy) == 1 ? 1u : nodes);
        }
      }
    }
  }
}

TEST(ColouringProtocol, SameSeedSameRun) {
  absl::StatusOr<GeneratedNetwork> net = GenerateNetwork(*TableIISpec(6, 100, 2));
  ASSERT_TRUE(net.ok());
  absl::StatusOr<ColouringRun> a = SimulateColouring(net->topology, 9), b = SimulateColouring(net->topology, 9);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->colouring, b->colouring);
  EXPECT_EQ(a->rounds, b->rounds);
}

// Path 1 - 2 - 3 with degrees 1, 2, 1: node 2 has priority, decides colour 1 at once; 1 and 3 take 2.
TEST(ColouringProtocol, StepByStepOnAPath) {
  ColouringNode n1(1, 1, {{.id = 2, .degree = 2}});
  ColouringNode n2(2, 2, {{.id = 1, .degree = 1}, {.id = 3, .degree = 1}});
  std::vector<ColourAnnouncement> out;
  ASSERT_TRUE(n1.Start(out).ok());
  EXPECT_TRUE(out.empty()) << "node 1 waits for node 2";
  EXPECT_THAT(n1.awaited(), ::testing::ElementsAre(2));
  ASSERT_TRUE(n2.Start(out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].colour, 1u);
  EXPECT_EQ(out[0].round, 1u);
  const ColourAnnouncement from2 = out[0];
  out.clear();
  ASSERT_TRUE(n1.Receive(from2, out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].colour, 2u);
  EXPECT_EQ(out[0].round, 2u);
  EXPECT_TRUE(n1.complete());
  EXPECT_FALSE(n2.complete());
  ASSERT_TRUE(n2.Receive(out[0], out).ok());
  EXPECT_FALSE(n2.complete()) << "still waits for node 3";
  EXPECT_THAT(n2.awaited(), ::testing::ElementsAre(3));
}

TEST(ColouringProtocol, RefusesWhatNoCorrectPeerSends) {
  ColouringNode n2(2, 2, {{.id = 1, .degree = 1}, {.id = 3, .degree = 1}});
  std::vector<ColourAnnouncement> out;
  ASSERT_TRUE(n2.Start(out).ok());
  auto refused = [&](ColourAnnouncement m) {
    absl::Status s = n2.Receive(m, out);
    EXPECT_FALSE(s.ok());
    return std::string(s.message());
  };
  EXPECT_THAT(refused({.sender = 7, .colour = 2}), HasSubstr("not a neighbour"));
  EXPECT_THAT(refused({.sender = 1, .colour = 0}), HasSubstr("start at 1"));
  EXPECT_THAT(refused({.sender = 1, .pass = 2, .colour = 2}), HasSubstr("passes are 1 to 1"));
  EXPECT_THAT(refused({.sender = 1, .colour = 1}), HasSubstr("this node's colour"));
  ASSERT_TRUE(n2.Receive({.sender = 1, .colour = 2, .round = 2}, out).ok());
  EXPECT_THAT(refused({.sender = 1, .colour = 3}), HasSubstr("second announcement"));
  // A lower-priority neighbour announcing before this node decided.
  ColouringNode n1(1, 1, {{.id = 2, .degree = 2}, {.id = 3, .degree = 1}});
  ASSERT_TRUE(n1.Start(out).ok());
  absl::Status early = n1.Receive({.sender = 3, .colour = 1}, out);
  EXPECT_THAT(std::string(early.message()), HasSubstr("decided before this node"));
}

}  // namespace
}  // namespace dadmm
