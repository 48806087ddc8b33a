// A node's checkpoint on disk (--state_dir): DIR/node-<id>.checkpoint holds NodeSession::Checkpoint()'s
// bytes behind a header: the magic "DADMMCKP", the format (1), the payload's length and its SHA-256.
// Written atomically: a temporary file in DIR, fsync, rename over the old one, fsync of DIR; a crash
// at any point leaves the old checkpoint or the new one, never a mix. A file that is cut short or
// whose checksum differs is reported (DataLoss, naming the file), never loaded.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/base/types.h"

namespace dadmm::agent {

std::string CheckpointPath(const std::string& dir, NodeId id);

// Creates `dir` if it is missing; then replaces the checkpoint.
absl::Status WriteCheckpointFile(const std::string& dir, NodeId id, absl::string_view payload);

// The payload, or nullopt if there is no checkpoint.
absl::StatusOr<std::optional<std::string>> ReadCheckpointFile(const std::string& dir, NodeId id);

absl::Status RemoveCheckpointFile(const std::string& dir, NodeId id);

}  // namespace dadmm::agent
