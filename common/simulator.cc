#include "common/simulator.h"

#include <algorithm>
#include <cmath>
#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/random.h"

namespace dadmm {
namespace {

struct Message {
  std::uint32_t edge = 0;              // directed edge index
  std::uint32_t seq = 0;               // position on its edge
  std::shared_ptr<const Broadcast> b;  // shared by the copies of one broadcast
};

// The estimates of every node after one step, until all have reported it.
struct StepRecord {
  std::size_t reported = 0;
  double squared_error = 0.0;
  std::vector<Vector> x;                   // by node index; kept only when stopping on a tolerance or monitoring
  std::vector<std::uint64_t> computation;  // by node index; kept only when monitoring
};

}  // namespace

absl::StatusOr<SimulationResult> Simulate(const Topology& topology,
                                          std::map<NodeId, std::unique_ptr<NodeProgram>>& programs,
                                          const SimulatorOptions& options) {
  const std::size_t P = topology.size();
  std::vector<NodeProgram*> program(P, nullptr);
  for (auto& [id, p] : programs) {
    if (!topology.Contains(id) || p == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("simulator: node ", id, " is not in the topology"));
    }
    program[topology.IndexOf(id)] = p.get();
  }
  for (std::size_t i = 0; i < P; ++i) {
    if (program[i] == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("simulator: no program for node ", topology.nodes()[i].id));
    }
  }
  const bool monitor = static_cast<bool>(options.monitor);
  const bool measure = options.error.has_value() || monitor;
  // The estimates of each step are kept until the step completes when the run may stop there.
  const bool keep_estimates = (options.error.has_value() && options.tolerance > 0.0) || monitor;

  // Directed edges: node i's out-edges are out_begin[i] .. out_begin[i + 1], in neighbour-id order.
  std::vector<std::uint32_t> out_begin(P + 1, 0), edge_from, edge_to;
  for (std::size_t i = 0; i < P; ++i) {
    const NodeId id = topology.nodes()[i].id;
    out_begin[i + 1] = out_begin[i] + static_cast<std::uint32_t>(topology.degree(id));
    for (NodeId j : topology.neighbours(id)) {
      edge_from.push_back(static_cast<std::uint32_t>(i));
      edge_to.push_back(static_cast<std::uint32_t>(topology.IndexOf(j)));
    }
  }
  // For edge e = (i -> j): i's position among j's neighbours (where j counts what it receives).
  std::vector<std::uint32_t> position_at_receiver(edge_from.size());
  for (std::size_t e = 0; e < edge_from.size(); ++e) {
    const std::vector<NodeId>& of_receiver = topology.neighbours(topology.nodes()[edge_to[e]].id);
    const NodeId sender = topology.nodes()[edge_from[e]].id;
    position_at_receiver[e] = static_cast<std::uint32_t>(
        std::lower_bound(of_receiver.begin(), of_receiver.end(), sender) - of_receiver.begin());
  }
  std::vector<std::uint32_t> edge_sent(edge_from.size(), 0), edge_delivered(edge_from.size(), 0);
  // Bytes sent / delivered per directed edge; turned into each node's counters at the end (counting
  // into the receivers' counters per message would touch scattered memory for every delivery).
  std::vector<std::uint64_t> edge_bytes_sent(edge_from.size(), 0), edge_bytes_delivered(edge_from.size(), 0);

  std::deque<Message> fifo;   // kFifo: messages in send order
  std::vector<Message> pool;  // kShuffled: messages in flight, in any order
  Rng rng(options.seed);
  std::map<std::uint64_t, std::uint64_t> messages_by_label, control_bytes_by_label;
  std::map<std::uint64_t, StepRecord> steps_in_progress;
  std::vector<std::uint64_t> last_step(P, 0);
  SimulationResult result;
  std::optional<std::uint64_t> stop_step;
  std::optional<std::uint64_t> diverged_step;
  std::vector<Vector> final_x;
  std::vector<std::uint64_t> final_computation;

  std::vector<Broadcast> out;
  // Sends what node i's program emitted, and records its estimate if it completed a step.
  auto after_call = [&](std::size_t i) -> absl::Status {
    const NodeId from = topology.nodes()[i].id;
    for (Broadcast& b : out) {
      messages_by_label[b.iteration] += out_begin[i + 1] - out_begin[i];
      control_bytes_by_label[b.iteration] += (out_begin[i + 1] - out_begin[i]) * b.control.size();
      auto payload = std::make_shared<const Broadcast>(std::move(b));
      for (std::uint32_t e = out_begin[i]; e < out_begin[i + 1]; ++e) {
        Message m{.edge = e, .seq = edge_sent[e]++, .b = payload};
        edge_bytes_sent[e] += PayloadBytes(payload->x.size());
        if (options.delivery == Delivery::kFifo) {
          fifo.push_back(std::move(m));
        } else {
          pool.push_back(std::move(m));
        }
      }
    }
    out.clear();
    const NodeProgram& p = *program[i];
    // A program whose estimate is no longer finite has diverged (a step size too large): the run ends.
    if (!diverged_step && !p.x().allFinite()) {
      diverged_step = std::max<std::uint64_t>(p.estimate_step(), 1);
      return absl::OkStatus();
    }
    if (!measure || p.estimate_step() == last_step[i]) return absl::OkStatus();
    if (p.estimate_step() != last_step[i] + 1) {
      return absl::InternalError(
          absl::StrCat("simulator: node ", from, " jumped from step ", last_step[i], " to ", p.estimate_step()));
    }
    const std::uint64_t k = ++last_step[i];
    StepRecord& r = steps_in_progress[k];
    if (options.error) r.squared_error += options.error->squared_error(i, p.x());
    if (keep_estimates) {
      if (r.x.empty()) r.x.resize(P);
      r.x[i] = p.x();
    }
    if (monitor) {
      if (r.computation.empty()) r.computation.resize(P);
      r.computation[i] = p.computation_iterations();
    }
    if (++r.reported == P) {
      // Steps complete in order: a node reports step k only after reporting k - 1.
      bool stop = false;
      if (options.error) {
        const double error = std::sqrt(r.squared_error) / options.error->scale;
        result.errors.push_back(error);
        stop = options.tolerance > 0.0 && error <= options.tolerance;
      }
      if (monitor && options.monitor(k, r.x, r.computation)) stop = true;
      if (stop && !stop_step) {
        stop_step = k;
        final_x = std::move(r.x);
        final_computation = std::move(r.computation);
      }
      steps_in_progress.erase(k);
    }
    return absl::OkStatus();
  };

  for (std::size_t i = 0; i < P && !stop_step && !diverged_step; ++i) {
    program[i]->Start(out);
    if (absl::Status s = after_call(i); !s.ok()) return s;
  }
  while (!stop_step && !diverged_step && (!fifo.empty() || !pool.empty())) {
    Message m;
    if (options.delivery == Delivery::kFifo) {
      m = std::move(fifo.front());
      fifo.pop_front();
    } else {
      // Draw until the message is the head of its edge: at least half of those in flight are, for
      // the algorithms here keep at most two messages in flight per edge.
      std::size_t pick = rng.Below(pool.size());
      while (pool[pick].seq != edge_delivered[pool[pick].edge]) pick = rng.Below(pool.size());
      m = std::move(pool[pick]);
      pool[pick] = std::move(pool.back());
      pool.pop_back();
    }
    ++edge_delivered[m.edge];
    const std::size_t to = edge_to[m.edge];
    const NodeId from = topology.nodes()[edge_from[m.edge]].id;
    edge_bytes_delivered[m.edge] += PayloadBytes(m.b->x.size());
    const Estimate estimate{.sender = from,
                            .iteration = m.b->iteration,
                            .x = Eigen::Map<const Vector>(m.b->x.data(), m.b->x.size()),
                            .control = m.b->control};
    if (absl::Status s = program[to]->Receive(estimate, out); !s.ok()) {
      return absl::InternalError(absl::StrCat("simulator: ", s.message()));
    }
    if (absl::Status s = after_call(to); !s.ok()) return s;
  }

  std::vector<NodeCounters> counters;
  counters.reserve(P);
  for (const NodeSpec& n : topology.nodes()) counters.emplace_back(topology.neighbours(n.id));
  for (std::size_t e = 0; e < edge_from.size(); ++e) {
    counters[edge_from[e]].AddSentToIndex(e - out_begin[edge_from[e]], edge_sent[e], edge_bytes_sent[e]);
    counters[edge_to[e]].AddReceivedFromIndex(position_at_receiver[e], edge_delivered[e], edge_bytes_delivered[e]);
  }

  std::vector<std::string> stalled;
  std::uint64_t max_steps = 0;
  for (std::size_t i = 0; i < P; ++i) {
    const NodeProgram& p = *program[i];
    if (!stop_step && !diverged_step && !p.done()) {
      stalled.push_back(absl::StrCat(topology.nodes()[i].id, " (waits for ", absl::StrJoin(p.awaited(), ","), ")"));
    }
    max_steps = std::max(max_steps, p.estimate_step());
    result.nodes.push_back(
        {.id = topology.nodes()[i].id,
         .outcome = p.outcome(),
         .x = stop_step ? std::move(final_x[i]) : p.x(),
         .computation_iterations = stop_step && monitor ? final_computation[i] : p.computation_iterations(),
         .counters = std::move(counters[i])});
  }
  if (!stalled.empty()) {
    return absl::InternalError(absl::StrCat("simulator: deadlock, no message in flight and nodes still running: ",
                                            absl::StrJoin(stalled, "; ")));
  }
  result.steps = diverged_step ? *diverged_step : stop_step.value_or(max_steps);
  result.diverged = diverged_step.has_value();
  result.reached_tolerance = stop_step.has_value();
  if (result.errors.size() > result.steps) result.errors.resize(result.steps);
  const std::uint64_t first = program[0]->first_label();
  for (const auto& [label, count] : messages_by_label) {
    if (label >= first && label < first + result.steps) {
      result.messages += count;
      // Every estimate of a run has the problem's dimension.
      result.payload_bytes += count * PayloadBytes(result.nodes.front().x.size());
      result.control_bytes += control_bytes_by_label[label];
    }
  }
  return result;
}

double ErrorMeasure::operator()(const std::vector<Vector>& estimates) const {
  double sum = 0.0;
  for (std::size_t i = 0; i < estimates.size(); ++i) sum += squared_error(i, estimates[i]);
  return std::sqrt(sum) / scale;
}

ErrorMeasure DistanceTo(Vector x_star, std::size_t num_nodes) {
  const double scale = std::sqrt(static_cast<double>(num_nodes)) * x_star.norm();
  return ErrorMeasure{.squared_error = [x_star = std::move(x_star)](
                                           std::size_t, const Vector& x) { return (x - x_star).squaredNorm(); },
                      .scale = scale};
}

double RelativeError(const std::vector<Vector>& estimates, const Vector& x_star) {
  double sum = 0.0;
  for (const Vector& x : estimates) sum += (x - x_star).squaredNorm();
  return std::sqrt(sum) / (std::sqrt(static_cast<double>(estimates.size())) * x_star.norm());
}

}  // namespace dadmm
