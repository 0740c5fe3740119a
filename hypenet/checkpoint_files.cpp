// Implementation of checkpoint_files.h: opening a Hugging Face model folder (single file or
// shards + index), cross-checking the index against the shards, tracking consumed tensors, and
// writing a folder back with greedy sharding in name order.
#include "hypenet/checkpoint_files.h"

#include "common/atomic_file.h"
#include "common/error.h"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace halo::hypenet {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";
// check_all_consumed lists at most this many tensors by name; the rest are counted.
constexpr size_t kMaxListed = 20;

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// The whole text of the index file.
std::string read_index_text(const std::string& index_path) {
  std::ifstream in(index_path, std::ios::binary);
  HALO_CHECK(in.good(), "cannot open checkpoint index '", index_path, "': ", std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Reader

CheckpointFiles::CheckpointFiles(const std::string& dir) : dir_(dir) {
  std::error_code ec;
  HALO_CHECK(fs::is_directory(dir, ec), "checkpoint folder '", dir,
             "' does not exist or is not a folder");
  const fs::path index_path = fs::path(dir) / kIndexFile;
  const fs::path single_path = fs::path(dir) / kSingleFile;

  if (!fs::exists(index_path, ec)) {
    HALO_CHECK(fs::exists(single_path, ec), "checkpoint folder '", dir, "' has neither ",
               kSingleFile, " nor ", kIndexFile);
    files_.push_back(std::make_unique<SafetensorsFile>(single_path.string()));
    for (const auto& name : files_[0]->names()) file_index_[name] = 0;
    return;
  }

  sharded_ = true;
  const std::string index_str = index_path.string();
  // Shards in order of first appearance in the index; each opened (and validated) once.
  std::map<std::string, size_t> shard_index;  // shard file name -> files_ index
  std::map<std::string, std::string> listed;  // tensor -> shard file name, from the index
  for (const auto& [tensor, shard] : parse_checkpoint_index(index_str, read_index_text(index_str))) {
    listed[tensor] = shard;
    if (shard_index.count(shard)) continue;
    const fs::path shard_path = fs::path(dir) / shard;
    HALO_CHECK(fs::is_regular_file(shard_path, ec), "checkpoint index '", index_str,
               "' lists shard '", shard, "' (for tensor '", tensor, "'), but '",
               shard_path.string(), "' does not exist");
    shard_index[shard] = files_.size();
    files_.push_back(std::make_unique<SafetensorsFile>(shard_path.string()));
  }

  for (const auto& [tensor, shard] : listed) {
    const size_t idx = shard_index.at(shard);
    HALO_CHECK(files_[idx]->contains(tensor), "checkpoint index '", index_str, "' lists tensor '",
               tensor, "' in shard '", files_[idx]->path(), "', but that shard does not hold it");
    file_index_[tensor] = idx;
  }
  for (const auto& [shard, idx] : shard_index) {
    for (const auto& tensor : files_[idx]->names()) {
      auto it = listed.find(tensor);
      HALO_CHECK(it != listed.end() && it->second == shard, "shard '", files_[idx]->path(),
                 "' holds tensor '", tensor, "', which checkpoint index '", index_str,
                 it == listed.end() ? std::string("' does not list")
                                    : "' lists under shard '" + it->second + "'");
    }
  }
}

std::vector<std::string> CheckpointFiles::shard_paths() const {
  std::vector<std::string> out;
  out.reserve(files_.size());
  for (const auto& f : files_) out.push_back(f->path());
  return out;
}

std::vector<std::string> CheckpointFiles::names() const {
  std::vector<std::string> out;
  out.reserve(file_index_.size());
  for (const auto& kv : file_index_) out.push_back(kv.first);
  return out;
}

bool CheckpointFiles::contains(const std::string& name) const {
  return file_index_.count(name) != 0;
}

const SafetensorsEntry& CheckpointFiles::entry(const std::string& name) const {
  auto it = file_index_.find(name);
  HALO_CHECK(it != file_index_.end(), "checkpoint '", dir_, "' has no tensor '", name, "'");
  return files_[it->second]->entry(name);
}

const std::string& CheckpointFiles::file_of(const std::string& name) const {
  auto it = file_index_.find(name);
  HALO_CHECK(it != file_index_.end(), "checkpoint '", dir_, "' has no tensor '", name, "'");
  return files_[it->second]->path();
}

uint64_t CheckpointFiles::total_bytes() const {
  uint64_t total = 0;
  for (const auto& [name, idx] : file_index_) {
    const SafetensorsEntry& e = files_[idx]->entry(name);
    total += e.end - e.begin;
  }
  return total;
}

at::Tensor CheckpointFiles::load(const std::string& name, at::ScalarType dtype,
                                 const std::vector<int64_t>& expected_shape) {
  const SafetensorsEntry& e = entry(name);
  const SafetensorsFile& file = *files_[file_index_.at(name)];
  HALO_CHECK(expected_shape.empty() || e.shape == expected_shape, "tensor '", name, "' in '",
             file.path(), "': expected shape ", shape_str(expected_shape), ", found ",
             shape_str(e.shape), " (checkpoint does not match the model config?)");
  at::Tensor t = file.load(name, dtype);
  consumed_.insert(name);
  return t;
}

void CheckpointFiles::check_all_consumed() const {
  std::vector<std::string> unused;
  for (const auto& kv : file_index_) {
    if (!consumed_.count(kv.first)) unused.push_back(kv.first);
  }
  if (unused.empty()) return;
  std::string list;
  for (size_t i = 0; i < unused.size() && i < kMaxListed; ++i) {
    list += "\n  '" + unused[i] + "' (in '" + file_of(unused[i]) + "')";
  }
  if (unused.size() > kMaxListed) {
    list += "\n  ... and " + std::to_string(unused.size() - kMaxListed) + " more";
  }
  HALO_FAIL(
      "checkpoint '", dir_, "' has ", unused.size(),
      " unexpected tensor(s) that the model never loaded (wrong architecture or config?):", list);
}

// ---------------------------------------------------------------------------------------------
// Writer

void write_checkpoint_files(const std::string& dir,
                            const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                            uint64_t max_shard_bytes,
                            const std::map<std::string, std::string>& metadata) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  HALO_CHECK(!ec && fs::is_directory(dir), "cannot create checkpoint folder '", dir,
             "': ", ec ? ec.message() : "not a folder");

  // Remove what an earlier write left, so a reader never mixes old shards with new ones.
  std::vector<fs::path> stale;
  for (const auto& de : fs::directory_iterator(dir, ec)) {
    const std::string fname = de.path().filename().string();
    const bool model_file = fname.rfind("model", 0) == 0 && fname.size() >= 17 &&
                            fname.compare(fname.size() - 12, 12, ".safetensors") == 0;
    if ((fname == kIndexFile || model_file) && !de.is_directory()) stale.push_back(de.path());
  }
  HALO_CHECK(!ec, "cannot list checkpoint folder '", dir, "': ", ec.message());
  for (const auto& p : stale) {
    fs::remove(p, ec);
    HALO_CHECK(!ec, "cannot remove stale checkpoint file '", p.string(), "': ", ec.message());
  }

  std::vector<std::pair<std::string, at::Tensor>> sorted(tensors.begin(), tensors.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  uint64_t total = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    HALO_CHECK(i == 0 || sorted[i].first != sorted[i - 1].first, "cannot write checkpoint '", dir,
               "': tensor '", sorted[i].first, "' appears twice");
    HALO_CHECK(sorted[i].second.defined(), "cannot write checkpoint '", dir, "': tensor '",
               sorted[i].first, "' is undefined");
    total += static_cast<uint64_t>(sorted[i].second.numel()) * sorted[i].second.element_size();
  }

  if (max_shard_bytes == 0 || total <= max_shard_bytes) {
    write_safetensors((fs::path(dir) / kSingleFile).string(), sorted, metadata);
    return;
  }

  // Greedy fill in name order; a tensor larger than the limit ends up alone in its shard.
  std::vector<std::vector<std::pair<std::string, at::Tensor>>> shards(1);
  uint64_t shard_bytes = 0;
  for (auto& item : sorted) {
    const uint64_t bytes = static_cast<uint64_t>(item.second.numel()) * item.second.element_size();
    if (!shards.back().empty() && shard_bytes + bytes > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(std::move(item));
    shard_bytes += bytes;
  }

  nlohmann::json weight_map = nlohmann::json::object();
  const size_t n = shards.size();
  for (size_t k = 0; k < n; ++k) {
    char name[64];
    std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", k + 1, n);
    write_safetensors((fs::path(dir) / name).string(), shards[k], metadata);
    for (const auto& item : shards[k]) weight_map[item.first] = name;
  }
  // The index goes last: a folder whose index exists has all its shards.
  const nlohmann::json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
  write_text_atomically((fs::path(dir) / kIndexFile).string(), index.dump(2) + "\n");
}

}  // namespace halo::hypenet
