// Seed 001: the sparse logistic regression (7) with its box, FISTA (16) as C-ADMM's local solver,
// IC-ADMM (Algorithm 2), condition (13), and the acc / cserr measures; checked against the optimality
// conditions, brute-force one-dimensional minimization and closed-form graph spectra.
#include "common/problems/sparse_lr.h"

#include <gtest/gtest.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/base/random.h"
#include "common/problems/consensus.h"
#include "common/problems/logreg.h"
#include "common/programs/algorithms.h"
#include "common/programs/ic_admm.h"
#include "common/sim/simulator.h"

namespace dadmm {
namespace {

Topology Graph(std::size_t n, const std::vector<std::pair<NodeId, NodeId>>& pairs) {
  std::vector<NodeSpec> nodes;
  std::vector<EdgeSpec> edges;
  nodes.reserve(n);
  edges.reserve(pairs.size());
  for (NodeId i = 1; i <= n; ++i) nodes.push_back({.id = i, .address = absl::StrCat("h", i, ":1")});
  for (const auto& [a, b] : pairs) edges.push_back({.a = a, .b = b});
  absl::StatusOr<Topology> t = Topology::Create("g", nodes, edges);
  EXPECT_TRUE(t.ok()) << t.status();
  return *std::move(t);
}

Topology Ring(std::size_t n) {
  std::vector<std::pair<NodeId, NodeId>> pairs;
  for (NodeId i = 1; i <= n; ++i) pairs.push_back({i, static_cast<NodeId>(i % n + 1)});
  return Graph(n, pairs);
}

Topology Complete(std::size_t n) {
  std::vector<std::pair<NodeId, NodeId>> pairs;
  for (NodeId i = 1; i <= n; ++i) {
    for (NodeId j = i + 1; j <= n; ++j) pairs.push_back({i, j});
  }
  return Graph(n, pairs);
}

// The case-wise optimality conditions of min_{|x_k| <= B} h(x) + mu ||x||_1, d = grad h(x).
double CaseResidual(const Vector& x, const Vector& d, double mu, double B) {
  double worst = 0.0;
  for (Eigen::Index k = 0; k < x.size(); ++k) {
    double v;
    if (x[k] >= B)
      v = std::max(0.0, d[k] + mu);
    else if (x[k] <= -B)
      v = std::max(0.0, mu - d[k]);
    else if (x[k] != 0.0)
      v = std::abs(d[k] + mu * (x[k] > 0 ? 1.0 : -1.0));
    else
      v = std::max(0.0, std::abs(d[k]) - mu);
    worst = std::max(worst, v);
  }
  return worst;
}

TEST(SparseLr, TexturePatchesAreCentredUnitRowsWithBalancedLabels) {
  absl::StatusOr<SparseLrData> d = MakeTexturePatches(40, 64, 0.1, 3);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->features.rows(), 40);
  ASSERT_EQ(d->features.cols(), 64);
  EXPECT_EQ(d->labels.sum(), 0.0);
  for (Eigen::Index r = 0; r < 40; ++r) {
    EXPECT_NEAR(d->features.row(r).norm(), 1.0, 1e-12);
    EXPECT_NEAR(d->features.row(r).sum(), 0.0, 1e-12);
    EXPECT_TRUE(d->labels[r] == 1.0 || d->labels[r] == -1.0);
  }
  // Same seed, same data; another seed, other data.
  absl::StatusOr<SparseLrData> again = MakeTexturePatches(40, 64, 0.1, 3), other = MakeTexturePatches(40, 64, 0.1, 4);
  EXPECT_EQ(d->features, again->features);
  EXPECT_NE(d->features, other->features);
  EXPECT_FALSE(MakeTexturePatches(40, 63, 0.1, 3).ok());  // not a square
  EXPECT_FALSE(MakeTexturePatches(41, 64, 0.1, 3).ok());  // odd count
}

TEST(SparseLr, ProxIsTheOneDimensionalMinimizer) {
  const Eigen::MatrixXd A = Eigen::MatrixXd::Identity(1, 1);
  const SparseLrProblem p(A, Vector::Ones(1), /*mu=*/0.3, /*bound=*/1.0, {});
  for (double s : {-3.0, -1.1, -0.5, -0.2, 0.0, 0.1, 0.25, 0.9, 1.4, 5.0}) {
    for (double gamma : {0.5, 1.0, 4.0}) {
      Vector x;
      p.Prox(Vector::Constant(1, s), gamma, x);
      // Brute force: the minimum of 0.3|t| + gamma/2 (t - s)^2 on a fine grid of [-1, 1].
      double best_t = 0.0, best = std::numeric_limits<double>::infinity();
      for (int i = -200000; i <= 200000; ++i) {
        const double t = i / 200000.0;
        const double value = 0.3 * std::abs(t) + gamma / 2 * (t - s) * (t - s);
        if (value < best) best = value, best_t = t;
      }
      EXPECT_NEAR(x[0], best_t, 1e-5) << "s " << s << " gamma " << gamma;
    }
  }
}

TEST(SparseLr, CentralizedSolutionSatisfiesTheOptimalityConditions) {
  absl::StatusOr<SparseLrData> d = MakeTexturePatches(60, 144, 0.1, 1);
  ASSERT_TRUE(d.ok());
  absl::StatusOr<SparseLrSolution> s = SolveSparseLrCentralized(*d);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_LT(SparseLrOptimalityResidual(*d, s->x), 1e-9);
  EXPECT_LE(s->x.cwiseAbs().maxCoeff(), 1.0);
  EXPECT_GT((s->x.array() != 0.0).count(), 0);
  EXPECT_NEAR(s->objective, SparseLrObjective(*d, s->x), 1e-12);
  // x = 0 is not optimal here (lambda below lambda_max), and the residual says so.
  EXPECT_GT(SparseLrOptimalityResidual(*d, Vector::Zero(144)), 1e-2);
  // No feasible perturbation does better.
  Rng rng(2);
  for (int t = 0; t < 20; ++t) {
    Vector y = s->x;
    for (Eigen::Index k = 0; k < y.size(); ++k) y[k] = std::clamp(y[k] + 1e-3 * rng.Normal(), -1.0, 1.0);
    EXPECT_GE(SparseLrObjective(*d, y), s->objective - 1e-12);
  }
}

// A solve that hits its iteration cap says so (SolveInfo); one with room to converge says that.
TEST(SparseLr, ASolveStoppedByItsIterationCapIsReported) {
  absl::StatusOr<SparseLrData> d = MakeTexturePatches(20, 100, 0.1, 5);
  ASSERT_TRUE(d.ok());
  SparseLrProblem capped(d->features, d->labels, 0.02, 1.0, {.step = 0.0, .pgr_tolerance = 1e-12, .max_iterations = 3});
  Vector v = Vector::Constant(100, 0.05), x = Vector::Zero(100);
  const SolveInfo info = capped.Solve(v, 0.06, x);
  EXPECT_FALSE(info.converged);
  EXPECT_EQ(info.iterations, 3u);
  // The same problem with room to converge.
  SparseLrProblem free(d->features, d->labels, 0.02, 1.0, {.step = 0.0, .pgr_tolerance = 1e-12});
  x.setZero();
  const SolveInfo done = free.Solve(v, 0.06, x);
  EXPECT_TRUE(done.converged);
  EXPECT_GT(done.iterations, 3u);
}

TEST(SparseLr, FistaLocalSolveMeetsTheLocalOptimalityConditions) {
  absl::StatusOr<SparseLrData> d = MakeTexturePatches(20, 100, 0.1, 5);
  ASSERT_TRUE(d.ok());
  const double mu = 0.02;
  SparseLrProblem p(d->features, d->labels, mu, 1.0, {.step = 0.0, .pgr_tolerance = 1e-12});
  Rng rng(9);
  for (double c : {0.06, 1.0}) {
    Vector v(100), x = Vector::Zero(100);
    for (Eigen::Index k = 0; k < 100; ++k) v[k] = 0.05 * rng.Normal();
    const std::uint64_t before = p.solver_iterations();
    const SolveInfo info = p.Solve(v, c, x);
    EXPECT_GT(p.solver_iterations(), before);
    EXPECT_TRUE(info.converged);
    EXPECT_EQ(info.iterations, p.solver_iterations() - before);
    Vector d_h;
    p.SmoothGradient(x, d_h);
    EXPECT_LT(CaseResidual(x, d_h + v + c * x, mu, 1.0), 1e-9) << "c " << c;
  }
  // The gradient against finite differences of the objective (mu = 0 part).
  const SparseLrProblem smooth(d->features, d->labels, 0.0, 1.0, {});
  Vector x = Vector::Zero(100), g;
  for (Eigen::Index k = 0; k < 100; ++k) x[k] = 0.3 * rng.Normal();
  smooth.SmoothGradient(x, g);
  for (Eigen::Index k : {0, 17, 99}) {
    Vector e = Vector::Zero(100);
    e[k] = 1e-6;
    EXPECT_NEAR(g[k], (smooth.Objective(x + e) - smooth.Objective(x - e)) / 2e-6, 1e-6);
  }
}

TEST(SparseLr, LambdaMinOfDegreePlusAdjacencyHasItsClosedForms) {
  // Complete graph K_n: D + W = (n - 2) I + J, lambda_min = n - 2.
  EXPECT_NEAR(LambdaMinDegreePlusAdjacency(Complete(6)), 4.0, 1e-12);
  // Cycle C_n: D + W = 2I + W, W's eigenvalues 2 cos(2 pi j / n): min 2 + 2 cos(2 pi floor(n/2) / n);
  // 0 for even n (bipartite, seed 001 Remark 2).
  EXPECT_NEAR(LambdaMinDegreePlusAdjacency(Ring(7)), 2.0 + 2.0 * std::cos(2.0 * M_PI * 3 / 7), 1e-12);
  EXPECT_NEAR(LambdaMinDegreePlusAdjacency(Ring(8)), 0.0, 1e-12);
  // (13)'s right-hand side from constants.
  const std::vector<CompositeProblem::Constants> k = {{.lipschitz_f = 0.25, .convexity_f = 0.1, .gram_norm = 2.0},
                                                      {.lipschitz_f = 0.25, .convexity_f = 0.05, .gram_norm = 1.0}};
  EXPECT_NEAR(IcAdmmBetaBound(NetworkConstants(k), 0.5, 4.0), 0.0625 / 0.05 * 2.0 - 2.0, 1e-12);
}

struct Outcome {
  SimulationResult result;
  ConsensusMeasures measures;
  double computation = 0;
};

Outcome RunToTargets(const SparseLrInstance& inst, const Topology& t, Algorithm a, double c, std::uint64_t max_steps) {
  std::map<NodeId, std::unique_ptr<NodeProgram>> programs;
  for (const NodeSpec& n : t.nodes()) {
    auto program = MakeNodeProgram(t, {}, n.id, inst.MakeLocal(n.id),
                                   {.algorithm = a, .rho = c, .max_iterations = max_steps, .beta = 1.2});
    EXPECT_TRUE(program.ok()) << program.status();
    programs[n.id] = *std::move(program);
  }
  Outcome run;
  SimulatorOptions options;
  options.monitor = [&](std::uint64_t, const std::vector<Vector>& x, const std::vector<std::uint64_t>& comp) {
    run.measures = MeasureConsensus(inst.data(), inst.objective_star(), x);
    run.computation = 0;
    for (std::uint64_t v : comp) run.computation += static_cast<double>(v) / static_cast<double>(comp.size());
    return run.measures.acc < 1e-4 && run.measures.cserr < 1e-5;
  };
  absl::StatusOr<SimulationResult> r = Simulate(t, programs, options);
  EXPECT_TRUE(r.ok()) << r.status();
  run.result = *std::move(r);
  return run;
}

TEST(SparseLr, IcAdmmAndCAdmmReachTheCentralizedOptimum) {
  const Topology t = Ring(5);
  absl::StatusOr<SparseLrData> d = MakeTexturePatches(50, 100, 0.1, 7);
  ASSERT_TRUE(d.ok());
  auto inst = SparseLrInstance::Create(*std::move(d), t, 7, {.step = 0.1, .pgr_tolerance = 1e-5});
  ASSERT_TRUE(inst.ok()) << inst.status();
  ASSERT_LT(SparseLrOptimalityResidual((*inst)->data(), (*inst)->solution()), 1e-9);

  const Outcome ic = RunToTargets(**inst, t, Algorithm::kIcAdmm, 0.01, 20000);
  ASSERT_TRUE(ic.result.reached_tolerance) << "acc " << ic.measures.acc << " cserr " << ic.measures.cserr;
  // One gradient per estimate, x^(1) included: as many computation iterations as steps.
  EXPECT_EQ(ic.computation, static_cast<double>(ic.result.steps));
  // Every node's estimate is near x*, feasible, and the objective at the average within acc of obj*.
  for (const SimulatedNode& n : ic.result.nodes) {
    EXPECT_LE(n.x.cwiseAbs().maxCoeff(), 1.0);
    EXPECT_LT((n.x - (*inst)->solution()).norm(), 0.05 * (*inst)->solution().norm());
  }

  const Outcome c = RunToTargets(**inst, t, Algorithm::kAlgorithm3, 0.03, 20000);
  ASSERT_TRUE(c.result.reached_tolerance) << "acc " << c.measures.acc << " cserr " << c.measures.cserr;
  EXPECT_GT(c.computation, static_cast<double>(c.result.steps));  // several FISTA steps per ADMM iteration
  // 2E messages per step, counted.
  EXPECT_EQ(c.result.messages, 2 * t.num_edges() * c.result.steps);
}

TEST(SparseLr, IcAdmmRefusesProblemsWithoutAProx) {
  const Topology t = Ring(3);
  auto program = MakeNodeProgram(t, {}, 1, std::make_unique<ConsensusProblem>(Vector::Ones(2)),
                                 {.algorithm = Algorithm::kIcAdmm, .rho = 0.1, .max_iterations = 5});
  ASSERT_FALSE(program.ok());
  EXPECT_NE(program.status().message().find("consensus"), std::string::npos) << program.status();
  auto bad_beta = MakeNodeProgram(t, {}, 1, std::make_unique<ConsensusProblem>(Vector::Ones(2)),
                                  {.algorithm = Algorithm::kIcAdmm, .rho = 0.1, .max_iterations = 5, .beta = -1});
  EXPECT_FALSE(bad_beta.ok());
  EXPECT_EQ(*ParseAlgorithm("c-admm"), Algorithm::kAlgorithm3);
  EXPECT_EQ(DescribeAlgorithm({.algorithm = Algorithm::kIcAdmm, .beta = 1.5}), "ic-admm beta=1.5");
}

}  // namespace
}  // namespace dadmm

namespace dadmm {
namespace {

// Seed 002 §10.2's l1-logistic regression with sparse features, solved by FISTA (the same class as
// seed 001's problem, with an intercept): against the optimality conditions and against the dense
// proximal-Newton solver of common/logreg.h (an independent method).
TEST(SparseLogReg, FistaFitMatchesTheProximalNewtonFitAndTheOptimalityConditions) {
  const SparseLogRegData data = MakeSparseLogReg(3000, 60, 10, 4);
  // 10 column draws per example, repeats merged: n (1 - (1 - 1/n)^10) distinct on average (9.29 of 60).
  EXPECT_NEAR(static_cast<double>(data.features.nonZeros()) / 3000.0, 60.0 * (1.0 - std::pow(59.0 / 60.0, 10)), 0.1);
  absl::StatusOr<Vector> x = SolveSparseLogRegCentralized(data);
  ASSERT_TRUE(x.ok()) << x.status();
  EXPECT_LT(SparseLogRegOptimalityResidual(data, *x), 1e-7);
  const LogRegData dense{.features = Eigen::MatrixXd(data.features), .labels = data.labels, .lambda = data.lambda};
  absl::StatusOr<Vector> newton = SolveLogRegCentralized(dense);
  ASSERT_TRUE(newton.ok());
  EXPECT_LT((*x - *newton).lpNorm<Eigen::Infinity>(), 1e-6);
  EXPECT_GT((x->head(60).array() == 0.0).count(), 0);  // lambda = 0.1 lambda_max: sparse
  EXPECT_GT((x->head(60).array() != 0.0).count(), 0);
}

TEST(SparseLogReg, DadmmAgentsProblemsReachTheCentralizedFit) {
  const Topology t = Ring(5);
  auto inst = SparseLogRegInstance::Create(MakeSparseLogReg(2000, 40, 10, 8), t, 3, 1e-10);
  ASSERT_TRUE(inst.ok()) << inst.status();
  std::map<NodeId, std::unique_ptr<NodeProgram>> programs;
  for (const NodeSpec& n : t.nodes()) {
    auto program = MakeNodeProgram(t, {{1, 0}, {2, 1}, {3, 0}, {4, 1}, {5, 2}}, n.id, (*inst)->MakeLocal(n.id),
                                   {.algorithm = Algorithm::kDadmm, .rho = 1.0, .max_iterations = 2000});
    ASSERT_TRUE(program.ok()) << program.status();
    programs[n.id] = *std::move(program);
  }
  absl::StatusOr<SimulationResult> r = Simulate(t, programs, {.error = (*inst)->error_measure(), .tolerance = 1e-6});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->reached_tolerance) << "error " << r->errors.back();
}

}  // namespace
}  // namespace dadmm
