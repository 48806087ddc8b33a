#include "agent/ctl_watch.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/channel_args.h"
#include "dadmm/proto/dadmm.grpc.pb.h"

namespace dadmm::agent {
namespace {

namespace pb = ::dadmm::v1;
using Clock = std::chrono::steady_clock;

bool Finished(pb::AgentState s) { return s == pb::AGENT_STATE_DONE || s == pb::AGENT_STATE_FAILED; }

std::string ShortState(pb::AgentState s) {
  switch (s) {
    case pb::AGENT_STATE_CONNECTING:
      return "connecting";
    case pb::AGENT_STATE_COLOURING:
      return "colouring";
    case pb::AGENT_STATE_RUNNING:
      return "running";
    case pb::AGENT_STATE_DONE:
      return "done";
    case pb::AGENT_STATE_FAILED:
      return "FAILED";
    default:
      return "?";
  }
}

// What the watcher knows of one agent.
struct Seen {
  std::optional<pb::StatusReply> last;
  std::string problem;  // why there is no reply (not reachable yet)
};

class Watcher {
 public:
  Watcher(const Topology& topology, const WatchOptions& options) : topology_(topology), options_(options) {}

  int Run() {
    const Clock::time_point start = Clock::now();
    std::vector<std::thread> threads;
    for (const NodeSpec& n : topology_.nodes()) threads.emplace_back([this, n] { Follow(n); });
    std::string previous;
    Clock::time_point last_print{};
    int code = 0;
    for (;;) {
      const bool done = AllFinished();
      const std::string table = Table();
      if (options_.redraw) {
        std::cout << "\033[H\033[2J" << table << std::flush;
      } else if (done || (table != previous && Clock::now() - last_print >= std::chrono::seconds(5))) {
        std::cout << table << "\n" << std::flush;
        last_print = Clock::now();
      }
      previous = table;
      if (done) break;
      if (options_.timeout.count() > 0 && Clock::now() - start >= options_.timeout) {
        std::cout << "timed out after " << options_.timeout.count() / 1000.0 << " s" << std::endl;
        code = 1;
        break;
      }
      std::this_thread::sleep_for(options_.interval);
    }
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      for (auto& [id, context] : contexts_) context->TryCancel();
    }
    for (std::thread& t : threads) t.join();
    std::cout << Summary() << std::flush;
    std::lock_guard lock(mu_);
    for (const auto& [id, seen] : seen_) {
      if (!seen.last || seen.last->state() != pb::AGENT_STATE_DONE) code = 1;
    }
    return code;
  }

 private:
  // Reads one agent's stream until it reports a final state; reconnects while it is not up.
  void Follow(const NodeSpec& node) {
    grpc::ChannelArguments args = PeerChannelArguments();
    if (options_.credentials.tls != nullptr) args.SetSslTargetNameOverride(Tls::kServerName);
    auto channel = grpc::CreateCustomChannel(node.address, options_.credentials.channel, args);
    auto stub = pb::Status::NewStub(channel);
    for (;;) {
      grpc::ClientContext context;
      context.set_wait_for_ready(true);  // an agent not up yet: wait for it (cancelled at the end)
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        contexts_[node.id] = &context;
      }
      pb::WatchRequest request;
      request.set_interval_seconds(std::chrono::duration<double>(options_.interval).count());
      std::unique_ptr<grpc::ClientReader<pb::StatusReply>> reader = stub->WatchStatus(&context, request);
      pb::StatusReply reply;
      bool finished = false;
      while (reader->Read(&reply)) {
        std::lock_guard lock(mu_);
        seen_[node.id].last = reply;
        seen_[node.id].problem.clear();
        finished = Finished(reply.state());
      }
      const grpc::Status status = reader->Finish();
      {
        std::lock_guard lock(mu_);
        contexts_.erase(node.id);
        if (finished || stopping_) return;
        // An agent that finished and exited between two replies is reported by its last state.
        if (!status.ok()) seen_[node.id].problem = status.error_message();
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }

  bool AllFinished() {
    std::lock_guard lock(mu_);
    for (const NodeSpec& n : topology_.nodes()) {
      auto it = seen_.find(n.id);
      if (it == seen_.end() || !it->second.last || !Finished(it->second.last->state())) return false;
    }
    return true;
  }

  std::string Table() {
    std::lock_guard lock(mu_);
    std::string out = absl::StrFormat("%-6s %-11s %-6s %-10s %-22s %-9s %-9s %-9s %-11s %-10s %s\n", "node", "state",
                                      "colour", "iteration", "progress", "change", "disagree", "messages", "bytes sent",
                                      "energy mJ", "waiting for");
    for (const NodeSpec& n : topology_.nodes()) {
      const Seen& s = seen_[n.id];
      if (!s.last) {
        absl::StrAppend(
            &out, absl::StrFormat("%-6d %-11s %s\n", n.id, "unreachable", s.problem.empty() ? n.address : s.problem));
        continue;
      }
      const pb::StatusReply& r = *s.last;
      const double fraction =
          r.max_iterations() == 0 ? 0.0 : std::min(1.0, static_cast<double>(r.iteration()) / r.max_iterations());
      const int filled = r.state() == pb::AGENT_STATE_DONE ? 20 : static_cast<int>(fraction * 20.0);
      std::uint64_t bytes = 0;
      for (const pb::NeighbourCounters& nc : r.neighbours()) bytes += nc.message_bytes_sent();
      absl::StrAppend(&out, absl::StrFormat("%-6d %-11s %-6d %-10d [%s%s] %-9.1e %-9.1e %-9d %-11d %-10.4f %s\n", n.id,
                                            ShortState(r.state()), r.colour(), r.iteration(), std::string(filled, '#'),
                                            std::string(20 - filled, '.'), r.change(), r.disagreement(),
                                            r.messages_sent(), bytes, (r.energy().sent() + r.energy().received()) * 1e3,
                                            r.state() == pb::AGENT_STATE_FAILED ? r.error() : r.waiting_for()));
    }
    return out;
  }

  std::string Summary() {
    std::lock_guard lock(mu_);
    std::uint64_t messages = 0, bytes = 0, boot = 0, done = 0, failed = 0;
    double energy = 0.0;
    std::uint64_t min_it = UINT64_MAX, max_it = 0;
    for (const NodeSpec& n : topology_.nodes()) {
      const Seen& s = seen_[n.id];
      if (!s.last) continue;
      const pb::StatusReply& r = *s.last;
      messages += r.messages_sent();
      boot += r.bootstrap_messages_sent();
      energy += r.energy().sent() + r.energy().received();
      for (const pb::NeighbourCounters& nc : r.neighbours()) bytes += nc.message_bytes_sent();
      done += r.state() == pb::AGENT_STATE_DONE;
      failed += r.state() == pb::AGENT_STATE_FAILED;
      min_it = std::min<std::uint64_t>(min_it, r.iteration());
      max_it = std::max<std::uint64_t>(max_it, r.iteration());
    }
    return absl::StrFormat(
        "\nsummary: %d of %d agents done, %d failed; iterations %s; %d messages (%d bytes serialized), %d bootstrap "
        "messages; modelled radio energy %.3f mJ\n",
        done, topology_.size(), failed,
        min_it == UINT64_MAX ? "-" : (min_it == max_it ? absl::StrCat(max_it) : absl::StrCat(min_it, "..", max_it)),
        messages, bytes, boot, energy * 1e3);
  }

  const Topology& topology_;
  const WatchOptions options_;
  std::mutex mu_;
  std::map<NodeId, Seen> seen_;
  std::map<NodeId, grpc::ClientContext*> contexts_;
  bool stopping_ = false;
};

}  // namespace

int Watch(const Topology& topology, const WatchOptions& options) { return Watcher(topology, options).Run(); }

}  // namespace dadmm::agent
