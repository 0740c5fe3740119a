// Hostile inputs to the parsers that read users' files (issue 22, docs/reliability.md): sizes
// beyond sane bounds, files that claim more bytes than they hold, nesting that would exhaust the
// stack, values of the wrong type. Each must be refused with a HaloError naming the file and the
// key or limit, before any allocation of the claimed size. No LibTorch here: this binary is also
// built under AddressSanitizer + UndefinedBehaviorSanitizer (fuzz/CMakeLists.txt).
#include <catch2/catch.hpp>

#include "common/error.h"
#include "common/json_fields.h"
#include "common/json_limits.h"
#include "common/remove_tree.h"
#include "data/corpus_reader.h"
#include "data/hf_bpe_tokenizer.h"
#include "data/shard_manifest.h"
#include "data/token_shard_file.h"
#include "halo/checkpoint/checkpoint_meta.h"
#include "halo/config/pipeline_config.h"
#include "hypenet/safetensors_header.h"

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

// A fresh folder under the temp dir, removed at scope exit.
struct Scratch {
  fs::path dir;
  Scratch() {
    std::string templ = (fs::temp_directory_path() / "halo-hostile-XXXXXX").string();
    REQUIRE(::mkdtemp(templ.data()) != nullptr);
    dir = templ;
  }
  ~Scratch() { halo::remove_tree(dir.string()); }  // best effort; the error code is ignored
  std::string write(const std::string& name, const std::string& bytes) const {
    const fs::path p = dir / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
  }
};

// The message of the HaloError that `fn` throws ("" and a failed check when it throws none).
template <typename Fn>
std::string refusal(Fn&& fn) {
  try {
    fn();
  } catch (const halo::HaloError& e) {
    return e.what();
  }
  FAIL("expected a HaloError");
  return "";
}

// 8-byte little-endian length + header text + data bytes.
std::string safetensors_bytes(uint64_t header_len, const std::string& header,
                              const std::string& data) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &header_len, 8);
  return out + header + data;
}

}  // namespace

TEST_CASE("hostile safetensors: header length at and beyond the file's end",
          "[hostile][safetensors]") {
  using halo::hypenet::parse_safetensors_header;
  const std::string header = R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})";
  // Exact: the header ends where the data starts.
  const std::string ok = safetensors_bytes(header.size(), header, "xy");
  const auto parsed = parse_safetensors_header("ok.safetensors", ok.data(), ok.size());
  CHECK(parsed.data_start == 8 + header.size());
  CHECK(parsed.entries.at("a").end == 2);

  // A header length one byte past the end of a file that has no data buffer: refused, and the
  // parser reads no byte beyond the buffer (an exactly sized heap copy, for ASan).
  const std::string cut = safetensors_bytes(header.size() + 1, header, "");
  std::unique_ptr<char[]> exact(new char[cut.size()]);
  std::memcpy(exact.get(), cut.data(), cut.size());
  CHECK_THAT(refusal([&] { parse_safetensors_header("cut.safetensors", exact.get(), cut.size()); }),
             Contains("cut.safetensors") && Contains("reaches beyond the end of the file"));

  // 2^64 - 1 and the 100 MB limit + 1.
  const std::string huge = safetensors_bytes(UINT64_MAX, header, "");
  CHECK_THAT(refusal([&] { parse_safetensors_header("huge", huge.data(), huge.size()); }),
             Contains("huge") && Contains("absurd") && Contains("limit 100000000"));
  const std::string over = safetensors_bytes(halo::hypenet::kSafetensorsMaxHeaderBytes + 1, "", "");
  CHECK_THAT(refusal([&] { parse_safetensors_header("over", over.data(), over.size()); }),
             Contains("limit 100000000"));
  // Fewer than 8 bytes.
  CHECK_THAT(refusal([] { parse_safetensors_header("tiny", "abc", 3); }),
             Contains("tiny") && Contains("truncated"));
}

TEST_CASE("hostile safetensors: offsets past the data, shapes whose bytes overflow, rank",
          "[hostile][safetensors]") {
  using halo::hypenet::parse_safetensors_header;
  auto parse = [](const std::string& header, const std::string& data) {
    const std::string b = safetensors_bytes(header.size(), header, data);
    return parse_safetensors_header("t.safetensors", b.data(), b.size());
  };
  CHECK_THAT(refusal([&] {
               parse(R"({"w":{"dtype":"F32","shape":[1000000000],"data_offsets":[0,4000000000]}})",
                     "abcd");
             }),
             Contains("tensor 'w'") && Contains("reach beyond the data buffer of 4 bytes"));
  CHECK_THAT(
      refusal([&] {
        parse(R"({"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", "");
      }),
      Contains("tensor 'w'") && Contains("more than 2^64"));
  std::string rank = "[";
  for (int i = 0; i < 65; ++i) rank += i ? ",1" : "1";
  rank += "]";
  CHECK_THAT(refusal([&] {
               parse(R"({"w":{"dtype":"U8","shape":)" + rank + R"(,"data_offsets":[0,1]}})", "x");
             }),
             Contains("tensor 'w'") && Contains("65 dimensions (limit 64)"));
}

TEST_CASE("hostile JSON: nesting deeper than the limit is refused before parsing",
          "[hostile][json]") {
  Scratch s;
  // 1M levels crash nlohmann::json's recursive parse and free (measured); refused here.
  const std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
  const std::string path = s.write("config.json", deep);
  CHECK_THAT(refusal([&] { halo::read_json_file(path); }),
             Contains(path) && Contains("nested deeper than 512") && Contains("at byte 512"));
  // Brackets inside strings do not count; 512 levels are accepted.
  const std::string in_string = "{\"k\": \"" + std::string(2000, '[') + "\\\"[\"}";
  CHECK(halo::json_depth_violation(in_string.data(), in_string.data() + in_string.size()) == -1);
  const std::string at_limit = std::string(512, '[') + std::string(512, ']');
  CHECK(halo::json_depth_violation(at_limit.data(), at_limit.data() + at_limit.size()) == -1);
  const std::string header = std::string(600, '{');
  const std::string st = safetensors_bytes(header.size(), header, "");
  CHECK_THAT(refusal([&] {
               halo::hypenet::parse_safetensors_header("deep.safetensors", st.data(), st.size());
             }),
             Contains("deep.safetensors") && Contains("nested deeper than 512"));
  CHECK_THAT(refusal([&] {
               halo::hypenet::parse_checkpoint_index("index.json", "{\"weight_map\":" + deep);
             }),
             Contains("index.json") && Contains("nested deeper"));
}

TEST_CASE("hostile checkpoint meta.json: keys of the wrong type and out of range",
          "[hostile][checkpoint]") {
  using halo::checkpoint::parse_checkpoint_meta;
  const std::string head = R"({"magic": "halo-distill-checkpoint", "version": 1, )";
  CHECK(parse_checkpoint_meta(head + R"("step": 3, "world_size": 2})", "m.json").step == 3);
  // Before: nlohmann's value() threw its own type_error ("type must be string, but is number").
  CHECK_THAT(refusal([&] { parse_checkpoint_meta(R"({"magic": 5})", "m.json"); }),
             Contains("m.json") && Contains("\"magic\" must be a string"));
  CHECK_THAT(refusal([&] { parse_checkpoint_meta(head + R"("step": "12"})", "m.json"); }),
             Contains("m.json") && Contains("\"step\" must be an integer"));
  CHECK_THAT(
      refusal([&] { parse_checkpoint_meta(head + R"("step": 1, "stage": [1]})", "m.json"); }),
      Contains("\"stage\" must be a string"));
  CHECK_THAT(
      refusal([&] { parse_checkpoint_meta(head + R"("step": 1, "world_size": 0})", "m.json"); }),
      Contains("\"world_size\" 0 is outside [1, 1048576]"));
  CHECK_THAT(refusal([&] {
               parse_checkpoint_meta(head + R"("step": 1, "world_size": 18446744073709551615})",
                                     "m.json");
             }),
             Contains("\"world_size\""));
  CHECK_THAT(refusal([&] { parse_checkpoint_meta(head + R"("step": 1, "extra": 3})", "m.json"); }),
             Contains("\"extra\" must be an object"));
  CHECK_THAT(refusal([&] { parse_checkpoint_meta(head + R"("step": -1})", "m.json"); }),
             Contains("\"step\" missing or negative"));
}

TEST_CASE("hostile tokenizer.json: ids and merges beyond the limits, files beyond the size limit",
          "[hostile][tokenizer]") {
  Scratch s;
  // One vocabulary entry with id 2^31 - 2 made the id tables 2^31 entries long (64 GB).
  const std::string huge_id = s.write(
      "huge_id.json", R"({"model": {"type": "BPE", "vocab": {"a": 2147483646}, "merges": []},
                          "pre_tokenizer": {"type": "ByteLevel"},
                          "decoder": {"type": "ByteLevel"}})");
  CHECK_THAT(refusal([&] { halo::data::HfBpeTokenizer t(huge_id); }),
             Contains(huge_id) && Contains("model.vocab") && Contains("[0, 4194304)"));
  const std::string added =
      s.write("added.json", R"({"model": {"type": "BPE", "vocab": {}, "merges": []},
                        "added_tokens": [{"id": 99999999, "content": "x"}]})");
  CHECK_THAT(refusal([&] { halo::data::HfBpeTokenizer t(added); }), Contains(added));
  // A JSON file beyond 256 MiB is refused by its size before it is read (sparse file: no disk).
  const std::string big = s.write("big.json", "{}");
  std::filesystem::resize_file(big, halo::kMaxJsonFileBytes + 1);
  CHECK_THAT(refusal([&] { halo::read_json_file(big); }),
             Contains(big) && Contains("limit 268435456 bytes"));
}

TEST_CASE("hostile JSONL corpus: a line of nested brackets is invalid_json, not a crash",
          "[hostile][prepare]") {
  Scratch s;
  halo::data::InputFile file;
  file.jsonl = true;
  file.path = s.write(
      "deep.jsonl", std::string(200000, '[') + std::string(200000, ']') + "\n{\"text\": \"ok\"}\n");
  halo::data::ReaderLimits limits;
  halo::data::InputReport report;
  std::vector<std::string> docs;
  halo::data::read_documents(
      file, limits, [&](std::string&& d) { docs.push_back(d); }, &report, [](int64_t) {});
  CHECK(docs == std::vector<std::string>{"ok"});
  REQUIRE(report.bad.count(halo::data::kBadInvalidJson) == 1);
  CHECK(report.bad.at(halo::data::kBadInvalidJson).first == "line 1");
}

TEST_CASE("hostile manifest.json: counts that overflow, values of the wrong type, vocabulary",
          "[hostile][manifest]") {
  using halo::data::Manifest;
  nlohmann::json j = {{"format", "halo-token-shards"},
                      {"version", 1},
                      {"tokenizer", {{"kind", "hf-bpe"}, {"identity", "x"}}},
                      {"vocab_size", 512},
                      {"separator_id", 0},
                      {"token_dtype", "uint16"},
                      {"splits",
                       {{"train",
                         {{"documents", 2},
                          {"tokens", 0},
                          {"shards",
                           {{{"file", "a.h5"},
                             {"documents", INT64_MAX},
                             {"tokens", 0},
                             {"sha256", std::string(64, '0')}},
                            {{"file", "b.h5"},
                             {"documents", INT64_MAX},
                             {"tokens", 0},
                             {"sha256", std::string(64, '0')}}}}}}}}};
  // Two shards of INT64_MAX documents: the sum overflowed int64 (UBSan) before.
  CHECK_THAT(refusal([&] { Manifest::from_json(j, "m.json"); }),
             Contains("m.json") && Contains("overflows int64"));
  j["splits"]["train"]["shards"].erase(1);
  j["splits"]["train"]["documents"] = INT64_MAX;
  CHECK(Manifest::from_json(j, "m.json").splits.at("train").documents == INT64_MAX);
  // inputs[] of the wrong shape: nlohmann's value() threw its own type_error before.
  j["inputs"] = {{{"file", 3}}};
  CHECK_THAT(refusal([&] { Manifest::from_json(j, "m.json"); }),
             Contains("m.json: inputs[0]") && Contains("'file'"));
  j["inputs"] = {{{"bad", {{"invalid_json", 7}}}}};
  CHECK_THAT(refusal([&] { Manifest::from_json(j, "m.json"); }), Contains("invalid_json"));
  j["inputs"] = {5};
  CHECK_THAT(refusal([&] { Manifest::from_json(j, "m.json"); }), Contains("'inputs'[0]"));
  j.erase("inputs");
  j["vocab_size"] = 70000;
  CHECK_THAT(refusal([&] { Manifest::from_json(j, "m.json"); }),
             Contains("'vocab_size'") && Contains("do not fit token_dtype uint16"));
  j["vocab_size"] = 512;
  j["token_dtype"] = "int8";
  CHECK_THAT(refusal([&] { Manifest::from_json(j, "m.json"); }),
             Contains("m.json") && Contains("'token_dtype'"));
}

TEST_CASE("hostile token shard: counts the file does not hold, truncation", "[hostile][shard]") {
  Scratch s;
  const std::string path = (s.dir / "shard.h5").string();
  halo::data::write_token_shard(path, {1, 2, 3, 4, 5}, {0, 2, 5}, "uint16");
  CHECK(halo::data::TokenShardFile(path, "uint16", 2, 5).num_tokens() == 5);
  // The manifest claims 2^40 documents: refused before the offsets are allocated.
  CHECK_THAT(refusal([&] { halo::data::TokenShardFile(path, "uint16", int64_t{1} << 40, 5); }),
             Contains(path) && Contains("3 document offsets for 1099511627776 documents"));
  CHECK_THAT(refusal([&] { halo::data::TokenShardFile(path, "uint16", 2, int64_t{1} << 62); }),
             Contains(path) && Contains("holds 5 tokens; the manifest says 4611686018427387904"));
  // A shard cut short: HDF5 refuses to open it, or the tokens end past the end of the file.
  const auto size = fs::file_size(path);
  for (uintmax_t cut : {size - 1, size / 2, uintmax_t{100}}) {
    const std::string cut_path = (s.dir / ("cut" + std::to_string(cut) + ".h5")).string();
    fs::copy_file(path, cut_path);
    fs::resize_file(cut_path, cut);
    CHECK_THAT(refusal([&] { halo::data::TokenShardFile(cut_path, "uint16", 2, 5); }),
               Contains(cut_path));
  }
}

TEST_CASE("hostile pipeline YAML: nesting beyond yaml-cpp's depth guard is refused",
          "[hostile][config]") {
  Scratch s;
  const std::string path = s.write("deep.yaml", "run: " + std::string(100000, '['));
  CHECK_THAT(refusal([&] { halo::config::load_pipeline_config(path); }),
             Contains(path) && Contains("invalid YAML"));
  const std::string ok = s.write("ok.yaml", "run: {out_dir: x}\n");
  CHECK_THAT(refusal([&] {
               halo::config::load_pipeline_config(ok, {"run.seed=" + std::string(100000, '[')});
             }),
             Contains("--set run.seed="));
}

// Found by fuzz_pipeline_yaml (2026-12-07, reproducer pipeline_yaml-crash-2d8c30dd): a stage
// entry that is a scalar made `--set stages.NAME.key=v` subscript it, and yaml-cpp threw
// YAML::BadSubscript past the CLI's HaloError handling (terminate).
TEST_CASE("hostile pipeline YAML: --set stages.NAME on a stage that is not a mapping",
          "[hostile][config]") {
  Scratch s;
  const std::string path =
      s.write("scalar-stage.yaml", "stages:\n  - 0\n  - name: b\n    kind: stage3\n");
  const std::string error =
      refusal([&] { halo::config::load_pipeline_config(path, {"stages.stage2.steps=3"}); });
  CHECK_THAT(error, Contains("no stage is named \"stage2\""));
}
