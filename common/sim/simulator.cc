#include "common/sim/simulator.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace dadmm {
namespace {

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
  if (options.delivery == Delivery::kAnyOrder) {
    return absl::InvalidArgumentError("simulator: node programs need each edge's order kept (kFifo or kShuffled)");
  }
  const bool monitor = static_cast<bool>(options.monitor);
  const bool measure = options.error.has_value() || monitor;
  // The estimates of each step are kept until the step completes when the run may stop there.
  const bool keep_estimates = (options.error.has_value() && options.tolerance > 0.0) || monitor;

  // One copy of a broadcast is shared by the copies on every out-edge.
  FakeNetwork<std::shared_ptr<const Broadcast>> network(topology, options.delivery, options.seed);
  if (absl::Status s = network.Apply(topology, options.faults); !s.ok()) return s;
  // Bytes sent / delivered per directed edge; turned into each node's counters at the end (counting
  // into the receivers' counters per message would touch scattered memory for every delivery).
  std::vector<std::uint64_t> edge_bytes_sent(network.num_edges(), 0), edge_bytes_delivered(network.num_edges(), 0);

  LabelTally tally;
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
      const std::uint64_t label = b.iteration;
      const std::size_t control = b.control.size();
      auto payload = std::make_shared<const Broadcast>(std::move(b));
      std::uint64_t copies = 0;
      for (std::uint32_t e = network.out_begin(i); e < network.out_begin(i + 1); ++e) {
        if (!network.Send(e, payload, label)) continue;  // a silence
        ++copies;
        edge_bytes_sent[e] += PayloadBytes(payload->x.size());
      }
      tally.Add(label, copies, control);
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
  while (!stop_step && !diverged_step) {
    std::optional<FakeNetwork<std::shared_ptr<const Broadcast>>::Delivered> d = network.Next();
    if (!d.has_value()) break;
    const std::size_t to = network.edge_to(d->edge);
    const NodeId from = topology.nodes()[network.edge_from(d->edge)].id;
    const Broadcast& b = *d->message;
    edge_bytes_delivered[d->edge] += PayloadBytes(b.x.size());
    const Estimate estimate{.sender = from,
                            .iteration = b.iteration,
                            .x = Eigen::Map<const Vector>(b.x.data(), b.x.size()),
                            .control = b.control};
    if (absl::Status s = program[to]->Receive(estimate, out); !s.ok()) {
      return absl::InternalError(absl::StrCat("simulator: ", s.message()));
    }
    if (absl::Status s = after_call(to); !s.ok()) return s;
  }

  std::vector<NodeCounters> counters;
  counters.reserve(P);
  for (const NodeSpec& n : topology.nodes()) counters.emplace_back(topology.neighbours(n.id));
  for (std::uint32_t e = 0; e < network.num_edges(); ++e) {
    const std::uint32_t i = network.edge_from(e), j = network.edge_to(e);
    counters[i].AddSentToIndex(e - network.out_begin(i), network.sent(e), edge_bytes_sent[e]);
    counters[j].AddReceivedFromIndex(network.position_at_receiver(e), network.delivered(e), edge_bytes_delivered[e]);
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
         .x = stop_step ? final_x[i] : p.x(),
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
  tally.CountSteps(program[0]->first_label(), result);
  return result;
}

void LabelTally::CountSteps(std::uint64_t first, SimulationResult& result) const {
  result.messages = result.payload_bytes = result.control_bytes = 0;
  const std::uint64_t dimension = result.nodes.empty() ? 0 : result.nodes.front().x.size();
  for (const auto& [label, count] : messages) {
    if (label >= first && label < first + result.steps) {
      result.messages += count;
      result.payload_bytes += count * PayloadBytes(dimension);
      result.control_bytes += control_bytes.at(label);
    }
  }
}

}  // namespace dadmm
