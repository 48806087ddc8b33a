// dadmm-split: from one dataset to a network of agents' files. Splits the rows of a CSV over the
// nodes of a topology (lasso: the columns of A, every node keeping all of b) (given, or generated like dadmm-topogen),
// and writes what each agent needs: its data file, a config file, the topology, and problem.flags for launchers.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/base/numerics.h"
#include "common/base/random.h"
#include "common/cli/ports.h"
#include "common/cli/problem_flags.h"
#include "common/cli/usage.h"
#include "common/io/csv.h"
#include "common/network/generators.h"
#include "common/network/topology.h"
#include "common/problems/logreg.h"
#include "common/problems/node_data.h"
#include "common/problems/problem_kinds.h"

ABSL_FLAG(std::string, data, "",
          "The dataset, CSV, one row per example (required): bpdn rows [a b], svm and logreg "
          "rows [features label], lasso rows [a b] (split by columns), consensus one row per node (theta_p).");
ABSL_FLAG(std::string, problem, "", absl::StrCat("Required: ", dadmm::AgentProblemHelp(), "."));
ABSL_FLAG(std::string, topology, "", "Split over this topology file's nodes (else generate one: --nodes).");
ABSL_FLAG(int64_t, nodes, 0, "Without --topology: generate a network of this many nodes (Table II model --table2).");
ABSL_FLAG(int, table2, 1, "Without --topology: the Table II network model, 1..7 (1: Erdos-Renyi 0.25).");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the generated network and of --shuffle.");
ABSL_FLAG(std::string, host, "127.0.0.1", "Without --topology: host of every node's address.");
ABSL_FLAG(std::string, base_port, "auto",
          "Without --topology: port of node 1; node i gets base_port + i - 1. "
          "'auto': the first free run of ports from 50100 on --host (this machine's), checked now, so that the network "
          "does not collide with one running here.");
ABSL_FLAG(bool, shuffle, false, "Shuffle the rows (seeded) before splitting them into contiguous blocks.");
ABSL_FLAG(std::string, out, "", "Directory to write into (required).");

namespace {

int Fail(const std::string& message) {
  std::cerr << "dadmm-split: " << message << std::endl;
  return 2;
}

// The problem's shared parameters (the kind's, common/problems/problem_kinds.h), as "name" and the
// value as text that reads back to the same value, for flags and config lines.
std::vector<std::pair<std::string, std::string>> Parameters(const dadmm::ProblemSpec& spec) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const dadmm::NamedValue& v : spec.Parameters()) {
    if (v.name == "problem") continue;
    const std::string* text = std::get_if<std::string>(&v.value);
    out.emplace_back(v.name, text != nullptr ? *text : dadmm::FormatValue(v));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  dadmm::SetUsage(
      "splits one dataset over a network: writes OUT/topology.yaml, and for every node OUT/node-<id>.csv (its\n"
      "rows) and OUT/node-<id>.yaml (an agent config), and OUT/problem.flags.\n\n"
      "  dadmm-split --data=points.csv --problem=svm --nodes=10 --out=net\n"
      "  deploy/run-local-cluster.sh --topology net/topology.yaml --data-dir net --rho 10 --iterations 20000\n\n"
      "Rows are split into contiguous blocks as equal as possible, in node-id order (--shuffle first).\n"
      "lasso is split by columns (seed 000, Fig. 6): node k gets the k-th block of A's columns, and all of b\n"
      "as its last column; its result carries its own block of x.");
  const std::vector<char*> positional = dadmm::ParseCommandLine(argc, argv);
  if (positional.size() > 1) return Fail(absl::StrCat("unexpected argument '", positional[1], "' (see --help)"));
  const dadmm::ProblemSpec spec = dadmm::ProblemSpecFromFlags(absl::GetFlag(FLAGS_problem));
  if (spec.kind.empty()) {
    return Fail(absl::StrCat("--problem is required (", absl::StrJoin(dadmm::AgentProblemKinds(), ", "), ")"));
  }
  if (absl::Status s = spec.Validate(); !s.ok()) return Fail(absl::StrCat("--", s.message()));
  const dadmm::ProblemKind& kind = *dadmm::FindProblemKind(spec.kind);
  if (kind.external) {
    return Fail("--problem=external: each node's data stay with its local solver; there is nothing to split");
  }
  const std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) return Fail("--out is required");
  if (absl::GetFlag(FLAGS_data).empty()) return Fail("--data is required");
  absl::StatusOr<Eigen::MatrixXd> data = dadmm::ReadMatrixCsv(absl::GetFlag(FLAGS_data));
  if (!data.ok()) return Fail(std::string(data.status().message()));

  std::optional<dadmm::Topology> topology;
  if (!absl::GetFlag(FLAGS_topology).empty()) {
    absl::StatusOr<dadmm::Topology> t = dadmm::LoadTopologyFile(absl::GetFlag(FLAGS_topology));
    if (!t.ok()) return Fail(std::string(t.status().message()));
    topology = *std::move(t);
  } else {
    const int64_t nodes = absl::GetFlag(FLAGS_nodes);
    if (nodes < 2 || nodes > 100000) return Fail("give --topology=FILE, or --nodes in 2..100000");
    absl::StatusOr<dadmm::NetworkSpec> net_spec =
        dadmm::TableIISpec(absl::GetFlag(FLAGS_table2), static_cast<std::size_t>(nodes), absl::GetFlag(FLAGS_seed));
    if (!net_spec.ok()) return Fail(absl::StrCat("--table2: ", net_spec.status().message()));
    net_spec->host = absl::GetFlag(FLAGS_host);
    absl::StatusOr<int> base_port =
        dadmm::BasePort(absl::GetFlag(FLAGS_base_port), net_spec->host, static_cast<int>(net_spec->nodes));
    if (!base_port.ok()) return Fail(std::string(base_port.status().message()));
    net_spec->base_port = *base_port;
    absl::StatusOr<dadmm::GeneratedNetwork> net = dadmm::GenerateNetwork(*net_spec);
    if (!net.ok()) return Fail(std::string(net.status().message()));
    topology = std::move(net->topology);
  }
  const auto P = static_cast<Eigen::Index>(topology->size());
  const Eigen::Index rows = data->rows();
  const bool by_columns = kind.by_columns;
  if (by_columns && data->cols() - 1 < P) {
    return Fail(absl::StrCat(absl::GetFlag(FLAGS_data), ": ", data->cols() - 1, " columns of A for ", P,
                             " nodes (lasso splits the columns: every node needs at least one)"));
  }
  if (spec.kind == "consensus" ? rows != P : (!by_columns && rows < P)) {
    return Fail(absl::StrCat(
        absl::GetFlag(FLAGS_data), ": ", rows, " rows for ", P, " nodes (",
        spec.kind == "consensus" ? "consensus takes one row, theta_p, per node" : "every node needs at least one row",
        ")"));
  }
  if (spec.kind != "consensus" && data->cols() < 2) {
    return Fail(
        absl::StrCat(absl::GetFlag(FLAGS_data), ": ", spec.kind, " rows need at least 2 values, found ", data->cols()));
  }
  if (kind.labelled) {
    for (Eigen::Index i = 0; i < rows; ++i) {
      const double label = (*data)(i, data->cols() - 1);
      if (label != 1.0 && label != -1.0) {
        return Fail(absl::StrCat(absl::GetFlag(FLAGS_data), ": row ", i + 1, " has label ", label,
                                 " (the last column must be +1 or -1)"));
      }
    }
  }
  std::vector<Eigen::Index> order(static_cast<std::size_t>(rows));
  std::iota(order.begin(), order.end(), 0);
  if (absl::GetFlag(FLAGS_shuffle)) {
    dadmm::Rng rng(absl::GetFlag(FLAGS_seed));
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.Below(i)]);
  }

  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) return Fail(absl::StrCat(out, ": ", ec.message()));
  {
    std::ofstream t(out + "/topology.yaml");
    t << dadmm::TopologyToYaml(*topology);
    std::ofstream f(out + "/problem.flags");
    f << "--problem=" << spec.kind;
    for (const auto& [name, value] : Parameters(spec)) f << " --" << name << "=" << value;
    f << "\n";
    if (!t || !f) return Fail(absl::StrCat(out, ": cannot write"));
  }
  Eigen::Index first = 0;
  const Eigen::Index parts = by_columns ? data->cols() - 1 : rows;  // what is split
  for (Eigen::Index k = 0; k < P; ++k) {
    const dadmm::NodeId id = topology->nodes()[static_cast<std::size_t>(k)].id;
    const Eigen::Index count = dadmm::EvenShare(parts, P, k);
    Eigen::MatrixXd block;
    if (by_columns) {
      block.resize(rows, count + 1);
      for (Eigen::Index r = 0; r < rows; ++r) {
        const Eigen::Index src = order[static_cast<std::size_t>(r)];
        block.row(r) << data->row(src).segment(first, count), (*data)(src, data->cols() - 1);
      }
    } else {
      block.resize(count, data->cols());
      for (Eigen::Index r = 0; r < count; ++r) block.row(r) = data->row(order[static_cast<std::size_t>(first + r)]);
    }
    first += count;
    const std::string csv = absl::StrCat(out, "/node-", id, ".csv");
    if (absl::Status s = dadmm::WriteMatrixCsv(csv, block); !s.ok()) return Fail(std::string(s.message()));
    std::ofstream config(absl::StrCat(out, "/node-", id, ".yaml"));
    config << "# Agent " << id << " of " << P << "; run: dadmm-agent --config=node-" << id << ".yaml [--rho=...]\n"
           << "node_id: " << id << "\ntopology: topology.yaml\nproblem: " << spec.kind << "\n"
           << absl::StrJoin(Parameters(spec), "",
                            [](std::string* o, const auto& p) { absl::StrAppend(o, p.first, ": ", p.second, "\n"); })
           << "data: node-" << id << ".csv\noutput: node-" << id << ".json\n";
    if (!config) return Fail(absl::StrCat(out, ": cannot write"));
  }
  if (spec.kind == "logreg") {
    const Eigen::Index n = data->cols() - 1;
    std::cout << absl::StrFormat(
        "lambda_max of this dataset: %.6g (w* = 0 for lambda above it; seed 002 §10.2 "
        "uses 0.1 lambda_max); lambda given: %.6g\n",
        dadmm::LogRegLambdaMax(data->leftCols(n), data->col(n)), spec.lambda);
  }
  std::cout << "split " << parts << (by_columns ? " columns of A in " : " rows of ") << absl::GetFlag(FLAGS_data)
            << " over " << P << " nodes (" << topology->num_edges() << " edges) into " << out << std::endl;
  return 0;
}
