// The distributed colouring protocol (coordinator-free-bootstrap/): proper, equal to the centralized
// largest-first greedy colouring, and independent of message order and delays.
#include "coordinator-free-bootstrap/colouring_protocol.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>

#include "common/network/colouring.h"
#include "common/network/generators.h"
#include "coordinator-free-bootstrap/colouring_simulation.h"

namespace dadmm {
namespace {

using ::testing::HasSubstr;

// Greedy colouring in a given order: each node takes the smallest colour its coloured neighbours lack.
Colouring GreedyInOrder(const Topology& t, const std::vector<NodeId>& order) {
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
  return next;
}

// Smallest-last by plain peeling (quadratic, independent of common/colouring.cc's ordered set):
// remove a node of least remaining degree (ties: smaller id), colour in reverse removal order.
std::vector<NodeId> PeelSmallestLast(const Topology& t) {
  std::map<NodeId, std::size_t> degree;
  for (const NodeSpec& n : t.nodes()) degree[n.id] = t.degree(n.id);
  std::vector<NodeId> removed;
  while (!degree.empty()) {
    auto least = degree.begin();
    for (auto it = degree.begin(); it != degree.end(); ++it) {
      if (it->second < least->second) least = it;
    }
    const NodeId v = least->first;
    degree.erase(least);
    removed.push_back(v);
    for (NodeId j : t.neighbours(v)) {
      if (degree.count(j)) --degree[j];
    }
  }
  return {removed.rbegin(), removed.rend()};
}

// Centralized iterated greedy (Culberson): greedy again over the previous colour classes in reverse
// order, each class in id order. An independent reference for the recolouring passes.
Colouring IteratedGreedy(const Topology& t, Colouring c, int passes) {
  for (int pass = 2; pass <= passes; ++pass) {
    std::vector<NodeId> order;
    for (const NodeSpec& n : t.nodes()) order.push_back(n.id);
    std::stable_sort(order.begin(), order.end(), [&](NodeId a, NodeId b) { return c.at(a) > c.at(b); });
    c = GreedyInOrder(t, order);
  }
  return c;
}

// What the protocol must agree on: both chains computed centrally, and the one with fewer colours
// (ties: largest-first).
struct Expected {
  Colouring largest_first, smallest_last, kept;
};
Expected Reference(const Topology& t, int passes) {
  Expected e{.largest_first = IteratedGreedy(t, GreedyLargestFirstColouring(t), passes),
             .smallest_last = IteratedGreedy(t, GreedyInOrder(t, PeelSmallestLast(t)), passes)};
  e.kept = NumColours(e.smallest_last) < NumColours(e.largest_first) ? e.smallest_last : e.largest_first;
  return e;
}

TEST(ColouringProtocol, SmallestLastOrderMatchesPlainPeeling) {
  for (std::size_t nodes : {10, 50, 200}) {
    for (int number = 1; number <= 7; ++number) {
      absl::StatusOr<GeneratedNetwork> net = GenerateNetwork(*TableIISpec(number, nodes, 1));
      ASSERT_TRUE(net.ok());
      EXPECT_EQ(SmallestLastOrder(net->topology), PeelSmallestLast(net->topology)) << number << "/" << nodes;
    }
  }
}

TEST(ColouringProtocol, KeepsTheChainWithFewerColoursAndMatchesIteratedGreedy) {
  int smallest_last_kept = 0;
  for (std::size_t nodes : {10, 50, 200}) {
    for (int number = 1; number <= 7; ++number) {
      absl::StatusOr<GeneratedNetwork> net = GenerateNetwork(*TableIISpec(number, nodes, 1));
      ASSERT_TRUE(net.ok());
      const Topology& t = net->topology;
      const Expected reference = Reference(t, 3);
      const std::uint64_t D = t.Diameter();
      for (std::uint64_t seed : {1, 2}) {
        absl::StatusOr<ColouringRun> run = SimulateColouring(t, seed, Delivery::kAnyOrder, 3);
        ASSERT_TRUE(run.ok()) << run.status();
        SCOPED_TRACE(testing::Message() << "network " << number << "/" << nodes << " seed " << seed);
        EXPECT_TRUE(CheckColouring(t, run->colouring).ok());
        EXPECT_EQ(run->colouring, reference.kept);
        EXPECT_EQ(run->chain_colours[0], NumColours(reference.largest_first));
        EXPECT_EQ(run->chain_colours[1], NumColours(reference.smallest_last));
        EXPECT_LE(NumColours(run->colouring), NumColours(GreedyLargestFirstColouring(t)));
        // 3 passes in each of 2 chains, then D flood rounds: one message per edge direction each.
        EXPECT_EQ(run->messages, (std::uint64_t{2} * 3 + D) * 2 * t.num_edges());
        smallest_last_kept += run->chosen;
      }
    }
  }
  EXPECT_GT(smallest_last_kept, 0);  // both chains matter on these networks
  // On a dense network the recolouring passes do remove colours.
  absl::StatusOr<GeneratedNetwork> dense = GenerateNetwork(*TableIISpec(2, 200, 1));
  ASSERT_TRUE(dense.ok());
  absl::StatusOr<ColouringRun> run = SimulateColouring(dense->topology, 1, Delivery::kAnyOrder, 3);
  ASSERT_TRUE(run.ok());
  EXPECT_LT(NumColours(run->colouring), NumColours(GreedyLargestFirstColouring(dense->topology)));
}

TEST(ColouringProtocol, OnePassEqualsTheBetterCentralizedGreedyInAnyOrder) {
  for (std::size_t nodes : {10, 50, 200}) {
    for (int number = 1; number <= 7; ++number) {
      absl::StatusOr<GeneratedNetwork> net = GenerateNetwork(*TableIISpec(number, nodes, 1));
      ASSERT_TRUE(net.ok());
      const Topology& t = net->topology;
      const Expected reference = Reference(t, 1);
      for (std::uint64_t seed : {1, 2, 3}) {
        // In send order, each edge's order kept, and messages overtaking each other on an edge.
        for (Delivery delivery : {Delivery::kFifo, Delivery::kShuffled, Delivery::kAnyOrder}) {
          absl::StatusOr<ColouringRun> run = SimulateColouring(t, seed, delivery, 1);
          ASSERT_TRUE(run.ok()) << run.status();
          SCOPED_TRACE(testing::Message() << "network " << number << "/" << nodes << " seed " << seed);
          EXPECT_TRUE(CheckColouring(t, run->colouring).ok());
          EXPECT_EQ(run->colouring, reference.kept);
          EXPECT_EQ(run->messages, (2 + t.Diameter()) * 2 * t.num_edges());
          EXPECT_GE(run->rounds, 1 + t.Diameter());
          EXPECT_LE(run->rounds, nodes + t.Diameter());
        }
      }
    }
  }
}

TEST(ColouringProtocol, FloodRefusesWhatNoCorrectNeighbourSends) {
  // Path 1 - 2 - 3, D = 2, one pass. Largest-first: node 2 (degree 2) decides first. Smallest-last
  // peels 1, then 2 (tie with 3, smaller id), so colours 3, 2, 1 in that order: node 2 waits for 3.
  const Topology t = *Topology::Create("path", {{1, "a:1"}, {2, "a:2"}, {3, "a:3"}}, {{1, 2}, {2, 3}});
  std::unique_ptr<ColouringProtocol> n2 = MakeColouringProtocol(t, ChainPriorities(t), 2, 1, 2);
  ColouringOutput out;
  ASSERT_TRUE(n2->Start(out).ok());
  ASSERT_EQ(out.announcements.size(), 1u);  // colour 1 in chain 0
  EXPECT_EQ(out.announcements[0].chain, 0u);
  ASSERT_TRUE(out.maxima.empty());  // no flood before its own colours in both chains
  auto maxima = [](NodeId from, std::uint32_t round) {
    return ColourMaxima{.sender = from, .round = round, .maxima = {2, 2}};
  };
  EXPECT_THAT(n2->Receive(maxima(7, 1), out).message(), HasSubstr("not a neighbour"));
  EXPECT_THAT(n2->Receive(maxima(1, 3), out).message(), HasSubstr("rounds are 1 to 2"));
  EXPECT_THAT(n2->Receive(maxima(1, 2), out).message(), HasSubstr("has sent only 0 round(s)"));
  EXPECT_TRUE(n2->Receive(maxima(1, 1), out).ok());
  EXPECT_THAT(n2->Receive(maxima(1, 1), out).message(), HasSubstr("second message for this round"));
  EXPECT_THAT(n2->Receive(ColourAnnouncement{.sender = 1, .chain = 2, .pass = 1, .colour = 2}, out).message(),
              HasSubstr("chains are 0 and 1"));
  EXPECT_FALSE(n2->complete());
  EXPECT_EQ(n2->colour(), 0u);
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
  ColouringNode n1(1, 1, {{.id = 2, .priority = 2}});
  ColouringNode n2(2, 2, {{.id = 1, .priority = 1}, {.id = 3, .priority = 1}});
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
  ColouringNode n2(2, 2, {{.id = 1, .priority = 1}, {.id = 3, .priority = 1}});
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
  ColouringNode n1(1, 1, {{.id = 2, .priority = 2}, {.id = 3, .priority = 1}});
  ASSERT_TRUE(n1.Start(out).ok());
  absl::Status early = n1.Receive({.sender = 3, .colour = 1}, out);
  EXPECT_THAT(std::string(early.message()), HasSubstr("decided before this node"));
}

}  // namespace
}  // namespace dadmm
