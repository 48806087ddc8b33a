#include "tests/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace dadmm::testing {
namespace {

// Every child started and not yet reaped. At the end of every test (passed or not, including one
// that returned early on a failed ASSERT) the reaper kills what is left, so that a failing test never
// leaves agents running into the next one.
std::mutex running_mu;
std::set<pid_t> running;

void Forget(pid_t pid) {
  std::lock_guard lock(running_mu);
  running.erase(pid);
}

class Reaper : public ::testing::EmptyTestEventListener {
 public:
  void OnTestEnd(const ::testing::TestInfo& test) override {
    std::set<pid_t> left;
    {
      std::lock_guard lock(running_mu);
      left.swap(running);
    }
    for (pid_t pid : left) {
      if (kill(pid, SIGKILL) == 0) {
        int status = 0;
        waitpid(pid, &status, 0);
        std::fprintf(stderr, "%s.%s: killed child %d, still running at the end of the test\n", test.test_suite_name(),
                     test.name(), static_cast<int>(pid));
      }
    }
  }
};

const bool reaper_installed = [] {
  ::testing::UnitTest::GetInstance()->listeners().Append(new Reaper);
  return true;
}();

}  // namespace

Child Spawn(const std::vector<std::string>& argv, const std::string& stdout_path, const std::string& stderr_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> full = argv;
  const bool agent = argv[0].size() >= 11 && argv[0].compare(argv[0].size() - 11, 11, "dadmm-agent") == 0;
  const bool security_given = std::any_of(argv.begin() + 1, argv.end(), [](const std::string& a) {
    return a.rfind("--tls_", 0) == 0 || a.rfind("--insecure", 0) == 0 || a.rfind("--config", 0) == 0 || a == "--help" ||
           a.rfind("--print_hello", 0) == 0;
  });
  if (agent && !security_given) full.push_back("--insecure");
  std::vector<char*> args;
  args.reserve(full.size() + 1);
  for (const std::string& a : full) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  Child child{.stdout_path = stdout_path, .stderr_path = stderr_path};
  const int rc = posix_spawn(&child.pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("posix_spawn " + argv[0] + " failed");
  std::lock_guard lock(running_mu);
  running.insert(child.pid);
  return child;
}

std::optional<int> WaitFor(const Child& child, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(child.pid, &status, WNOHANG);
    if (r == child.pid) {
      Forget(child.pid);
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    struct timespec ts {
      0, 20'000'000
    };
    nanosleep(&ts, nullptr);
  }
}

void Kill(const Child& child) {
  if (child.pid <= 0) return;
  if (kill(child.pid, SIGKILL) == 0) {
    int status = 0;
    waitpid(child.pid, &status, 0);
  }
  Forget(child.pid);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

// Ports below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by default):
// the kernel never hands those out on its own, so an agent's outgoing connection cannot take a port
// that an agent started a moment later means to listen on (it could when these came from bind(0)).
std::vector<int> FreePorts(int count) {
  constexpr int kLow = 20000, kHigh = 32700;
  static std::minstd_rand random(static_cast<std::uint64_t>(getpid()) * 2654435761u);
  std::vector<int> fds, ports;
  for (int attempts = 0; static_cast<int>(ports.size()) < count; ++attempts) {
    if (attempts > 10000) throw std::runtime_error("no free port below the ephemeral range");
    const int port = kLow + static_cast<int>(random() % (kHigh - kLow));
    if (std::find(ports.begin(), ports.end(), port) != ports.end()) continue;
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {  // in use: another one
      close(fd);
      continue;
    }
    ports.push_back(port);
    fds.push_back(fd);  // held open until all are chosen, so the ports are distinct
  }
  for (int fd : fds) close(fd);
  return ports;
}

std::string MakeTempDir(const std::string& name) {
  std::string dir = ::testing::TempDir() + "/dadmm-" + name + "-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string Output(const std::vector<std::string>& argv) {
  char path[] = "/tmp/dadmm-output.XXXXXX";
  const int fd = mkstemp(path);
  if (fd >= 0) close(fd);
  const Child child = Spawn(argv, path, "/dev/null");
  WaitFor(child, std::chrono::minutes(1));
  std::string out = ReadFile(path);
  unlink(path);
  return out;
}

}  // namespace dadmm::testing
