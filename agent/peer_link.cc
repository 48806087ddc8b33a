#include "agent/peer_link.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "agent/channel_args.h"
#include "common/base/types.h"

namespace dadmm::agent {

using Clock = std::chrono::steady_clock;

PeerLink::PeerLink(NodeId peer, std::string address, SharedCounters* counters, const Logger* log)
    : peer_(peer), address_(std::move(address)), counters_(counters), log_(log) {
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
    queue_.push_back(std::move(message));
  }
  cv_.notify_all();
}

bool PeerLink::connected() const {
  std::lock_guard lock(mu_);
  return connected_;
}

void PeerLink::BeginClose() {
  {
    std::lock_guard lock(mu_);
    closing_ = true;
  }
  cv_.notify_all();
}

void PeerLink::FinishClose(std::chrono::steady_clock::time_point deadline) {
  {
    std::unique_lock lock(mu_);
    if (!cv_.wait_until(lock, deadline, [&] { return queue_.empty() && !connected_; })) {
      if (!queue_.empty()) {
        log_->Info(absl::StrCat("giving up on neighbour ", peer_, " at ", address_, ": ", queue_.size(),
                                " message(s) not sent"));
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
    return aborted_ || (closing_ && queue_.empty());
  };
  while (!stopped()) {
    // Wait for the neighbour to come up, saying whom we wait for now and then.
    const Clock::time_point since = Clock::now();
    Clock::time_point next_log = since + std::chrono::seconds(1);
    while (!channel_->WaitForConnected(std::chrono::system_clock::now() + std::chrono::milliseconds(250))) {
      if (stopped()) return;
      if (Clock::now() >= next_log) {
        const auto waited = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - since).count();
        log_->Info(absl::StrCat("waiting for neighbour ", peer_, " at ", address_, " to come up (", waited, " s)"));
        next_log = Clock::now() + std::chrono::seconds(waited < 10 ? 2 : 10);
      }
    }

    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    dadmm::v1::ExchangeSummary summary;
    {
      std::lock_guard lock(mu_);
      if (aborted_) return;
      context_ = &context;
      connected_ = true;
    }
    log_->Info(absl::StrCat("connected to neighbour ", peer_, " at ", address_));
    std::unique_ptr<grpc::ClientWriter<dadmm::v1::PeerMessage>> writer = stub_->Exchange(&context, &summary);
    bool broken = false;
    for (;;) {
      dadmm::v1::PeerMessage message;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return aborted_ || closing_ || !queue_.empty(); });
        if (aborted_) break;
        if (queue_.empty()) break;  // closing, all sent
        message = queue_.front();   // popped only once written: a broken stream resends it
      }
      const std::uint64_t bytes = message.ByteSizeLong();
      if (!writer->Write(message)) {
        broken = true;
        break;
      }
      {
        std::lock_guard lock(mu_);
        queue_.pop_front();
      }
      counters_->RecordSent(peer_, CostOf(message), bytes);
    }
    if (!broken) writer->WritesDone();
    const grpc::Status status = writer->Finish();
    {
      std::lock_guard lock(mu_);
      context_ = nullptr;
      connected_ = false;
    }
    cv_.notify_all();
    if (broken && !stopped()) {
      log_->Info(absl::StrCat("stream to neighbour ", peer_, " at ", address_, " broke (", status.error_message(),
                              "); reconnecting"));
    }
  }
}

}  // namespace dadmm::agent
