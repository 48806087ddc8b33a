// The neighbour handshake: before anything else, each agent tells every neighbour who it is and what
// it is about to run, and checks what the neighbour tells it. Both ends check, so a mismatch stops
// the run on both agents with the same field named.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "common/topology.h"

namespace dadmm {

constexpr std::uint32_t kProtocolVersion = 1;

// The topology in a canonical text form: nodes by id with address and position, then edges (smaller
// id first) in order. The file's name, whitespace, comments and ordering do not enter it.
std::string CanonicalTopology(const Topology& topology);
// SHA-256 of the canonical form, in hexadecimal.
std::string TopologyFingerprint(const Topology& topology);

struct Hello {
  NodeId node_id = 0;
  std::uint32_t protocol_version = kProtocolVersion;
  std::string topology_fingerprint;
  std::uint64_t degree = 0;
  std::int64_t dimension = 0;  // of the shared variable x
  std::string problem;         // kind and shared parameters, e.g. "bpdn beta=0.3"
  std::string algorithm;       // e.g. "d-admm"
  double rho = 0.0;
  std::uint64_t max_iterations = 0;
  double tolerance = 0.0;  // 0: a fixed number of iterations
  std::string stop_rule;   // StopRule::Describe() when the agreed stop is on, else empty
  std::string arithmetic;  // ArithmeticProfile() of the sender's build; not checked by CheckHello
};

// Checks `theirs`, received on the link to the neighbour `expected`, against `mine`. The error is one
// line naming both nodes and the first field that differs.
absl::Status CheckHello(const Hello& mine, const Hello& theirs, NodeId expected);

}  // namespace dadmm
