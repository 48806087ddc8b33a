// Labelled examples with sparse features in the SVMlight / LIBSVM text format, the usual format of
// sparse classification data (LIBSVM's datasets, scikit-learn's dump_svmlight_file):
//   <label> <index>:<value> <index>:<value> ...   # optional comment
// one example per line, labels +1 / -1 (also written 1), feature indices 1-based and increasing;
// blank lines and lines starting with '#' are ignored. Features not listed are 0.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/base/sparse.h"
#include "common/base/types.h"

namespace dadmm {

// `features` n > 0: the number of features (an index above it is an error, so that every node of a
// network reads the same n). Errors are one line naming the file, the line and what is wrong.
absl::StatusOr<SparseExamples> ParseSvmLight(absl::string_view text, absl::string_view source, Eigen::Index features);
absl::StatusOr<SparseExamples> ReadSvmLight(const std::string& path, Eigen::Index features);

// Values with 17 significant digits (read back bit for bit); zeros are not written.
absl::Status WriteSvmLight(const std::string& path, const SparseFeatures& features, const Vector& labels);

// Whether `path` names an SVMlight file (ends with ".svm").
bool IsSvmLightPath(absl::string_view path);

}  // namespace dadmm
