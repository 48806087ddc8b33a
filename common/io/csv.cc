#include "common/io/csv.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace dadmm {

absl::StatusOr<Vector> ParseVectorCsv(absl::string_view text, absl::string_view source) {
  std::vector<double> values;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    for (absl::string_view field : absl::StrSplit(line, absl::ByAnyChar(", \t\r"), absl::SkipEmpty())) {
      double value = 0.0;
      if (!absl::SimpleAtod(field, &value) || !std::isfinite(value)) {
        return absl::InvalidArgumentError(absl::StrCat(source, ":", line_no, ": '", field, "' is not a finite number"));
      }
      values.push_back(value);
    }
  }
  if (values.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": no numbers found"));
  return Eigen::Map<const Vector>(values.data(), static_cast<Eigen::Index>(values.size()));
}

absl::StatusOr<Eigen::MatrixXd> ParseMatrixCsv(absl::string_view text, absl::string_view source) {
  std::vector<double> values;
  Eigen::Index columns = -1, rows = 0;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    Eigen::Index in_row = 0;
    for (absl::string_view field : absl::StrSplit(line, absl::ByAnyChar(", \t\r"), absl::SkipEmpty())) {
      double value = 0.0;
      if (!absl::SimpleAtod(field, &value) || !std::isfinite(value)) {
        return absl::InvalidArgumentError(absl::StrCat(source, ":", line_no, ": '", field, "' is not a finite number"));
      }
      values.push_back(value);
      ++in_row;
    }
    if (columns >= 0 && in_row != columns) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ":", line_no, ": ", in_row, " values, but the rows before have ", columns));
    }
    columns = in_row;
    ++rows;
  }
  if (rows == 0) return absl::InvalidArgumentError(absl::StrCat(source, ": no numbers found"));
  return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(values.data(), rows,
                                                                                                  columns);
}

absl::StatusOr<Eigen::MatrixXd> ReadMatrixCsv(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open data file"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseMatrixCsv(buffer.str(), path);
}

absl::StatusOr<Eigen::MatrixXd> ReadSklearnCsv(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open data file"));
  std::string header;
  std::getline(in, header);
  std::stringstream buffer;
  buffer << "#" << header << "\n" << in.rdbuf();  // the header as a comment keeps the line numbers
  absl::StatusOr<Eigen::MatrixXd> data = ParseMatrixCsv(buffer.str(), path);
  if (!data.ok()) return data.status();
  const std::vector<std::string> counts = absl::StrSplit(header, ',');
  Eigen::Index samples = 0, features = 0;
  if (counts.size() < 2 || !absl::SimpleAtoi(counts[0], &samples) || !absl::SimpleAtoi(counts[1], &features)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":1: expected a header 'samples,features,class names...'"));
  }
  if (data->rows() != samples || data->cols() != features + 1) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": the header announces ", samples, " samples of ", features,
                                                   " features, the file has ", data->rows(), " rows of ", data->cols(),
                                                   " values"));
  }
  return data;
}

absl::Status WriteMatrixCsv(const std::string& path, const Eigen::Ref<const Eigen::MatrixXd>& m) {
  std::ofstream out(path);
  if (!out) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot write"));
  out.precision(17);
  for (Eigen::Index i = 0; i < m.rows(); ++i) {
    for (Eigen::Index j = 0; j < m.cols(); ++j) out << (j == 0 ? "" : ",") << m(i, j);
    out << "\n";
  }
  out.close();
  if (!out) return absl::DataLossError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

absl::StatusOr<Vector> ReadVectorCsv(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open data file"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseVectorCsv(buffer.str(), path);
}

absl::Status WriteVectorCsv(const std::string& path, const Eigen::Ref<const Vector>& values) {
  std::ofstream out(path);
  if (!out) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot write"));
  out.precision(17);
  for (Eigen::Index i = 0; i < values.size(); ++i) out << values[i] << "\n";
  out.close();
  if (!out) return absl::DataLossError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

}  // namespace dadmm
