#include "agent/peer_service.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "agent/wire.h"

namespace dadmm::agent {

namespace {
constexpr char kDuplicate[] = "duplicate";
}  // namespace

std::string PeerService::Admit(const pb::PeerMessage& message, std::optional<NodeId>& stream_sender,
                               bool& refused_stream) {
  const std::optional<NodeId> sender = SenderOf(message);
  if (!sender.has_value()) return "an empty message";
  std::lock_guard lock(mu_);
  auto in = inbound_.find(*sender);
  if (in == inbound_.end()) return absl::StrCat("a message from node ", *sender, ", not a neighbour of node ", self_);
  if (stream_sender.has_value() && *stream_sender != *sender) {
    return absl::StrCat("a message from node ", *sender, " on the stream of node ", *stream_sender);
  }
  if (!stream_sender.has_value()) {
    // The first message names the stream's sender; a second live stream from it is refused, not mixed in.
    if (in->second.open) {
      refused_stream = true;
      return absl::StrCat("a second stream from node ", *sender, " while one is open");
    }
    stream_sender = sender;
    in->second.open = true;
    in->second.changed = Clock::now();
  }
  const std::uint64_t sequence = message.sequence();
  if (sequence == 0) return absl::StrCat("a message from node ", *sender, " without a sequence number");
  if (sequence <= in->second.delivered) return kDuplicate;
  if (sequence != in->second.delivered + 1) {
    return absl::StrCat("message ", sequence, " from node ", *sender, " after ", in->second.delivered,
                        " (a gap: messages in between were never sent)");
  }
  in->second.delivered = sequence;
  return "";
}

grpc::Status PeerService::Exchange(grpc::ServerContext* context, grpc::ServerReader<pb::PeerMessage>* reader,
                                   pb::ExchangeSummary* summary) {
  {
    std::lock_guard lock(mu_);
    ++active_;
  }
  std::optional<NodeId> stream_sender;
  std::uint64_t accepted = 0;
  bool refused_stream = false;
  pb::PeerMessage message;
  while (reader->Read(&message)) {
    const std::string problem = Admit(message, stream_sender, refused_stream);
    if (refused_stream) {
      counters_->RecordRejected();
      log_->Info(absl::StrCat("refused ", problem, " (peer ", context->peer(), ")"));
      break;
    }
    if (problem == kDuplicate) {
      counters_->RecordDuplicate(*stream_sender);
    } else if (!problem.empty()) {
      counters_->RecordRejected();
      log_->Info(absl::StrCat("rejected ", problem, " (peer ", context->peer(), ")"));
      continue;
    } else {
      const std::uint64_t bytes = message.ByteSizeLong();
      const std::uint64_t ack = message.ack();
      inbox_->Push(Incoming{
          .sender = *stream_sender, .message = std::move(message), .message_bytes = bytes, .peer = context->peer()});
      ++accepted;
      if (ack > 0) acknowledged_(*stream_sender, ack);
      message = pb::PeerMessage();
      continue;
    }
    if (message.ack() > 0) acknowledged_(*stream_sender, message.ack());
  }
  summary->set_messages_received(accepted);
  {
    std::lock_guard lock(mu_);
    if (stream_sender.has_value()) {
      Inbound& in = inbound_.at(*stream_sender);
      summary->set_last_sequence(in.delivered);
      in.open = false;
      in.changed = Clock::now();
    }
    --active_;
  }
  cv_.notify_all();
  if (refused_stream) {
    return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "a stream from this node is already open");
  }
  return grpc::Status::OK;
}

std::uint64_t PeerService::Delivered(NodeId j) const {
  std::lock_guard lock(mu_);
  auto in = inbound_.find(j);
  return in == inbound_.end() ? 0 : in->second.delivered;
}

PeerService::Liveness PeerService::InboundLiveness(NodeId j) const {
  std::lock_guard lock(mu_);
  auto in = inbound_.find(j);
  if (in == inbound_.end()) return {};
  return {.open = in->second.open, .changed = in->second.changed};
}

bool PeerService::WaitAllClosed(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return active_ == 0; });
}

}  // namespace dadmm::agent
