// The first-order radio model (Heinzelman, Chandrakasan, Balakrishnan, 2000), as DESIGN.md fixes it:
// sending k bits over a distance d costs E_tx(k, d) = E_elec k + eps_amp k d^2, receiving them
// E_rx(k) = E_elec k. Defaults E_elec = 50 nJ/bit, eps_amp = 100 pJ/bit/m^2.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "common/network/topology.h"

namespace dadmm {

struct RadioModel {
  double e_elec = 50e-9;           // J/bit, transmitter and receiver electronics
  double eps_amp = 100e-12;        // J/bit/m^2, transmit amplifier
  double default_distance = 10.0;  // m, for links whose ends have no position in the topology

  absl::Status Validate() const;
  double Transmit(std::uint64_t bits, double distance) const {
    return static_cast<double>(bits) * (e_elec + eps_amp * distance * distance);
  }
  double Receive(std::uint64_t bits) const { return static_cast<double>(bits) * e_elec; }
};

// The length of the link a - b: from the nodes' positions when both have one, else the model's default.
double LinkDistance(const Topology& topology, NodeId a, NodeId b, const RadioModel& model);

}  // namespace dadmm
