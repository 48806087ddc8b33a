// Helpers for tests that run the project's binaries as separate processes.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace dadmm::testing {

struct Child {
  pid_t pid = -1;
  std::string stdout_path;
  std::string stderr_path;
};

// Starts `argv` with stdout and stderr sent to the given files. A child still running when the test
// ends (it failed, or forgot it) is killed then and named on stderr.
// An agent (argv[0] ends in dadmm-agent) given no --tls_*, --insecure or --config runs with --insecure:
// the process tests are about the run, not the transport's security, unless they say so.
Child Spawn(const std::vector<std::string>& argv, const std::string& stdout_path, const std::string& stderr_path);

// The exit code (128 + signal if killed by one), or nothing if still running after `timeout`.
std::optional<int> WaitFor(const Child& child, std::chrono::milliseconds timeout);

// SIGKILLs the child if it still runs and reaps it.
void Kill(const Child& child);

std::string ReadFile(const std::string& path);
// Runs `argv` to its end (at most a minute) and returns what it printed on stdout.
std::string Output(const std::vector<std::string>& argv);
void WriteFile(const std::string& path, const std::string& text);

// Distinct loopback TCP ports that were free a moment ago, below the ephemeral range.
std::vector<int> FreePorts(int count);

// A fresh directory under the test's temporary directory.
std::string MakeTempDir(const std::string& name);

// Polls `predicate` every 50 ms until it is true or `timeout` passes.
template <typename F>
bool Eventually(F predicate, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    struct timespec ts {
      0, 50'000'000
    };
    nanosleep(&ts, nullptr);
  }
  return predicate();
}

}  // namespace dadmm::testing
