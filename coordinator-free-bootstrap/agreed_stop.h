// Agreed termination with no coordinator and no extra messages: what is needed rides on the
// estimates the algorithm sends anyway.
//
// Every node knows a bound D >= the network's diameter (all agents hold the same topology file, which
// the handshake checks by fingerprint). With its estimate of iteration k, node p sends D + 1 bits
//   m_p^k[0] = f_p^k                                             (its local test at iteration k)
//   m_p^k[d] = m_p^{k-1}[d-1] AND m_j^{k-1}[d-1] for every neighbour j,   d = 1 .. D,
// so that m_p^k[d] is the AND of f_q^{k-d} over the nodes q within d hops of p, and m_p^k[D] the AND
// of f_q^{k-D} over all nodes: the same bit at every node. Every node stops at the first iteration k
// where m_p^k[D] is set, so all stop at the same iteration, D iterations after the one at which every
// node's local test held.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/base/state_codec.h"

namespace dadmm {

using StopBits = std::vector<std::uint8_t>;  // bit d in byte d / 8, position d % 8

class AgreedStop {
 public:
  explicit AgreedStop(std::uint32_t diameter_bound);

  // The bits of the next iteration k (1, 2, ... in order) from this node's local test at k and the
  // neighbours' bits of iteration k - 1 (not used at k = 1). A neighbour's bits of the wrong length
  // count as all zero (they can only delay the stop, never cause one).
  const StopBits& Step(bool local_test, const std::vector<const StopBits*>& neighbours_previous);

  // m^k[D] of the last Step: every node's local test held at iteration k - D.
  bool stop() const;
  std::uint64_t iteration() const { return iteration_; }
  const StopBits& bits() const { return bits_; }
  std::uint32_t diameter_bound() const { return bound_; }
  std::size_t bytes() const { return bits_.size(); }
  // Where the flood is (iteration and bits), for checkpoints.
  void SaveState(StateWriter& w) const {
    w.U64(iteration_);
    w.Integers(bits_);
  }
  void LoadState(StateReader& r) {
    iteration_ = r.U64();
    StopBits bits = r.Integers<std::uint8_t>();
    if (r.ok() && bits.size() != bits_.size()) {
      r.Fail(absl::StrCat("stop bits of ", bits.size(), " byte(s), expected ", bits_.size(),
                          " (another diameter bound?)"));
    }
    if (r.ok()) bits_ = std::move(bits);
  }

 private:
  std::uint32_t bound_;
  std::uint64_t iteration_ = 0;
  StopBits bits_;
};

}  // namespace dadmm
