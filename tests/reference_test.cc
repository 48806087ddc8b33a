// The centralized references of dadmm-ctl report (common/reference/report.h), on small inputs with
// known answers.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/problems/node_data.h"
#include "common/reference/report.h"

namespace dadmm {
namespace {

using ::testing::HasSubstr;

std::string WriteFile(const std::string& name, const std::string& text) {
  std::string path = absl::StrCat(::testing::TempDir(), "/", name);
  std::ofstream(path) << text;
  return path;
}

TEST(Reference, EveryProblemKindAgentsRunHasOne) {
  for (const std::string& kind : AgentProblemKinds()) EXPECT_TRUE(HasReference(kind)) << kind;
  EXPECT_FALSE(HasReference("quadratic"));
}

TEST(Reference, ConsensusIsTheTrueAverageOfTheNodesThetas) {
  // thetas 1, 2, 3, 6 (ragged files: one number each): x* = 3. Estimates 3, 3, 3, 3.3: the paper's
  // relative error sqrt(0.3^2) / (sqrt(4) * 3) = 0.05.
  NetworkOutcome o{.spec = {.kind = "consensus"}, .nodes = {1, 2, 3, 4}};
  const double thetas[] = {1, 2, 3, 6};
  for (int i = 0; i < 4; ++i)
    o.data_paths.push_back(WriteFile(absl::StrCat("ref-theta-", i, ".csv"), absl::StrCat(thetas[i], "\n")));
  for (double x : {3.0, 3.0, 3.0, 3.3}) o.estimates.push_back(Vector::Constant(1, x));
  absl::StatusOr<std::string> text = CompareWithReference(o);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_THAT(*text, HasSubstr("true average            3\n"));
  EXPECT_THAT(*text, HasSubstr("relative error          5.000e-02"));
}

TEST(Reference, BpdnWithOrthonormalRowsIsTheSoftThresholdOfB) {
  // A = I (2 nodes, one row each): argmin (1/2)||x - b||^2 + (beta/2)||x||_1 is the soft threshold of b
  // at beta/2: b = (3, -0.2), beta = 1 -> x* = (2.5, 0). Estimates at x*: relative error ~0.
  NetworkOutcome o{.spec = {.kind = "bpdn", .beta = 1.0}, .nodes = {1, 2}};
  o.data_paths = {WriteFile("ref-bpdn-1.csv", "1,0,3\n"), WriteFile("ref-bpdn-2.csv", "0,1,-0.2\n")};
  o.estimates = {Vector{{2.5, 0.0}}, Vector{{2.5, 0.0}}};
  absl::StatusOr<std::string> text = CompareWithReference(o);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_THAT(*text, HasSubstr("relative error of the estimates"));
  // The objective at x*: (1/2)(0.5^2 + 0.2^2) + (1/2)(2.5) = 0.145 + 1.25.
  EXPECT_THAT(*text, HasSubstr("1.395000 at the centralized x*"));
  EXPECT_THAT(*text, HasSubstr("1.395000 at node 1's"));
}

TEST(Reference, TheAssembledSolutionIsTheBlocksInNodeOrderElseTheMeanEstimate) {
  NetworkOutcome split{.spec = {.kind = "lasso"}, .nodes = {1, 2}};
  split.estimates = {Vector::Zero(3), Vector::Zero(3)};
  split.primal_blocks = {{1.0, 2.0}, {3.0}};
  const Vector x = AssembledSolution(split);
  ASSERT_EQ(x.size(), 3);
  EXPECT_EQ(x[0], 1.0);
  EXPECT_EQ(x[1], 2.0);
  EXPECT_EQ(x[2], 3.0);
  NetworkOutcome rows{.spec = {.kind = "bpdn"}, .nodes = {1, 2}};
  rows.estimates = {Vector{{1.0, 4.0}}, Vector{{3.0, 0.0}}};
  const Vector mean = AssembledSolution(rows);
  ASSERT_EQ(mean.size(), 2);
  EXPECT_EQ(mean[0], 2.0);
  EXPECT_EQ(mean[1], 2.0);
}

TEST(Reference, FilesThatDoNotFitAreNamed) {
  NetworkOutcome o{.spec = {.kind = "bpdn"}, .nodes = {1, 2}};
  o.data_paths = {WriteFile("ref-fit-1.csv", "1,0,3\n"), WriteFile("ref-fit-2.csv", "0,1,2,-0.2\n")};
  o.estimates = {Vector::Zero(2), Vector::Zero(2)};
  EXPECT_THAT(CompareWithReference(o).status().message(), HasSubstr("ref-fit-2.csv: 4 columns, node 1's have 3"));
  o.data_paths.pop_back();
  EXPECT_THAT(CompareWithReference(o).status().message(), HasSubstr("one data file and one estimate per node"));
}

}  // namespace
}  // namespace dadmm
