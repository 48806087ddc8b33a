// dadmm-ctl watch: every agent of a network as a live table, from each agent's WatchStatus stream.
#pragma once

#include <chrono>

#include "agent/tls.h"
#include "common/network/topology.h"

namespace dadmm::agent {

struct WatchOptions {
  std::chrono::milliseconds interval{500};  // between table refreshes and status replies
  std::chrono::milliseconds timeout{0};     // give up after this long (0: never)
  bool redraw = true;              // redraw in place (a terminal); else print a table when something changed, at
                                   // most every 5 s
  MonitorCredentials credentials;  // plaintext when it holds no TLS
};

// Returns 0 when every agent finished (DONE), 1 if one failed or the timeout passed.
int Watch(const Topology& topology, const WatchOptions& options);

}  // namespace dadmm::agent
