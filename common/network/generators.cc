#include "common/network/generators.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/base/random.h"

namespace dadmm {
namespace {

using EdgeSet = std::set<std::pair<NodeId, NodeId>>;

std::pair<NodeId, NodeId> Key(NodeId a, NodeId b) { return {std::min(a, b), std::max(a, b)}; }

// Ids are 1..P; node i (0-based) is id i + 1.
EdgeSet ErdosRenyi(std::size_t P, double p, Rng& rng) {
  EdgeSet edges;
  for (NodeId i = 1; i <= P; ++i) {
    for (NodeId j = i + 1; j <= P; ++j) {
      if (rng.Uniform() < p) edges.insert({i, j});
    }
  }
  return edges;
}

// Table I: a ring lattice joining every node to `nei` nodes on each side; then every edge, in turn,
// is rewired with probability p: one of its ends (chosen with equal probability) is kept and joined
// to a node drawn uniformly among those it is not yet joined to.
EdgeSet WattsStrogatz(std::size_t P, int nei, double p, Rng& rng) {
  EdgeSet edges;
  for (NodeId i = 0; i < P; ++i) {
    for (int s = 1; s <= nei; ++s) {
      const NodeId j = static_cast<NodeId>((i + s) % P);
      if (j != i) edges.insert(Key(i + 1, j + 1));
    }
  }
  const std::vector<std::pair<NodeId, NodeId>> original(edges.begin(), edges.end());
  for (const auto& [a, b] : original) {
    if (rng.Uniform() >= p) continue;
    const NodeId keep = rng.Uniform() < 0.5 ? a : b;
    std::vector<NodeId> candidates;
    for (NodeId c = 1; c <= P; ++c) {
      if (c != keep && !edges.contains(Key(keep, c))) candidates.push_back(c);
    }
    if (candidates.empty()) continue;
    edges.erase(Key(a, b));
    edges.insert(Key(keep, candidates[rng.Below(candidates.size())]));
  }
  return edges;
}

// Table I: starts with one node; each new node joins 2 existing nodes (the second node can join only
// the first), drawn without repetition with probability proportional to their degree.
EdgeSet BarabasiAlbert(std::size_t P, Rng& rng) {
  EdgeSet edges;
  std::vector<NodeId> ends;  // every edge's two ends: drawing from it is drawing proportionally to degree
  for (NodeId v = 2; v <= P; ++v) {
    std::set<NodeId> targets;
    const std::size_t want = std::min<std::size_t>(2, v - 1);
    while (targets.size() < want) {
      targets.insert(ends.empty() ? 1 : ends[rng.Below(ends.size())]);
    }
    for (NodeId t : targets) {
      edges.insert(Key(v, t));
      ends.push_back(v);
      ends.push_back(t);
    }
  }
  return edges;
}

EdgeSet Geometric(std::size_t P, double d, Rng& rng, std::vector<std::array<double, 2>>& points) {
  points.resize(P);
  for (auto& pt : points) pt = {rng.Uniform(), rng.Uniform()};
  EdgeSet edges;
  for (NodeId i = 0; i < P; ++i) {
    for (NodeId j = i + 1; j < P; ++j) {
      const double dx = points[i][0] - points[j][0], dy = points[i][1] - points[j][1];
      if (std::sqrt(dx * dx + dy * dy) < d) edges.insert({i + 1, j + 1});
    }
  }
  return edges;
}

// An m x n grid with m the largest divisor of P not above sqrt(P).
EdgeSet Lattice(std::size_t P, std::size_t& rows) {
  rows = 1;
  for (std::size_t m = 1; m * m <= P; ++m) {
    if (P % m == 0) rows = m;
  }
  const std::size_t cols = P / rows;
  EdgeSet edges;
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      const NodeId id = static_cast<NodeId>(r * cols + c + 1);
      if (c + 1 < cols) edges.insert({id, id + 1});
      if (r + 1 < rows) edges.insert({id, static_cast<NodeId>(id + cols)});
    }
  }
  return edges;
}

std::string Describe(const NetworkSpec& s) {
  switch (s.model) {
    case NetworkModel::kErdosRenyi:
      return absl::StrFormat("erdos-renyi p=%.2f", s.p);
    case NetworkModel::kWattsStrogatz:
      return absl::StrFormat("watts-strogatz n=%d p=%.2f", s.neighbourhood, s.p);
    case NetworkModel::kBarabasiAlbert:
      return "barabasi-albert";
    case NetworkModel::kGeometric:
      return absl::StrFormat("geometric d=%.2f", s.radius);
    case NetworkModel::kLattice:
      return "lattice";
  }
  return "";
}

}  // namespace

std::string ModelName(NetworkModel model) {
  switch (model) {
    case NetworkModel::kErdosRenyi:
      return "erdos-renyi";
    case NetworkModel::kWattsStrogatz:
      return "watts-strogatz";
    case NetworkModel::kBarabasiAlbert:
      return "barabasi-albert";
    case NetworkModel::kGeometric:
      return "geometric";
    case NetworkModel::kLattice:
      return "lattice";
  }
  return "";
}

absl::StatusOr<GeneratedNetwork> GenerateNetwork(const NetworkSpec& spec) {
  if (spec.nodes < 2 || spec.nodes > 100000) {
    return absl::InvalidArgumentError(absl::StrCat("network: nodes must be in 2..100000, got ", spec.nodes));
  }
  if (spec.base_port < 1 || spec.base_port + static_cast<long>(spec.nodes) - 1 > 65535) {
    return absl::InvalidArgumentError("network: base port + nodes must stay within 1..65535");
  }
  if (!(spec.p >= 0.0 && spec.p <= 1.0)) return absl::InvalidArgumentError("network: p must be in [0, 1]");
  if (spec.model == NetworkModel::kWattsStrogatz &&
      (spec.neighbourhood < 1 || 2 * static_cast<std::size_t>(spec.neighbourhood) >= spec.nodes)) {
    return absl::InvalidArgumentError("network: Watts-Strogatz neighbourhood must be in 1..(nodes-1)/2");
  }
  if (spec.model == NetworkModel::kGeometric && !(spec.radius > 0.0)) {
    return absl::InvalidArgumentError("network: geometric radius must be > 0");
  }
  NetworkSpec used = spec;
  Rng rng(spec.seed);
  for (int attempt = 1; attempt <= 1000; ++attempt) {
    EdgeSet edges;
    std::vector<std::array<double, 2>> points;
    std::size_t rows = 0;
    switch (used.model) {
      case NetworkModel::kErdosRenyi:
        edges = ErdosRenyi(used.nodes, used.p, rng);
        break;
      case NetworkModel::kWattsStrogatz:
        edges = WattsStrogatz(used.nodes, used.neighbourhood, used.p, rng);
        break;
      case NetworkModel::kBarabasiAlbert:
        edges = BarabasiAlbert(used.nodes, rng);
        break;
      case NetworkModel::kGeometric:
        edges = Geometric(used.nodes, used.radius, rng, points);
        break;
      case NetworkModel::kLattice:
        edges = Lattice(used.nodes, rows);
        break;
    }
    std::vector<NodeSpec> nodes;
    for (std::size_t i = 0; i < used.nodes; ++i) {
      NodeSpec n{.id = static_cast<NodeId>(i + 1),
                 .address = absl::StrCat(used.host, ":", used.base_port + static_cast<int>(i))};
      // Positions, in metres, where the model has them: the unit square scaled to 100 m, the
      // lattice with 10 m spacing.
      if (!points.empty()) n.position = std::array<double, 3>{100 * points[i][0], 100 * points[i][1], 0.0};
      if (rows > 0) {
        const std::size_t cols = used.nodes / rows;
        const std::size_t row = i / cols;
        n.position = std::array<double, 3>{10.0 * (i % cols), 10.0 * static_cast<double>(row), 0.0};
      }
      nodes.push_back(std::move(n));
    }
    std::vector<EdgeSpec> edge_specs;
    for (const auto& [a, b] : edges) edge_specs.push_back({.a = a, .b = b});
    const std::string name = absl::StrCat(Describe(used), " P=", used.nodes, " seed=", used.seed);
    absl::StatusOr<Topology> t = Topology::Create(name, std::move(nodes), edge_specs);
    if (t.ok()) return GeneratedNetwork{.topology = *std::move(t), .used = used, .attempts = attempt};
    switch (used.model) {
      case NetworkModel::kErdosRenyi:
        used.p = std::min(1.0, used.p + 0.01);
        break;
      case NetworkModel::kWattsStrogatz:
        used.p = std::max(0.0, used.p - 0.02);
        break;
      case NetworkModel::kGeometric:
        used.radius += 0.01;
        break;
      default:
        return t.status();  // deterministic models are always connected
    }
  }
  return absl::InternalError("network: no connected graph after 1000 attempts");
}

absl::StatusOr<NetworkSpec> TableIISpec(int number, std::size_t nodes, std::uint64_t seed) {
  NetworkSpec s{.nodes = nodes, .seed = seed};
  switch (number) {
    case 1:
      s.model = NetworkModel::kErdosRenyi;
      s.p = 0.25;
      break;
    case 2:
      s.model = NetworkModel::kErdosRenyi;
      s.p = 0.75;
      break;
    case 3:
      s.model = NetworkModel::kWattsStrogatz;
      s.neighbourhood = 2;
      s.p = 0.8;
      break;
    case 4:
      s.model = NetworkModel::kWattsStrogatz;
      s.neighbourhood = 4;
      s.p = 0.6;
      break;
    case 5:
      s.model = NetworkModel::kBarabasiAlbert;
      break;
    case 6:
      s.model = NetworkModel::kGeometric;
      s.radius = 0.2;
      break;
    case 7:
      s.model = NetworkModel::kLattice;
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("Table II has networks 1..7, not ", number));
  }
  return s;
}

const std::vector<std::size_t>& TableIISizes() {
  static const std::vector<std::size_t> sizes = {10, 50, 100, 200, 500, 700, 1000, 2000};
  return sizes;
}

}  // namespace dadmm
