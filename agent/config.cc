#include "agent/config.h"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/problems/problem_kinds.h"

namespace dadmm::agent {
namespace {

// Flags a config file may set, and which of them are paths.
const std::set<std::string>& Keys() {
  static const std::set<std::string> keys = [] {
    std::set<std::string> k = {"node_id",
                               "topology",
                               "problem",
                               "features",
                               "ic_beta",
                               "theta",
                               "data",
                               "algorithm",
                               "listen",
                               "rho",
                               "iterations",
                               "tolerance",
                               "eps_abs",
                               "eps_rel",
                               "vary_rho_every",
                               "vary_rho_votes",
                               "vary_rho_mu",
                               "vary_rho_tau",
                               "vary_rho_rule",
                               "output",
                               "linger_seconds",
                               "hold_seconds",
                               "log_iterations",
                               "neighbour_timeout",
                               "state_dir",
                               "checkpoint_every",
                               "dial",
                               "radio_e_elec_nj",
                               "radio_eps_amp_pj",
                               "radio_distance_m",
                               "tls_ca",
                               "tls_cert",
                               "tls_key",
                               "insecure",
                               "metrics_address",
                               "history",
                               "solver",
                               "solver_timeout_seconds"};
    // The problems' shared parameters (common/problems/problem_kinds.h); solver_problem is what the
    // local solver says, not a setting.
    for (const ProblemParameter& p : ProblemParameters()) {
      if (p.name != "solver_problem") k.emplace(p.name);
    }
    return k;
  }();
  return keys;
}
bool IsPath(const std::string& key) {
  return key == "topology" || key == "data" || key == "output" || key == "state_dir" || key == "tls_ca" ||
         key == "tls_cert" || key == "tls_key";
}

}  // namespace

std::string ConfigPathFromArgs(int argc, char** argv) {
  std::string path;
  for (int i = 1; i < argc; ++i) {
    const absl::string_view a = argv[i];
    if (a == "--") break;
    if (absl::StartsWith(a, "--config=") || absl::StartsWith(a, "-config=")) {
      path = std::string(a.substr(a.find('=') + 1));
    } else if ((a == "--config" || a == "-config") && i + 1 < argc) {
      path = argv[++i];
    }
  }
  return path;
}

absl::StatusOr<std::vector<ConfigSetting>> ParseConfig(absl::string_view text, const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ":", e.mark.line + 1, ": not valid YAML: ", e.msg));
  }
  std::vector<ConfigSetting> settings;
  if (root.IsNull()) return settings;  // an empty file sets nothing
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", root.Mark().line + 1, ": expected a map of settings (key: value)"));
  }
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  for (const auto& entry : root) {
    const int line = entry.first.Mark().line + 1;
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "";
    if (!Keys().contains(key)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": unknown setting '", key,
                                                     "' (settings are the flags of dadmm-agent --help)"));
    }
    for (const ConfigSetting& earlier : settings) {
      if (earlier.key == key) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ":", line, ": ", key, " is set twice (first on line ", earlier.line, ")"));
      }
    }
    if (!entry.second.IsScalar()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", line, ": ", key, ": expected a single value"));
    }
    std::string value = entry.second.Scalar();
    if (IsPath(key) && !value.empty() && std::filesystem::path(value).is_relative()) {
      value = (dir / value).lexically_normal().string();
    }
    settings.push_back({.key = key, .value = std::move(value), .line = line});
  }
  return settings;
}

absl::Status ApplyConfigFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": a directory, not a config file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open config file"));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::NotFoundError(absl::StrCat(path, ": cannot read config file"));
  absl::StatusOr<std::vector<ConfigSetting>> settings = ParseConfig(text, path);
  if (!settings.ok()) return settings.status();
  for (const ConfigSetting& s : *settings) {
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(s.key);
    std::string error;
    if (flag == nullptr || !flag->ParseFrom(s.value, &error)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", s.line, ": ", s.key, ": ", error));
    }
  }
  return absl::OkStatus();
}

}  // namespace dadmm::agent
