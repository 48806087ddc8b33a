#include "common/problems/node_data.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/io/csv.h"
#include "common/io/svmlight.h"
#include "common/problems/problem_kinds.h"

namespace dadmm {

const std::vector<std::string>& AgentProblemKinds() {
  static const std::vector<std::string> kinds = [] {
    std::vector<std::string> names;
    for (const ProblemKind& kind : ProblemKinds()) names.emplace_back(kind.name);
    return names;
  }();
  return kinds;
}

std::string AgentProblemHelp() {
  std::string help;
  for (const ProblemKind& kind : ProblemKinds()) {
    absl::StrAppend(&help, help.empty() ? "" : ", ", kind.name, " (", kind.what, ")");
  }
  return help;
}

absl::Status ProblemSpec::Validate() const {
  if (FindProblemKind(kind) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("problem '", kind, "' is not one agents run (", absl::StrJoin(AgentProblemKinds(), ", "), ")"));
  }
  for (const ProblemParameter& p : ProblemParameters()) {
    if (absl::Status s = p.validate(*this); !s.ok()) return s;
  }
  if (features < 0 || features > 100000000) {
    return absl::InvalidArgumentError(absl::StrCat("features must be in 0..1e8, got ", features));
  }
  return absl::OkStatus();
}

std::vector<NamedValue> ProblemSpec::Parameters() const {
  std::vector<NamedValue> p = {{"problem", kind}};
  const ProblemKind* k = FindProblemKind(kind);
  if (k == nullptr) return p;
  for (const ProblemKind::Parameter& param : k->parameters) {
    if (param.applies != nullptr && !param.applies(*this)) continue;
    p.push_back(FindProblemParameter(param.name)->get(*this));
  }
  return p;
}

std::string ProblemSpec::Describe() const {
  std::string text = kind;
  const std::vector<NamedValue> p = Parameters();
  for (std::size_t i = 1; i < p.size(); ++i) {
    const std::string* t = std::get_if<std::string>(&p[i].value);
    absl::StrAppend(&text, " ", p[i].name, "=", t != nullptr ? *t : FormatValue(p[i]));
  }
  return text;
}

absl::StatusOr<ProblemSpec> ProblemSpec::FromParameters(const std::vector<NamedValue>& parameters) {
  ProblemSpec spec;
  bool named = false;
  for (const NamedValue& v : parameters) {
    if (v.name == "problem") {
      const std::string* t = std::get_if<std::string>(&v.value);
      if (t == nullptr) return absl::InvalidArgumentError("problem must be a text");
      spec.kind = *t;
      named = true;
      continue;
    }
    const ProblemParameter* p = FindProblemParameter(v.name);
    if (p == nullptr) return absl::InvalidArgumentError(absl::StrCat("'", v.name, "' is not a problem parameter"));
    if (absl::Status s = p->set(spec, v); !s.ok()) return s;
  }
  if (!named) return absl::InvalidArgumentError("no problem kind among the parameters");
  if (absl::Status s = spec.Validate(); !s.ok()) return s;
  return spec;
}

absl::StatusOr<std::unique_ptr<LocalProblem>> MakeLocalProblem(const ProblemSpec& spec, Eigen::MatrixXd data,
                                                               const std::string& source, std::size_t network_size) {
  if (absl::Status s = spec.Validate(); !s.ok()) return s;
  const ProblemKind& kind = *FindProblemKind(spec.kind);
  if (kind.name != "consensus" && data.cols() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", spec.kind, " data need at least 2 columns (",
                                                   kind.labelled ? "features, then the label" : "a row of A, then b",
                                                   "), found ", data.cols()));
  }
  if (kind.labelled) {
    const Eigen::Index n = data.cols() - 1;
    for (Eigen::Index i = 0; i < data.rows(); ++i) {
      if (data(i, n) != 1.0 && data(i, n) != -1.0) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": point ", i + 1, " has label ", data(i, n), " (the last column must be +1 or -1)"));
      }
    }
  }
  return kind.make(spec, std::move(data), source, network_size);
}

absl::StatusOr<std::unique_ptr<LocalProblem>> LoadLocalProblem(const ProblemSpec& spec, const std::string& path,
                                                               std::size_t network_size) {
  if (absl::Status s = spec.Validate(); !s.ok()) return s;
  if (IsSvmLightPath(path)) {
    if (!FindProblemKind(spec.kind)->svmlight) {
      return absl::InvalidArgumentError(absl::StrCat(path,
                                                     ": an SVMlight file (.svm) holds labelled examples, for "
                                                     "logreg or sparse-lr, not ",
                                                     spec.kind));
    }
    if (spec.features < 1) {
      return absl::InvalidArgumentError(absl::StrCat(path,
                                                     ": an SVMlight file needs --features (the number of "
                                                     "features, the same at every node)"));
    }
    absl::StatusOr<SparseExamples> examples = ReadSvmLight(path, spec.features);
    if (!examples.ok()) return examples.status();
    if (spec.kind == "logreg" && spec.logreg_solver == "fista") {
      if (network_size < 1) return absl::InvalidArgumentError("logreg: the network has no nodes");
      return MakeSparseLogRegProblem(spec, examples->features, examples->labels, network_size);
    }
    Eigen::MatrixXd dense(examples->features.rows(), spec.features + 1);
    dense << Eigen::MatrixXd(examples->features), examples->labels;
    return MakeLocalProblem(spec, std::move(dense), path, network_size);
  }
  absl::StatusOr<Eigen::MatrixXd> data = spec.kind == "consensus" ? [&]() -> absl::StatusOr<Eigen::MatrixXd> {
    // Consensus data may be ragged (any layout of numbers): read them as one vector.
    absl::StatusOr<Vector> v = ReadVectorCsv(path);
    if (!v.ok()) return v.status();
    return Eigen::MatrixXd(v->transpose());
  }()
      : ReadMatrixCsv(path);
  if (!data.ok()) return data.status();
  return MakeLocalProblem(spec, *std::move(data), path, network_size);
}

}  // namespace dadmm
