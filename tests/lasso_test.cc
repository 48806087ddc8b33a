// LASSO, column partition (seed 000, (20), (22)-(24), Appendix B).
#include "common/problems/lasso.h"

#include <gtest/gtest.h>

#include "common/base/random.h"
#include "common/network/colouring.h"
#include "common/network/generators.h"
#include "common/sim/experiment.h"

namespace dadmm {
namespace {

// A small instance like the paper's Gaussian one: 100 x 200, 20 nonzeros, noise 0.01 per entry
// (norm about 0.1), sigma = 0.15. (With 60 rows and sigma = 0.1 the solution of (20) has 58
// nonzeros and the regularized (22) with delta = 1e-3 is 2e-3 away from it: no method on (22) could
// then reach the paper's 1e-3. Here that distance is 9e-5; see RegularizedSolutionIsCloseTo20.)
LassoData SmallLasso(std::uint64_t seed) {
  return LassoData{.problem = MakeGaussianBpdn(seed, 100, 200), .sigma = 0.15};
}

TEST(LassoDualProblem, LocalSolutionSatisfiesOptimality) {
  const LassoData data = SmallLasso(3);
  const int P = 4;
  LassoDualProblem local(data.problem.A.middleCols(50, 50), data.problem.b, data.sigma, data.delta, P);
  Rng rng(5);
  int nonzero = 0, with_active_columns = 0;
  for (double c : {1e-3, 0.1, 10.0}) {
    for (double v_scale : {0.01, 1.0, 100.0}) {
      Vector v(100), lambda = Vector::Zero(100);
      for (Eigen::Index i = 0; i < v.size(); ++i) v[i] = rng.Normal(0, v_scale);
      // The Newton solve reports whether its own test (gradient below 1e-13 relative) stopped it or its
      // 100-step cap did. For the smallest v it runs to the cap here (2 of these 9 cases), with an
      // iterate that still meets the looser check below: the cap is reported, not hidden.
      const SolveInfo info = local.Solve(v, c, lambda);
      EXPECT_EQ(info.converged, info.iterations < 100) << "c " << c << " v " << v_scale;
      const Vector w = data.problem.b / P + v;
      if (lambda.norm() == 0.0) {
        // 0 is optimal iff ||b/P + v|| <= sigma/P.
        EXPECT_LE(w.norm(), data.sigma / P) << "c " << c;
        continue;
      }
      ++nonzero;
      const Vector grad = local.LocalGradient(v, c, lambda);
      const double scale = w.norm() + c * lambda.norm();
      EXPECT_LT(grad.norm(), 1e-9 * scale)
          << "c " << c << " |v| " << v_scale << " after " << local.last_iterations() << " Newton steps";
      if ((local.RecoverBlock(lambda).array() != 0).any()) ++with_active_columns;
      // Warm start from a nearby point reaches the same solution.
      Vector warm = lambda * 1.1;
      local.Solve(v, c, warm);
      EXPECT_LT((warm - lambda).norm(), 1e-9 * lambda.norm());
    }
  }
  EXPECT_GE(nonzero, 7) << "most cases must exercise the Newton method";
  EXPECT_GE(with_active_columns, 3) << "and with some x_p entries nonzero";
}

TEST(LassoDualProblem, ZeroWhenTheLinearTermIsSmall) {
  const LassoData data = SmallLasso(3);
  LassoDualProblem local(data.problem.A, data.problem.b, data.sigma, data.delta, 1);
  Vector lambda = Vector::Ones(100);
  // v = -b + (a vector of norm sigma/2): ||b + v|| <= sigma.
  Vector v = -data.problem.b;
  v[0] += data.sigma / 2;
  local.Solve(v, 1.0, lambda);
  EXPECT_EQ(lambda.norm(), 0.0);
}

TEST(Lasso, CentralizedSolutionSatisfiesKkt) {
  for (const LassoData& data : {SmallLasso(1), LassoData{.problem = MakeDctBpdn(2, 50, 250), .sigma = 0.05}}) {
    absl::StatusOr<Vector> x = SolveLassoCentralized(data);
    ASSERT_TRUE(x.ok()) << x.status();
    EXPECT_LT(Lasso20KktResidual(data, *x), 1e-9) << data.problem.name;
    EXPECT_NEAR((data.problem.A * *x - data.problem.b).norm(), data.sigma, 1e-9 * data.sigma);
    EXPECT_GT((x->array() != 0).count(), 0);
    // The KKT check itself rejects a perturbed point.
    Vector moved = *x;
    moved[0] += 1e-3;
    EXPECT_GT(Lasso20KktResidual(data, moved), 1e-6);
  }
}

// The dual (24) with P = 1 minimized by the proximal point method (each step the local problem (40)
// with v = -c lambda_prev) gives the solution x_delta of (22); exact regularization says it is close
// to that of (20) for small delta, and here it is.
TEST(Lasso, RegularizedSolutionIsCloseTo20) {
  const LassoData data = SmallLasso(2);
  absl::StatusOr<Vector> x_star = SolveLassoCentralized(data);
  ASSERT_TRUE(x_star.ok()) << x_star.status();
  LassoDualProblem whole(data.problem.A, data.problem.b, data.sigma, data.delta, 1);
  Vector lambda = Vector::Zero(data.problem.b.size()), previous;
  const double c = 1e-2;
  for (int k = 0; k < 20000; ++k) {
    previous = lambda;
    whole.Solve(-c * previous, c, lambda);
    if ((lambda - previous).norm() <= 1e-14 * lambda.norm()) break;
  }
  const Vector x_delta = whole.RecoverBlock(lambda);
  EXPECT_NEAR((data.problem.A * x_delta - data.problem.b).norm(), data.sigma, 1e-8) << "(22) is feasible and tight";
  const double distance = (x_delta - *x_star).norm() / x_star->norm();
  EXPECT_LT(distance, 2e-4);
  EXPECT_GT(distance, 0.0) << "delta > 0 changes the solution a little";
}

TEST(Lasso, CentralizedSolverRejectsTrivialData) {
  LassoData data = SmallLasso(1);
  data.sigma = data.problem.b.norm() * 2;
  EXPECT_FALSE(SolveLassoCentralized(data).ok());
}

// The paper's accuracy for LASSO: 0.1 % relative error of the recovered x against the solution of (20).
TEST(Lasso, DadmmAndAlgorithm3RecoverTheSolutionOf20) {
  for (int number : {1, 5}) {
    absl::StatusOr<GeneratedNetwork> net = GenerateNetwork(*TableIISpec(number, 10, 1));
    ASSERT_TRUE(net.ok());
    absl::StatusOr<std::unique_ptr<LassoInstance>> inst = LassoInstance::Create(SmallLasso(2), net->topology);
    ASSERT_TRUE(inst.ok()) << inst.status();
    const Colouring colouring = GreedyLargestFirstColouring(net->topology);
    // rho = 0.01 is the best of the paper's grid for both algorithms on both networks (RunRhoGrid); at
    // rho = 1 neither reaches 1e-3 within 1000 steps.
    for (Algorithm a : {Algorithm::kDadmm, Algorithm::kAlgorithm3}) {
      RunSpec run{.settings = {.algorithm = a, .rho = 0.01, .max_iterations = 1000}, .tolerance = 1e-3};
      absl::StatusOr<RunOutcome> r = RunExperiment(net->topology, colouring, **inst, run);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_TRUE(r->reached) << AlgorithmName(a) << " on network " << number << ": error " << r->final_error;
      EXPECT_LE(r->final_error, 1e-3);
      EXPECT_EQ(r->messages, 2 * net->topology.num_edges() * r->steps);
    }
  }
}

}  // namespace
}  // namespace dadmm
