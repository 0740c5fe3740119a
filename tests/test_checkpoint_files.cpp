// Tests of hypenet/checkpoint_files.h: single-file and sharded round trips (shard names, index
// contents, greedy split, stale-file removal), consumption tracking, and the errors for broken
// folders, each checking that the message names the index or shard file and the tensor.
#include "hypenet/checkpoint_files.h"

#include "common/error.h"
#include "tests/require_halo_error.h"
#include "tests/test_util.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace {

namespace fs = std::filesystem;
namespace hn = halo::hypenet;
using Catch::Contains;

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void open_dir(const std::string& dir) {
  hn::CheckpointFiles files(dir);
}

// Two shards written by hand plus an index naming them: a.* in shard 1, b.* in shard 2.
void write_two_shards(const fs::path& dir, const std::string& index_text) {
  hn::write_safetensors((dir / "s1.safetensors").string(),
                        {{"a.w", at::ones({2, 3})}, {"a.b", at::zeros({3})}});
  hn::write_safetensors((dir / "s2.safetensors").string(), {{"b.w", at::ones({4})}});
  write_text(dir / "model.safetensors.index.json", index_text);
}

const char* kGoodIndex = R"({"metadata": {"total_size": 52}, "weight_map": {
  "a.w": "s1.safetensors", "a.b": "s1.safetensors", "b.w": "s2.safetensors"}})";

bool same_bits(const at::Tensor& a, const at::Tensor& b) {
  return a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() &&
         at::equal(a.contiguous().view(at::kByte), b.contiguous().view(at::kByte));
}

}  // namespace

TEST_CASE("checkpoint single file round trip and consumption", "[checkpoint]") {
  halo::test::TempDir tmp("halo-ckpt");
  const std::string dir = (tmp.path() / "model").string();  // created by the writer
  at::manual_seed(0);
  const at::Tensor w = at::randn({4, 3}).to(at::kBFloat16);
  const at::Tensor b = at::randn({3});
  hn::write_checkpoint_files(dir, {{"w", w}, {"b", b}}, /*max_shard_bytes=*/0);

  REQUIRE(fs::exists(fs::path(dir) / "model.safetensors"));
  CHECK_FALSE(fs::exists(fs::path(dir) / "model.safetensors.index.json"));
  hn::CheckpointFiles files(dir);
  CHECK_FALSE(files.sharded());
  CHECK(files.names() == std::vector<std::string>{"b", "w"});
  CHECK(files.total_bytes() == 4 * 3 * 2 + 3 * 4);
  CHECK(files.file_of("w") == (fs::path(dir) / "model.safetensors").string());
  CHECK(hn::SafetensorsFile(files.file_of("w")).metadata().at("format") == "pt");

  CHECK(same_bits(files.load("w", at::kBFloat16, {4, 3}), w));
  // Not everything consumed yet: b is reported as unexpected, with its file.
  REQUIRE_HALO_ERROR(files.check_all_consumed(),
                     Contains("'b'") && Contains(files.file_of("b")) && Contains(dir));
  CHECK(same_bits(files.load("b", at::kFloat), b));
  CHECK_NOTHROW(files.check_all_consumed());
}

TEST_CASE("checkpoint sharded write and read round trip", "[checkpoint]") {
  halo::test::TempDir tmp("halo-ckpt");
  const fs::path dir = tmp.path();
  // A stale single file and an unrelated file: the writer removes the first, keeps the second.
  write_text(dir / "model.safetensors", "stale");
  write_text(dir / "model-00009-of-00009.safetensors", "stale");
  write_text(dir / "config.json", "{}");

  at::manual_seed(2);
  // Sizes in bytes: a 40, b 40, c 200 (over the limit), d 24, e 8. Limit 100 -> greedy in name
  // order: [a, b], [c], [d, e].
  std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"e", at::arange(2, at::kInt)},
      {"c", at::randn({50})},
      {"a", at::randn({10})},
      {"d", at::randn({3, 4}).to(at::kHalf)},
      {"b", at::randn({20}).to(at::kBFloat16)},
  };
  hn::write_checkpoint_files(dir.string(), tensors, /*max_shard_bytes=*/100);

  CHECK_FALSE(fs::exists(dir / "model.safetensors"));
  CHECK_FALSE(fs::exists(dir / "model-00009-of-00009.safetensors"));
  CHECK(fs::exists(dir / "config.json"));
  const auto index = nlohmann::json::parse(read_text(dir / "model.safetensors.index.json"));
  CHECK(index["metadata"]["total_size"] == 312);
  const nlohmann::json expected_map = {{"a", "model-00001-of-00003.safetensors"},
                                       {"b", "model-00001-of-00003.safetensors"},
                                       {"c", "model-00002-of-00003.safetensors"},
                                       {"d", "model-00003-of-00003.safetensors"},
                                       {"e", "model-00003-of-00003.safetensors"}};
  CHECK(index["weight_map"] == expected_map);

  hn::CheckpointFiles files(dir.string());
  CHECK(files.sharded());
  CHECK(files.shard_paths() ==
        std::vector<std::string>{(dir / "model-00001-of-00003.safetensors").string(),
                                 (dir / "model-00002-of-00003.safetensors").string(),
                                 (dir / "model-00003-of-00003.safetensors").string()});
  CHECK(files.total_bytes() == 312);
  CHECK(files.file_of("c") == (dir / "model-00002-of-00003.safetensors").string());
  for (const auto& [name, t] : tensors) {
    INFO("tensor " << name);
    CHECK(files.entry(name).shape == t.sizes().vec());
    if (t.is_floating_point()) {
      CHECK(same_bits(files.load(name, t.scalar_type(), t.sizes().vec()), t));
    }
  }
  REQUIRE_HALO_ERROR(files.check_all_consumed(),
                     Contains("'e'") && Contains("model-00003-of-00003.safetensors"));

  // Rewriting under the limit goes back to one file and removes the shards and the index.
  hn::write_checkpoint_files(dir.string(), tensors, /*max_shard_bytes=*/1000);
  CHECK(fs::exists(dir / "model.safetensors"));
  CHECK_FALSE(fs::exists(dir / "model.safetensors.index.json"));
  CHECK_FALSE(fs::exists(dir / "model-00001-of-00003.safetensors"));
  CHECK_FALSE(hn::CheckpointFiles(dir.string()).sharded());
}

TEST_CASE("checkpoint reads a hand-written index", "[checkpoint]") {
  halo::test::TempDir tmp("halo-ckpt");
  write_two_shards(tmp.path(), kGoodIndex);
  hn::CheckpointFiles files(tmp.str());
  CHECK(files.sharded());
  CHECK(files.names() == std::vector<std::string>{"a.b", "a.w", "b.w"});
  CHECK(files.shard_paths().size() == 2);
  CHECK(files.load("b.w", at::kFloat, {4}).sum().item<float>() == 4.0f);
}

// ---------------------------------------------------------------------------------------------
// Broken folders: each error names the folder, index or shard file and the tensor.

TEST_CASE("checkpoint rejects a missing folder", "[checkpoint]") {
  halo::test::TempDir tmp("halo-ckpt");
  const std::string dir = (tmp.path() / "nope").string();
  REQUIRE_HALO_ERROR(open_dir(dir), Contains(dir) && Contains("does not exist"));
}

TEST_CASE("checkpoint rejects a folder without model files", "[checkpoint]") {
  halo::test::TempDir tmp("halo-ckpt");
  REQUIRE_HALO_ERROR(open_dir(tmp.str()), Contains(tmp.str()) && Contains("model.safetensors") &&
                                              Contains("model.safetensors.index.json"));
}

TEST_CASE("checkpoint rejects an index that is not valid JSON", "[checkpoint]") {
  halo::test::TempDir tmp("halo-ckpt");
  write_two_shards(tmp.path(), R"({"weight_map": {"a.w": )");
  const std::string index = (tmp.path() / "model.safetensors.index.json").string();
  REQUIRE_HALO_ERROR(open_dir(tmp.str()), Contains(index) && Contains("not valid JSON"));
}

TEST_CASE("checkpoint rejects an index without weight_map", "[checkpoint]") {
  halo::test::TempDir tmp("halo-ckpt");
  write_two_shards(tmp.path(), R"({"metadata": {"total_size": 52}})");
  const std::string index = (tmp.path() / "model.safetensors.index.json").string();
  REQUIRE_HALO_ERROR(open_dir(tmp.str()), Contains(index) && Contains("weight_map"));
}

TEST_CASE("checkpoint rejects a shard listed in the index but missing", "[checkpoint]") {
  halo::test::TempDir tmp("halo-ckpt");
  write_two_shards(tmp.path(),
                   R"({"weight_map": {"a.w": "s1.safetensors", "a.b": "s1.safetensors",
                       "b.w": "s2.safetensors", "c.w": "s3.safetensors"}})");
  const std::string index = (tmp.path() / "model.safetensors.index.json").string();
  REQUIRE_HALO_ERROR(open_dir(tmp.str()), Contains(index) && Contains("s3.safetensors") &&
                                              Contains("'c.w'") && Contains("does not exist"));
}

TEST_CASE("checkpoint rejects an index tensor that its shard lacks", "[checkpoint]") {
  halo::test::TempDir tmp("halo-ckpt");
  write_two_shards(tmp.path(),
                   R"({"weight_map": {"a.w": "s1.safetensors", "a.b": "s2.safetensors",
                       "b.w": "s2.safetensors"}})");
  const std::string index = (tmp.path() / "model.safetensors.index.json").string();
  const std::string shard = (tmp.path() / "s2.safetensors").string();
  REQUIRE_HALO_ERROR(open_dir(tmp.str()), Contains(index) && Contains(shard) && Contains("'a.b'") &&
                                              Contains("does not hold"));
}

TEST_CASE("checkpoint rejects a shard tensor the index does not list", "[checkpoint]") {
  halo::test::TempDir tmp("halo-ckpt");
  write_two_shards(tmp.path(), R"({"weight_map": {"a.w": "s1.safetensors",
                                                  "b.w": "s2.safetensors"}})");
  const std::string index = (tmp.path() / "model.safetensors.index.json").string();
  const std::string shard = (tmp.path() / "s1.safetensors").string();
  REQUIRE_HALO_ERROR(open_dir(tmp.str()), Contains(index) && Contains(shard) && Contains("'a.b'") &&
                                              Contains("does not list"));
}

TEST_CASE("checkpoint reports a malformed shard with the shard path", "[checkpoint]") {
  halo::test::TempDir tmp("halo-ckpt");
  write_two_shards(tmp.path(), kGoodIndex);
  const std::string shard = (tmp.path() / "s2.safetensors").string();
  write_text(shard, "xyz");
  REQUIRE_HALO_ERROR(open_dir(tmp.str()), Contains(shard) && Contains("truncated"));
}

TEST_CASE("checkpoint load rejects a wrong expected shape", "[checkpoint]") {
  halo::test::TempDir tmp("halo-ckpt");
  write_two_shards(tmp.path(), kGoodIndex);
  hn::CheckpointFiles files(tmp.str());
  const std::string shard = (tmp.path() / "s1.safetensors").string();
  REQUIRE_HALO_ERROR(files.load("a.w", at::kFloat, {3, 2}), Contains(shard) && Contains("'a.w'") &&
                                                                Contains("expected shape [3, 2]") &&
                                                                Contains("found [2, 3]"));
  REQUIRE_HALO_ERROR(files.load("zzz", at::kFloat), Contains(tmp.str()) && Contains("'zzz'"));
}

TEST_CASE("checkpoint check_all_consumed lists unexpected tensors with their files",
          "[checkpoint]") {
  halo::test::TempDir tmp("halo-ckpt");
  write_two_shards(tmp.path(), kGoodIndex);
  hn::CheckpointFiles files(tmp.str());
  files.load("a.w", at::kFloat, {2, 3});
  files.load("a.b", at::kFloat, {3});
  REQUIRE_HALO_ERROR(files.check_all_consumed(),
                     Contains("1 unexpected") && Contains("'b.w'") &&
                         Contains((tmp.path() / "s2.safetensors").string()));
  files.load("b.w", at::kFloat);
  CHECK_NOTHROW(files.check_all_consumed());
}
