// The SVMlight / LIBSVM reader and writer (common/svmlight.h): what it accepts, one-line errors for
// what it does not, and a bit-exact round trip.
#include "common/io/svmlight.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/base/random.h"
#include "common/problems/sparse_lr.h"

namespace dadmm {
namespace {

using ::testing::HasSubstr;

TEST(SvmLight, ReadsLabelsAndSparseFeatures) {
  absl::StatusOr<SparseExamples> e =
      ParseSvmLight("# two examples\n+1 1:0.5 3:-2\n\n-1 2:4e-3   # a comment\n1\n", "t.svm", 4);
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->features.rows(), 3);
  ASSERT_EQ(e->features.cols(), 4);
  EXPECT_EQ(e->labels, (Vector(3) << 1, -1, 1).finished());
  const Eigen::MatrixXd dense(e->features);
  Eigen::MatrixXd expected = Eigen::MatrixXd::Zero(3, 4);
  expected(0, 0) = 0.5;
  expected(0, 2) = -2;
  expected(1, 1) = 4e-3;
  EXPECT_EQ(dense, expected);
  EXPECT_EQ(e->features.nonZeros(), 3);
}

TEST(SvmLight, RefusesMalformedLinesWithTheirNumber) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"+1 1:1\n2 1:1\n", "t.svm:2: label '2' (expected +1 or -1 first on the line)"},
      {"+1 5:1\n", "t.svm:1: feature index 5 outside 1..4"},
      {"+1 0:1\n", "t.svm:1: feature index 0 outside 1..4"},
      {"+1 3:1 2:1\n", "t.svm:1: feature index 2 after 3 (must increase)"},
      {"+1 3:1 3:2\n", "t.svm:1: feature index 3 after 3 (must increase)"},
      {"+1 x:1\n", "t.svm:1: 'x:1' is not index:value"},
      {"+1 2\n", "t.svm:1: '2' is not index:value"},
      {"+1 2:nan\n", "t.svm:1: feature 2 is not a finite number"},
      {"# nothing\n", "t.svm: no examples found"},
  };
  for (const auto& [text, expected] : cases) {
    absl::StatusOr<SparseExamples> e = ParseSvmLight(text, "t.svm", 4);
    ASSERT_FALSE(e.ok()) << text;
    EXPECT_THAT(std::string(e.status().message()), HasSubstr(expected)) << text;
    EXPECT_EQ(std::string(e.status().message()).find('\n'), std::string::npos);
  }
  EXPECT_FALSE(ReadSvmLight("/nonexistent/x.svm", 4).ok());
  EXPECT_TRUE(IsSvmLightPath("a/node-1.svm"));
  EXPECT_FALSE(IsSvmLightPath("a/node-1.csv"));
}

TEST(SvmLight, RoundTripIsBitExact) {
  const SparseLogRegData data = MakeSparseLogReg(200, 50, 10, 3);
  const std::string path = ::testing::TempDir() + "/round.svm";
  ASSERT_TRUE(WriteSvmLight(path, data.features, data.labels).ok());
  absl::StatusOr<SparseExamples> back = ReadSvmLight(path, 50);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(Eigen::MatrixXd(back->features), Eigen::MatrixXd(data.features));
  EXPECT_EQ(back->labels, data.labels);
}

}  // namespace
}  // namespace dadmm
