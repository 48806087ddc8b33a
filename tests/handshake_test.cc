// The neighbour handshake: SHA-256 against FIPS 180-4 test vectors, the topology fingerprint's
// independence from formatting, and the one-line mismatch errors.
#include "coordinator-free-bootstrap/handshake.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "coordinator-free-bootstrap/agent_pipeline.h"
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

// Node 3's and node 5's hellos for the same run: the settings described as the agents describe them.
Hello HelloOf(NodeId id, const PipelineSettings& settings,
              std::vector<NamedValue> problem = {{"problem", "bpdn"}, {"beta", 0.3}}) {
  return Hello{.node_id = id,
               .topology_fingerprint = "aa",
               .degree = 2,
               .dimension = 1,
               .config = DescribeRun(std::move(problem), settings)};
}

TEST(Handshake, MismatchesNameBothNodesAndTheField) {
  const PipelineSettings settings{.dadmm = {.rho = 1.0, .max_iterations = 40}};
  const Hello mine = HelloOf(3, settings);
  const Hello theirs = HelloOf(5, settings);
  EXPECT_TRUE(CheckHello(mine, theirs, 5).ok());
  auto message = [&](const Hello& h) {
    absl::Status s = CheckHello(mine, h, 5);
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(std::string(s.message()).find('\n'), std::string::npos);
    return std::string(s.message());
  };
  auto with = [&](auto change) {
    PipelineSettings other = settings;
    change(other);
    return HelloOf(5, other);
  };
  Hello h = theirs;
  h.node_id = 7;
  EXPECT_THAT(message(h), HasSubstr("says it is node 7"));
  h = theirs;
  h.topology_fingerprint = "bb";
  EXPECT_THAT(message(h), HasSubstr("handshake between node 3 and node 5: topology fingerprint differs"));
  EXPECT_THAT(message(with([](PipelineSettings& s) { s.dadmm.rho = 0.5; })),
              HasSubstr("rho differs (node 3 has 1, node 5 has 0.5)"));
  h = theirs;
  h.protocol_version = 1;
  EXPECT_THAT(message(h), HasSubstr("protocol version differs (node 3 has 2, node 5 has 1)"));
  h = theirs;
  h.dimension = 4;
  EXPECT_THAT(message(h), HasSubstr("problem dimension"));
  EXPECT_THAT(message(with([](PipelineSettings& s) { s.algorithm = Algorithm::kAlgorithm3; })),
              HasSubstr("algorithm differs (node 3 has 'd-admm', node 5 has 'algorithm3')"));
  EXPECT_THAT(message(with([](PipelineSettings& s) { s.dadmm.max_iterations = 41; })),
              HasSubstr("iterations differs (node 3 has 40, node 5 has 41)"));
  EXPECT_THAT(message(with([](PipelineSettings& s) { s.tolerance = 1e-4; })),
              HasSubstr("tolerance differs (node 3 has 0, node 5 has 0.0001)"));
  EXPECT_THAT(message(with([](PipelineSettings& s) { s.eps_abs = 1e-6; })),
              HasSubstr("eps_abs differs (node 3 has 0, node 5 has 1e-06)"));
  EXPECT_THAT(message(with([](PipelineSettings& s) {
                s.algorithm = Algorithm::kIcAdmm;
                s.ic_beta = 1.5;
              })),
              HasSubstr("algorithm differs"));
  EXPECT_THAT(message(HelloOf(5, settings, {{"problem", "bpdn"}, {"beta", 0.4}})),
              HasSubstr("beta differs (node 3 has 0.3, node 5 has 0.4)"));
  EXPECT_THAT(message(HelloOf(5, settings, {{"problem", "lasso"}, {"sigma", 0.5}, {"delta", 1e-3}})),
              HasSubstr("problem differs (node 3 has 'bpdn', node 5 has 'lasso')"));
  // A setting of another type, a setting missing, one too many.
  h = theirs;
  h.config[1].value = std::int64_t{0};
  EXPECT_THAT(message(h), HasSubstr("beta differs (node 3 has 0.3, node 5 has 0)"));
  h = theirs;
  h.config.pop_back();
  EXPECT_THAT(message(h), HasSubstr("vary_rho_every differs (node 3 has 0, node 5 has nothing)"));
  h = theirs;
  h.config.push_back({"colour_of_the_day", std::string("blue")});
  EXPECT_THAT(message(h), HasSubstr("run configuration differs (node 3 has nothing more, node 5 has "
                                    "'colour_of_the_day' too)"));
  h = theirs;
  h.config[1].name = "gamma";
  EXPECT_THAT(message(h), HasSubstr("run configuration differs (node 3 has 'beta', node 5 has 'gamma' in its place)"));
  // A peer's text is bounded in the error line.
  h = theirs;
  h.config[0].value = std::string(500, 'x');
  EXPECT_LT(message(h).size(), 300u);
}

// Parameters the old text description rounded to 6 significant digits now compare exactly: two
// varying-penalty factors that differ in the 10th digit are refused, with both values in full.
TEST(Handshake, ValuesThatDifferInTheTenthDigitAreRefused) {
  PipelineSettings a{.dadmm = {.rho = 1.0, .max_iterations = 40}, .vary_rho_every = 10, .vary_rho_mu = 10.000000001};
  PipelineSettings b = a;
  b.vary_rho_mu = 10.0000000012;
  ASSERT_EQ(absl::StrCat(a.vary_rho_mu), absl::StrCat(b.vary_rho_mu));  // alike in 6 digits
  absl::Status s = CheckHello(HelloOf(3, a), HelloOf(5, b), 5);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "handshake between node 3 and node 5: vary_rho_mu differs (node 3 has 10.000000001, node 5 has "
            "10.0000000012)");
  // The same for rho itself, one unit in the last place apart.
  PipelineSettings c = a;
  c.dadmm.rho = std::nextafter(1.0, 2.0);
  EXPECT_THAT(CheckHello(HelloOf(3, a), HelloOf(5, c), 5).message(),
              HasSubstr("rho differs (node 3 has 1, node 5 has 1.0000000000000002)"));
  EXPECT_TRUE(CheckHello(HelloOf(3, a), HelloOf(5, a), 5).ok());
  // The penalty rule is part of the run: a node balancing residuals and one voting by (3.13) differ.
  PipelineSettings d = a;
  d.vary_rho_rule = PenaltyRule::kBalance;
  EXPECT_THAT(CheckHello(HelloOf(3, a), HelloOf(5, d), 5).message(), HasSubstr("vary_rho_rule"));
  // And per-edge penalties against a balancing vote: the two ends of an edge must adapt it alike.
  PipelineSettings e = d;
  e.vary_rho_rule = PenaltyRule::kEdge;
  EXPECT_THAT(std::string(CheckHello(HelloOf(3, d), HelloOf(5, e), 5).message()),
              HasSubstr("vary_rho_rule differs (node 3 has 'balance', node 5 has 'edge')"));
}

TEST(Handshake, ValuesPrintSoThatTheyReadBack) {
  for (double x : {0.1, 1.0 / 3.0, 1e-300, 123456789.125, 2.5e17, std::nextafter(0.3, 1.0)}) {
    EXPECT_EQ(std::strtod(ShortestRoundTrip(x).c_str(), nullptr), x) << ShortestRoundTrip(x);
  }
  EXPECT_EQ(ShortestRoundTrip(0.1), "0.1");
  EXPECT_EQ(ShortestRoundTrip(1e-5), "1e-05");
  EXPECT_TRUE(SameValue({"a", 1.0}, {"a", 1.0}));
  EXPECT_FALSE(SameValue({"a", 0.0}, {"a", -0.0}));
  EXPECT_FALSE(SameValue({"a", 1.0}, {"a", std::int64_t{1}}));
}

}  // namespace
}  // namespace dadmm
