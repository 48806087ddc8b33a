#include "common/problems/node_data.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/io/csv.h"
#include "common/io/svmlight.h"
#include "common/problems/bpdn.h"
#include "common/problems/consensus.h"
#include "common/problems/lasso.h"
#include "common/problems/logreg.h"
#include "common/problems/sparse_lr.h"
#include "common/problems/svm.h"

namespace dadmm {

namespace {

struct KindEntry {
  const char* kind;
  const char* what;  // for --help: the problem and what a node's data file holds
};

// Every problem kind agents run, once.
constexpr KindEntry kAgentKinds[] = {
    {"consensus", "seed 000's (18): theta_p per node"},
    {"bpdn", "seed 000's (25)-(26): rows of A and b per node"},
    {"svm", "seed 000's (27)-(28): labelled points per node"},
    {"lasso", "seed 000's (20): columns of A and all of b per node"},
    {"logreg", "l1-regularized logistic regression, seed 002's (45): examples per node"},
    {"sparse-lr", "seed 001's (7), sparse logistic regression in a box: examples per node"},
};

}  // namespace

const std::vector<std::string>& AgentProblemKinds() {
  static const std::vector<std::string> kinds = [] {
    std::vector<std::string> names;
    for (const KindEntry& entry : kAgentKinds) names.emplace_back(entry.kind);
    return names;
  }();
  return kinds;
}

std::string AgentProblemHelp() {
  std::string help;
  for (const KindEntry& entry : kAgentKinds) {
    absl::StrAppend(&help, help.empty() ? "" : ", ", entry.kind, " (", entry.what, ")");
  }
  return help;
}

absl::Status ProblemSpec::Validate() const {
  const std::vector<std::string>& kinds = AgentProblemKinds();
  if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("problem '", kind, "' is not one agents run (", absl::StrJoin(kinds, ", "), ")"));
  }
  if (!(beta > 0.0) || !std::isfinite(beta)) {
    return absl::InvalidArgumentError(absl::StrCat("beta must be a finite number > 0, got ", beta));
  }
  if (!(sigma > 0.0) || !std::isfinite(sigma)) {
    return absl::InvalidArgumentError(absl::StrCat("sigma must be a finite number > 0, got ", sigma));
  }
  if (!(svm_c >= 0.0) || !std::isfinite(svm_c)) {
    return absl::InvalidArgumentError(
        absl::StrCat("svm_c must be a finite number >= 0 (0: the hard margin), got ", svm_c));
  }
  if (!(lambda >= 0.0) || !std::isfinite(lambda)) {
    return absl::InvalidArgumentError(absl::StrCat("lambda must be a finite number >= 0, got ", lambda));
  }
  if (features < 0 || features > 100000000) {
    return absl::InvalidArgumentError(absl::StrCat("features must be in 0..1e8, got ", features));
  }
  if (logreg_solver != "newton" && logreg_solver != "fista") {
    return absl::InvalidArgumentError(absl::StrCat("logreg_solver must be newton or fista, got '", logreg_solver, "'"));
  }
  if (!(box > 0.0) || !std::isfinite(box)) {
    return absl::InvalidArgumentError(absl::StrCat("box must be a finite number > 0, got ", box));
  }
  if (!(pgr > 0.0) || !std::isfinite(pgr)) {
    return absl::InvalidArgumentError(absl::StrCat("pgr must be a finite number > 0, got ", pgr));
  }
  if (!(fista_step >= 0.0) || !std::isfinite(fista_step)) {
    return absl::InvalidArgumentError(
        absl::StrCat("fista_step must be a finite number >= 0 (0: 1 / L), got ", fista_step));
  }
  if (!(delta > 0.0) || !std::isfinite(delta)) {
    return absl::InvalidArgumentError(absl::StrCat("delta must be a finite number > 0, got ", delta));
  }
  return absl::OkStatus();
}

std::string ProblemSpec::Describe() const {
  if (kind == "bpdn") return absl::StrFormat("bpdn beta=%.17g", beta);
  if (kind == "lasso") return absl::StrFormat("lasso sigma=%.17g delta=%.17g", sigma, delta);
  if (kind == "svm" && svm_c > 0.0) return absl::StrFormat("svm C=%.17g", svm_c);
  if (kind == "logreg" && logreg_solver == "fista") {
    return absl::StrFormat("logreg lambda=%.17g solver=fista pgr=%.17g", lambda, pgr);
  }
  if (kind == "logreg") return absl::StrFormat("logreg lambda=%.17g", lambda);
  if (kind == "sparse-lr") {
    // FISTA's settings shape every local solve: nodes must agree on them for the results to be the
    // simulator's.
    return absl::StrFormat("sparse-lr lambda=%.17g box=%.17g pgr=%.17g fista_step=%.17g", lambda, box, pgr, fista_step);
  }
  return kind;
}

std::vector<NamedValue> ProblemSpec::Parameters() const {
  std::vector<NamedValue> p = {{"problem", kind}};
  if (kind == "bpdn") p.push_back({"beta", beta});
  if (kind == "lasso") p.insert(p.end(), {{"sigma", sigma}, {"delta", delta}});
  if (kind == "svm") p.push_back({"svm_c", svm_c});
  if (kind == "logreg") {
    p.insert(p.end(), {{"lambda", lambda}, {"logreg_solver", logreg_solver}});
    if (logreg_solver == "fista") p.push_back({"pgr", pgr});
  }
  if (kind == "sparse-lr") {
    // FISTA's settings shape every local solve: nodes must agree on them for the results to be the
    // simulator's.
    p.insert(p.end(), {{"lambda", lambda}, {"box", box}, {"pgr", pgr}, {"fista_step", fista_step}});
  }
  return p;
}

namespace {

// logreg with logreg_solver = fista: FISTA with restart on the sparse features, to pgr.
std::unique_ptr<LocalProblem> MakeSparseLogRegProblem(const ProblemSpec& spec, const SparseFeatures& features,
                                                      const Vector& labels, std::size_t network_size) {
  return std::make_unique<SparseFeatureLogRegProblem>(
      features, labels, spec.lambda / static_cast<double>(network_size), std::numeric_limits<double>::infinity(),
      FistaOptions{.step = 0.0, .pgr_tolerance = spec.pgr, .max_iterations = 1000000, .restart = true},
      /*intercept=*/true);
}

}  // namespace

absl::StatusOr<std::unique_ptr<LocalProblem>> MakeLocalProblem(const ProblemSpec& spec, Eigen::MatrixXd data,
                                                               const std::string& source, std::size_t network_size) {
  if (absl::Status s = spec.Validate(); !s.ok()) return s;
  if (spec.kind == "consensus") {
    // theta_p: all the numbers of the file, row by row.
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows = data;
    return std::make_unique<ConsensusProblem>(Eigen::Map<const Vector>(rows.data(), rows.size()));
  }
  if (data.cols() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, ": ", spec.kind, " data need at least 2 columns (",
        spec.kind == "svm" || spec.kind == "logreg" || spec.kind == "sparse-lr" ? "features, then the label"
                                                                                : "a row of A, then b",
        "), found ", data.cols()));
  }
  const Eigen::Index n = data.cols() - 1;
  if (spec.kind == "bpdn") {
    if (network_size < 1) return absl::InvalidArgumentError("bpdn: the network has no nodes");
    return std::make_unique<BpdnProblem>(data.leftCols(n), data.col(n), spec.beta / static_cast<double>(network_size));
  }
  if (spec.kind == "lasso") {
    if (network_size < 1) return absl::InvalidArgumentError("lasso: the network has no nodes");
    return std::make_unique<LassoDualProblem>(data.leftCols(n), data.col(n), spec.sigma, spec.delta,
                                              static_cast<int>(network_size));
  }
  // svm and logreg: points with labels
  for (Eigen::Index i = 0; i < data.rows(); ++i) {
    if (data(i, n) != 1.0 && data(i, n) != -1.0) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": point ", i + 1, " has label ", data(i, n), " (the last column must be +1 or -1)"));
    }
  }
  if (spec.kind == "logreg") {
    if (network_size < 1) return absl::InvalidArgumentError("logreg: the network has no nodes");
    if (spec.logreg_solver == "fista") {
      return MakeSparseLogRegProblem(spec, data.leftCols(n).sparseView(), data.col(n), network_size);
    }
    return std::make_unique<LogRegProblem>(data.leftCols(n), data.col(n),
                                           spec.lambda / static_cast<double>(network_size));
  }
  if (spec.kind == "sparse-lr") {
    if (network_size < 1) return absl::InvalidArgumentError("sparse-lr: the network has no nodes");
    return std::make_unique<SparseLrProblem>(data.leftCols(n), data.col(n),
                                             spec.lambda / static_cast<double>(network_size), spec.box,
                                             FistaOptions{.step = spec.fista_step, .pgr_tolerance = spec.pgr});
  }
  if (spec.svm_c > 0.0) {  // soft margin: ||s||^2 shared out, each point's hinge loss at its node
    if (network_size < 1) return absl::InvalidArgumentError("svm: the network has no nodes");
    return std::make_unique<SvmProblem>(data.leftCols(n), data.col(n), 1.0 / static_cast<double>(network_size),
                                        spec.svm_c);
  }
  return std::make_unique<SvmProblem>(data.leftCols(n), data.col(n));
}

absl::StatusOr<std::unique_ptr<LocalProblem>> LoadLocalProblem(const ProblemSpec& spec, const std::string& path,
                                                               std::size_t network_size) {
  if (absl::Status s = spec.Validate(); !s.ok()) return s;
  if (IsSvmLightPath(path)) {
    if (spec.kind != "logreg" && spec.kind != "sparse-lr") {
      return absl::InvalidArgumentError(absl::StrCat(path,
                                                     ": an SVMlight file (.svm) holds labelled examples, for "
                                                     "logreg or sparse-lr, not ",
                                                     spec.kind));
    }
    if (spec.features < 1) {
      return absl::InvalidArgumentError(absl::StrCat(path,
                                                     ": an SVMlight file needs --features (the number of "
                                                     "features, the same at every node)"));
    }
    absl::StatusOr<SparseExamples> examples = ReadSvmLight(path, spec.features);
    if (!examples.ok()) return examples.status();
    if (spec.kind == "logreg" && spec.logreg_solver == "fista") {
      if (network_size < 1) return absl::InvalidArgumentError("logreg: the network has no nodes");
      return MakeSparseLogRegProblem(spec, examples->features, examples->labels, network_size);
    }
    Eigen::MatrixXd dense(examples->features.rows(), spec.features + 1);
    dense << Eigen::MatrixXd(examples->features), examples->labels;
    return MakeLocalProblem(spec, std::move(dense), path, network_size);
  }
  absl::StatusOr<Eigen::MatrixXd> data = spec.kind == "consensus" ? [&]() -> absl::StatusOr<Eigen::MatrixXd> {
    // Consensus data may be ragged (any layout of numbers): read them as one vector.
    absl::StatusOr<Vector> v = ReadVectorCsv(path);
    if (!v.ok()) return v.status();
    return Eigen::MatrixXd(v->transpose());
  }()
      : ReadMatrixCsv(path);
  if (!data.ok()) return data.status();
  return MakeLocalProblem(spec, *std::move(data), path, network_size);
}

}  // namespace dadmm
