// A typed setting with a name, as neighbours compare them in the handshake: "rho" = 1.0,
// "problem" = "bpdn". Doubles compare bit for bit, so two values that print alike still differ.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace dadmm {

struct NamedValue {
  std::string name;
  std::variant<double, std::int64_t, std::string> value;
};

// Same type and same value; doubles by their bits (0.0 and -0.0 differ, a NaN equals the same NaN).
bool SameValue(const NamedValue& a, const NamedValue& b);

// The value as text that reads back to the same value: the shortest of %.15g, %.16g, %.17g that
// round-trips for a double; a string in quotes.
std::string FormatValue(const NamedValue& v);

// The shortest of %.15g, %.16g, %.17g that reads back to `x`.
std::string ShortestRoundTrip(double x);

}  // namespace dadmm
