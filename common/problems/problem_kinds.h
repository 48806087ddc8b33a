// The problem kinds agents run, each described once: its name, what it is and what a node's data
// holds (for --help), its shared parameters (the handshake compares them, the result record and
// dadmm-split write them), how a node's local problem is made from its data, and the built-in
// datasets of that kind (dadmm-sim, dadmm-split's tests). The agent, dadmm-sim, dadmm-split, the
// result record and dadmm-ctl report read this table; the centralized references that dadmm-ctl
// report compares with are in common/reference (one entry per kind there, a test checks that every
// kind here has one: the references need solvers this library does not link).
//
// To add a kind: an entry in kProblemKinds (problem_kinds.cc) with its local problem, its parameters
// (from kProblemParameters, or a new one there and in ProblemSpec), its datasets in instances.cc,
// and its reference in common/reference/report.cc.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/base/named_value.h"
#include "common/base/sparse.h"
#include "common/base/types.h"
#include "common/problems/problem.h"

namespace dadmm {

struct ProblemSpec;

// One shared parameter of the problems, under its flag's name: its value in a ProblemSpec, typed,
// and its check.
struct ProblemParameter {
  absl::string_view name;
  NamedValue (*get)(const ProblemSpec& spec);
  // Sets it from a typed value (InvalidArgument if the type is not its own).
  absl::Status (*set)(ProblemSpec& spec, const NamedValue& value);
  absl::Status (*validate)(const ProblemSpec& spec);
};
const std::vector<ProblemParameter>& ProblemParameters();
const ProblemParameter* FindProblemParameter(absl::string_view name);

struct ProblemKind {
  absl::string_view name;  // --problem
  absl::string_view what;  // for --help: the problem, and what a node's data holds
  // The shared parameters that shape this kind's local problem, in the order the handshake lists
  // them; `applies` (if set) says whether one counts for a given spec (logreg's pgr, with FISTA only).
  struct Parameter {
    absl::string_view name;
    bool (*applies)(const ProblemSpec& spec) = nullptr;
  };
  std::vector<Parameter> parameters;
  bool labelled = false;    // a data row ends in the label +1 or -1 (then the rows are examples)
  bool svmlight = false;    // reads SVMlight files (.svm) as well as CSV
  bool by_columns = false;  // dadmm-split gives each node a block of A's columns and all of b (lasso)
  // f_p and X_p are a local solver's, outside the core (proto/local_solver.proto): no data file, no
  // datasets, and `make` refuses; the agent and dadmm-ctl report connect to the solver instead.
  bool external = false;
  // Node p's f_p from the values of its data file (`source` names it in errors), its columns and
  // labels checked; `network_size` P enters the kinds whose regularizer is shared out.
  absl::StatusOr<std::unique_ptr<LocalProblem>> (*make)(const ProblemSpec& spec, Eigen::MatrixXd data,
                                                        const std::string& source, std::size_t network_size);
  std::vector<absl::string_view> datasets;  // built-in instances of this kind (common/problems/instances.h)
};

const std::vector<ProblemKind>& ProblemKinds();
// nullptr if agents run no such kind.
const ProblemKind* FindProblemKind(absl::string_view name);

// logreg with logreg_solver = fista: FISTA with restart on sparse features, to pgr (from a CSV file's
// values or an SVMlight file's).
std::unique_ptr<LocalProblem> MakeSparseLogRegProblem(const ProblemSpec& spec, const SparseFeatures& features,
                                                      const Vector& labels, std::size_t network_size);

}  // namespace dadmm
