#include "agent/peer_service.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "agent/wire.h"

namespace dadmm::agent {

grpc::Status PeerService::Exchange(grpc::ServerContext* context, grpc::ServerReader<pb::PeerMessage>* reader,
                                   pb::ExchangeSummary* summary) {
  {
    std::lock_guard lock(mu_);
    ++active_;
  }
  std::optional<NodeId> stream_sender;
  std::uint64_t accepted = 0;
  pb::PeerMessage message;
  while (reader->Read(&message)) {
    const std::optional<NodeId> sender = SenderOf(message);
    std::string problem;
    if (!sender.has_value()) {
      problem = "an empty message";
    } else if (!neighbours_.contains(*sender)) {
      problem = absl::StrCat("a message from node ", *sender, ", not a neighbour of node ", self_);
    } else if (stream_sender.has_value() && *stream_sender != *sender) {
      problem = absl::StrCat("a message from node ", *sender, " on the stream of node ", *stream_sender);
    }
    if (!problem.empty()) {
      counters_->RecordRejected();
      log_->Info(absl::StrCat("rejected ", problem, " (peer ", context->peer(), ")"));
      continue;
    }
    stream_sender = sender;
    const std::uint64_t bytes = message.ByteSizeLong();
    inbox_->Push(
        Incoming{.sender = *sender, .message = std::move(message), .message_bytes = bytes, .peer = context->peer()});
    message = pb::PeerMessage();
    ++accepted;
  }
  summary->set_messages_received(accepted);
  {
    std::lock_guard lock(mu_);
    --active_;
  }
  cv_.notify_all();
  return grpc::Status::OK;
}

bool PeerService::WaitAllClosed(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return active_ == 0; });
}

}  // namespace dadmm::agent
