#include "agent/log.h"

#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace dadmm::agent {

void Logger::Info(absl::string_view message) const {
  const std::string line = absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
                                        " node ", node_, ": ", message, "\n");
  // One write(2) per line: atomic for lines below PIPE_BUF, and never interleaved within a process.
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace dadmm::agent
