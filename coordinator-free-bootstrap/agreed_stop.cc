#include "coordinator-free-bootstrap/agreed_stop.h"

namespace dadmm {

AgreedStop::AgreedStop(std::uint32_t diameter_bound) : bound_(diameter_bound), bits_(diameter_bound / 8 + 1, 0) {}

const StopBits& AgreedStop::Step(bool local_test, const std::vector<const StopBits*>& neighbours_previous) {
  StopBits all = bits_;  // AND of own and neighbours' bits of the previous iteration
  if (iteration_ == 0) {
    all.assign(all.size(), 0);
  } else {
    for (const StopBits* b : neighbours_previous) {
      if (b == nullptr || b->size() != all.size()) {
        all.assign(all.size(), 0);
        break;
      }
      for (std::size_t i = 0; i < all.size(); ++i) all[i] &= (*b)[i];
    }
  }
  // Shift up by one bit (d - 1 -> d), then bit 0 = the local test; clear bits above D.
  std::uint8_t carry = 0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const std::uint8_t next_carry = static_cast<std::uint8_t>(all[i] >> 7);
    bits_[i] = static_cast<std::uint8_t>((all[i] << 1) | carry);
    carry = next_carry;
  }
  bits_[0] = static_cast<std::uint8_t>((bits_[0] & ~1u) | (local_test ? 1u : 0u));
  const std::uint32_t top = bound_ % 8;
  bits_.back() &= static_cast<std::uint8_t>((1u << (top + 1)) - 1u);
  ++iteration_;
  return bits_;
}

bool AgreedStop::stop() const { return iteration_ > 0 && ((bits_[bound_ / 8] >> (bound_ % 8)) & 1u) != 0; }

}  // namespace dadmm
