// Log lines for people: "2026-11-22T17:40:01.123Z node 3: <message>", to stderr, one write per line
// so that lines from different threads never interleave. Thread-safe.
#pragma once

#include "absl/strings/string_view.h"
#include "common/base/types.h"

namespace dadmm::agent {

class Logger {
 public:
  explicit Logger(NodeId node) : node_(node) {}
  void Info(absl::string_view message) const;

 private:
  NodeId node_;
};

}  // namespace dadmm::agent
