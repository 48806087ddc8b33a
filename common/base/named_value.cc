#include "common/base/named_value.h"

#include <bit>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace dadmm {

bool SameValue(const NamedValue& a, const NamedValue& b) {
  if (a.name != b.name || a.value.index() != b.value.index()) return false;
  if (const double* x = std::get_if<double>(&a.value)) {
    return std::bit_cast<std::uint64_t>(*x) == std::bit_cast<std::uint64_t>(std::get<double>(b.value));
  }
  return a.value == b.value;
}

std::string ShortestRoundTrip(double x) {
  for (int digits : {15, 16}) {
    std::string s = absl::StrFormat("%.*g", digits, x);
    if (std::strtod(s.c_str(), nullptr) == x) return s;
  }
  return absl::StrFormat("%.17g", x);
}

std::string FormatValue(const NamedValue& v) {
  if (const double* x = std::get_if<double>(&v.value)) return ShortestRoundTrip(*x);
  if (const std::int64_t* i = std::get_if<std::int64_t>(&v.value)) return absl::StrCat(*i);
  return absl::StrCat("'", std::get<std::string>(v.value), "'");
}

}  // namespace dadmm
