// Exactly once, in order, across broken streams: the two ends of one direction of one edge, as pure
// state (no I/O, threads or clocks). The agent's peer transport (agent/peer_transport.h) keeps one
// SenderWindow per link and one ReceiverWindow per neighbour; the session simulation
// (session_simulation.h) runs the same classes over a fake network that breaks streams and
// duplicates messages, so that what the agents rely on is tested deterministically, seed by seed.
//
// The sender numbers every message 1, 2, 3, ... and keeps it until the receiver acknowledges it
// (acks are piggybacked on the reverse direction's messages, and a stream's closing summary
// acknowledges too). A new stream starts again from the oldest message not acknowledged. The
// receiver passes each number on once, in order, and drops one it already has.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <utility>

namespace dadmm {

template <typename M>
class SenderWindow {
 public:
  struct Entry {
    std::uint64_t sequence = 0;
    M message;
  };

  // Keeps `message` under the next sequence number, which it returns.
  std::uint64_t Queue(M message) {
    const std::uint64_t sequence = next_sequence_++;
    unacked_.push_back({sequence, std::move(message)});
    return sequence;
  }

  // The receiver has everything up to `sequence`. False (and nothing changes) if that is not news,
  // or impossible: a number never sent (acks are data from a peer, never trusted).
  bool Acknowledge(std::uint64_t sequence) {
    if (sequence <= acknowledged_ || sequence >= next_sequence_) return false;
    acknowledged_ = sequence;
    while (!unacked_.empty() && unacked_.front().sequence <= sequence) unacked_.pop_front();
    return true;
  }

  // A new stream: the next message to write is the oldest one not acknowledged.
  void Restart() { written_up_to_ = acknowledged_; }

  // The receiver restarted from a checkpoint and knows no sequence number: what is not acknowledged
  // is numbered again from 1 and goes again, from the first (each counted as a resend).
  void Rebase() {
    std::uint64_t sequence = 0;
    for (Entry& e : unacked_) e.sequence = ++sequence;
    next_sequence_ = sequence + 1;
    acknowledged_ = written_up_to_ = 0;
    highest_written_ = sequence;
  }

  // The next message to write on the current stream, or nullptr if all are written.
  Entry* NextToWrite() {
    auto it =
        std::find_if(unacked_.begin(), unacked_.end(), [&](const Entry& e) { return e.sequence > written_up_to_; });
    return it == unacked_.end() ? nullptr : &*it;
  }

  // `sequence` (from NextToWrite) went out on the current stream. True if it had gone out before,
  // on an earlier stream: a resend, counted apart from first transmissions.
  bool MarkWritten(std::uint64_t sequence) {
    written_up_to_ = sequence;
    const bool resend = sequence <= highest_written_;
    highest_written_ = std::max(highest_written_, sequence);
    return resend;
  }

  bool empty() const { return unacked_.empty(); }
  std::size_t unacknowledged() const { return unacked_.size(); }
  std::uint64_t acknowledged() const { return acknowledged_; }

 private:
  std::deque<Entry> unacked_;          // in sequence order
  std::uint64_t next_sequence_ = 1;    // of the next message queued
  std::uint64_t acknowledged_ = 0;     // the receiver has every message up to this one
  std::uint64_t written_up_to_ = 0;    // on the current stream
  std::uint64_t highest_written_ = 0;  // on any stream
};

class ReceiverWindow {
 public:
  enum class Verdict {
    kDeliver,     // the next in order: pass it on
    kDuplicate,   // already passed on (a resend): drop it, count it
    kGap,         // numbers in between were never seen: refuse it (a sender that skips is broken)
    kNoSequence,  // 0: not numbered at all
  };

  Verdict Admit(std::uint64_t sequence) {
    if (sequence == 0) return Verdict::kNoSequence;
    if (sequence <= delivered_) return Verdict::kDuplicate;
    if (sequence != delivered_ + 1) return Verdict::kGap;
    delivered_ = sequence;
    return Verdict::kDeliver;
  }

  // Every number up to this one was passed on exactly once: what this end acknowledges.
  std::uint64_t delivered() const { return delivered_; }

 private:
  std::uint64_t delivered_ = 0;
};

}  // namespace dadmm
