// Reading and writing numeric data files: the format a user produces with numpy.savetxt,
// pandas.to_csv(header=False, index=False) or MATLAB's writematrix. Values are separated by commas
// or whitespace (an empty value between commas is an error); blank lines and lines starting with '#'
// are ignored. A file may start with a header row (column names: no value in it is a number), which
// is skipped; a string given on the command line (--theta) may not.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/base/types.h"

namespace dadmm {

enum class CsvHeader { kNone, kDetect };

// All numbers of the file, row by row, as one vector. Errors name the file, line and value.
absl::StatusOr<Vector> ReadVectorCsv(const std::string& path);
absl::StatusOr<Vector> ParseVectorCsv(absl::string_view text, absl::string_view source,
                                      CsvHeader header = CsvHeader::kNone);

// A matrix: one row per line, every row with the same number of values. Errors name the file and line.
absl::StatusOr<Eigen::MatrixXd> ReadMatrixCsv(const std::string& path);
absl::StatusOr<Eigen::MatrixXd> ParseMatrixCsv(absl::string_view text, absl::string_view source,
                                               CsvHeader header = CsvHeader::kNone);
// A dataset in scikit-learn's CSV format (sklearn/datasets/data/*.csv, deploy/data): a header line
// "samples,features,class names...", then one sample per line, its features then its class index.
// The samples as rows, the class last; the header's counts are checked.
absl::StatusOr<Eigen::MatrixXd> ReadSklearnCsv(const std::string& path);
// Rows comma-separated, 17 significant digits (reads back bit for bit).
absl::Status WriteMatrixCsv(const std::string& path, const Eigen::Ref<const Eigen::MatrixXd>& m);

// One value per line, written with 17 significant digits (reads back bit for bit).
absl::Status WriteVectorCsv(const std::string& path, const Eigen::Ref<const Vector>& values);

}  // namespace dadmm
