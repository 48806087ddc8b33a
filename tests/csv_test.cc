#include "common/io/csv.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>

#include "absl/base/casts.h"

namespace dadmm {
namespace {

using ::testing::HasSubstr;

TEST(Csv, ReadsCommasSpacesNewlinesAndComments) {
  absl::StatusOr<Vector> v = ParseVectorCsv("# theta\n1.5, -2\n\n3e2\t4\r\n", "d.csv");
  ASSERT_TRUE(v.ok()) << v.status();
  ASSERT_EQ(v->size(), 4);
  EXPECT_EQ((*v)[0], 1.5);
  EXPECT_EQ((*v)[1], -2.0);
  EXPECT_EQ((*v)[2], 300.0);
  EXPECT_EQ((*v)[3], 4.0);
}

TEST(Csv, NamesFileLineAndValueOnError) {
  EXPECT_EQ(ParseVectorCsv("1\n2, x3\n", "d.csv").status().message(),
            "d.csv:2: 'x3' is not a finite number"
            " (a line that starts with # is a comment)");
  EXPECT_EQ(ParseVectorCsv("1, nan\n", "d.csv").status().message(),
            "d.csv:1: 'nan' is not a finite number"
            " (a line that starts with # is a comment)");
  EXPECT_EQ(ParseVectorCsv("# nothing\n", "d.csv").status().message(), "d.csv: no numbers found");
  EXPECT_EQ(ReadVectorCsv("/nonexistent.csv").status().code(), absl::StatusCode::kNotFound);
}

TEST(Csv, AnEmptyValueBetweenCommasIsAnErrorNotSkipped) {
  EXPECT_EQ(ParseVectorCsv("1,,2\n", "--theta").status().message(),
            "--theta:1: value 2 is empty (two commas in a row, or a comma at an end)");
  EXPECT_EQ(ParseMatrixCsv("1,2\n3,4,\n", "f.csv").status().message(),
            "f.csv:2: value 3 is empty (two commas in a row, or a comma at an end)");
  absl::StatusOr<Vector> spaced = ParseVectorCsv(" 1 , 2 \n3\t4\n", "d.csv");  // spaces around commas are fine
  ASSERT_TRUE(spaced.ok()) << spaced.status();
  EXPECT_EQ(spaced->size(), 4);
}

TEST(Csv, AFileMayStartWithAHeaderRowAStringMayNot) {
  const std::string path = ::testing::TempDir() + "/header_test.csv";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("# made by pandas\nf1,f2,y\n1,2,3\n4,5,6\n", f);
  std::fclose(f);
  absl::StatusOr<Eigen::MatrixXd> m = ReadMatrixCsv(path);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->rows(), 2);
  EXPECT_EQ(m->cols(), 3);
  EXPECT_EQ((*m)(1, 2), 6.0);
  // Only the first row, and only when none of its values is a number.
  EXPECT_THAT(ParseMatrixCsv("f1,2\n1,2\n", "f.csv", CsvHeader::kDetect).status().message(),
              HasSubstr("f.csv:1: 'f1' is not a finite number"));
  EXPECT_THAT(ParseMatrixCsv("1,2\nf1,f2\n", "f.csv", CsvHeader::kDetect).status().message(),
              HasSubstr("f.csv:2: 'f1' is not a finite number"));
  EXPECT_THAT(ParseVectorCsv("theta", "--theta").status().message(),
              HasSubstr("--theta:1: 'theta' is not a finite number"));
  EXPECT_EQ(ParseVectorCsv("theta\n", "d.csv", CsvHeader::kDetect).status().message(), "d.csv: no numbers found");
  std::remove(path.c_str());
}

TEST(Csv, WritesValuesThatReadBackBitForBit) {
  Vector v(3);
  v << 0.1, -1.0 / 3.0, 92.926100263564066;
  const std::string path = ::testing::TempDir() + "/csv_test.csv";
  ASSERT_TRUE(WriteVectorCsv(path, v).ok());
  absl::StatusOr<Vector> back = ReadVectorCsv(path);
  ASSERT_TRUE(back.ok());
  for (int i = 0; i < 3; ++i) EXPECT_EQ((*back)[i], v[i]);
  std::remove(path.c_str());
}

TEST(Csv, MatricesReadBackBitForBitAndRaggedRowsAreRefused) {
  Eigen::MatrixXd m(2, 3);
  m << 0.1, -1.0 / 3.0, 1e-300, 7.0, -0.0, 2.5e10;
  const std::string path = ::testing::TempDir() + "/csv_matrix_test.csv";
  ASSERT_TRUE(WriteMatrixCsv(path, m).ok());
  absl::StatusOr<Eigen::MatrixXd> back = ReadMatrixCsv(path);
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->rows(), 2);
  ASSERT_EQ(back->cols(), 3);
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j)
      EXPECT_EQ(absl::bit_cast<std::uint64_t>((*back)(i, j)), absl::bit_cast<std::uint64_t>(m(i, j))) << i << "," << j;
  }
  std::remove(path.c_str());
  EXPECT_EQ(ParseMatrixCsv("# header\n1 2\n\n3,4\n5\n", "f.csv").status().message(),
            "f.csv:5: 1 values, but the rows before have 2");
  EXPECT_EQ(ParseMatrixCsv("1,x\n", "f.csv").status().message(),
            "f.csv:1: 'x' is not a finite number"
            " (a line that starts with # is a comment)");
  EXPECT_EQ(ParseMatrixCsv("# nothing\n", "f.csv").status().message(), "f.csv: no numbers found");
}

}  // namespace
TEST(Csv, ScikitLearnDatasetsKeepLineNumbersAndCheckTheirHeader) {
  const std::string path = ::testing::TempDir() + "/sklearn_test.csv";
  auto write = [&](const char* text) {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(text, f);
    std::fclose(f);
  };
  write("2,2,a,b\n1.5,2,0\n3,4,1\n");
  absl::StatusOr<Eigen::MatrixXd> data = ReadSklearnCsv(path);
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->rows(), 2);
  EXPECT_EQ((*data)(0, 0), 1.5);
  EXPECT_EQ((*data)(1, 2), 1.0);
  write("2,2,a,b\n1.5,2,0\n3,x,1\n");
  EXPECT_EQ(ReadSklearnCsv(path).status().message(),
            path + ":3: 'x' is not a finite number (a line that starts with # is a comment)");
  write("3,2,a,b\n1.5,2,0\n3,4,1\n");
  EXPECT_EQ(ReadSklearnCsv(path).status().message(),
            path + ": the header announces 3 samples of 2 features, the file has 2 rows of 3 values");
  write("iris\n1,2,0\n");
  EXPECT_EQ(ReadSklearnCsv(path).status().message(), path + ":1: expected a header 'samples,features,class names...'");
  std::remove(path.c_str());
}

}  // namespace dadmm
