// BPDN, row partition (seed 000, (25)-(26)): the local solver by its optimality conditions, the
// centralized reference by its KKT conditions, and D-ADMM and Algorithm 3 against the reference.
#include "common/problems/bpdn.h"

#include <gtest/gtest.h>

#include "common/base/random.h"
#include "common/network/colouring.h"
#include "common/network/generators.h"
#include "common/sim/experiment.h"

namespace dadmm {
namespace {

TEST(BpdnProblem, LocalSolutionSatisfiesOptimality) {
  Rng rng(3);
  const BpdnData data = MakeGaussianBpdn(5, 12, 80);
  BpdnProblem problem(data.A, data.b, 0.05);
  Vector x = Vector::Zero(80);
  for (double c : {1e-3, 0.1, 2.0, 50.0}) {
    Vector v(80);
    for (int i = 0; i < 80; ++i) v[i] = rng.Normal(0, 0.3);
    EXPECT_TRUE(problem.Solve(v, c, x).converged);
    // 0 in 2 A'(Ax - b) + v + c x + lambda d||x||_1.
    const Vector g = 2.0 * data.A.transpose() * (data.A * x - data.b) + v + c * x;
    EXPECT_LT(L1OptimalityResidual(g, x, 0.05), 1e-10) << "c = " << c;
    EXPECT_GT((x.array() != 0).count(), 0) << "a trivial solution would not test much";
  }
}

TEST(BpdnProblem, WarmStartGivesTheSameSolution) {
  const BpdnData data = MakeDctBpdn(2, 20, 100);
  BpdnProblem warm(data.A, data.b, 0.03), cold_problem(data.A, data.b, 0.03);
  Vector v = Vector::Constant(100, 0.01), x = Vector::Zero(100), cold = Vector::Zero(100);
  warm.Solve(v * 3, 0.5, x);  // moves the warm start elsewhere first
  warm.Solve(v, 0.5, x);
  cold_problem.Solve(v, 0.5, cold);
  EXPECT_LT((x - cold).norm(), 1e-12 * (1.0 + cold.norm()));
}

TEST(Bpdn, CentralizedSolutionSatisfiesKkt) {
  for (const BpdnData& data : {MakeGaussianBpdn(1, 60, 200), MakeDctBpdn(1, 50, 250)}) {
    absl::StatusOr<Vector> x = SolveBpdnCentralized(data);
    ASSERT_TRUE(x.ok()) << x.status();
    const Vector g = 2.0 * data.A.transpose() * (data.A * *x - data.b);
    EXPECT_LT(L1OptimalityResidual(g, *x, data.beta), 1e-9 * data.beta) << data.name;
    EXPECT_GT((x->array() != 0).count(), 0);
  }
}

TEST(Bpdn, DadmmAndAlgorithm3ReachTheCentralizedSolution) {
  for (int number : {1, 3, 7}) {
    absl::StatusOr<NetworkSpec> spec = TableIISpec(number, 10, 1);
    ASSERT_TRUE(spec.ok());
    absl::StatusOr<GeneratedNetwork> net = GenerateNetwork(*spec);
    ASSERT_TRUE(net.ok());
    absl::StatusOr<std::unique_ptr<BpdnInstance>> inst =
        BpdnInstance::Create(MakeGaussianBpdn(4, 60, 200), net->topology);
    ASSERT_TRUE(inst.ok()) << inst.status();
    const Colouring colouring = GreedyLargestFirstColouring(net->topology);
    for (Algorithm a : {Algorithm::kDadmm, Algorithm::kAlgorithm3}) {
      RunSpec run{.settings = {.algorithm = a, .rho = 0.1, .max_iterations = 1000}, .tolerance = 1e-4};
      absl::StatusOr<RunOutcome> r = RunExperiment(net->topology, colouring, **inst, run);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_TRUE(r->reached) << AlgorithmName(a) << " on network " << number << ": error " << r->final_error;
      EXPECT_LE(r->final_error, 1e-4);
      EXPECT_EQ(r->messages, 2 * net->topology.num_edges() * r->steps);
    }
  }
}

TEST(Bpdn, DenseLassoOfSeed002IsMadeAsSection10_1Says) {
  const BpdnData d = MakeDenseLasso(1, 150, 500);
  for (Eigen::Index j = 0; j < d.A.cols(); ++j) EXPECT_NEAR(d.A.col(j).norm(), 1.0, 1e-12);
  EXPECT_EQ((d.x0.array() != 0.0).count(), 100);
  // lambda = 0.1 ||A'b||_inf, and (1/2)||Ax - b||^2 + lambda||x||_1 is (21) with beta = 2 lambda.
  EXPECT_DOUBLE_EQ(d.beta, 0.2 * (d.A.transpose() * d.b).lpNorm<Eigen::Infinity>());
  absl::StatusOr<Vector> x = SolveBpdnCentralized(d);  // accepted only with a KKT residual < 1e-9 beta
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_GT((x->array() != 0.0).count(), 0);
}

}  // namespace
}  // namespace dadmm
