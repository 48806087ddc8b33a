// The neighbour handshake: before anything else, each agent tells every neighbour who it is and what
// it is about to run, and checks what the neighbour tells it. Both ends check, so a mismatch stops
// the run on both agents with the same field named.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/base/named_value.h"
#include "common/network/topology.h"

namespace dadmm {

// 2: the run's settings travel typed (RunConfig) and compare exactly; 1 described them as text.
constexpr std::uint32_t kProtocolVersion = 2;

// The topology in a canonical text form: nodes by id with address and position, then edges (smaller
// id first) in order. The file's name, whitespace, comments and ordering do not enter it.
std::string CanonicalTopology(const Topology& topology);
// SHA-256 of the canonical form, in hexadecimal.
std::string TopologyFingerprint(const Topology& topology);

// Everything about the run that neighbours must agree on, typed and in a fixed order: the problem
// kind and its parameters, the algorithm and its parameters, rho, the iterations, the stopping rule
// (agent_pipeline.h: DescribeRun). A setting that depends on an earlier one (the varying penalty's mu
// when it is on) comes after it, so the first difference between two configurations is always one
// setting that both have.
using RunConfig = std::vector<NamedValue>;

struct Hello {
  NodeId node_id = 0;
  std::uint32_t protocol_version = kProtocolVersion;
  std::string topology_fingerprint;
  std::uint64_t degree = 0;
  std::int64_t dimension = 0;  // of the shared variable x
  RunConfig config;
  std::string arithmetic;  // ArithmeticProfile() of the sender's build; not checked by CheckHello
  // Crash recovery (node_session.h), not checked by CheckHello: how many times the sender restarted
  // from its checkpoint (0: its first run), and with a restart, the colour it resumes with.
  std::uint64_t incarnation = 0;
  std::uint32_t colour = 0;
};

// The value named `name` in `config`, or nullptr.
const NamedValue* Find(const RunConfig& config, std::string_view name);

// Checks `theirs`, received on the link to the neighbour `expected`, against `mine`. The error is one
// line naming both nodes and the first field that differs, with both values in full (a peer's text
// is cut to 80 characters).
absl::Status CheckHello(const Hello& mine, const Hello& theirs, NodeId expected);

}  // namespace dadmm
