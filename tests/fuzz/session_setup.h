// The session the session fuzz target attacks and its seed generator records: node 2 of the path
// 1 - 2 - 3, consensus of dimension 2, D-ADMM for at most 20 steps with the agreed stop. Its input is
// what its neighbours (or anyone) send it: records of one byte naming the sender (0: node 1, 1: node
// 3, 2: node 9, a stranger; else node 2 itself), two bytes of length (little-endian), and that many
// bytes of a serialized PeerMessage (proto/dadmm.proto), as the transport would hand them over.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/base/portable_float.h"
#include "common/problems/instances.h"
#include "coordinator-free-bootstrap/node_session.h"

namespace dadmm::fuzz {

struct SessionSetup {
  Topology topology = *Topology::Create("fuzz", {{1, "a:1"}, {2, "a:2"}, {3, "a:3"}}, {{1, 2}, {2, 3}});
  std::unique_ptr<ProblemInstance> instance = *MakeInstance("consensus", topology, 1, "", 2);
  PipelineSettings settings{.dadmm = {.rho = 1.0, .max_iterations = 20}, .tolerance = 1e-6};

  std::unique_ptr<NodeSession> Make(NodeId id) const {
    return *NodeSession::Create(topology, id, instance->MakeLocal(id), {{"problem", std::string("consensus")}},
                                settings, ArithmeticProfile());
  }
};

inline NodeId SenderOfSelector(std::uint8_t selector) {
  switch (selector % 4) {
    case 0:
      return 1;
    case 1:
      return 3;
    case 2:
      return 9;
    default:
      return 2;
  }
}

inline std::string Record(std::uint8_t selector, const std::string& message) {
  std::string r(1, static_cast<char>(selector));
  r.push_back(static_cast<char>(message.size() & 0xff));
  r.push_back(static_cast<char>((message.size() >> 8) & 0xff));
  return r + message;
}

}  // namespace dadmm::fuzz
