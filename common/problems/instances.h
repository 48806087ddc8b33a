// The problem instances of seed 000, §V, by name, for the simulator commands.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/network/topology.h"
#include "common/problems/instance.h"

namespace dadmm {

// "consensus"     theta_p ~ N(10, 100^2) (n = `dimension`), seeded
// "bpdn-gaussian" BPDN (21) on a 600 x 2560 Gaussian matrix (like Sparco 7), beta = 1
// "bpdn-dct"      BPDN (21) on a 200 x 1000 partial DCT (like Sparco 902), beta = 0.3
// "lasso-gaussian", "lasso-dct"  LASSO (20) on the same data, sigma = 0.5 / 0.1, column partition
// "svm-iris"      SVM (27) on Iris setosa vs versicolor (100 points, 4 features)
// "logreg-sparse" seed 002 §10.2 scaled: l1-logistic regression (45), 1e5 examples with ~10 nonzero
//                 features of n = `dimension` if > 1 else 1000, lambda = 0.1 lambda_max
// "sparse-lr-textures"  seed 001's sparse logistic regression (7) on texture patches, 10 per node,
//                 K = `dimension` if > 1 (a square) else 10000, lambda = 0.1
// `data_dir` holds deploy/data (for svm-iris).
absl::StatusOr<std::unique_ptr<ProblemInstance>> MakeInstance(const std::string& name, const Topology& topology,
                                                              std::uint64_t seed, const std::string& data_dir,
                                                              Eigen::Index dimension = 1);
const std::vector<std::string>& InstanceNames();

}  // namespace dadmm
