// dadmm-sim: runs node programs of a whole network in one process (the simulator driver).
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>

#include "absl/strings/string_view.h"
#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/colouring.h"
#include "common/consensus.h"
#include "common/csv.h"
#include "common/dadmm_node.h"
#include "common/simulator.h"
#include "common/topology.h"

ABSL_FLAG(std::string, topology, "", "Topology file (required).");
ABSL_FLAG(std::string, data_dir, "",
          "Directory with one file node-<id>.csv per node holding theta_p. Default: generate theta_p "
          "~ N(10, 100^2) from --seed.");
ABSL_FLAG(uint64_t, seed, 1, "Seed for generated data and for --delivery=shuffled.");
ABSL_FLAG(int64_t, dimension, 1, "Dimension n of generated theta_p.");
ABSL_FLAG(std::string, write_data, "",
          "Write the generated data as node-<id>.csv into this directory and exit (for agents' --data).");
ABSL_FLAG(double, rho, 1.0, "D-ADMM penalty rho > 0.");
ABSL_FLAG(int64_t, iterations, 100, "Communication steps (>= 1).");
ABSL_FLAG(std::string, delivery, "fifo", "Message delivery order: fifo or shuffled.");

namespace {

int Fail(absl::string_view message) {
  std::cerr << "dadmm-sim: " << message << std::endl;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "runs D-ADMM (Mota et al., Algorithm 2) on the average consensus problem (18) for a whole network\n"
      "in one process, and prints each node's estimate, the relative error and the message counts.\n\n"
      "  dadmm-sim --topology=net.yaml [--data_dir=DIR | --seed=1] [--rho=1] [--iterations=100]\n"
      "  dadmm-sim --topology=net.yaml --seed=1 --write_data=DIR");
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) return Fail(absl::StrCat("unexpected argument '", positional[1], "' (see --help)"));
  if (absl::GetFlag(FLAGS_topology).empty()) return Fail("--topology is required");
  absl::StatusOr<dadmm::Topology> topology = dadmm::LoadTopologyFile(absl::GetFlag(FLAGS_topology));
  if (!topology.ok()) return Fail(topology.status().message());

  std::map<dadmm::NodeId, dadmm::Vector> thetas;
  if (const std::string dir = absl::GetFlag(FLAGS_data_dir); !dir.empty()) {
    for (const dadmm::NodeSpec& n : topology->nodes()) {
      absl::StatusOr<dadmm::Vector> theta = dadmm::ReadVectorCsv(absl::StrCat(dir, "/node-", n.id, ".csv"));
      if (!theta.ok()) return Fail(theta.status().message());
      if (!thetas.empty() && theta->size() != thetas.begin()->second.size()) {
        return Fail(absl::StrCat(dir, "/node-", n.id, ".csv: ", theta->size(), " values, other nodes have ",
                                 thetas.begin()->second.size()));
      }
      thetas.emplace(n.id, *std::move(theta));
    }
  } else {
    const int64_t n = absl::GetFlag(FLAGS_dimension);
    if (n < 1 || n > 100000000) return Fail("--dimension must be in 1..1e8");
    thetas = dadmm::GenerateConsensusData(*topology, n, absl::GetFlag(FLAGS_seed));
  }
  if (const std::string dir = absl::GetFlag(FLAGS_write_data); !dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Fail(absl::StrCat(dir, ": ", ec.message()));
    for (const auto& [id, theta] : thetas) {
      if (absl::Status s = dadmm::WriteVectorCsv(absl::StrCat(dir, "/node-", id, ".csv"), theta); !s.ok()) {
        return Fail(s.message());
      }
    }
    std::cout << "wrote " << thetas.size() << " data files to " << dir << std::endl;
    return 0;
  }

  dadmm::DadmmSettings settings;
  settings.rho = absl::GetFlag(FLAGS_rho);
  const int64_t iterations = absl::GetFlag(FLAGS_iterations);
  if (iterations < 1) return Fail("--iterations must be >= 1");
  settings.max_iterations = static_cast<uint64_t>(iterations);
  if (absl::Status s = settings.Validate(); !s.ok()) return Fail(s.message());
  dadmm::SimulatorOptions options;
  options.seed = absl::GetFlag(FLAGS_seed);
  if (const std::string d = absl::GetFlag(FLAGS_delivery); d == "shuffled") {
    options.delivery = dadmm::Delivery::kShuffled;
  } else if (d != "fifo") {
    return Fail(absl::StrCat("--delivery: expected fifo or shuffled, got '", d, "'"));
  }

  const dadmm::Colouring colouring = dadmm::GreedyLargestFirstColouring(*topology);
  std::map<dadmm::NodeId, std::unique_ptr<dadmm::NodeProgram>> programs;
  for (const auto& [id, theta] : thetas) {
    auto node = dadmm::MakeDadmmNode(*topology, colouring, id, std::make_unique<dadmm::ConsensusProblem>(theta),
                                     settings);
    if (!node.ok()) return Fail(node.status().message());
    programs.emplace(id, *std::move(node));
  }
  absl::StatusOr<dadmm::SimulationResult> result = dadmm::Simulate(*topology, programs, options);
  if (!result.ok()) return Fail(result.status().message());

  const dadmm::Vector x_star = dadmm::ConsensusSolution(thetas);
  std::vector<dadmm::Vector> estimates;
  std::cout << absl::StrFormat("%-6s %-6s %-24s %-10s %-10s\n", "node", "colour", "x_p[0]", "sent", "received");
  for (const dadmm::SimulatedNode& n : result->nodes) {
    estimates.push_back(n.x);
    const dadmm::LinkCounters c = n.counters.Total();
    std::cout << absl::StrFormat("%-6d %-6d %-24.17g %-10d %-10d\n", n.id, colouring.at(n.id), n.x[0],
                                 c.messages_sent, c.messages_received);
  }
  std::cout << absl::StrFormat(
      "true average x*[0] %.17g\nrelative error %.3e\ncommunication steps %d\ncolours %d\n"
      "messages %d (2E x steps = %d)\npayload bytes %d\n",
      x_star[0], dadmm::RelativeError(estimates, x_star), result->steps, dadmm::NumColours(colouring),
      result->messages, 2 * topology->num_edges() * result->steps, result->payload_bytes);
  return 0;
}
