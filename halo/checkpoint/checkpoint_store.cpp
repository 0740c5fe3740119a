// CheckpointStore: atomic step-N folders with a completion marker, keep-last-k pruning.
#include "halo/checkpoint/checkpoint_store.h"
#include "common/remove_tree.h"

#include "common/atomic_file.h"
#include "common/error.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

namespace halo::checkpoint {

namespace fs = std::filesystem;

namespace {

// "step-N" -> N, or -1 for any other name.
int64_t parse_step_name(const std::string& name, const std::string& prefix) {
  if (name.rfind(prefix, 0) != 0 || name.size() == prefix.size()) return -1;
  int64_t v = 0;
  for (size_t i = prefix.size(); i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    v = v * 10 + (name[i] - '0');
  }
  return v;
}

void remove_all_checked(const fs::path& p) {
  remove_tree_checked(p.string());
}

}  // namespace

CheckpointStore::CheckpointStore(fs::path dir, int64_t keep_last)
    : dir_(std::move(dir)), keep_last_(keep_last) {
  HALO_CHECK(keep_last_ >= 1, "checkpoint keep_last must be >= 1");
  // Nothing is created until begin(): reading a store (export, preflight) must not write.
}

fs::path CheckpointStore::step_dir(int64_t step) const {
  return dir_ / ("step-" + std::to_string(step));
}

std::vector<int64_t> CheckpointStore::complete_steps() const {
  std::vector<int64_t> steps;
  if (!fs::exists(dir_)) return steps;
  for (const auto& e : fs::directory_iterator(dir_)) {
    int64_t s = parse_step_name(e.path().filename().string(), "step-");
    if (s >= 0 && e.is_directory() && fs::exists(e.path() / kCompleteMarker)) steps.push_back(s);
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

std::optional<fs::path> CheckpointStore::latest() const {
  auto steps = complete_steps();
  if (steps.empty()) return std::nullopt;
  return step_dir(steps.back());
}

fs::path CheckpointStore::begin(int64_t step) {
  fs::path tmp = dir_ / (".tmp-step-" + std::to_string(step));
  remove_all_checked(tmp);
  fs::create_directories(tmp);
  return tmp;
}

fs::path CheckpointStore::commit(int64_t step) {
  const fs::path tmp = dir_ / (".tmp-step-" + std::to_string(step));
  HALO_CHECK(fs::is_directory(tmp), tmp.string(), ": commit without begin");
  for (const auto& e : fs::recursive_directory_iterator(tmp)) fsync_path(e.path());
  fsync_path(tmp);
  const fs::path final_dir = step_dir(step);
  remove_all_checked(final_dir);  // an incomplete folder of the same step
  fs::rename(tmp, final_dir);
  fsync_path(dir_);
  write_text_atomically(final_dir / kCompleteMarker, "complete\n");

  // Keep the newest keep_last complete checkpoints; drop incomplete and temporary leftovers
  // older than this one.
  auto steps = complete_steps();
  for (size_t i = 0; i + static_cast<size_t>(keep_last_) < steps.size(); ++i) {
    remove_all_checked(step_dir(steps[i]));
  }
  for (const auto& e : fs::directory_iterator(dir_)) {
    const std::string name = e.path().filename().string();
    int64_t s = parse_step_name(name, "step-");
    int64_t t = parse_step_name(name, ".tmp-step-");
    if ((s >= 0 && s < step && !fs::exists(e.path() / kCompleteMarker)) || (t >= 0 && t != step)) {
      remove_all_checked(e.path());
    }
  }
  return final_dir;
}

}  // namespace halo::checkpoint
