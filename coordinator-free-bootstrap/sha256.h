// SHA-256 (FIPS 180-4), for the topology fingerprint of the handshake. Small and self-contained: the
// only other source on Debian 12 would be OpenSSL's development package, a large dependency for one
// hash of a few kilobytes once per run.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace dadmm {

std::array<std::uint8_t, 32> Sha256(absl::string_view data);
// Lower-case hexadecimal, 64 characters.
std::string Sha256Hex(absl::string_view data);

}  // namespace dadmm
