#include "common/reference/report.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/io/csv.h"
#include "common/io/svmlight.h"
#include "common/problems/bpdn.h"
#include "common/problems/consensus.h"
#include "common/problems/error_measure.h"
#include "common/problems/logreg.h"
#include "common/problems/sparse_lr.h"
#include "common/problems/svm.h"

namespace dadmm {

namespace {

// All the nodes' rows, stacked in the nodes' order (for bpdn, svm, logreg, sparse-lr: rows of [A b] or
// examples with their labels last).
absl::StatusOr<Eigen::MatrixXd> AllRows(const NetworkOutcome& o) {
  std::vector<Eigen::MatrixXd> blocks;
  Eigen::Index rows = 0;
  for (std::size_t i = 0; i < o.data_paths.size(); ++i) {
    const std::string& path = o.data_paths[i];
    absl::StatusOr<Eigen::MatrixXd> block = [&]() -> absl::StatusOr<Eigen::MatrixXd> {
      if (!IsSvmLightPath(path)) return ReadMatrixCsv(path);
      absl::StatusOr<SparseExamples> examples = ReadSvmLight(path, o.spec.features);
      if (!examples.ok()) return examples.status();
      Eigen::MatrixXd dense(examples->features.rows(), o.spec.features + 1);
      dense << Eigen::MatrixXd(examples->features), examples->labels;
      return dense;
    }();
    if (!block.ok()) return block.status();
    if (!blocks.empty() && block->cols() != blocks.front().cols()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": ", block->cols(), " columns, node ", o.nodes.front(),
                                                     "'s have ", blocks.front().cols()));
    }
    rows += block->rows();
    blocks.push_back(*std::move(block));
  }
  if (blocks.empty()) return absl::InvalidArgumentError("no node data files");
  Eigen::MatrixXd all(rows, blocks.front().cols());
  Eigen::Index next = 0;
  for (const Eigen::MatrixXd& b : blocks) {
    all.middleRows(next, b.rows()) = b;
    next += b.rows();
  }
  return all;
}

// Seed 000's (18): the true average of the nodes' theta_p.
absl::StatusOr<std::string> Consensus(const NetworkOutcome& o) {
  std::map<NodeId, Vector> thetas;
  for (std::size_t i = 0; i < o.nodes.size(); ++i) {
    absl::StatusOr<Vector> theta = ReadVectorCsv(o.data_paths[i]);
    if (!theta.ok()) return theta.status();
    thetas.emplace(o.nodes[i], *std::move(theta));
  }
  const Vector x_star = ConsensusSolution(thetas);
  return absl::StrFormat("true average            %.17g\nrelative error          %.3e\n", x_star[0],
                         RelativeError(o.estimates, x_star));
}

// How far the estimates are from the first node's (for kinds compared by a model below as well).
std::string Spread(const NetworkOutcome& o) {
  double spread = 0.0;
  for (const Vector& x : o.estimates) spread = std::max(spread, (x - o.estimates.front()).norm());
  return absl::StrFormat("estimates' spread       %.3e (largest distance from node %d's)\n", spread, o.nodes.front());
}

// Seed 000's (21) on all the rows, by the centralized l1-penalized solver.
absl::StatusOr<std::string> Bpdn(const NetworkOutcome& o) {
  absl::StatusOr<Eigen::MatrixXd> all = AllRows(o);
  if (!all.ok()) return all.status();
  const Eigen::Index n = all->cols() - 1;
  const Eigen::MatrixXd A = all->leftCols(n);
  const Vector b = all->col(n);
  absl::StatusOr<Vector> central = SolveL1Penalized(A, b, o.spec.beta, Vector::Zero(n), SquaredSpectralNorm(A));
  if (!central.ok()) return central.status();
  auto objective = [&](const Vector& x) { return 0.5 * (A * x - b).squaredNorm() + 0.5 * o.spec.beta * x.lpNorm<1>(); };
  return Spread(o) + absl::StrFormat(
                         "centralized solution    relative error of the estimates %.3e; (1/2)||Ax-b||^2 + "
                         "(beta/2)||x||_1: %.6f at node %d's, %.6f at the centralized x*\n",
                         RelativeError(o.estimates, *central), objective(o.estimates.front()), o.nodes.front(),
                         objective(*central));
}

// A fitted model (l1-logistic regression, soft-margin SVM) against the centralized fit; the hard-margin
// SVM has no centralized solver here, only the spread.
absl::StatusOr<std::string> FittedModel(const NetworkOutcome& o) {
  const ProblemSpec& spec = o.spec;
  if (spec.kind == "svm" && spec.svm_c <= 0.0) return Spread(o);
  absl::StatusOr<Eigen::MatrixXd> all = AllRows(o);
  if (!all.ok()) return all.status();
  const Eigen::Index n = all->cols() - 1, rows = all->rows();
  const Eigen::MatrixXd features = all->leftCols(n);
  const Vector labels = all->col(n);
  const LogRegData logreg{.features = features, .labels = labels, .lambda = spec.lambda};
  const SvmData svm{.points = features, .labels = labels, .hinge_weight = spec.svm_c};
  absl::StatusOr<Vector> central =
      spec.kind == "logreg" && spec.logreg_solver == "fista"
          ? SolveSparseLogRegCentralized({.features = features.sparseView(), .labels = labels, .lambda = spec.lambda})
      : spec.kind == "logreg" ? SolveLogRegCentralized(logreg)
                              : SolveSvmCentralized(svm);
  if (!central.ok()) return central.status();
  auto accuracy = [&](const Vector& y) {
    return spec.kind == "logreg" ? LogRegAccuracy(features, labels, y) : SvmAccuracy(svm, y);
  };
  const Vector& x = o.estimates.front();
  auto support = [n](const Vector& v) {
    std::vector<Eigen::Index> s;
    for (Eigen::Index j = 0; j < n; ++j) {
      if (std::abs(v[j]) > 1e-6 * v.head(n).lpNorm<Eigen::Infinity>()) s.push_back(j + 1);
    }
    return s;
  };
  return Spread(o) +
         absl::StrFormat(
             "model (node %d's)        training accuracy %.4f (centralized fit: %.4f) on all %d examples\n"
             "                        %d nonzero weights of %d (centralized: %d)%s\n"
             "                        largest coefficient difference %.3e (relative to the fit: %.3e)\n",
             o.nodes.front(), accuracy(x), accuracy(*central), rows, support(x).size(), n, support(*central).size(),
             support(x).size() < static_cast<std::size_t>(n) ? ", features " + absl::StrJoin(support(x), ",") : "",
             (x - *central).lpNorm<Eigen::Infinity>(), (x - *central).norm() / central->norm());
}

// Seed 001's measures against the centralized solution of (7) on all the examples.
absl::StatusOr<std::string> SparseLr(const NetworkOutcome& o) {
  absl::StatusOr<Eigen::MatrixXd> all = AllRows(o);
  if (!all.ok()) return all.status();
  const Eigen::Index n = all->cols() - 1;
  const SparseLrData data{
      .features = all->leftCols(n), .labels = all->col(n), .lambda = o.spec.lambda, .bound = o.spec.box};
  absl::StatusOr<SparseLrSolution> central = SolveSparseLrCentralized(data);
  if (!central.ok()) return central.status();
  const ConsensusMeasures m = MeasureConsensus(data, central->objective, o.estimates);
  return Spread(o) + absl::StrFormat(
                         "centralized solution    obj* = %.10g (FISTA on all %d examples); acc = (obj(x^) - obj*) / "
                         "obj* = %.3e, cserr = %.3e (seed 001's targets: 1e-4, 1e-5)\n",
                         central->objective, all->rows(), m.acc, m.cserr);
}

// The nodes' primal blocks, in node order, as one vector.
Vector ConcatenatedBlocks(const NetworkOutcome& o) {
  std::vector<double> x;
  for (const std::vector<double>& block : o.primal_blocks) x.insert(x.end(), block.begin(), block.end());
  return Eigen::Map<const Vector>(x.data(), static_cast<Eigen::Index>(x.size()));
}

// Seed 000's (20): the estimates are the dual lambda; the solution x is the nodes' blocks, in order.
absl::StatusOr<std::string> Lasso(const NetworkOutcome& o) {
  const Vector primal = ConcatenatedBlocks(o);
  return Spread(o) +
         absl::StrFormat(
             "solution x of (20)      %d entries from the nodes' blocks, ||x||_1 = %.6g, %d above 1e-6 in magnitude\n",
             primal.size(), primal.lpNorm<1>(), (primal.array().abs() > 1e-6).count());
}

// A problem only its local solvers know: no reference here (the solver's author has one; the Python
// examples check theirs against scipy).
absl::StatusOr<std::string> External(const NetworkOutcome& o) {
  return Spread(o) + absl::StrFormat(
                         "no centralized reference  '%s' is known to its local solvers only; check the result "
                         "against a solution of the whole problem where you have one\n",
                         o.spec.solver_problem);
}

struct ReferenceEntry {
  const char* kind;
  absl::StatusOr<std::string> (*compare)(const NetworkOutcome&);
};

constexpr ReferenceEntry kReferences[] = {
    {"consensus", Consensus}, {"bpdn", Bpdn},          {"svm", FittedModel},   {"lasso", Lasso},
    {"logreg", FittedModel},  {"sparse-lr", SparseLr}, {"external", External},
};

}  // namespace

bool HasReference(const std::string& kind) {
  return std::any_of(std::begin(kReferences), std::end(kReferences),
                     [&](const ReferenceEntry& e) { return kind == e.kind; });
}

Vector AssembledSolution(const NetworkOutcome& outcome) {
  const bool blocks =
      !outcome.primal_blocks.empty() && std::all_of(outcome.primal_blocks.begin(), outcome.primal_blocks.end(),
                                                    [](const std::vector<double>& b) { return !b.empty(); });
  if (blocks) return ConcatenatedBlocks(outcome);
  if (outcome.estimates.empty()) return Vector();
  Vector mean = Vector::Zero(outcome.estimates.front().size());
  for (const Vector& x : outcome.estimates) {
    if (x.size() == mean.size()) mean += x;
  }
  return mean / static_cast<double>(outcome.estimates.size());
}

absl::StatusOr<std::string> CompareWithReference(const NetworkOutcome& outcome) {
  if (outcome.nodes.empty() || outcome.nodes.size() != outcome.data_paths.size() ||
      outcome.nodes.size() != outcome.estimates.size()) {
    return absl::InvalidArgumentError("reference: one data file and one estimate per node expected");
  }
  for (const ReferenceEntry& e : kReferences) {
    if (outcome.spec.kind == e.kind) return e.compare(outcome);
  }
  return absl::InvalidArgumentError(absl::StrCat("reference: no centralized reference for '", outcome.spec.kind, "'"));
}

}  // namespace dadmm
