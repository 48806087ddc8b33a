// SVM, row partition (seed 000, (27)-(28)) on the two separable Iris classes.
#include "common/problems/svm.h"

#include <gtest/gtest.h>

#include "common/base/random.h"
#include "common/network/colouring.h"
#include "common/network/generators.h"
#include "common/sim/experiment.h"

namespace dadmm {
namespace {

SvmData Iris() {
  absl::StatusOr<SvmData> d = LoadIrisSetosaVersicolor(DADMM_SOURCE_DIR "/deploy/data/iris.csv");
  EXPECT_TRUE(d.ok()) << d.status();
  return *std::move(d);
}

TEST(SvmProblem, LocalSolutionSatisfiesKkt) {
  const SvmData iris = Iris();
  Rng rng(9);
  for (int m : {2, 5, 10}) {
    // Mix classes: take points from both ends.
    Eigen::MatrixXd pts(m, 4);
    Vector labels(m);
    for (int i = 0; i < m; ++i) {
      const int row = i % 2 == 0 ? i : 99 - i;
      pts.row(i) = iris.points.row(row);
      labels[i] = iris.labels[row];
    }
    SvmProblem local(pts, labels);
    for (double c : {1e-3, 0.5, 20.0}) {
      Vector v(5), y = Vector::Zero(5);
      for (int i = 0; i < 5; ++i) v[i] = rng.Normal(0, 1);
      EXPECT_TRUE(local.Solve(v, c, y).converged);
      const Vector& alpha = local.alpha();
      // Stationarity of ||s||^2 + v'y + (c/2)||y||^2 - alpha'(Gy - 1): (2s, 0) + v + c y = G'alpha.
      Vector grad = v + c * y;
      grad.head(4) += 2.0 * y.head(4);
      EXPECT_LT((grad - local.G().transpose() * alpha).norm(), 1e-9 * (1.0 + v.norm())) << "m " << m << " c " << c;
      const Vector slack = local.G() * y - Vector::Ones(m);
      EXPECT_GT(slack.minCoeff(), -1e-9) << "feasibility";
      EXPECT_GE(alpha.minCoeff(), 0.0);
      EXPECT_LT((alpha.array() * slack.array()).abs().maxCoeff(), 1e-9) << "complementarity";
    }
  }
}

TEST(Svm, CentralizedSolutionSeparatesAndSatisfiesKkt) {
  const SvmData iris = Iris();
  absl::StatusOr<Vector> y = SolveSvmCentralized(iris);
  ASSERT_TRUE(y.ok()) << y.status();
  const Vector margins = iris.labels.asDiagonal() * ((iris.points * y->head(4)).array() - (*y)[4]).matrix();
  EXPECT_GT(margins.minCoeff(), 1.0 - 1e-9);
  EXPECT_LT(margins.minCoeff(), 1.0 + 1e-9) << "the widest margin touches some point";
}

TEST(Svm, DadmmAndAlgorithm3ReachTheCentralizedSolution) {
  absl::StatusOr<GeneratedNetwork> net = GenerateNetwork(*TableIISpec(5, 10, 1));
  ASSERT_TRUE(net.ok());
  absl::StatusOr<std::unique_ptr<SvmInstance>> inst = SvmInstance::Create(Iris(), net->topology, 1);
  ASSERT_TRUE(inst.ok()) << inst.status();
  const Colouring colouring = GreedyLargestFirstColouring(net->topology);
  // rho = 10 is the best value of the paper's grid for both algorithms on this network (measured with
  // `dadmm-sim --table2=5 --nodes=10 --problem=svm-iris --rho_grid`); at rho = 1 neither reaches 1e-4 within
  // the paper's 1e4 steps.
  for (Algorithm a : {Algorithm::kDadmm, Algorithm::kAlgorithm3}) {
    RunSpec run{.settings = {.algorithm = a, .rho = 10.0, .max_iterations = 10000}, .tolerance = 1e-4};
    absl::StatusOr<RunOutcome> r = RunExperiment(net->topology, colouring, **inst, run);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->reached) << AlgorithmName(a) << ": error " << r->final_error << " after " << r->steps;
    EXPECT_LE(r->final_error, 1e-4);
  }
}

SvmData CancerSoftMargin() {
  absl::StatusOr<SvmData> d = LoadBreastCancerSvm(DADMM_SOURCE_DIR "/deploy/data/breast_cancer.csv");
  EXPECT_TRUE(d.ok()) << d.status();
  return *std::move(d);
}

TEST(SvmProblem, SoftMarginLocalSolutionSatisfiesKkt) {
  const SvmData cancer = CancerSoftMargin();
  Rng rng(4);
  for (Eigen::Index m : {10, 80}) {
    const double kappa = 1.0 / 7.0, C = cancer.hinge_weight;
    SvmProblem local(cancer.points.topRows(m), cancer.labels.head(m), kappa, C);
    for (double c : {0.1, 1.0, 20.0}) {
      Vector v(31), y = Vector::Zero(31);
      for (Eigen::Index i = 0; i < 31; ++i) v[i] = rng.Normal(0, 1);
      EXPECT_TRUE(local.Solve(v, c, y).converged);
      const Vector& alpha = local.alpha();
      // Stationarity of kappa||s||^2 + C sum (1 - g_i'y)_+ + v'y + (c/2)||y||^2 with alpha in [0, C]:
      // (2 kappa s, 0) + v + c y = G'alpha.
      Vector grad = v + c * y;
      grad.head(30) += 2.0 * kappa * y.head(30);
      EXPECT_LT((grad - local.G().transpose() * alpha).norm(), 1e-9 * (1.0 + v.norm())) << "m " << m << " c " << c;
      EXPECT_GE(alpha.minCoeff(), 0.0);
      EXPECT_LE(alpha.maxCoeff(), C);
      const Vector margin = local.G() * y;
      for (Eigen::Index i = 0; i < m; ++i) {
        if (alpha[i] > 1e-9) {
          EXPECT_LT(margin[i], 1.0 + 1e-8) << "alpha_i > 0 only where the margin is at most 1";
        }
        if (alpha[i] < C - 1e-9) {
          EXPECT_GT(margin[i], 1.0 - 1e-8) << "alpha_i < C only where the margin is at least 1";
        }
      }
      // The objective at y is no larger than at nearby points (a check of the dual's primal).
      const double f = local.Objective(y) + v.dot(y) + 0.5 * c * y.squaredNorm();
      for (int trial = 0; trial < 20; ++trial) {
        Vector z = y;
        for (Eigen::Index i = 0; i < 31; ++i) z[i] += 1e-4 * rng.Normal(0, 1);
        EXPECT_GE(local.Objective(z) + v.dot(z) + 0.5 * c * z.squaredNorm(), f - 1e-12);
      }
    }
  }
}

TEST(Svm, SoftMarginOnTheBreastCancerData) {
  const SvmData cancer = CancerSoftMargin();
  // SolveSvmCentralized checks the KKT conditions of the soft margin at what it returns.
  absl::StatusOr<Vector> y = SolveSvmCentralized(cancer);
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_GT(SvmAccuracy(cancer, *y), 0.95);
  EXPECT_LT(SvmAccuracy(cancer, *y), 1.0) << "not linearly separable: the hard margin (27) does not apply";
  absl::StatusOr<GeneratedNetwork> net = GenerateNetwork(*TableIISpec(3, 10, 1));
  ASSERT_TRUE(net.ok());
  absl::StatusOr<std::unique_ptr<SvmInstance>> inst = SvmInstance::Create(cancer, net->topology, 1);
  ASSERT_TRUE(inst.ok()) << inst.status();
  EXPECT_EQ((*inst)->AgentFlags(), "--svm_c=1");
  RunSpec run{.settings = {.algorithm = Algorithm::kDadmm, .rho = 1.0, .max_iterations = 3000}, .tolerance = 1e-6};
  absl::StatusOr<RunOutcome> r = RunExperiment(net->topology, GreedyLargestFirstColouring(net->topology), **inst, run);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->reached) << "error " << r->final_error << " after " << r->steps;
}

}  // namespace
}  // namespace dadmm
