// The colouring protocol over a whole network in one process, with messages delivered after random
// delays (seeded), so that tests and the sweep can show that the result does not depend on timing.
#pragma once

#include <array>
#include <cstdint>

#include "absl/status/statusor.h"
#include "common/colouring.h"
#include "common/topology.h"

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

// ColouringProtocol (colouring_protocol.h) at every node, D = the topology's diameter. Every message
// is delivered after a delay drawn uniformly from [0, max_delay) (0: in send order), so messages on
// one edge may overtake each other. Fails if a node refuses a message or the protocol stalls with
// nodes undecided.
absl::StatusOr<ColouringRun> SimulateColouring(const Topology& topology, std::uint64_t seed, double max_delay = 1.0,
                                               std::uint32_t passes = kColouringPasses);

}  // namespace dadmm
