#include "common/cli/problem_flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(double, beta, 1.0, "bpdn: the weight beta of ||x||_1 in (21), for the whole network.");
ABSL_FLAG(double, sigma, 0.5, "lasso: the bound ||Ax - b|| <= sigma of (20).");
ABSL_FLAG(double, delta, 1e-3, "lasso: the regularization delta of (22).");
ABSL_FLAG(double, svm_c, 0.0,
          "svm: the weight C of the hinge loss (soft margin, for data that are not linearly separable); 0: the "
          "hard margin (27).");
ABSL_FLAG(double, lambda, 1.0,
          "logreg, sparse-lr: the weight lambda of the l1 norm ((45) of seed 002, (7) of seed 001), for the whole "
          "network.");
ABSL_FLAG(std::string, logreg_solver, "newton",
          "logreg: the local solver, newton (proximal Newton, dense: up to a few hundred features) or fista (sparse "
          "features, FISTA with restart to --pgr; seed 002 10.2's thousands of features).");
ABSL_FLAG(int64_t, features, 0,
          "logreg, sparse-lr with an SVMlight data file (.svm): the number of features (the same at every node).");
ABSL_FLAG(double, box, 1.0, "sparse-lr: the box |x_k| <= box of (7).");
ABSL_FLAG(double, pgr, 1e-5,
          "sparse-lr, logreg with --logreg_solver=fista: FISTA stops when its proximal-gradient residual is below "
          "this.");
ABSL_FLAG(double, fista_step, 0.0, "sparse-lr: FISTA's constant step (seed 001 uses 0.1); 0: 1 / L.");

namespace dadmm {

ProblemSpec ProblemSpecFromFlags(const std::string& kind) {
  return ProblemSpec{.kind = kind,
                     .beta = absl::GetFlag(FLAGS_beta),
                     .sigma = absl::GetFlag(FLAGS_sigma),
                     .delta = absl::GetFlag(FLAGS_delta),
                     .svm_c = absl::GetFlag(FLAGS_svm_c),
                     .lambda = absl::GetFlag(FLAGS_lambda),
                     .box = absl::GetFlag(FLAGS_box),
                     .pgr = absl::GetFlag(FLAGS_pgr),
                     .fista_step = absl::GetFlag(FLAGS_fista_step),
                     .logreg_solver = absl::GetFlag(FLAGS_logreg_solver),
                     .features = absl::GetFlag(FLAGS_features)};
}

}  // namespace dadmm
