// The network: nodes (id, host:port address, optional position in metres) and undirected edges.
//
// A Topology is always valid once constructed: ids and addresses unique, edges between declared
// nodes, no self-loops or duplicate edges, and the graph connected. Nodes are kept sorted by id,
// edges as (min, max) pairs sorted lexicographically, neighbour lists sorted by id, so that every
// traversal is in a defined order on every platform.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/base/types.h"

namespace dadmm {

struct NodeSpec {
  NodeId id = 0;
  std::string address;                            // host:port; host may be a DNS name
  std::optional<std::array<double, 3>> position;  // metres; 2-D positions have z = 0
  int line = 0;                                   // line in the source file, 0 if none
};

struct EdgeSpec {
  NodeId a = 0;
  NodeId b = 0;
  int line = 0;  // line in the source file, 0 if none
};

class Topology {
 public:
  // Validates and builds. `source` names the file in error messages ("" for generated graphs).
  static absl::StatusOr<Topology> Create(std::string name, std::vector<NodeSpec> nodes,
                                         const std::vector<EdgeSpec>& edges, absl::string_view source = "");

  const std::string& name() const { return name_; }
  std::size_t size() const { return nodes_.size(); }
  std::size_t num_edges() const { return edges_.size(); }
  const std::vector<NodeSpec>& nodes() const { return nodes_; }
  const std::vector<std::pair<NodeId, NodeId>>& edges() const { return edges_; }

  bool Contains(NodeId id) const;
  // Position of `id` in nodes(); requires Contains(id).
  std::size_t IndexOf(NodeId id) const;
  const NodeSpec& node(NodeId id) const { return nodes_[IndexOf(id)]; }
  // Neighbours of `id`, sorted by id; requires Contains(id).
  const std::vector<NodeId>& neighbours(NodeId id) const { return adjacency_[IndexOf(id)]; }
  std::size_t degree(NodeId id) const { return neighbours(id).size(); }
  // Longest shortest path, in hops.
  std::size_t Diameter() const;

 private:
  std::string name_;
  std::vector<NodeSpec> nodes_;
  std::vector<std::pair<NodeId, NodeId>> edges_;
  std::vector<std::vector<NodeId>> adjacency_;  // parallel to nodes_
};

// Parses the YAML topology format:
//   name: fig1
//   nodes:
//     - {id: 1, address: "127.0.0.1:50051", position: [0.0, 10.0]}   # position optional
//   edges:
//     - [1, 2]
// Errors are one line: "<source>:<line>: <what was expected>".
// A file is at most kMaxTopologyBytes: parsing takes about 80 bytes of memory per byte of YAML, so
// 8 MiB (about 75 000 nodes of a lattice) needs some 650 MB; a larger file is refused unread.
constexpr std::size_t kMaxTopologyBytes = std::size_t{8} << 20;
absl::StatusOr<Topology> ParseTopologyYaml(absl::string_view text, absl::string_view source);
absl::StatusOr<Topology> LoadTopologyFile(const std::string& path);

// Writes `topology` in the format ParseTopologyYaml reads.
std::string TopologyToYaml(const Topology& topology);

}  // namespace dadmm
