// The network models of seed 000, Table I, and the 56 networks of its Table II.
//
// Every random model is redrawn until connected, each time with its parameter nudged in the direction
// that makes connectivity likelier, as §V describes (Erdos-Renyi p and geometric d grow by 0.01,
// Watts-Strogatz rewiring probability shrinks by 0.02). The parameters finally used are part of the
// result. Same model, parameters and seed give the same graph on every platform.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/network/topology.h"

namespace dadmm {

enum class NetworkModel { kErdosRenyi, kWattsStrogatz, kBarabasiAlbert, kGeometric, kLattice };

struct NetworkSpec {
  NetworkModel model = NetworkModel::kErdosRenyi;
  std::size_t nodes = 10;
  double p = 0.25;        // Erdos-Renyi edge probability; Watts-Strogatz rewiring probability
  int neighbourhood = 2;  // Watts-Strogatz: ring lattice joining each node to this many on each side
  double radius = 0.2;    // geometric: connection distance in the unit square
  std::uint64_t seed = 1;
  // Addresses: host:(base_port + index), index 0 .. nodes - 1 in id order. Ids are 1 .. nodes.
  std::string host = "127.0.0.1";
  int base_port = 50051;
};

struct GeneratedNetwork {
  Topology topology;
  NetworkSpec used;  // the parameters after nudging
  int attempts = 1;
};

absl::StatusOr<GeneratedNetwork> GenerateNetwork(const NetworkSpec& spec);

// Table II: network `number` (1..7) with `nodes` nodes, seeded.
//   1 Erdos-Renyi p = 0.25   2 Erdos-Renyi p = 0.75   3 Watts-Strogatz (2, 0.8)
//   4 Watts-Strogatz (4, 0.6)   5 Barabasi-Albert   6 geometric d = 0.2   7 lattice
absl::StatusOr<NetworkSpec> TableIISpec(int number, std::size_t nodes, std::uint64_t seed);
// The sizes of Table II.
const std::vector<std::size_t>& TableIISizes();
std::string ModelName(NetworkModel model);

}  // namespace dadmm
