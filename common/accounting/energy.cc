#include "common/accounting/energy.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace dadmm {

absl::Status RadioModel::Validate() const {
  auto bad = [](double v) { return !(v >= 0.0) || !std::isfinite(v); };
  if (bad(e_elec)) return absl::InvalidArgumentError(absl::StrCat("radio E_elec must be >= 0, got ", e_elec));
  if (bad(eps_amp)) return absl::InvalidArgumentError(absl::StrCat("radio eps_amp must be >= 0, got ", eps_amp));
  if (bad(default_distance)) {
    return absl::InvalidArgumentError(absl::StrCat("radio default distance must be >= 0, got ", default_distance));
  }
  return absl::OkStatus();
}

double LinkDistance(const Topology& topology, NodeId a, NodeId b, const RadioModel& model) {
  const auto& pa = topology.node(a).position;
  const auto& pb = topology.node(b).position;
  if (!pa || !pb) return model.default_distance;
  double sum = 0.0;
  for (int i = 0; i < 3; ++i) sum += ((*pa)[i] - (*pb)[i]) * ((*pa)[i] - (*pb)[i]);
  return std::sqrt(sum);
}

}  // namespace dadmm
