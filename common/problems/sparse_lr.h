// Sparse logistic regression with a box, seed 001 (7):
//   minimize over |x_k| <= B   sum_i ( sum_m log(1 + exp(-b_im a_im'x)) + (lambda / N) ||x||_1 ),
// no intercept, agent i holding its M examples (A_i, b_i); seed 001 §5 uses B = 1. In seed 001's
// terms f_i(A_i x) is the logistic loss (smooth), g_i = (lambda / N) ||.||_1 and X the box.
//
// The local problem of C-ADMM (seed 001 (6), seed 000 Algorithm 3, or D-ADMM's step 4) has no closed
// form: it is solved by FISTA (16) with a constant step, stopped at the proximal-gradient residual
// pgr = ||z^{l-1} - x~^l|| / (step sqrt(K)) < tolerance, counting its iterations (seed 001's
// computation iterations). IC-ADMM (Algorithm 2) uses the problem's gradient and prox instead.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/base/sparse.h"
#include "common/network/topology.h"
#include "common/problems/instance.h"
#include "common/problems/problem.h"

namespace dadmm {

struct FistaOptions {
  double step = 0.0;                      // the constant step rho_i of (16); 0: 1 / L, L the local Lipschitz constant
  double pgr_tolerance = 1e-5;            // stop when pgr < this
  std::uint64_t max_iterations = 100000;  // per Solve
  bool restart = false;                   // gradient-scheme momentum restarts (not in (16); for tight solves)

  // step finite and >= 0, pgr_tolerance finite and > 0, max_iterations >= 1.
  absl::Status Validate() const;
};

// `Matrix`: Eigen::MatrixXd (seed 001's dense patches) or SparseFeatures. With `intercept`, x = (w, v)
// has one more entry than the features, the intercept v of seed 002's (45), with no l1 weight and no
// box: then f is seed 002's l1-logistic loss (the box may be infinite), solved by the same FISTA.
template <typename Matrix>
class BasicSparseLrProblem final : public LocalProblem, public CompositeProblem {
 public:
  // `features` one example per row (M x K), `labels` +1 / -1, `mu` the l1 weight (lambda / N), `bound`
  // the box B > 0 (may be infinite).
  BasicSparseLrProblem(const Matrix& features, const Vector& labels, double mu, double bound, const FistaOptions& fista,
                       bool intercept = false);

  absl::string_view kind() const override { return intercept_ ? "logreg" : "sparse-lr"; }
  Eigen::Index dimension() const override { return G_.cols(); }
  // FISTA (16) on f(x) + v'x + (c/2)||x||^2 from the warm start x.
  SolveInfo Solve(const Eigen::Ref<const Vector>& v, double c, Vector& x) override;
  // sum_m log(1 + exp(-b_m a_m'x)) + mu ||x||_1 (x assumed in the box).
  double Objective(const Eigen::Ref<const Vector>& x) const override;
  Vector Subgradient(const Eigen::Ref<const Vector>& x) const override;
  void Project(Vector& x) const override;  // onto the box
  std::uint64_t solver_iterations() const override { return solver_iterations_; }
  void SaveState(StateWriter& w) const override { w.U64(solver_iterations_); }
  void LoadState(StateReader& r) override { solver_iterations_ = r.U64(); }

  void SmoothGradient(const Eigen::Ref<const Vector>& x, Vector& gradient) const override;
  // clip(soft(s, mu / gamma), -B, B): the prox of mu ||.||_1 over the box, coordinate by coordinate.
  void Prox(const Eigen::Ref<const Vector>& s, double gamma, Vector& x) const override;
  Constants constants() const override;

  // Lipschitz constant of the logistic loss's gradient: lambda_max(A'A) / 4.
  double smooth_lipschitz() const { return gram_norm_ / 4.0; }

  // FISTA (16) on f(x) + v'x + (c/2)||x||^2, c >= 0, with the constant step `step` (0: 1 / L), until
  // pgr < tolerance or max_iterations; with `restart`, momentum is reset whenever the objective's
  // generalized gradient points uphill (O'Donoghue and Candes' gradient scheme), for the centralized
  // reference. Returns the iterations run; the final pgr in *pgr.
  std::uint64_t Minimize(const Eigen::Ref<const Vector>& v, double c, Vector& x, double step, double tolerance,
                         std::uint64_t max_iterations, bool restart, double* pgr = nullptr) const;

 private:
  Matrix G_;  // M x K (x K + 1 with the intercept): rows b_m a_m' (b_m (a_m', 1))
  bool intercept_;
  double mu_, bound_;
  FistaOptions fista_;
  double gram_norm_;   // lambda_max(G'G) = lambda_max(A'A)
  double max_row_l1_;  // max_m ||a_m||_1, bounds |a_m'x| over the box by B times it
  std::uint64_t solver_iterations_ = 0;
};

using SparseLrProblem = BasicSparseLrProblem<Eigen::MatrixXd>;
using SparseFeatureLogRegProblem = BasicSparseLrProblem<SparseFeatures>;

struct SparseLrData {
  std::string name;
  Eigen::MatrixXd features;  // examples, one per row
  Vector labels;             // +1 / -1
  double lambda = 0.1;       // the weight of ||x||_1 for the whole network
  double bound = 1.0;        // the box |x_k| <= B
};

// Largest violation of the optimality conditions of (7) at x in the box, coordinate by coordinate with
// d = the loss gradient: d_k + lambda sign(x_k) = 0 if 0 < |x_k| < B; |d_k| <= lambda if x_k = 0;
// d_k + lambda <= 0 at x_k = B; d_k - lambda >= 0 at x_k = -B. Written out here, independent of Prox.
double SparseLrOptimalityResidual(const SparseLrData& data, const Vector& x);

// The centralized solution of (7) and its objective obj*: FISTA with restart to pgr < tolerance.
struct SparseLrSolution {
  Vector x;
  double objective = 0.0;
  std::uint64_t iterations = 0;
};
absl::StatusOr<SparseLrSolution> SolveSparseLrCentralized(const SparseLrData& data, double tolerance = 1e-11);

// Two classes of texture-like image patches, standing in for seed 001's Brodatz D24 / D68 patches: two
// synthetic 2-D textures (a fine isotropic grain and an oriented wood-like grain with wavy rings, both
// with values in [0, 1]), `count` / 2 overlapping sqrt(K) x sqrt(K) patches cut from each at random
// positions, each patch vectorized, centred and scaled to unit norm; labels +1 for the first texture and
// -1 for the second; rows shuffled. K must be a square.
absl::StatusOr<SparseLrData> MakeTexturePatches(Eigen::Index count, Eigen::Index K, double lambda, std::uint64_t seed);

// seed 001 §5's measures: acc = (obj(x^) - obj*) / obj* and cserr = sum_i ||x^ - x_i||^2 / N at the
// average x^ of the nodes' estimates.
struct ConsensusMeasures {
  double acc = 0.0;
  double cserr = 0.0;
};
ConsensusMeasures MeasureConsensus(const SparseLrData& data, double objective_star, const std::vector<Vector>& x);
double SparseLrObjective(const SparseLrData& data, const Vector& x);

class SparseLrInstance final : public ProblemInstance {
 public:
  // Examples split as for the other model-fitting problems (SplitExamples: shuffled with `seed`, then
  // contiguous blocks in node-id order); obj* and x* from SolveSparseLrCentralized.
  static absl::StatusOr<std::unique_ptr<SparseLrInstance>> Create(SparseLrData data, const Topology& topology,
                                                                  std::uint64_t seed, const FistaOptions& fista);
  std::string kind() const override { return "sparse-lr"; }
  Eigen::Index dimension() const override { return data_.features.cols(); }
  std::unique_ptr<LocalProblem> MakeLocal(NodeId id) const override { return MakeLocal(id, fista_); }
  // The same examples with another local solver setting (C-ADMM at several pgr tolerances).
  std::unique_ptr<LocalProblem> MakeLocal(NodeId id, const FistaOptions& fista) const;
  const Vector& solution() const override { return solution_.x; }
  ErrorMeasure error_measure() const override { return DistanceTo(solution_.x, rows_.size()); }
  absl::StatusOr<Eigen::MatrixXd> LocalData(NodeId id) const override;
  std::string AgentFlags() const override;
  const SparseLrData& data() const { return data_; }
  double objective_star() const { return solution_.objective; }
  const SparseLrSolution& centralized() const { return solution_; }

 private:
  SparseLrData data_;
  FistaOptions fista_;
  std::map<NodeId, std::vector<Eigen::Index>> rows_;
  SparseLrSolution solution_;
};

// Seed 002 §10.2's l1-logistic regression (45) with sparse features, scaled: m examples with about
// `per_row` nonzero N(0, 1) features each (per_row column draws, repeats merged), w_true with 100
// nonzero N(0, 1) entries, v_true ~ N(0, 1), b = sign(a'w_true + v_true + e), e ~ N(0, 0.1) (variance);
// lambda = 0.1 lambda_max with lambda_max = ||A' b~||_inf of [KKB07, §2.1].
struct SparseLogRegData {
  std::string name;
  SparseFeatures features;  // m x n
  Vector labels;
  double lambda = 0.0;
};
SparseLogRegData MakeSparseLogReg(Eigen::Index m, Eigen::Index n, int per_row, std::uint64_t seed);

// Largest violation of (45)'s optimality conditions at x = (w, v), the loss gradient computed here
// directly from the features (not through the problem class).
double SparseLogRegOptimalityResidual(const SparseLogRegData& data, const Vector& x);

// The centralized fit of (45): FISTA with restart on all the examples, to pgr < tolerance.
absl::StatusOr<Vector> SolveSparseLogRegCentralized(const SparseLogRegData& data, double tolerance = 1e-10);

class SparseLogRegInstance final : public ProblemInstance {
 public:
  // Examples split by SplitExamples; each node solves its local problems by FISTA with restart, to
  // pgr < `pgr` (tight, for D-ADMM's exact step 4).
  static absl::StatusOr<std::unique_ptr<SparseLogRegInstance>> Create(SparseLogRegData data, const Topology& topology,
                                                                      std::uint64_t seed, double pgr);
  std::string kind() const override { return "logreg"; }
  Eigen::Index dimension() const override { return data_.features.cols() + 1; }
  std::unique_ptr<LocalProblem> MakeLocal(NodeId id) const override;
  const Vector& solution() const override { return solution_; }
  ErrorMeasure error_measure() const override { return DistanceTo(solution_, rows_.size()); }
  const SparseLogRegData& data() const { return data_; }
  // Node `id`'s examples, sparse (for an SVMlight file), and the same as dense rows (features, then the
  // label) for a CSV file.
  absl::StatusOr<SparseExamples> LocalExamples(NodeId id) const;
  absl::StatusOr<Eigen::MatrixXd> LocalData(NodeId id) const override;
  std::string AgentFlags() const override;

 private:
  SparseLogRegData data_;
  double pgr_ = 1e-9;
  std::map<NodeId, std::vector<Eigen::Index>> rows_;
  Vector solution_;
};

}  // namespace dadmm
