// dadmm-topogen: writes a topology file for a network model of Table I, or a network of Table II.
#include <fstream>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/cli/ports.h"
#include "common/cli/usage.h"
#include "common/network/colouring.h"
#include "common/network/generators.h"

ABSL_FLAG(int, table2, 0, "Network number 1..7 of Table II (sets --model and its parameters).");
ABSL_FLAG(std::string, model, "", "erdos-renyi, watts-strogatz, barabasi-albert, geometric or lattice.");
ABSL_FLAG(int64_t, nodes, 10, "Number of nodes.");
ABSL_FLAG(double, p, 0.25, "Erdos-Renyi edge probability, or Watts-Strogatz rewiring probability.");
ABSL_FLAG(int, neighbourhood, 2, "Watts-Strogatz: nodes joined on each side in the initial ring lattice.");
ABSL_FLAG(double, radius, 0.2, "Geometric: connection distance in the unit square.");
ABSL_FLAG(uint64_t, seed, 1, "Random seed.");
ABSL_FLAG(std::string, host, "127.0.0.1", "Host of every node's address.");
ABSL_FLAG(std::string, base_port, "auto",
          "Port of node 1; node i gets base_port + i - 1. "
          "'auto': the first free run of ports from 50100 on --host (this machine's), checked now, so that the network "
          "does not collide with one running here.");
ABSL_FLAG(std::string, out, "", "Output file (default: standard output).");

namespace {
int Fail(absl::string_view message) {
  std::cerr << "dadmm-topogen: " << message << std::endl;
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  dadmm::SetUsage(
      "writes a topology file for a network model of Mota et al., Table I.\n\n"
      "  dadmm-topogen --table2=6 --nodes=50 --seed=1 --out=geometric50.yaml\n"
      "  dadmm-topogen --model=erdos-renyi --nodes=20 --p=0.3 --host=10.0.0.1 --base_port=7000\n\n"
      "Random models are redrawn with nudged parameters until connected; the parameters used are\n"
      "in the file's name and on standard error.");
  const std::vector<char*> positional = dadmm::ParseCommandLine(argc, argv);
  if (positional.size() > 1) return Fail(absl::StrCat("unexpected argument '", positional[1], "'"));
  const int64_t nodes = absl::GetFlag(FLAGS_nodes);
  if (nodes < 2 || nodes > 100000) return Fail("--nodes must be in 2..100000");
  dadmm::NetworkSpec spec;
  if (const int number = absl::GetFlag(FLAGS_table2); number != 0) {
    absl::StatusOr<dadmm::NetworkSpec> s = dadmm::TableIISpec(number, nodes, absl::GetFlag(FLAGS_seed));
    if (!s.ok()) return Fail(s.status().message());
    spec = *s;
  } else {
    const std::string model = absl::GetFlag(FLAGS_model);
    bool found = false;
    for (auto m :
         {dadmm::NetworkModel::kErdosRenyi, dadmm::NetworkModel::kWattsStrogatz, dadmm::NetworkModel::kBarabasiAlbert,
          dadmm::NetworkModel::kGeometric, dadmm::NetworkModel::kLattice}) {
      if (model == dadmm::ModelName(m)) {
        spec.model = m;
        found = true;
      }
    }
    if (!found) return Fail("give --table2=N or --model=erdos-renyi|watts-strogatz|barabasi-albert|geometric|lattice");
    spec.nodes = nodes;
    spec.p = absl::GetFlag(FLAGS_p);
    if (spec.model == dadmm::NetworkModel::kErdosRenyi && !(spec.p > 0.0 && spec.p <= 1.0)) {
      return Fail("--p must be in (0, 1] for erdos-renyi (with p = 0 no edge is ever drawn)");
    }
    spec.neighbourhood = absl::GetFlag(FLAGS_neighbourhood);
    spec.radius = absl::GetFlag(FLAGS_radius);
    spec.seed = absl::GetFlag(FLAGS_seed);
  }
  spec.host = absl::GetFlag(FLAGS_host);
  absl::StatusOr<int> base_port = dadmm::BasePort(absl::GetFlag(FLAGS_base_port), spec.host, spec.nodes);
  if (!base_port.ok()) return Fail(base_port.status().message());
  spec.base_port = *base_port;
  absl::StatusOr<dadmm::GeneratedNetwork> net = dadmm::GenerateNetwork(spec);
  if (!net.ok()) return Fail(net.status().message());
  const dadmm::Topology& t = net->topology;
  std::cerr << absl::StrFormat("%s: %d nodes, %d edges, average degree %.1f, %d colours (greedy), %d attempt(s)\n",
                               t.name(), t.size(), t.num_edges(), 2.0 * t.num_edges() / t.size(),
                               dadmm::NumColours(dadmm::GreedyLargestFirstColouring(t)), net->attempts);
  const std::string yaml = dadmm::TopologyToYaml(t);
  if (absl::GetFlag(FLAGS_out).empty()) {
    std::cout << yaml;
  } else {
    std::ofstream out(absl::GetFlag(FLAGS_out));
    out << yaml;
    out.close();
    if (!out) return Fail(absl::StrCat(absl::GetFlag(FLAGS_out), ": cannot write"));
  }
  return 0;
}
