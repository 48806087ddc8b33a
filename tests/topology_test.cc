#include "common/network/topology.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/network/colouring.h"

namespace dadmm {
namespace {

using ::testing::HasSubstr;

constexpr char kTriangle[] = R"(name: tri
nodes:
  - {id: 1, address: "127.0.0.1:5001"}
  - {id: 2, address: "127.0.0.1:5002", position: [3, 4]}
  - {id: 3, address: "host-3:5003"}
edges:
  - [1, 2]
  - [3, 2]
  - [1, 3]
)";

std::string ErrorOf(const std::string& text) {
  absl::StatusOr<Topology> t = ParseTopologyYaml(text, "net.yaml");
  EXPECT_FALSE(t.ok());
  if (t.ok()) return "";
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  std::string message(t.status().message());
  EXPECT_EQ(message.find('\n'), std::string::npos) << "errors must be one line: " << message;
  return message;
}

TEST(Topology, ParsesNodesEdgesAndPositionsInCanonicalOrder) {
  absl::StatusOr<Topology> t = ParseTopologyYaml(kTriangle, "net.yaml");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->name(), "tri");
  EXPECT_EQ(t->size(), 3u);
  EXPECT_EQ(t->num_edges(), 3u);
  EXPECT_THAT(t->edges(), ::testing::ElementsAre(std::pair<NodeId, NodeId>{1, 2}, std::pair<NodeId, NodeId>{1, 3},
                                                 std::pair<NodeId, NodeId>{2, 3}));
  EXPECT_THAT(t->neighbours(2), ::testing::ElementsAre(1, 3));
  EXPECT_EQ(t->node(3).address, "host-3:5003");
  ASSERT_TRUE(t->node(2).position.has_value());
  EXPECT_EQ((*t->node(2).position)[1], 4.0);
  EXPECT_FALSE(t->node(1).position.has_value());
  EXPECT_EQ(t->Diameter(), 1u);
}

TEST(Topology, RoundTripsThroughYaml) {
  absl::StatusOr<Topology> t = ParseTopologyYaml(kTriangle, "net.yaml");
  ASSERT_TRUE(t.ok());
  absl::StatusOr<Topology> again = ParseTopologyYaml(TopologyToYaml(*t), "again.yaml");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->edges(), t->edges());
  EXPECT_EQ(again->node(2).position, t->node(2).position);
  EXPECT_EQ(again->name(), "tri");
}

// Found by fuzz_topology: a network of one node (no edges) was written as "edges:" with nothing after
// it, which reads back as null and was refused.
TEST(Topology, OneNodeWithoutEdgesRoundTrips) {
  absl::StatusOr<Topology> t = ParseTopologyYaml("name: solo\nnodes:\n  - {id: 1, address: \"a:1\"}\n", "one.yaml");
  ASSERT_TRUE(t.ok()) << t.status();
  const std::string written = TopologyToYaml(*t);
  absl::StatusOr<Topology> again = ParseTopologyYaml(written, "again.yaml");
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << written;
  EXPECT_TRUE(again->edges().empty());
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ(again->node(1).address, "a:1");
}

// Found by fuzz_topology: a name ending in a backslash (`name: ba\`) was written inside double quotes
// unescaped, which does not parse. Backslashes, quotes and control characters are escaped now.
TEST(Topology, NamesWithBackslashesAndQuotesRoundTrip) {
  for (const char* name : {"ba\\", "say \\\"hi\\\"", "tab\\t", "\"a\\tb\""}) {
    const std::string text = absl::StrCat("name: ", name, "\nnodes:\n  - {id: 1, address: \"a:1\"}\n");
    absl::StatusOr<Topology> t = ParseTopologyYaml(text, "n.yaml");
    ASSERT_TRUE(t.ok()) << t.status() << "\n" << text;
    const std::string written = TopologyToYaml(*t);
    absl::StatusOr<Topology> again = ParseTopologyYaml(written, "again.yaml");
    ASSERT_TRUE(again.ok()) << again.status() << "\n" << written;
    EXPECT_EQ(again->name(), t->name());
    EXPECT_EQ(TopologyToYaml(*again), written);
  }
}

const char kHeader[] =
    "nodes:\n  - {id: 1, address: \"a:1\"}\n  - {id: 2, address: \"a:2\"}\n  - {id: 3, address: \"a:3\"}\n";

TEST(Topology, RejectsUnknownNodeInEdgeWithItsLine) {
  EXPECT_EQ(ErrorOf(std::string(kHeader) + "edges:\n  - [1, 2]\n  - [2, 3]\n  - [3, 9]\n"),
            "net.yaml:8: edge [3, 9]: node 9 is not declared");
}

TEST(Topology, RejectsSelfLoop) {
  EXPECT_EQ(ErrorOf(std::string(kHeader) + "edges:\n  - [1, 2]\n  - [2, 3]\n  - [2, 2]\n"),
            "net.yaml:8: edge [2, 2]: self-loop");
}

TEST(Topology, RejectsDuplicateEdgeInEitherOrientation) {
  EXPECT_EQ(ErrorOf(std::string(kHeader) + "edges:\n  - [1, 2]\n  - [2, 3]\n  - [2, 1]\n"),
            "net.yaml:8: edge [2, 1]: duplicate edge (first at line 6)");
}

TEST(Topology, RejectsDuplicateId) {
  EXPECT_EQ(ErrorOf("nodes:\n  - {id: 1, address: \"a:1\"}\n  - {id: 1, address: \"a:2\"}\nedges:\n  - [1, 1]\n"),
            "net.yaml:3: node 1: duplicate id (first declared at line 2)");
}

TEST(Topology, RejectsDuplicateAddress) {
  EXPECT_EQ(ErrorOf("nodes:\n  - {id: 1, address: \"a:1\"}\n  - {id: 2, address: \"a:1\"}\nedges:\n  - [1, 2]\n"),
            "net.yaml:3: node 2: address a:1 is already used by node 1");
}

TEST(Topology, RejectsDisconnectedGraph) {
  EXPECT_EQ(ErrorOf(std::string(kHeader) + "edges:\n  - [1, 2]\n"),
            "net.yaml: the graph is disconnected: node 3 cannot reach node 1");
}

TEST(Topology, RejectsMalformedInput) {
  EXPECT_THAT(ErrorOf("nodes: [1, 2"), HasSubstr("net.yaml:"));
  EXPECT_THAT(ErrorOf("nodes:\n  - {id: x, address: \"a:1\"}\n"), HasSubstr("net.yaml:2: node id: expected a node id"));
  EXPECT_THAT(ErrorOf("nodes:\n  - {id: 1, address: \"nohostport\"}\n"), HasSubstr("is not host:port"));
  EXPECT_THAT(ErrorOf("nodes:\n  - {id: 1}\n"), HasSubstr("missing 'address'"));
  EXPECT_THAT(ErrorOf("nodes:\n  - {id: 1, address: \"a:1\", colour: 2}\n"), HasSubstr("unknown key 'colour'"));
  EXPECT_THAT(ErrorOf("edges: []\n"), HasSubstr("expected 'nodes'"));
  EXPECT_THAT(ErrorOf("nodes:\n  - {id: -4, address: \"a:1\"}\n"), HasSubstr("expected a node id"));
  EXPECT_THAT(ErrorOf(std::string(kHeader) + "edges:\n  - [1, 2, 3]\n"),
              HasSubstr("net.yaml:6: edge: expected a pair"));
}

TEST(Topology, MissingFileIsNotFound) {
  absl::StatusOr<Topology> t = LoadTopologyFile("/nonexistent/net.yaml");
  EXPECT_EQ(t.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(t.status().message()), HasSubstr("/nonexistent/net.yaml"));
}

TEST(Colouring, GreedyLargestFirstIsProperAndDeterministic) {
  absl::StatusOr<Topology> t = LoadTopologyFile(DADMM_SOURCE_DIR "/deploy/examples/fig1/topology.yaml");
  ASSERT_TRUE(t.ok()) << t.status();
  const Colouring c = GreedyLargestFirstColouring(*t);
  EXPECT_TRUE(CheckColouring(*t, c).ok());
  EXPECT_EQ(NumColours(c), 3u);  // the graph has triangles, so 3 is optimal
  EXPECT_EQ(c.at(3), 1u);        // node 3 has the largest degree (4)
  EXPECT_EQ(GreedyLargestFirstColouring(*t), c);
}

TEST(Colouring, CheckFindsAClash) {
  absl::StatusOr<Topology> t = ParseTopologyYaml(kTriangle, "net.yaml");
  ASSERT_TRUE(t.ok());
  EXPECT_THAT(std::string(CheckColouring(*t, {{1, 1}, {2, 2}, {3, 2}}).message()),
              HasSubstr("neighbours 2 and 3 share colour 2"));
  EXPECT_THAT(std::string(CheckColouring(*t, {{1, 1}, {2, 2}}).message()), HasSubstr("node 3 has no colour"));
}

}  // namespace
}  // namespace dadmm

namespace dadmm {
namespace {

TEST(Topology, AFileLargerThanTheLimitIsRefusedUnparsed) {
  const std::string text(kMaxTopologyBytes + 1, '#');  // comments only: cheap to parse, were it parsed
  absl::StatusOr<Topology> t = ParseTopologyYaml(text, "big.yaml");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(), absl::StrCat("big.yaml: ", kMaxTopologyBytes + 1,
                                               " bytes; a topology file is at most 8 MiB (about 75 000 nodes)"));
}

}  // namespace
}  // namespace dadmm
