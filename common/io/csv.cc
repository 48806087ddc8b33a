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

namespace {

constexpr absl::string_view kCommentHint = " (a line that starts with # is a comment)";

// The values of one line: separated by commas (whitespace around them ignored), or by whitespace
// alone. An empty value between commas is an error, not skipped: "1,,2" is not two values.
absl::Status SplitLine(absl::string_view line, absl::string_view where, std::vector<absl::string_view>& fields) {
  fields.clear();
  if (line.find(',') == absl::string_view::npos) {
    for (absl::string_view f : absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty())) fields.push_back(f);
    return absl::OkStatus();
  }
  int column = 0;
  for (absl::string_view f : absl::StrSplit(line, ',')) {
    ++column;
    f = absl::StripAsciiWhitespace(f);
    if (f.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": value ", column, " is empty (two commas in a row, or a comma at an end)"));
    }
    fields.push_back(f);
  }
  return absl::OkStatus();
}

// A header row: the first row, where no value is a number (column names).
bool IsHeader(const std::vector<absl::string_view>& fields) {
  for (absl::string_view f : fields) {
    double value = 0.0;
    if (absl::SimpleAtod(f, &value)) return false;
  }
  return !fields.empty();
}

// Every row's values through `row` (its values and line number); the first row is skipped when it
// is a header and `header` allows one.
template <typename Row>
absl::Status ForEachRow(absl::string_view text, absl::string_view source, CsvHeader header, Row row) {
  std::vector<absl::string_view> fields;
  std::vector<double> values;
  int line_no = 0;
  bool first = true;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    const std::string where = absl::StrCat(source, ":", line_no);
    if (absl::Status s = SplitLine(line, where, fields); !s.ok()) return s;
    if (first && header == CsvHeader::kDetect && IsHeader(fields)) {
      first = false;
      continue;
    }
    first = false;
    values.clear();
    for (absl::string_view field : fields) {
      double value = 0.0;
      if (!absl::SimpleAtod(field, &value) || !std::isfinite(value)) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": '", field, "' is not a finite number", kCommentHint));
      }
      values.push_back(value);
    }
    if (absl::Status s = row(values, where); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Vector> ParseVectorCsv(absl::string_view text, absl::string_view source, CsvHeader header) {
  std::vector<double> all;
  absl::Status s = ForEachRow(text, source, header, [&](const std::vector<double>& values, const std::string&) {
    all.insert(all.end(), values.begin(), values.end());
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (all.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": no numbers found"));
  return Eigen::Map<const Vector>(all.data(), static_cast<Eigen::Index>(all.size()));
}

absl::StatusOr<Eigen::MatrixXd> ParseMatrixCsv(absl::string_view text, absl::string_view source, CsvHeader header) {
  std::vector<double> all;
  Eigen::Index columns = -1, rows = 0;
  absl::Status s = ForEachRow(text, source, header, [&](const std::vector<double>& values, const std::string& where) {
    const Eigen::Index in_row = static_cast<Eigen::Index>(values.size());
    if (columns >= 0 && in_row != columns) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": ", in_row, " values, but the rows before have ", columns));
    }
    columns = in_row;
    ++rows;
    all.insert(all.end(), values.begin(), values.end());
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (rows == 0) return absl::InvalidArgumentError(absl::StrCat(source, ": no numbers found"));
  return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(all.data(), rows,
                                                                                                  columns);
}

absl::StatusOr<Eigen::MatrixXd> ReadMatrixCsv(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open data file"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseMatrixCsv(buffer.str(), path, CsvHeader::kDetect);
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
  return ParseVectorCsv(buffer.str(), path, CsvHeader::kDetect);
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
