#include "common/problems/problem_kinds.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/problems/bpdn.h"
#include "common/problems/consensus.h"
#include "common/problems/lasso.h"
#include "common/problems/logreg.h"
#include "common/problems/node_data.h"
#include "common/problems/sparse_lr.h"
#include "common/problems/svm.h"

namespace dadmm {
namespace {

// --- the shared parameters ---------------------------------------------------------------------

// A double parameter must be finite and > 0 (or >= 0, with `or_equal`); `note` follows the bound.
absl::Status CheckReal(absl::string_view name, double value, bool or_equal, const char* note) {
  if (std::isfinite(value) && (or_equal ? value >= 0.0 : value > 0.0)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(name, " must be a finite number ", or_equal ? ">= 0" : "> 0", note, ", got ", value));
}

absl::Status SetReal(double& member, absl::string_view name, const NamedValue& v) {
  const double* d = std::get_if<double>(&v.value);
  if (d == nullptr) return absl::InvalidArgumentError(absl::StrCat(name, " must be a number"));
  member = *d;
  return absl::OkStatus();
}

#define DADMM_REAL_PARAMETER(field, or_equal, note)                                                           \
  ProblemParameter {                                                                                          \
#field, [](const ProblemSpec& s) { return NamedValue{#field, s.field}; },                                   \
        [](ProblemSpec& s, const NamedValue& v) { return SetReal(s.field, #field, v); },                        \
        [](const ProblemSpec& s) { return CheckReal(#field, s.field, or_equal, note); } \
  }

const std::vector<ProblemParameter> kParameters = {
    DADMM_REAL_PARAMETER(beta, false, ""),
    DADMM_REAL_PARAMETER(sigma, false, ""),
    DADMM_REAL_PARAMETER(delta, false, ""),
    DADMM_REAL_PARAMETER(svm_c, true, " (0: the hard margin)"),
    DADMM_REAL_PARAMETER(lambda, true, ""),
    ProblemParameter{"logreg_solver",
                     [](const ProblemSpec& s) {
                       return NamedValue{"logreg_solver", s.logreg_solver};
                     },
                     [](ProblemSpec& s, const NamedValue& v) -> absl::Status {
                       const std::string* t = std::get_if<std::string>(&v.value);
                       if (t == nullptr) return absl::InvalidArgumentError("logreg_solver must be a text");
                       s.logreg_solver = *t;
                       return absl::OkStatus();
                     },
                     [](const ProblemSpec& s) -> absl::Status {
                       if (s.logreg_solver == "newton" || s.logreg_solver == "fista") return absl::OkStatus();
                       return absl::InvalidArgumentError(
                           absl::StrCat("logreg_solver must be newton or fista, got '", s.logreg_solver, "'"));
                     }},
    DADMM_REAL_PARAMETER(box, false, ""),
    DADMM_REAL_PARAMETER(pgr, false, ""),
    DADMM_REAL_PARAMETER(fista_step, true, " (0: 1 / L)"),
    ProblemParameter{"solver_problem",
                     [](const ProblemSpec& s) {
                       return NamedValue{"solver_problem", s.solver_problem};
                     },
                     [](ProblemSpec& s, const NamedValue& v) -> absl::Status {
                       const std::string* t = std::get_if<std::string>(&v.value);
                       if (t == nullptr) return absl::InvalidArgumentError("solver_problem must be a text");
                       s.solver_problem = *t;
                       return absl::OkStatus();
                     },
                     [](const ProblemSpec& s) -> absl::Status {
                       // What a solver says is data from outside: printable, one line, bounded.
                       if (s.solver_problem.size() > 200) {
                         return absl::InvalidArgumentError("solver_problem is longer than 200 characters");
                       }
                       for (const char c : s.solver_problem) {
                         if (c < 0x20 || c == 0x7f) {
                           return absl::InvalidArgumentError("solver_problem holds a control character");
                         }
                       }
                       if (s.kind == "external" && s.solver_problem.empty()) {
                         return absl::InvalidArgumentError(
                             "external: solver_problem is empty (the local solver's Describe names its problem)");
                       }
                       return absl::OkStatus();
                     }},
};

#undef DADMM_REAL_PARAMETER

// --- the local problems ------------------------------------------------------------------------

absl::Status NeedNodes(absl::string_view kind, std::size_t network_size) {
  if (network_size >= 1) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(kind, ": the network has no nodes"));
}

absl::StatusOr<std::unique_ptr<LocalProblem>> MakeConsensus(const ProblemSpec&, Eigen::MatrixXd data,
                                                            const std::string&, std::size_t) {
  // theta_p: all the numbers of the file, row by row.
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows = data;
  return std::make_unique<ConsensusProblem>(Eigen::Map<const Vector>(rows.data(), rows.size()));
}

absl::StatusOr<std::unique_ptr<LocalProblem>> MakeBpdn(const ProblemSpec& spec, Eigen::MatrixXd data,
                                                       const std::string&, std::size_t network_size) {
  if (absl::Status s = NeedNodes("bpdn", network_size); !s.ok()) return s;
  const Eigen::Index n = data.cols() - 1;
  return std::make_unique<BpdnProblem>(data.leftCols(n), data.col(n), spec.beta / static_cast<double>(network_size));
}

absl::StatusOr<std::unique_ptr<LocalProblem>> MakeLasso(const ProblemSpec& spec, Eigen::MatrixXd data,
                                                        const std::string&, std::size_t network_size) {
  if (absl::Status s = NeedNodes("lasso", network_size); !s.ok()) return s;
  const Eigen::Index n = data.cols() - 1;
  return std::make_unique<LassoDualProblem>(data.leftCols(n), data.col(n), spec.sigma, spec.delta,
                                            static_cast<int>(network_size));
}

absl::StatusOr<std::unique_ptr<LocalProblem>> MakeSvm(const ProblemSpec& spec, Eigen::MatrixXd data, const std::string&,
                                                      std::size_t network_size) {
  const Eigen::Index n = data.cols() - 1;
  if (spec.svm_c > 0.0) {  // soft margin: ||s||^2 shared out, each point's hinge loss at its node
    if (absl::Status s = NeedNodes("svm", network_size); !s.ok()) return s;
    return std::make_unique<SvmProblem>(data.leftCols(n), data.col(n), 1.0 / static_cast<double>(network_size),
                                        spec.svm_c);
  }
  return std::make_unique<SvmProblem>(data.leftCols(n), data.col(n));
}

absl::StatusOr<std::unique_ptr<LocalProblem>> MakeLogReg(const ProblemSpec& spec, Eigen::MatrixXd data,
                                                         const std::string&, std::size_t network_size) {
  if (absl::Status s = NeedNodes("logreg", network_size); !s.ok()) return s;
  const Eigen::Index n = data.cols() - 1;
  if (spec.logreg_solver == "fista") {
    return MakeSparseLogRegProblem(spec, data.leftCols(n).sparseView(), data.col(n), network_size);
  }
  return std::make_unique<LogRegProblem>(data.leftCols(n), data.col(n),
                                         spec.lambda / static_cast<double>(network_size));
}

absl::StatusOr<std::unique_ptr<LocalProblem>> MakeSparseLr(const ProblemSpec& spec, Eigen::MatrixXd data,
                                                           const std::string&, std::size_t network_size) {
  if (absl::Status s = NeedNodes("sparse-lr", network_size); !s.ok()) return s;
  const Eigen::Index n = data.cols() - 1;
  return std::make_unique<SparseLrProblem>(data.leftCols(n), data.col(n),
                                           spec.lambda / static_cast<double>(network_size), spec.box,
                                           FistaOptions{.step = spec.fista_step, .pgr_tolerance = spec.pgr});
}

absl::StatusOr<std::unique_ptr<LocalProblem>> MakeExternal(const ProblemSpec&, Eigen::MatrixXd,
                                                           const std::string& source, std::size_t) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": an external problem's data are with its local solver (--solver), not in a file or flag"));
}

bool WithFista(const ProblemSpec& spec) { return spec.logreg_solver == "fista"; }

// --- the kinds ---------------------------------------------------------------------------------

const std::vector<ProblemKind> kKinds = {
    {.name = "consensus",
     .what = "seed 000's (18): theta_p per node",
     .make = MakeConsensus,
     .datasets = {"consensus"}},
    {.name = "bpdn",
     .what = "seed 000's (25)-(26): rows of A and b per node",
     .parameters = {{"beta"}},
     .make = MakeBpdn,
     .datasets = {"bpdn-gaussian", "bpdn-dct", "bpdn-dense"}},
    {.name = "svm",
     .what = "seed 000's (27)-(28): labelled points per node",
     .parameters = {{"svm_c"}},
     .labelled = true,
     .make = MakeSvm,
     .datasets = {"svm-iris", "svm-cancer"}},
    {.name = "lasso",
     .what = "seed 000's (20): columns of A and all of b per node",
     .parameters = {{"sigma"}, {"delta"}},
     .by_columns = true,
     .make = MakeLasso,
     .datasets = {"lasso-gaussian", "lasso-dct"}},
    {.name = "logreg",
     .what = "l1-regularized logistic regression, seed 002's (45): examples per node",
     .parameters = {{"lambda"}, {"logreg_solver"}, {"pgr", WithFista}},
     .labelled = true,
     .svmlight = true,
     .make = MakeLogReg,
     .datasets = {"logreg-cancer", "logreg-sparse"}},
    {.name = "sparse-lr",
     .what = "seed 001's (7), sparse logistic regression in a box: examples per node",
     // FISTA's settings shape every local solve: nodes must agree on them for the results to be the
     // simulator's.
     .parameters = {{"lambda"}, {"box"}, {"pgr"}, {"fista_step"}},
     .labelled = true,
     .svmlight = true,
     .make = MakeSparseLr,
     .datasets = {"sparse-lr-textures"}},
    {.name = "external",
     .what = "your own f_p and X_p: a local solver beside the agent answers for them (--solver, "
             "proto/local_solver.proto)",
     .parameters = {{"solver_problem"}},
     .external = true,
     .make = MakeExternal},
};

}  // namespace

std::unique_ptr<LocalProblem> MakeSparseLogRegProblem(const ProblemSpec& spec, const SparseFeatures& features,
                                                      const Vector& labels, std::size_t network_size) {
  return std::make_unique<SparseFeatureLogRegProblem>(
      features, labels, spec.lambda / static_cast<double>(network_size), std::numeric_limits<double>::infinity(),
      FistaOptions{.step = 0.0, .pgr_tolerance = spec.pgr, .max_iterations = 1000000, .restart = true},
      /*intercept=*/true);
}

const std::vector<ProblemParameter>& ProblemParameters() { return kParameters; }

const ProblemParameter* FindProblemParameter(absl::string_view name) {
  auto it =
      std::find_if(kParameters.begin(), kParameters.end(), [&](const ProblemParameter& p) { return p.name == name; });
  return it == kParameters.end() ? nullptr : &*it;
}

const std::vector<ProblemKind>& ProblemKinds() { return kKinds; }

const ProblemKind* FindProblemKind(absl::string_view name) {
  auto it = std::find_if(kKinds.begin(), kKinds.end(), [&](const ProblemKind& k) { return k.name == name; });
  return it == kKinds.end() ? nullptr : &*it;
}

}  // namespace dadmm
