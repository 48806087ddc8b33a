// A problem instance: the data of a whole network, split into each node's private problem, with the
// centralized solution x* to measure the distributed algorithms against (seed 000, §V). Only the
// simulator and the tests see an instance; an agent sees its own LocalProblem only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/network/topology.h"
#include "common/problems/error_measure.h"
#include "common/problems/problem.h"

namespace dadmm {

// Labelled examples split across nodes (SVM, logistic regression): the rows 0..m-1 shuffled with
// `seed`, then cut into contiguous blocks, as equal as possible, in node-id order. m >= P.
std::map<NodeId, std::vector<Eigen::Index>> SplitExamples(Eigen::Index m, const Topology& topology, std::uint64_t seed);
// The rows `rows` of `features` and `labels`.
std::pair<Eigen::MatrixXd, Vector> GatherExamples(const Eigen::MatrixXd& features, const Vector& labels,
                                                  const std::vector<Eigen::Index>& rows);

// The fraction of examples that the linear classifier sign(features w + offset) labels right (+1 / -1).
double ClassificationAccuracy(const Eigen::MatrixXd& features, const Vector& labels, const Eigen::Ref<const Vector>& w,
                              double offset);

class ProblemInstance {
 public:
  virtual ~ProblemInstance() = default;
  virtual std::string kind() const = 0;
  virtual Eigen::Index dimension() const = 0;
  // Node `id`'s private problem (f_p, X_p).
  virtual std::unique_ptr<LocalProblem> MakeLocal(NodeId id) const = 0;
  // The solution of the original problem, from a centralized solver: for most problems the x* of (1)
  // that every node's estimate approaches; for LASSO (a dual method) the primal x* of (20).
  virtual const Vector& solution() const = 0;
  // The error of the nodes' estimates (in topology order), seed 000 §V: by default the relative
  // distance of every estimate to solution().
  virtual ErrorMeasure error_measure() const = 0;
  // Node `id`'s private data as the agent reads it (common/node_data.h), for deployment; Unimplemented
  // for problems agents do not run yet.
  virtual absl::StatusOr<Eigen::MatrixXd> LocalData(NodeId /*id*/) const {
    return absl::UnimplementedError(absl::StrCat("agents do not run ", kind(), " yet"));
  }
  // The problem's parameters as the agent takes them (e.g. "--beta=1"); empty if none.
  virtual std::string AgentFlags() const { return ""; }
};

}  // namespace dadmm
