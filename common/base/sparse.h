// Labelled examples whose features have few nonzeros each (seed 002 §10.2: about 10 of n), as the
// SVMlight reader gives them and the sparse logistic problems take them.
#pragma once

#include "Eigen/SparseCore"
#include "common/base/types.h"

namespace dadmm {

// Feature matrices with few nonzeros per example (seed 002 §10.2: about 10 of n), row-major.
using SparseFeatures = Eigen::SparseMatrix<double, Eigen::RowMajor>;

// Labelled examples with sparse features.
struct SparseExamples {
  SparseFeatures features;  // one example per row
  Vector labels;            // +1 / -1
};

}  // namespace dadmm
