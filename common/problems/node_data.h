// A node's private data as an agent reads it: one CSV file per node (common/csv.h: values separated by
// commas or whitespace, one row per line, '#' comments), and the problem's shared parameters.
//   consensus  theta_p: one or more numbers
//   bpdn       the node's rows of [A b] (seed 000, (25)-(26)): a row of A, then its entry of b
//   svm        the node's points (seed 000, (27)-(28)): the features, then the label +1 or -1; with
//              svm_c > 0 the soft margin ||s||^2 + C sum_i (1 - d_i (a_i's - r))_+
//   lasso      the node's columns of A and all of b (seed 000, (20), column partition): row i holds
//              A_p's row i, then b_i; the node estimates the dual lambda (22)-(24) and recovers its
//              own block x_p of the solution
//   logreg     the node's examples (seed 002, (45), split across examples): the features, then the
//              label +1 or -1; x = (w, v), the weights and the intercept; with logreg_solver = fista the
//              features are kept sparse (zeros in the file are not stored)
//   sparse-lr  the node's examples (seed 001, (7): no intercept, the box |x_k| <= box): the features, then
//              the label +1 or -1; local solves (C-ADMM, D-ADMM) by FISTA (16) stopped at pgr
//   external   no file: a local solver beside the agent holds the data and answers for f_p and X_p
//              (proto/local_solver.proto, agent/local_solver_client.h); solver_problem is what it says
//              its problem is, the same at every node
// logreg and sparse-lr also read examples with sparse features in the SVMlight format (a file ending in
// .svm, common/svmlight.h; ProblemSpec::features gives n); with logreg_solver = fista they stay sparse.
// `dadmm-sim --write_data=DIR` writes such files for any network and dataset.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/base/named_value.h"
#include "common/problems/problem.h"

namespace dadmm {

struct ProblemSpec {
  std::string kind = "consensus";  // consensus, bpdn, svm, lasso, logreg, sparse-lr, external
  double beta = 1.0;               // bpdn: the weight of ||x||_1 in (21) for the whole network
  double sigma = 0.5;              // lasso: the bound ||Ax - b|| <= sigma of (20)
  double delta = 1e-3;             // lasso: the regularization delta of (22)
  double svm_c = 0.0;              // svm: the hinge-loss weight C of the soft margin; 0: the hard margin (27)
  double lambda = 1.0;             // logreg, sparse-lr: the weight of the l1 norm, for the whole network
  double box = 1.0;                // sparse-lr: the bound B of |x_k| <= B
  double pgr = 1e-5;               // sparse-lr: FISTA's stopping tolerance on the proximal-gradient residual
  double fista_step = 0.0;         // sparse-lr: FISTA's constant step; 0: 1 / L of the local problem
  // logreg: the local solver, "newton" (proximal Newton, dense Hessian: for tens to hundreds of
  // features) or "fista" (FISTA with restart on sparse features, to pgr < `pgr`: seed 002 §10.2's
  // thousands of sparse features)
  std::string logreg_solver = "newton";
  // logreg, sparse-lr with an SVMlight data file (.svm): the number of features n (every node the same)
  std::int64_t features = 0;
  // external: the problem and shared parameters the local solver describes (e.g. "huber delta=1.35"),
  // compared in the handshake like a built-in kind's parameters
  std::string solver_problem;

  absl::Status Validate() const;
  // Kind and shared parameters, for people: "consensus", "bpdn beta=0.3", "lasso sigma=0.5 delta=0.001".
  std::string Describe() const;
  // The same, typed, as the handshake compares them (doubles bit for bit) and the result record holds
  // them: "problem" (the kind), then the parameters that shape this kind's local problem, under their
  // flags' names (common/problems/problem_kinds.h).
  std::vector<NamedValue> Parameters() const;
  // A spec from such a list (the other parameters at their defaults); validated.
  static absl::StatusOr<ProblemSpec> FromParameters(const std::vector<NamedValue>& parameters);
};

// The problem kinds agents run (common/problems/problem_kinds.h: ProblemKinds, by name).
const std::vector<std::string>& AgentProblemKinds();
// The same with what each is and what a node's data holds, for --help.
std::string AgentProblemHelp();

// Node p's f_p from its data file. `network_size` P enters BPDN's lambda = beta / P. Errors are one
// line naming the file (and line).
absl::StatusOr<std::unique_ptr<LocalProblem>> LoadLocalProblem(const ProblemSpec& spec, const std::string& path,
                                                               std::size_t network_size);
// The same from values already read (for --theta).
absl::StatusOr<std::unique_ptr<LocalProblem>> MakeLocalProblem(const ProblemSpec& spec, Eigen::MatrixXd data,
                                                               const std::string& source, std::size_t network_size);

}  // namespace dadmm
