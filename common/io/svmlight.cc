#include "common/io/svmlight.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace dadmm {

absl::StatusOr<SparseExamples> ParseSvmLight(absl::string_view text, absl::string_view source, Eigen::Index features) {
  if (features < 1) return absl::InvalidArgumentError(absl::StrCat(source, ": the number of features must be >= 1"));
  std::vector<Eigen::Triplet<double>> entries;
  std::vector<double> labels;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    if (const std::size_t hash = line.find('#'); hash != absl::string_view::npos) line = line.substr(0, hash);
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    const auto where = [&](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat(source, ":", line_no, ": ", what));
    };
    bool first = true;
    Eigen::Index previous = 0;
    const auto row = static_cast<Eigen::Index>(labels.size());
    for (absl::string_view field : absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty())) {
      if (first) {
        double label = 0.0;
        if (!absl::SimpleAtod(field, &label) || (label != 1.0 && label != -1.0)) {
          return where(absl::StrCat("label '", field, "' (expected +1 or -1 first on the line)"));
        }
        labels.push_back(label);
        first = false;
        continue;
      }
      const std::size_t colon = field.find(':');
      std::int64_t index = 0;
      double value = 0.0;
      if (colon == absl::string_view::npos || !absl::SimpleAtoi(field.substr(0, colon), &index) ||
          !absl::SimpleAtod(field.substr(colon + 1), &value)) {
        return where(absl::StrCat("'", field, "' is not index:value"));
      }
      if (index < 1 || index > features) {
        return where(absl::StrCat("feature index ", index, " outside 1..", features));
      }
      if (index <= previous)
        return where(absl::StrCat("feature index ", index, " after ", previous, " (must increase)"));
      if (!std::isfinite(value)) return where(absl::StrCat("feature ", index, " is not a finite number"));
      previous = index;
      if (value != 0.0) entries.emplace_back(row, index - 1, value);
    }
  }
  if (labels.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": no examples found"));
  SparseExamples out;
  out.features.resize(static_cast<Eigen::Index>(labels.size()), features);
  out.features.setFromTriplets(entries.begin(), entries.end());
  out.labels = Eigen::Map<const Vector>(labels.data(), static_cast<Eigen::Index>(labels.size()));
  return out;
}

absl::StatusOr<SparseExamples> ReadSvmLight(const std::string& path, Eigen::Index features) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open data file"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseSvmLight(buffer.str(), path, features);
}

absl::Status WriteSvmLight(const std::string& path, const SparseFeatures& features, const Vector& labels) {
  std::ofstream out(path);
  if (!out) return absl::InternalError(absl::StrCat(path, ": cannot write"));
  std::string line;
  for (Eigen::Index r = 0; r < features.outerSize(); ++r) {
    line = labels[r] > 0.0 ? "+1" : "-1";
    for (SparseFeatures::InnerIterator it(features, r); it; ++it) {
      if (it.value() != 0.0) absl::StrAppendFormat(&line, " %d:%.17g", it.col() + 1, it.value());
    }
    out << line << "\n";
  }
  out.close();
  if (!out) return absl::InternalError(absl::StrCat(path, ": cannot write"));
  return absl::OkStatus();
}

bool IsSvmLightPath(absl::string_view path) { return absl::EndsWith(path, ".svm"); }

}  // namespace dadmm
