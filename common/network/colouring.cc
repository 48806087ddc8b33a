#include "common/network/colouring.h"

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace dadmm {

Colouring GreedyLargestFirstColouring(const Topology& topology) {
  std::vector<NodeId> order;
  for (const NodeSpec& n : topology.nodes()) order.push_back(n.id);
  std::stable_sort(order.begin(), order.end(),
                   [&](NodeId a, NodeId b) { return topology.degree(a) > topology.degree(b); });
  Colouring colour;
  std::vector<bool> used;
  for (NodeId p : order) {
    used.assign(topology.degree(p) + 2, false);
    for (NodeId j : topology.neighbours(p)) {
      auto it = colour.find(j);
      if (it != colour.end() && it->second < used.size()) used[it->second] = true;
    }
    std::uint32_t c = 1;
    while (used[c]) ++c;
    colour[p] = c;
  }
  return colour;
}

std::vector<NodeId> SmallestLastOrder(const Topology& topology) {
  const std::size_t P = topology.size();
  std::vector<std::size_t> degree(P);
  std::set<std::pair<std::size_t, NodeId>> left;  // (current degree, id)
  for (std::size_t i = 0; i < P; ++i) {
    degree[i] = topology.degree(topology.nodes()[i].id);
    left.insert({degree[i], topology.nodes()[i].id});
  }
  std::vector<bool> removed(P, false);
  std::vector<NodeId> order;
  order.reserve(P);
  while (!left.empty()) {
    const NodeId v = left.begin()->second;
    left.erase(left.begin());
    removed[topology.IndexOf(v)] = true;
    order.push_back(v);
    for (NodeId j : topology.neighbours(v)) {
      const std::size_t k = topology.IndexOf(j);
      if (removed[k]) continue;
      left.erase({degree[k], j});
      left.insert({--degree[k], j});
    }
  }
  std::reverse(order.begin(), order.end());
  return order;
}

absl::Status CheckColouring(const Topology& topology, const Colouring& colouring) {
  for (const NodeSpec& n : topology.nodes()) {
    auto it = colouring.find(n.id);
    if (it == colouring.end() || it->second == 0) {
      return absl::InvalidArgumentError(absl::StrCat("colouring: node ", n.id, " has no colour"));
    }
  }
  for (const auto& [a, b] : topology.edges()) {
    if (colouring.at(a) == colouring.at(b)) {
      return absl::InvalidArgumentError(
          absl::StrCat("colouring: neighbours ", a, " and ", b, " share colour ", colouring.at(a)));
    }
  }
  return absl::OkStatus();
}

std::uint32_t NumColours(const Colouring& colouring) {
  std::uint32_t c = 0;
  for (const auto& [id, colour] : colouring) c = std::max(c, colour);
  return c;
}

}  // namespace dadmm
