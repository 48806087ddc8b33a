// What a user would write instead of running dadmm's agents: D-ADMM for the consensus problem
// (min sum_p 1/2 ||x - theta_p||^2) by hand over MPI, one rank per node, point-to-point messages to
// neighbours only. The yardstick for the agents' per-iteration time (bench/run_bench.py), not a
// product: no handshake, no fault tolerance, no counters.
//
//   mpirun -np P --mca btl tcp,self mpi-dadmm TOPOLOGY DATA_DIR ITERATIONS [RHO]
//
// Rank r is the topology's r-th node; it reads DATA_DIR/node-<id>.csv (dadmm-sim --write_data). The
// colouring is the centralized greedy one (largest degree first). Per iteration, Algorithm 2 of
// seed 000: a node waits for its lower-coloured neighbours' x^{k+1}, solves its local problem (22)
// in closed form, sends x_p^{k+1} to every neighbour, then waits for its higher-coloured neighbours'
// x^{k+1} and updates its dual variable (eq. (23)): 2E messages per iteration, as the agents send.
// Rank 0 prints the time per iteration (from a barrier after the start to the last step) and the
// largest distance of any node's x from the average of the theta_p (a check, not a timing).
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/io/csv.h"
#include "common/network/colouring.h"
#include "common/network/topology.h"

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "mpi-dadmm: %s\n", message.c_str());
  MPI_Abort(MPI_COMM_WORLD, 2);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc < 4) return Fail("usage: mpi-dadmm TOPOLOGY DATA_DIR ITERATIONS [RHO]");
  absl::StatusOr<dadmm::Topology> topology = dadmm::LoadTopologyFile(argv[1]);
  if (!topology.ok()) return Fail(std::string(topology.status().message()));
  if (static_cast<int>(topology->size()) != size) {
    return Fail("run as many ranks as the topology has nodes (" + std::to_string(topology->size()) + ")");
  }
  const long iterations = std::strtol(argv[3], nullptr, 10);
  const double rho = argc > 4 ? std::strtod(argv[4], nullptr) : 1.0;
  if (iterations < 1 || !(rho > 0)) return Fail("ITERATIONS must be >= 1 and RHO > 0");

  std::vector<dadmm::NodeId> ids;
  for (const dadmm::NodeSpec& n : topology->nodes()) ids.push_back(n.id);
  auto rank_of = [&](dadmm::NodeId id) {
    return static_cast<int>(std::find(ids.begin(), ids.end(), id) - ids.begin());
  };
  const dadmm::NodeId self = ids[static_cast<std::size_t>(rank)];
  const dadmm::Colouring colouring = dadmm::GreedyLargestFirstColouring(*topology);
  absl::StatusOr<dadmm::Vector> theta =
      dadmm::ReadVectorCsv(std::string(argv[2]) + "/node-" + std::to_string(self) + ".csv");
  if (!theta.ok()) return Fail(std::string(theta.status().message()));
  const Eigen::Index n = theta->size();

  struct Neighbour {
    int rank;
    bool lower;          // coloured before this node: its x^{k+1} is used in this node's step
    dadmm::Vector x;     // its latest estimate
    dadmm::Vector next;  // receive buffer
  };
  std::vector<Neighbour> neighbours;
  for (dadmm::NodeId j : topology->neighbours(self)) {
    neighbours.push_back(
        {rank_of(j), colouring.at(j) < colouring.at(self), dadmm::Vector::Zero(n), dadmm::Vector::Zero(n)});
  }
  const double degree = static_cast<double>(neighbours.size());
  dadmm::Vector x = dadmm::Vector::Zero(n), gamma = dadmm::Vector::Zero(n);
  std::vector<MPI_Request> sends(neighbours.size());

  MPI_Barrier(MPI_COMM_WORLD);
  const double started = MPI_Wtime();
  for (long k = 0; k < iterations; ++k) {
    // Lower colours first: their x^{k+1}.
    for (Neighbour& nb : neighbours) {
      if (!nb.lower) continue;
      MPI_Recv(nb.next.data(), static_cast<int>(n), MPI_DOUBLE, nb.rank, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      nb.x = nb.next;
    }
    // (22) for f_p = 1/2 ||x - theta_p||^2: x = (theta_p - v) / (1 + D_p rho), with
    // v = gamma_p - rho sum_j x_j (lower neighbours' x^{k+1}, higher neighbours' x^k).
    dadmm::Vector v = gamma;
    for (const Neighbour& nb : neighbours) v -= rho * nb.x;
    x = (*theta - v) / (1.0 + degree * rho);
    for (std::size_t i = 0; i < neighbours.size(); ++i) {
      MPI_Isend(x.data(), static_cast<int>(n), MPI_DOUBLE, neighbours[i].rank, 0, MPI_COMM_WORLD, &sends[i]);
    }
    // Higher colours after: their x^{k+1}, then the dual update (23).
    for (Neighbour& nb : neighbours) {
      if (nb.lower) continue;
      MPI_Recv(nb.next.data(), static_cast<int>(n), MPI_DOUBLE, nb.rank, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      nb.x = nb.next;
    }
    for (const Neighbour& nb : neighbours) gamma += rho * (x - nb.x);
    MPI_Waitall(static_cast<int>(sends.size()), sends.data(), MPI_STATUSES_IGNORE);
  }
  const double elapsed = MPI_Wtime() - started;

  // The check: the solution is the average of the theta_p.
  dadmm::Vector sum = dadmm::Vector::Zero(n);
  MPI_Allreduce(theta->data(), sum.data(), static_cast<int>(n), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  const double error = (x - sum / size).norm() / std::max(1.0, (sum / size).norm());
  double worst_error = 0.0, slowest = 0.0;
  MPI_Reduce(&error, &worst_error, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  MPI_Reduce(&elapsed, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  if (rank == 0) {
    std::printf("ranks %d colours %u iterations %ld seconds %.6f per_iteration_us %.2f relative_error %.3e\n", size,
                dadmm::NumColours(colouring), iterations, slowest, slowest / static_cast<double>(iterations) * 1e6,
                worst_error);
  }
  MPI_Finalize();
  return 0;
}
