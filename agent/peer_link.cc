#include "agent/peer_link.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/channel_args.h"
#include "common/base/types.h"

namespace dadmm::agent {

namespace {

// How often a link with nothing to write looks at its channel's state, to notice a broken stream.
constexpr std::chrono::milliseconds kIdleCheck(100);
// Between a broken stream and the next.
constexpr std::chrono::milliseconds kBackoffInitial(100);
constexpr std::chrono::milliseconds kBackoffMax(2000);

}  // namespace

PeerLink::PeerLink(NodeId peer, std::string address, SharedCounters* counters, const Logger* log,
                   std::function<std::uint64_t()> ack)
    : peer_(peer), address_(std::move(address)), counters_(counters), log_(log), ack_(std::move(ack)) {
  channel_ = grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), PeerChannelArguments());
  stub_ = dadmm::v1::Peer::NewStub(channel_);
}

PeerLink::~PeerLink() { Abort(); }

void PeerLink::Start() {
  thread_ = std::thread([this] { Run(); });
}

void PeerLink::Send(dadmm::v1::PeerMessage message) {
  {
    std::lock_guard lock(mu_);
    message.set_sequence(next_sequence_++);
    unacked_.push_back(std::move(message));
  }
  cv_.notify_all();
}

void PeerLink::Acknowledge(std::uint64_t sequence) {
  {
    std::lock_guard lock(mu_);
    // A neighbour cannot have what was never sent; such an ack is ignored (peer messages are data).
    if (sequence <= acknowledged_ || sequence >= next_sequence_) return;
    acknowledged_ = sequence;
    while (!unacked_.empty() && unacked_.front().sequence() <= sequence) unacked_.pop_front();
  }
  cv_.notify_all();
}

bool PeerLink::connected() const {
  std::lock_guard lock(mu_);
  return connected_;
}

PeerLink::Clock::time_point PeerLink::connection_changed() const {
  std::lock_guard lock(mu_);
  return connection_changed_;
}

std::size_t PeerLink::unacknowledged() const {
  std::lock_guard lock(mu_);
  return unacked_.size();
}

void PeerLink::SetConnected(bool connected) {
  if (connected_ == connected) return;
  connected_ = connected;
  connection_changed_ = Clock::now();
}

void PeerLink::BeginClose() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  cv_.notify_all();
}

void PeerLink::FinishClose(Clock::time_point deadline) {
  {
    std::unique_lock lock(mu_);
    if (!cv_.wait_until(lock, deadline, [&] { return unacked_.empty() && !connected_; })) {
      if (!unacked_.empty()) {
        log_->Info(absl::StrCat("giving up on neighbour ", peer_, " at ", address_, ": ", unacked_.size(),
                                " message(s) not acknowledged"));
      }
      aborted_ = true;
      if (context_ != nullptr) context_->TryCancel();
      cv_.notify_all();
    }
  }
  if (thread_.joinable()) thread_.join();
}

void PeerLink::Abort() {
  {
    std::lock_guard lock(mu_);
    aborted_ = true;
    if (context_ != nullptr) context_->TryCancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PeerLink::Run() {
  auto stopped = [&] {
    std::lock_guard lock(mu_);
    return aborted_ || (closing_ && unacked_.empty());
  };
  bool ever_connected = false;
  Clock::time_point broke_at{};
  std::chrono::milliseconds backoff = kBackoffInitial / 2;
  std::minstd_rand random(peer_ * 7919u + static_cast<std::uint32_t>(Clock::now().time_since_epoch().count()));
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  while (!stopped()) {
    // Wait for the neighbour to come up (the channel's backoff paces the attempts), saying whom we
    // wait for now and then.
    const Clock::time_point since = Clock::now();
    Clock::time_point next_log = since + std::chrono::seconds(1);
    while (!channel_->WaitForConnected(std::chrono::system_clock::now() + std::chrono::milliseconds(250))) {
      if (stopped()) return;
      if (Clock::now() >= next_log) {
        const auto waited = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - since).count();
        log_->Info(absl::StrCat("waiting for neighbour ", peer_, " at ", address_, " to come ",
                                ever_connected ? "back" : "up", " (", waited, " s)"));
        next_log = Clock::now() + std::chrono::seconds(waited < 10 ? 2 : 10);
      }
    }
    if (ever_connected) {
      counters_->RecordReconnect(peer_);
      log_->Info(absl::StrFormat("reconnected to neighbour %u at %s after %.1f s; resending %u message(s)", peer_,
                                 address_, std::chrono::duration<double>(Clock::now() - broke_at).count(),
                                 unacknowledged()));
    } else {
      log_->Info(absl::StrCat("connected to neighbour ", peer_, " at ", address_));
    }
    ever_connected = true;
    const Clock::time_point opened = Clock::now();
    if (Stream()) return;
    broke_at = Clock::now();
    // Bounded backoff between streams, tuned for a LAN, with jitter so that neighbours do not retry
    // in step; a stream that lived a while starts the backoff over. (The channel paces connection
    // attempts itself; this paces streams on a live connection, e.g. one the neighbour refuses.)
    backoff = broke_at - opened > kBackoffMax ? kBackoffInitial : std::min(backoff * 2, kBackoffMax);
    const auto jittered = std::chrono::duration_cast<std::chrono::milliseconds>(backoff * jitter(random));
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, jittered, [&] { return aborted_; });
  }
}

bool PeerLink::Stream() {
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  dadmm::v1::ExchangeSummary summary;
  {
    std::lock_guard lock(mu_);
    if (aborted_) return true;
    context_ = &context;
    written_up_to_ = acknowledged_;  // a new stream starts from the oldest message not acknowledged
    SetConnected(true);
  }
  cv_.notify_all();
  std::unique_ptr<grpc::ClientWriter<dadmm::v1::PeerMessage>> writer = stub_->Exchange(&context, &summary);
  bool broken = false;
  bool went_silent = false;
  for (;;) {
    dadmm::v1::PeerMessage message;
    {
      std::unique_lock lock(mu_);
      auto next = [&] {
        return std::find_if(unacked_.begin(), unacked_.end(),
                            [&](const dadmm::v1::PeerMessage& m) { return m.sequence() > written_up_to_; });
      };
      auto ready = [&] { return aborted_ || closing_ || next() != unacked_.end(); };
      while (!ready()) {
        if (cv_.wait_for(lock, kIdleCheck, ready)) break;
        if (channel_->GetState(/*try_to_connect=*/false) != GRPC_CHANNEL_READY) {
          broken = went_silent = true;  // the connection went while there was nothing to write
          break;
        }
      }
      if (broken || aborted_) break;
      auto it = next();
      if (it == unacked_.end()) break;  // closing, all written
      message = *it;
    }
    message.set_ack(ack_());
    const std::uint64_t bytes = message.ByteSizeLong();
    if (!writer->Write(message)) {
      broken = true;
      break;
    }
    bool resend = false;
    {
      std::lock_guard lock(mu_);
      written_up_to_ = message.sequence();
      resend = message.sequence() <= highest_written_;
      highest_written_ = std::max(highest_written_, message.sequence());
    }
    if (resend) {
      counters_->RecordResent(peer_, bytes);
    } else {
      counters_->RecordSent(peer_, CostOf(message), bytes);
    }
  }
  bool aborted = false;
  {
    std::lock_guard lock(mu_);
    aborted = aborted_;
  }
  if (broken) context.TryCancel();
  if (!broken && !aborted) writer->WritesDone();
  const grpc::Status status = writer->Finish();
  if (status.ok()) Acknowledge(summary.last_sequence());
  bool done = false;
  {
    std::lock_guard lock(mu_);
    context_ = nullptr;
    SetConnected(false);
    done = aborted_ || (closing_ && unacked_.empty());
  }
  cv_.notify_all();
  if (!done) {
    log_->Info(absl::StrCat("stream to neighbour ", peer_, " at ", address_, " broke (",
                            went_silent   ? "the connection went silent: no keepalive answer"
                            : status.ok() ? "closed with messages not acknowledged"
                                          : status.error_message(),
                            "); reconnecting"));
  }
  return done;
}

}  // namespace dadmm::agent
