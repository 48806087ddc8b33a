// libFuzzer targets for what agents and tools read from files: the topology YAML, CSV, SVMlight and
// the agent's config file.
// Built once per target (DADMM_FUZZ_TARGET). A parser must refuse what it cannot read with an error,
// never crash; what it accepts must hold its invariants.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/string_view.h"
#if DADMM_FUZZ_TARGET == 4
#include "agent/config.h"
#endif
#include "common/io/csv.h"
#include "common/io/svmlight.h"
#include "common/network/topology.h"

namespace {

[[noreturn]] void Fail(const char* why) {
  std::fprintf(stderr, "invariant broken: %s\n", why);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
#if DADMM_FUZZ_TARGET == 1  // topology
  absl::StatusOr<dadmm::Topology> t = dadmm::ParseTopologyYaml(text, "fuzz.yaml");
  if (t.ok()) {
    // What it writes reads back to the same network, and writes the same text again.
    const std::string written = dadmm::TopologyToYaml(*t);
    absl::StatusOr<dadmm::Topology> again = dadmm::ParseTopologyYaml(written, "written.yaml");
    if (!again.ok()) Fail("a topology it wrote does not parse");
    if (dadmm::TopologyToYaml(*again) != written) Fail("a topology does not round-trip");
  }
#elif DADMM_FUZZ_TARGET == 2  // csv
  absl::StatusOr<Eigen::MatrixXd> m = dadmm::ParseMatrixCsv(text, "fuzz.csv");
  if (m.ok() && !m->allFinite()) Fail("a matrix with a value that is not finite");
  absl::StatusOr<dadmm::Vector> v = dadmm::ParseVectorCsv(text, "fuzz.csv");
  if (v.ok() && !v->allFinite()) Fail("a vector with a value that is not finite");
#elif DADMM_FUZZ_TARGET == 3  // svmlight: the first byte gives the number of features (1..64)
  if (size == 0) return 0;
  const Eigen::Index features = 1 + data[0] % 64;
  absl::StatusOr<dadmm::SparseExamples> e = dadmm::ParseSvmLight(text.substr(1), "fuzz.svm", features);
  if (e.ok()) {
    if (e->features.cols() != features) Fail("examples with another number of features");
    if (e->features.rows() != e->labels.size()) Fail("examples and labels differ in number");
    for (Eigen::Index i = 0; i < e->labels.size(); ++i) {
      if (e->labels[i] != 1.0 && e->labels[i] != -1.0) Fail("a label that is not +1 or -1");
    }
  }
#elif DADMM_FUZZ_TARGET == 4  // the agent's config file (in /etc/dadmm/: relative paths from there)
  absl::StatusOr<std::vector<dadmm::agent::ConfigSetting> > c = dadmm::agent::ParseConfig(text, "/etc/dadmm/f.yaml");
  if (c.ok()) {
    for (std::size_t i = 0; i < c->size(); ++i) {
      const dadmm::agent::ConfigSetting& s = (*c)[i];
      if (s.key.empty() || s.line < 1) Fail("a setting without a key or a line");
      for (std::size_t j = 0; j < i; ++j) {
        if ((*c)[j].key == s.key) Fail("a key set twice was accepted");
      }
      if ((s.key == "topology" || s.key == "data") && !s.value.empty() && s.value[0] != '/') {
        Fail("a relative path not taken from the file's directory");
      }
    }
  }
#else
#error "DADMM_FUZZ_TARGET: 1 topology, 2 csv, 3 svmlight, 4 config"
#endif
  return 0;
}
