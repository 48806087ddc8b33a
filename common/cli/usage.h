// Command-line help and parsing for the dadmm tools.
#pragma once

#include <cstdlib>
#include <iostream>
#include <vector>

#include "absl/flags/internal/program_name.h"
#include "absl/flags/internal/usage.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

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

// absl::ParseCommandLine, except that help asked for (--help, --helpfull, --help=SUBSTRING, ...; -h)
// is printed to stdout with exit code 0, as users and scripts expect; Abseil's own handling exits 1.
// (Abseil 20220623 has no public switch for that code: the help is printed by its usage functions.)
inline std::vector<char*> ParseCommandLine(int argc, char** argv) {
  if (argc > 0) absl::flags_internal::SetProgramInvocationName(argv[0]);
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg == "-h") arg = "--help";
    if (!absl::ConsumePrefix(&arg, "--")) absl::ConsumePrefix(&arg, "-");
    const std::size_t equals = arg.find('=');
    const absl::string_view name = arg.substr(0, equals);
    const absl::string_view value = equals == absl::string_view::npos ? "" : arg.substr(equals + 1);
    if (!absl::StartsWith(name, "help")) continue;
    if (absl::flags_internal::DeduceUsageFlags(name, value)) {
      absl::flags_internal::HandleUsageFlags(std::cout, absl::ProgramUsageMessage());
      std::cout.flush();
      std::exit(0);
    }
  }
  return absl::ParseCommandLine(argc, argv);
}

}  // namespace dadmm
