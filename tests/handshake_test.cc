// The neighbour handshake: SHA-256 against FIPS 180-4 test vectors, the topology fingerprint's
// independence from formatting, and the one-line mismatch errors.
#include "coordinator-free-bootstrap/handshake.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "coordinator-free-bootstrap/sha256.h"

namespace dadmm {
namespace {

using ::testing::HasSubstr;

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // Lengths around the padding boundary (55, 56, 64 bytes) and a million 'a'.
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_NE(Sha256Hex(std::string(55, 'x')), Sha256Hex(std::string(56, 'x')));
  EXPECT_EQ(Sha256Hex(std::string(64, 'x')).size(), 64u);
}

Topology Parse(const std::string& yaml) {
  absl::StatusOr<Topology> t = ParseTopologyYaml(yaml, "test.yaml");
  EXPECT_TRUE(t.ok()) << t.status();
  return *std::move(t);
}

TEST(Handshake, FingerprintIgnoresFormattingButNotContent) {
  const Topology a = Parse(
      "name: one\nnodes:\n  - {id: 1, address: \"h:1\"}\n  - {id: 2, address: \"h:2\"}\n  - {id: 3, address: \"h:3\"}\n"
      "edges:\n  - [1, 2]\n  - [2, 3]\n");
  const Topology b = Parse(
      "# the same network, written differently\nname: two\nedges: [[3, 2], [2, 1]]\nnodes:\n"
      "  - {address: \"h:3\", id: 3}\n  - {id: 1, address: \"h:1\"}\n  - {id: 2,   address: \"h:2\"}\n");
  EXPECT_EQ(TopologyFingerprint(a), TopologyFingerprint(b));
  const Topology other_edge = Parse(
      "name: one\nnodes:\n  - {id: 1, address: \"h:1\"}\n  - {id: 2, address: \"h:2\"}\n  - {id: 3, address: \"h:3\"}\n"
      "edges:\n  - [1, 2]\n  - [1, 3]\n");
  const Topology other_address = Parse(
      "name: one\nnodes:\n  - {id: 1, address: \"h:1\"}\n  - {id: 2, address: \"h:22\"}\n  - {id: 3, address: "
      "\"h:3\"}\n"
      "edges:\n  - [1, 2]\n  - [2, 3]\n");
  EXPECT_NE(TopologyFingerprint(a), TopologyFingerprint(other_edge));
  EXPECT_NE(TopologyFingerprint(a), TopologyFingerprint(other_address));
}

TEST(Handshake, MismatchesNameBothNodesAndTheField) {
  const Hello mine{.node_id = 3,
                   .topology_fingerprint = "aa",
                   .degree = 2,
                   .dimension = 1,
                   .algorithm = "d-admm",
                   .rho = 1.0,
                   .max_iterations = 40};
  Hello theirs = mine;
  theirs.node_id = 5;
  EXPECT_TRUE(CheckHello(mine, theirs, 5).ok());
  auto message = [&](const Hello& h) {
    absl::Status s = CheckHello(mine, h, 5);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(std::string(s.message()).find('\n'), std::string::npos);
    return std::string(s.message());
  };
  Hello h = theirs;
  h.node_id = 7;
  EXPECT_THAT(message(h), HasSubstr("says it is node 7"));
  h = theirs;
  h.topology_fingerprint = "bb";
  EXPECT_THAT(message(h), HasSubstr("handshake between node 3 and node 5: topology fingerprint differs"));
  h = theirs;
  h.rho = 0.5;
  EXPECT_THAT(message(h), HasSubstr("rho differs (node 3 has 1, node 5 has 0.5)"));
  h = theirs;
  h.protocol_version = 2;
  EXPECT_THAT(message(h), HasSubstr("protocol version"));
  h = theirs;
  h.dimension = 4;
  EXPECT_THAT(message(h), HasSubstr("problem dimension"));
  h = theirs;
  h.algorithm = "algorithm3";
  EXPECT_THAT(message(h), HasSubstr("algorithm differs"));
  h = theirs;
  h.max_iterations = 41;
  EXPECT_THAT(message(h), HasSubstr("max iterations"));
  h = theirs;
  h.tolerance = 1e-4;
  EXPECT_THAT(message(h), HasSubstr("tolerance"));
  h = theirs;
  h.stop_rule = "residual eps_abs=1e-06 eps_rel=0.0001";
  EXPECT_THAT(message(h), HasSubstr("stopping rule differs (node 3 has none, node 5 has residual eps_abs=1e-06"));
  h = theirs;
  h.algorithm = "ic-admm beta=1.5";
  EXPECT_THAT(message(h), HasSubstr("algorithm differs"));
}

}  // namespace
}  // namespace dadmm
