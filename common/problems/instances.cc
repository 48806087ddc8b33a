#include "common/problems/instances.h"

#include <numeric>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/base/numerics.h"
#include "common/base/portable_float.h"
#include "common/base/random.h"
#include "common/problems/bpdn.h"
#include "common/problems/consensus.h"
#include "common/problems/lasso.h"
#include "common/problems/logreg.h"
#include "common/problems/problem_kinds.h"
#include "common/problems/sparse_lr.h"
#include "common/problems/svm.h"

namespace dadmm {

// Products here block the same way on every machine (common/portable_float.h).
[[maybe_unused]] static const bool kPortableBlocking = (UsePortableEigenBlocking(), true);

std::map<NodeId, std::vector<Eigen::Index>> SplitExamples(Eigen::Index m, const Topology& topology,
                                                          std::uint64_t seed) {
  const auto P = static_cast<Eigen::Index>(topology.size());
  std::vector<Eigen::Index> order(static_cast<std::size_t>(m));
  std::iota(order.begin(), order.end(), 0);
  Rng rng(seed);
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.Below(i)]);
  std::map<NodeId, std::vector<Eigen::Index>> split;
  std::size_t next = 0;
  for (Eigen::Index p = 0; p < P; ++p) {
    const Eigen::Index count = EvenShare(m, P, p);
    auto& rows = split[topology.nodes()[static_cast<std::size_t>(p)].id];
    for (Eigen::Index k = 0; k < count; ++k) rows.push_back(order[next++]);
  }
  return split;
}

std::pair<Eigen::MatrixXd, Vector> GatherExamples(const Eigen::MatrixXd& features, const Vector& labels,
                                                  const std::vector<Eigen::Index>& rows) {
  const auto count = static_cast<Eigen::Index>(rows.size());
  std::pair<Eigen::MatrixXd, Vector> out{Eigen::MatrixXd(count, features.cols()), Vector(count)};
  for (Eigen::Index k = 0; k < count; ++k) {
    out.first.row(k) = features.row(rows[static_cast<std::size_t>(k)]);
    out.second[k] = labels[rows[static_cast<std::size_t>(k)]];
  }
  return out;
}

double ClassificationAccuracy(const Eigen::MatrixXd& features, const Vector& labels, const Eigen::Ref<const Vector>& w,
                              double offset) {
  const Vector score = (features * w).array() + offset;
  Eigen::Index right = 0;
  for (Eigen::Index i = 0; i < labels.size(); ++i) right += (score[i] > 0.0) == (labels[i] > 0.0);
  return static_cast<double>(right) / static_cast<double>(labels.size());
}

const std::vector<std::string>& InstanceNames() {
  // The datasets of each problem kind (common/problems/problem_kinds.h), kind by kind.
  static const std::vector<std::string> names = [] {
    std::vector<std::string> all;
    for (const ProblemKind& kind : ProblemKinds()) {
      for (absl::string_view dataset : kind.datasets) all.emplace_back(dataset);
    }
    return all;
  }();
  return names;
}

absl::StatusOr<std::unique_ptr<ProblemInstance>> MakeInstance(const std::string& name, const Topology& topology,
                                                              std::uint64_t seed, const std::string& data_dir,
                                                              Eigen::Index dimension) {
  if (name == "consensus") {
    return std::make_unique<ConsensusInstance>(GenerateConsensusData(topology, dimension, seed));
  }
  if (name == "bpdn-gaussian" || name == "bpdn-dct" || name == "bpdn-dense") {
    BpdnData data = name == "bpdn-gaussian" ? MakeGaussianBpdn(seed)
                    : name == "bpdn-dct"    ? MakeDctBpdn(seed)
                                            : MakeDenseLasso(seed);
    absl::StatusOr<std::unique_ptr<BpdnInstance>> inst = BpdnInstance::Create(std::move(data), topology);
    if (!inst.ok()) return inst.status();
    return std::unique_ptr<ProblemInstance>(*std::move(inst));
  }
  if (name == "lasso-gaussian" || name == "lasso-dct") {
    LassoData data = name == "lasso-gaussian" ? MakeGaussianLasso(seed) : MakeDctLasso(seed);
    absl::StatusOr<std::unique_ptr<LassoInstance>> inst = LassoInstance::Create(std::move(data), topology);
    if (!inst.ok()) return inst.status();
    return std::unique_ptr<ProblemInstance>(*std::move(inst));
  }
  if (name == "svm-iris") {
    absl::StatusOr<SvmData> iris = LoadIrisSetosaVersicolor(data_dir + "/iris.csv");
    if (!iris.ok()) return iris.status();
    absl::StatusOr<std::unique_ptr<SvmInstance>> inst = SvmInstance::Create(*std::move(iris), topology, seed);
    if (!inst.ok()) return inst.status();
    return std::unique_ptr<ProblemInstance>(*std::move(inst));
  }
  if (name == "svm-cancer") {
    absl::StatusOr<SvmData> cancer = LoadBreastCancerSvm(data_dir + "/breast_cancer.csv");
    if (!cancer.ok()) return cancer.status();
    absl::StatusOr<std::unique_ptr<SvmInstance>> inst = SvmInstance::Create(*std::move(cancer), topology, seed);
    if (!inst.ok()) return inst.status();
    return std::unique_ptr<ProblemInstance>(*std::move(inst));
  }
  if (name == "logreg-cancer") {
    absl::StatusOr<LogRegData> cancer = LoadBreastCancer(data_dir + "/breast_cancer.csv");
    if (!cancer.ok()) return cancer.status();
    absl::StatusOr<std::unique_ptr<LogRegInstance>> inst = LogRegInstance::Create(*std::move(cancer), topology, seed);
    if (!inst.ok()) return inst.status();
    return std::unique_ptr<ProblemInstance>(*std::move(inst));
  }
  if (name == "logreg-sparse") {
    // Seed 002 §10.2 scaled down: m = 1e5 examples (1e4 per node on 10 nodes), n = 1000 features (or
    // `dimension`), about 10 nonzeros per example; local solves by FISTA with restart to pgr < 1e-9.
    const Eigen::Index n = dimension > 1 ? dimension : 1000;
    absl::StatusOr<std::unique_ptr<SparseLogRegInstance>> inst =
        SparseLogRegInstance::Create(MakeSparseLogReg(100000, n, 10, seed), topology, seed, 1e-9);
    if (!inst.ok()) return inst.status();
    return std::unique_ptr<ProblemInstance>(*std::move(inst));
  }
  if (name == "sparse-lr-textures") {
    // Seed 001 §5: M = 10 texture patches per node, K = 10000 (or `dimension`, a square), lambda = 0.1,
    // C-ADMM's FISTA with the constant step 0.1 and pgr < 1e-5.
    const Eigen::Index K = dimension > 1 ? dimension : 10000;
    absl::StatusOr<SparseLrData> data =
        MakeTexturePatches(10 * static_cast<Eigen::Index>(topology.size()), K, 0.1, seed);
    if (!data.ok()) return data.status();
    absl::StatusOr<std::unique_ptr<SparseLrInstance>> inst =
        SparseLrInstance::Create(*std::move(data), topology, seed, {.step = 0.1, .pgr_tolerance = 1e-5});
    if (!inst.ok()) return inst.status();
    return std::unique_ptr<ProblemInstance>(*std::move(inst));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown problem '", name, "' (expected ", absl::StrJoin(InstanceNames(), ", "), ")"));
}

}  // namespace dadmm
