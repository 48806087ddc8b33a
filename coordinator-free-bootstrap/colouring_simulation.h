// The colouring protocol over a whole network in one process, with messages delivered in a seeded
// random order, so that tests and the sweep can show that the result does not depend on timing.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "common/network/colouring.h"
#include "common/network/fake_network.h"
#include "common/network/topology.h"
#include "coordinator-free-bootstrap/colouring_protocol.h"

namespace dadmm {

struct ColouringRun {
  Colouring colouring;
  std::uint32_t rounds = 0;    // the longest chain of decisions, plus the flood's D rounds
  std::uint64_t messages = 0;  // announcements (2E per pass per chain) and maxima (2E per flood round)
  std::uint64_t payload_bytes = 0;
  int chosen = 0;                                // the chain kept (0 largest-first, 1 smallest-last)
  std::array<std::uint32_t, 2> chain_colours{};  // colours each chain used
};

// Bytes of one announcement's content (chain, pass, colour and round, 32 bits each), and of one
// flood message's (round and two maxima).
constexpr std::uint64_t kAnnouncementBytes = 16;
constexpr std::uint64_t kMaximaBytes = 12;
// Passes per chain of the protocol the agents and the sweep use: the first, then two recolourings.
constexpr std::uint32_t kColouringPasses = 3;

// ColouringProtocol (colouring_protocol.h) at every node, D = DiameterBound(topology), over the fake
// network (common/fake_network.h). kAnyOrder (the default) delivers any message in flight next, so
// messages on one edge overtake each other: the protocol must not rely on order. Fails if a node
// refuses a message or the protocol stalls with nodes undecided.
absl::StatusOr<ColouringRun> SimulateColouring(const Topology& topology, std::uint64_t seed,
                                               Delivery delivery = Delivery::kAnyOrder,
                                               std::uint32_t passes = kColouringPasses);

// What `nodes` (one per node of `topology`, in topology order) agreed, without the message counts;
// fails naming the nodes still undecided, or if two kept different chains.
absl::StatusOr<ColouringRun> CollectColouring(const Topology& topology,
                                              const std::vector<const ColouringProtocol*>& nodes);

}  // namespace dadmm
