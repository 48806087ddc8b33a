// The colouring protocol over a whole network in one process, with messages delivered after random
// delays (seeded), so that tests and the sweep can show that the result does not depend on timing.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "common/colouring.h"
#include "common/topology.h"

namespace dadmm {

struct ColouringRun {
  Colouring colouring;
  std::uint32_t rounds = 0;       // the longest chain of decisions
  std::uint64_t messages = 0;     // announcements sent (2E per pass)
  std::uint64_t payload_bytes = 0;
};

// Bytes of one announcement's content (pass, colour and round, 32 bits each).
constexpr std::uint64_t kAnnouncementBytes = 12;
// Passes of the protocol the agents and the sweep use: largest-first, then two recolourings.
constexpr std::uint32_t kColouringPasses = 3;

// Every message is delivered after a delay drawn uniformly from [0, max_delay) (0: in send order).
// Fails if a node refuses a message or the protocol stalls with nodes undecided.
absl::StatusOr<ColouringRun> SimulateColouring(const Topology& topology, std::uint64_t seed, double max_delay = 1.0,
                                               std::uint32_t passes = kColouringPasses);

}  // namespace dadmm
