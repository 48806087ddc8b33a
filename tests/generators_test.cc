// The network models of seed 000, Table I, with Table II's parameters.
#include "common/network/generators.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>

#include "common/network/colouring.h"

namespace dadmm {
namespace {

double AverageDegree(const Topology& t) {
  return 2.0 * static_cast<double>(t.num_edges()) / static_cast<double>(t.size());
}

// Diameter by a plain queue-based search from every node, against Topology::Diameter's bitsets.
std::size_t PlainDiameter(const Topology& t) {
  std::size_t diameter = 0;
  for (const NodeSpec& s : t.nodes()) {
    std::map<NodeId, std::size_t> dist{{s.id, 0}};
    std::deque<NodeId> queue{s.id};
    while (!queue.empty()) {
      const NodeId v = queue.front();
      queue.pop_front();
      diameter = std::max(diameter, dist[v]);
      for (NodeId j : t.neighbours(v)) {
        if (dist.emplace(j, dist[v] + 1).second) queue.push_back(j);
      }
    }
  }
  return diameter;
}

TEST(Generators, DiameterMatchesAPlainSearch) {
  for (std::size_t nodes : {10, 50, 100, 200}) {
    for (int number = 1; number <= 7; ++number) {
      absl::StatusOr<GeneratedNetwork> net = GenerateNetwork(*TableIISpec(number, nodes, 2));
      ASSERT_TRUE(net.ok());
      EXPECT_EQ(net->topology.Diameter(), PlainDiameter(net->topology)) << number << "/" << nodes;
    }
  }
}

TEST(Generators, EveryTableIINetworkIsConnectedAndSeeded) {
  for (std::size_t nodes : {10, 50, 100}) {
    for (int number = 1; number <= 7; ++number) {
      absl::StatusOr<NetworkSpec> spec = TableIISpec(number, nodes, 3);
      ASSERT_TRUE(spec.ok()) << spec.status();
      absl::StatusOr<GeneratedNetwork> a = GenerateNetwork(*spec);
      absl::StatusOr<GeneratedNetwork> b = GenerateNetwork(*spec);
      ASSERT_TRUE(a.ok() && b.ok()) << number << "/" << nodes;
      // Topology::Create refuses disconnected graphs; check the size and determinism here.
      EXPECT_EQ(a->topology.size(), nodes);
      EXPECT_EQ(a->topology.edges(), b->topology.edges()) << "same seed, same graph";
      EXPECT_TRUE(CheckColouring(a->topology, GreedyLargestFirstColouring(a->topology)).ok());
    }
  }
}

TEST(Generators, DifferentSeedsGiveDifferentRandomGraphs) {
  for (int number : {1, 3, 5, 6}) {
    absl::StatusOr<GeneratedNetwork> a = GenerateNetwork(*TableIISpec(number, 50, 1));
    absl::StatusOr<GeneratedNetwork> b = GenerateNetwork(*TableIISpec(number, 50, 2));
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_NE(a->topology.edges(), b->topology.edges()) << "network " << number;
  }
}

TEST(Generators, ModelsHaveTheirCharacteristicDegrees) {
  // Erdos-Renyi: mean degree p (P - 1), within 4 standard deviations of the mean of P degrees.
  for (double p : {0.25, 0.75}) {
    absl::StatusOr<GeneratedNetwork> g =
        GenerateNetwork({.model = NetworkModel::kErdosRenyi, .nodes = 200, .p = p, .seed = 7});
    ASSERT_TRUE(g.ok());
    const double mean = p * 199.0, sd = std::sqrt(2.0 * 199.0 * p * (1 - p) / 200.0);
    EXPECT_NEAR(AverageDegree(g->topology), mean, 4 * sd) << "p " << p;
  }
  // Watts-Strogatz keeps the ring lattice's edge count: each node joined to `neighbourhood` on each side.
  absl::StatusOr<GeneratedNetwork> ws =
      GenerateNetwork({.model = NetworkModel::kWattsStrogatz, .nodes = 100, .p = 0.6, .neighbourhood = 4, .seed = 7});
  ASSERT_TRUE(ws.ok());
  EXPECT_EQ(ws->topology.num_edges(), 400u);
  // Lattice: bipartite, so two colours.
  absl::StatusOr<GeneratedNetwork> lattice = GenerateNetwork(*TableIISpec(7, 100, 1));
  ASSERT_TRUE(lattice.ok());
  EXPECT_EQ(NumColours(GreedyLargestFirstColouring(lattice->topology)), 2);
  // Barabasi-Albert: every node after the second joins two earlier ones, so E = 2P - 3 exactly.
  absl::StatusOr<GeneratedNetwork> ba = GenerateNetwork(*TableIISpec(5, 100, 1));
  ASSERT_TRUE(ba.ok());
  EXPECT_EQ(ba->topology.num_edges(), 197u);
}

TEST(Generators, RejectsNonsense) {
  EXPECT_FALSE(TableIISpec(0, 10, 1).ok());
  EXPECT_FALSE(TableIISpec(8, 10, 1).ok());
  EXPECT_FALSE(GenerateNetwork({.model = NetworkModel::kErdosRenyi, .nodes = 1}).ok());
  EXPECT_FALSE(GenerateNetwork({.model = NetworkModel::kErdosRenyi, .nodes = 10, .p = 1.5}).ok());
}

}  // namespace
}  // namespace dadmm
