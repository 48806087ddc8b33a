// The problems' shared parameters as command-line flags, defined once for every program that takes
// them (dadmm-agent, dadmm-split): --beta, --sigma, --delta, --svm_c, --lambda,
// --box, --pgr, --fista_step.
#pragma once

#include <string>

#include "common/problems/node_data.h"

namespace dadmm {

// `kind` with the parameters the flags hold (not validated: ProblemSpec::Validate).
ProblemSpec ProblemSpecFromFlags(const std::string& kind);

}  // namespace dadmm
