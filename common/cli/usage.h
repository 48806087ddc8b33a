// Command-line help for the dadmm tools.
#pragma once

#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace dadmm {

// Sets the usage message, and makes --help list the tool's own flags (Abseil's default lists only
// flags defined in a file named like the program, and ours are named dadmm-x but live in dadmm_x.cc).
inline void SetUsage(absl::string_view message) {
  absl::SetProgramUsageMessage(message);
  absl::FlagsUsageConfig config;
  config.contains_help_flags = [](absl::string_view file) { return !absl::StrContains(file, "absl/"); };
  config.contains_helpshort_flags = config.contains_help_flags;
  absl::SetFlagsUsageConfig(config);
}

}  // namespace dadmm
