// Implementation of model_folder_files.h.
#include "common/model_folder_files.h"

#include "common/atomic_file.h"
#include "common/error.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace halo {

namespace fs = std::filesystem;

std::vector<std::string> model_side_files(const std::string& dir) {
  static const char* kNames[] = {
      "tokenizer.json", "tokenizer_config.json",   "tokenizer.model",   "vocab.json",
      "merges.txt",     "special_tokens_map.json", "added_tokens.json", "generation_config.json"};
  std::vector<std::string> found;
  for (const char* n : kNames) {
    if (fs::is_regular_file(fs::path(dir) / n)) found.emplace_back(n);
  }
  return found;
}

std::vector<std::string> copy_model_side_files(const std::string& from, const std::string& to) {
  std::vector<std::string> copied;
  for (const auto& n : model_side_files(from)) {
    if (fs::exists(fs::path(to) / n)) continue;
    write_file_durably(fs::path(to) / n, [&](const std::string& tmp) {
      fs::copy_file(fs::path(from) / n, tmp, fs::copy_options::overwrite_existing);
    });
    copied.push_back(n);
  }
  return copied;
}

std::string find_model_tokenizer(const std::string& dir) {
  for (const char* n : {"tokenizer.json", "tokenizer.model"}) {
    if (fs::is_regular_file(fs::path(dir) / n)) return (fs::path(dir) / n).string();
  }
  return "";
}

namespace {
// eos_token_id of `file` if it has one.
std::vector<int64_t> eos_in(const fs::path& file) {
  if (!fs::is_regular_file(file)) return {};
  std::ifstream in(file);
  auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  HALO_CHECK(!j.is_discarded() && j.is_object(), file.string(), ": not a JSON object");
  if (!j.contains("eos_token_id") || j["eos_token_id"].is_null()) return {};
  const auto& v = j["eos_token_id"];
  std::vector<int64_t> ids;
  auto take = [&](const nlohmann::json& x) {
    HALO_CHECK(x.is_number_integer() && x.get<int64_t>() >= 0, file.string(),
               ": key 'eos_token_id' must be a non-negative integer or a list of them, got ",
               v.dump());
    ids.push_back(x.get<int64_t>());
  };
  if (v.is_array()) {
    for (const auto& x : v) take(x);
  } else {
    take(v);
  }
  return ids;
}
}  // namespace

std::vector<int64_t> model_eos_token_ids(const std::string& dir, std::string* source) {
  for (const char* name : {"generation_config.json", "config.json"}) {
    auto ids = eos_in(fs::path(dir) / name);
    if (ids.empty()) continue;
    if (source) *source = (fs::path(dir) / name).string();
    return ids;
  }
  if (source) source->clear();
  return {};
}

}  // namespace halo
