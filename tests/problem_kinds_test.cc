// The problem kinds, described once (common/problems/problem_kinds.h): every kind's datasets are
// instances of that kind, its parameters go through the handshake's and the result record's typed
// form and back unchanged, and its local problem is made from data with its checks.
#include "common/problems/problem_kinds.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "common/network/generators.h"
#include "common/problems/instances.h"
#include "common/problems/node_data.h"

namespace dadmm {
namespace {

using ::testing::HasSubstr;

TEST(ProblemKinds, EveryDatasetIsAnInstanceOfItsKindAndEveryInstanceHasAKind) {
  absl::StatusOr<GeneratedNetwork> net = GenerateNetwork(*TableIISpec(3, 5, 1));
  ASSERT_TRUE(net.ok()) << net.status();
  std::size_t datasets = 0;
  for (const ProblemKind& kind : ProblemKinds()) {
    // An external kind's data are with its local solver: no built-in datasets.
    EXPECT_EQ(kind.datasets.empty(), kind.external) << kind.name;
    for (absl::string_view dataset : kind.datasets) {
      ++datasets;
      // Small where the size is a choice (logreg-sparse's features, the texture patches' pixels).
      absl::StatusOr<std::unique_ptr<ProblemInstance>> instance =
          MakeInstance(std::string(dataset), net->topology, 1, DADMM_SOURCE_DIR "/deploy/data", 16);
      ASSERT_TRUE(instance.ok()) << dataset << ": " << instance.status();
      EXPECT_EQ((*instance)->kind(), kind.name) << dataset;
    }
  }
  EXPECT_EQ(InstanceNames().size(), datasets);
}

TEST(ProblemKinds, ParametersGoToTheirTypedFormAndBack) {
  const ProblemSpec specs[] = {
      {.kind = "consensus"},
      {.kind = "bpdn", .beta = 0.3},
      {.kind = "svm", .svm_c = 2.5},
      {.kind = "lasso", .sigma = 0.1, .delta = 1e-4},
      {.kind = "logreg", .lambda = 0.01, .pgr = 1e-9, .logreg_solver = "fista"},
      {.kind = "logreg", .lambda = 0.02},
      {.kind = "sparse-lr", .lambda = 0.1, .box = 2.0, .pgr = 1e-6, .fista_step = 0.1},
      {.kind = "external", .solver_problem = "huber delta=1.35"},
  };
  for (const ProblemSpec& spec : specs) {
    ASSERT_TRUE(spec.Validate().ok()) << spec.Describe();
    const std::vector<NamedValue> typed = spec.Parameters();
    ASSERT_FALSE(typed.empty());
    EXPECT_EQ(typed[0].name, "problem");
    absl::StatusOr<ProblemSpec> back = ProblemSpec::FromParameters(typed);
    ASSERT_TRUE(back.ok()) << back.status();
    const std::vector<NamedValue> again = back->Parameters();
    ASSERT_EQ(again.size(), typed.size()) << spec.Describe();
    for (std::size_t i = 0; i < typed.size(); ++i) {
      EXPECT_EQ(again[i].name, typed[i].name);
      EXPECT_TRUE(SameValue(again[i], typed[i])) << spec.Describe() << ": " << typed[i].name;
    }
  }
  // Only what shapes the local problem: logreg's pgr with FISTA alone; the kind's own parameters.
  const ProblemSpec logreg{.kind = "logreg"}, bpdn{.kind = "bpdn", .beta = 0.3}, lasso{.kind = "lasso"};
  EXPECT_EQ(logreg.Parameters().size(), 3u);  // problem, lambda, logreg_solver
  EXPECT_EQ(bpdn.Describe(), "bpdn beta=0.3");
  EXPECT_EQ(lasso.Describe(), "lasso sigma=0.5 delta=0.001");
}

TEST(ProblemKinds, WhatDoesNotFitIsRefusedNamingIt) {
  EXPECT_THAT(std::string(ProblemSpec::FromParameters({{"problem", std::string("bpdn")}, {"beta", std::string("x")}})
                              .status()
                              .message()),
              HasSubstr("beta must be a number"));
  EXPECT_THAT(
      std::string(ProblemSpec::FromParameters({{"problem", std::string("bpdn")}, {"gamma", 1.0}}).status().message()),
      HasSubstr("'gamma' is not a problem parameter"));
  EXPECT_THAT(std::string(ProblemSpec::FromParameters({{"beta", 1.0}}).status().message()),
              HasSubstr("no problem kind"));
  EXPECT_THAT(
      std::string(ProblemSpec::FromParameters({{"problem", std::string("bpdn")}, {"beta", -1.0}}).status().message()),
      HasSubstr("beta must be a finite number > 0, got -1"));
  EXPECT_THAT(
      std::string(ProblemSpec{.kind = "svm", .svm_c = std::numeric_limits<double>::quiet_NaN()}.Validate().message()),
      HasSubstr("svm_c must be a finite number >= 0 (0: the hard margin)"));
  EXPECT_THAT(
      std::string(ProblemSpec{.kind = "quadratic"}.Validate().message()),
      HasSubstr(
          "problem 'quadratic' is not one agents run (consensus, bpdn, svm, lasso, logreg, sparse-lr, external)"));
  // A labelled kind checks the labels; the others need a row of A and b.
  Eigen::MatrixXd points(2, 3);
  points << 1, 2, 1, 3, 4, 0.5;
  EXPECT_THAT(std::string(MakeLocalProblem({.kind = "svm"}, points, "p.csv", 2).status().message()),
              HasSubstr("p.csv: point 2 has label 0.5 (the last column must be +1 or -1)"));
  EXPECT_TRUE(MakeLocalProblem({.kind = "bpdn"}, points, "p.csv", 2).ok());
  EXPECT_THAT(
      std::string(MakeLocalProblem({.kind = "lasso"}, Eigen::MatrixXd::Ones(3, 1), "q.csv", 2).status().message()),
      HasSubstr("q.csv: lasso data need at least 2 columns (a row of A, then b), found 1"));
}

}  // namespace
}  // namespace dadmm
