// CheckpointStore: the step-N/ folders of one stage. A checkpoint is written into a temporary
// folder (.tmp-step-N), every file and the folder are fsync'ed, the folder is renamed to
// step-N, and only then the completion marker (COMPLETE) is written and synced. A folder
// without the marker (a crash mid-write, a copy cut short) is never resumed from. After each
// commit only the newest keep_last complete checkpoints stay.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

namespace halo::checkpoint {

inline constexpr const char* kCompleteMarker = "COMPLETE";

class CheckpointStore {
 public:
  CheckpointStore(std::filesystem::path dir, int64_t keep_last);

  // Steps of the complete checkpoints, ascending.
  std::vector<int64_t> complete_steps() const;
  // The folder of the newest complete checkpoint, if any.
  std::optional<std::filesystem::path> latest() const;
  std::filesystem::path step_dir(int64_t step) const;

  // A fresh, empty temporary folder to write checkpoint `step` into.
  std::filesystem::path begin(int64_t step);
  // Syncs the temporary folder, renames it to step-N (replacing an incomplete one), writes the
  // marker, then deletes complete checkpoints beyond keep_last and stale temporary folders.
  std::filesystem::path commit(int64_t step);

  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  int64_t keep_last_;
};

}  // namespace halo::checkpoint
