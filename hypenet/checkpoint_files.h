// The tensor files of a Hugging Face model folder: either one `model.safetensors` or shards
// listed in `model.safetensors.index.json`. Reading resolves each tensor to its shard and
// tracks which tensors were consumed so a loader can report missing and unexpected ones.
// Writing splits tensors into shards by a byte limit and writes the index.
#pragma once

#include "hypenet/safetensors.h"

#include <set>

namespace halo::hypenet {

class CheckpointFiles {
 public:
  // Opens `dir`/model.safetensors.index.json when present, else `dir`/model.safetensors.
  // Errors name the index or shard file: invalid index JSON, missing `weight_map`, a shard
  // that is absent, a tensor listed for a shard that does not hold it, a shard tensor that
  // the index does not list.
  explicit CheckpointFiles(const std::string& dir);

  const std::string& dir() const { return dir_; }
  bool sharded() const { return sharded_; }
  std::vector<std::string> shard_paths() const;        // in index order
  std::vector<std::string> names() const;              // every tensor, sorted
  bool contains(const std::string& name) const;
  const SafetensorsEntry& entry(const std::string& name) const;
  const std::string& file_of(const std::string& name) const;
  uint64_t total_bytes() const;                        // sum of tensor byte sizes

  // Loads `name` converted to `dtype`; when `expected_shape` is non-empty a different shape is
  // an error naming file, tensor, expected and found shapes. Marks the tensor as consumed.
  at::Tensor load(const std::string& name, at::ScalarType dtype,
                  const std::vector<int64_t>& expected_shape = {});
  // Throws if any tensor of the checkpoint was never loaded (lists them, with their file).
  void check_all_consumed() const;

 private:
  std::string dir_;
  bool sharded_ = false;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> file_index_;  // tensor name -> files_ index
  std::set<std::string> consumed_;
};

// Writes `tensors` into `dir` as model.safetensors, or, when their total size exceeds
// `max_shard_bytes` (0 = never shard), as model-0000k-of-0000n.safetensors shards plus
// model.safetensors.index.json ({"metadata": {"total_size": N}, "weight_map": {...}}).
// Stale model*.safetensors files from an earlier write into the same folder are removed.
void write_checkpoint_files(const std::string& dir,
                            const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                            uint64_t max_shard_bytes,
                            const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace halo::hypenet
