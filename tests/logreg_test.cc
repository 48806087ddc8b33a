// l1-regularized logistic regression split across examples (seed 002, (45), §7.1 and §10.2) on the
// Wisconsin breast-cancer data: the local solver, the centralized fit, and D-ADMM over a network.
#include "common/problems/logreg.h"

#include <gtest/gtest.h>

#include <Eigen/Eigenvalues>

#include "common/base/random.h"
#include "common/network/colouring.h"
#include "common/network/generators.h"
#include "common/sim/experiment.h"

namespace dadmm {
namespace {

LogRegData Cancer() {
  absl::StatusOr<LogRegData> d = LoadBreastCancer(DADMM_SOURCE_DIR "/deploy/data/breast_cancer.csv");
  EXPECT_TRUE(d.ok()) << d.status();
  return *std::move(d);
}

// An independent reference: FISTA (accelerated proximal gradient) on f(x) + v'x + (c/2)||x||^2, with
// the step 1/L from L = ||G||^2/4 + c, run far past convergence.
Vector Fista(const LogRegProblem& p, const Eigen::MatrixXd& features, double mu, const Vector& v, double c,
             int iterations) {
  const Eigen::Index n = features.cols(), n1 = n + 1;
  Eigen::MatrixXd A1(features.rows(), n1);
  A1 << features, Vector::Ones(features.rows());
  const double L = A1.operatorNorm() * A1.operatorNorm() / 4.0 + c;
  Vector x = Vector::Zero(n1), y = x, x_prev = x;
  double t = 1.0;
  for (int k = 0; k < iterations; ++k) {
    const Vector grad = p.LossGradient(y) + v + c * y;
    x_prev = x;
    x = y - grad / L;
    for (Eigen::Index j = 0; j < n; ++j) x[j] = std::copysign(std::max(std::abs(x[j]) - mu / L, 0.0), x[j]);
    const double t_next = (1.0 + std::sqrt(1.0 + 4.0 * t * t)) / 2.0;
    y = x + ((t - 1.0) / t_next) * (x - x_prev);
    t = t_next;
  }
  return x;
}

TEST(LogRegProblem, LocalSolutionMatchesFistaAndItsOptimalityConditions) {
  const LogRegData cancer = Cancer();
  Rng rng(3);
  for (Eigen::Index m : {20, 80}) {
    const Eigen::MatrixXd features = cancer.features.topRows(m);
    const Vector labels = cancer.labels.head(m);
    const double mu = cancer.lambda / 7.0;
    LogRegProblem local(features, labels, mu);
    for (double c : {0.1, 1.0, 30.0}) {
      Vector v(31), x = Vector::Zero(31);
      for (Eigen::Index i = 0; i < 31; ++i) v[i] = rng.Normal(0, 1);
      EXPECT_TRUE(local.Solve(v, c, x).converged);
      // Optimality of g + mu||w||_1: grad g + mu sign(w) = 0 where w_j != 0, |grad_j g| <= mu elsewhere.
      const Vector grad = local.LossGradient(x) + v + c * x;
      double worst = std::abs(grad[30]);
      for (Eigen::Index j = 0; j < 30; ++j) {
        worst = std::max(worst, x[j] != 0.0 ? std::abs(grad[j] + mu * (x[j] > 0 ? 1.0 : -1.0))
                                            : std::max(0.0, std::abs(grad[j]) - mu));
      }
      EXPECT_LT(worst, 1e-9) << "m " << m << " c " << c;
      const Vector reference = Fista(local, features, mu, v, c, 20000);
      EXPECT_LT((x - reference).norm(), 1e-7 * (1.0 + x.norm())) << "m " << m << " c " << c;
      // Warm start from the solution: the same point, at once.
      Vector again = x;
      local.Solve(v, c, again);
      EXPECT_LE(local.last_newton_steps(), 1);
      EXPECT_LT((again - x).norm(), 1e-12 * (1.0 + x.norm()));
    }
  }
}

TEST(LogReg, CentralizedFitSatisfiesTheOptimalityConditionsAndClassifies) {
  const LogRegData cancer = Cancer();
  EXPECT_EQ(cancer.features.rows(), 569);
  EXPECT_EQ((cancer.labels.array() > 0).count(), 212);  // malignant
  // lambda = 0.1 lambda_max; just above lambda_max, w* = 0 (only the intercept is fitted).
  LogRegData at_max = cancer;
  at_max.lambda = 1.001 * LogRegLambdaMax(cancer.features, cancer.labels);
  absl::StatusOr<Vector> zero = SolveLogRegCentralized(at_max);
  ASSERT_TRUE(zero.ok()) << zero.status().message();
  EXPECT_EQ(zero->head(30).lpNorm<Eigen::Infinity>(), 0.0);
  absl::StatusOr<Vector> x = SolveLogRegCentralized(cancer);
  ASSERT_TRUE(x.ok()) << x.status().message();
  EXPECT_LT(LogRegOptimalityResidual(cancer, *x), 1e-8);
  const Eigen::Index nonzero = (x->head(30).array() != 0.0).count();
  EXPECT_GT(nonzero, 0);
  EXPECT_LT(nonzero, 30) << "the l1 term should select features";
  EXPECT_GT(LogRegAccuracy(cancer.features, cancer.labels, *x), 0.9);
  // FISTA on all the data (c = 0) agrees.
  const LogRegProblem all(cancer.features, cancer.labels, cancer.lambda);
  const Vector reference = Fista(all, cancer.features, cancer.lambda, Vector::Zero(31), 0.0, 200000);
  EXPECT_LT((*x - reference).norm(), 1e-6 * x->norm());
}

TEST(LogReg, DadmmFitsTheModelOverANetwork) {
  absl::StatusOr<GeneratedNetwork> net = GenerateNetwork(*TableIISpec(3, 10, 1));
  ASSERT_TRUE(net.ok());
  absl::StatusOr<std::unique_ptr<LogRegInstance>> inst = LogRegInstance::Create(Cancer(), net->topology, 1);
  ASSERT_TRUE(inst.ok()) << inst.status().message();
  const Colouring colouring = GreedyLargestFirstColouring(net->topology);
  RunSpec run{.settings = {.algorithm = Algorithm::kDadmm, .rho = 1.0, .max_iterations = 3000}, .tolerance = 1e-6};
  absl::StatusOr<RunOutcome> r = RunExperiment(net->topology, colouring, **inst, run);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->reached) << "error " << r->final_error << " after " << r->steps;
  EXPECT_LE(r->final_error, 1e-6);
}

}  // namespace
}  // namespace dadmm
