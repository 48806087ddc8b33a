// Node colourings: colours are 1, 2, ..., C and adjacent nodes never share one (seed 000, §II).
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "absl/status/status.h"
#include "common/network/topology.h"

namespace dadmm {

using Colouring = std::map<NodeId, std::uint32_t>;

// Centralized greedy colouring, largest degree first (ties: smaller id first); each node takes the
// smallest colour none of its already-coloured neighbours has. Deterministic.
Colouring GreedyLargestFirstColouring(const Topology& topology);

// The smallest-last order (Matula and Beck): repeatedly remove a node of smallest degree among those
// left (ties: the smaller id), and list the nodes in the reverse order of removal. Greedy colouring in
// this order uses at most 1 + the graph's degeneracy colours. Deterministic.
std::vector<NodeId> SmallestLastOrder(const Topology& topology);

// OK if every node has a colour >= 1 and no edge joins two nodes of the same colour.
absl::Status CheckColouring(const Topology& topology, const Colouring& colouring);

std::uint32_t NumColours(const Colouring& colouring);

}  // namespace dadmm
