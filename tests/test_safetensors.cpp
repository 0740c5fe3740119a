// Tests of hypenet/safetensors.h: bit-exact round trips per dtype (0-d and empty tensors too),
// dtype conversion on load, the writer's layout, and one test per kind of malformed file, each
// checking that the error names the file and, where relevant, the tensor.
#include "hypenet/safetensors.h"

#include "common/error.h"
#include "tests/require_halo_error.h"
#include "tests/test_util.h"

#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>

namespace {

namespace hn = halo::hypenet;
using Catch::Contains;

// Writes `bytes` to `path` as they are.
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

// A raw safetensors file: 8-byte little-endian `header_len` (the header's size by default),
// the header text, then `data_len` bytes of data.
std::string write_raw(const halo::test::TempDir& dir, const std::string& file_name,
                      const std::string& header, size_t data_len, int64_t header_len = -1) {
  const uint64_t len = header_len < 0 ? header.size() : static_cast<uint64_t>(header_len);
  std::string bytes(8, '\0');
  std::memcpy(bytes.data(), &len, 8);  // little-endian host, as in the format
  bytes += header;
  bytes += std::string(data_len, '\x01');
  const std::string path = (dir.path() / file_name).string();
  write_bytes(path, bytes);
  return path;
}

void open_file(const std::string& path) {
  hn::SafetensorsFile file(path);
}

// The whole byte content of a tensor (contiguous copy), for bit-exact comparisons.
std::string tensor_bytes(const at::Tensor& t) {
  at::Tensor c = t.contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), c.numel() * c.element_size());
}

}  // namespace

TEST_CASE("safetensors round trip is bit-exact for F32/F16/BF16/I64, 0-d and empty",
          "[safetensors]") {
  halo::test::TempDir dir("halo-st");
  const std::string path = (dir.path() / "rt.safetensors").string();
  at::manual_seed(0);
  std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"w.f32", at::randn({3, 5})},
      {"w.f16", at::randn({7}).to(at::kHalf)},
      {"w.bf16", at::randn({2, 3, 4}).to(at::kBFloat16)},
      {"i64", at::arange(-5, 6, at::kLong).reshape({11})},
      {"scalar.f32", at::scalar_tensor(3.25)},
      {"scalar.i64", at::scalar_tensor(-7, at::kLong)},
      {"empty.bf16", at::empty({0, 4}, at::kBFloat16)},
      {"empty.f32", at::empty({0})},
      {"transposed", at::randn({4, 6}).t()},  // non-contiguous input is written contiguous
  };
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"step", "12"}};
  hn::write_safetensors(path, tensors, metadata);

  hn::SafetensorsFile file(path);
  CHECK(file.metadata() == metadata);
  std::vector<std::string> expected_names;
  for (const auto& kv : tensors) expected_names.push_back(kv.first);
  std::sort(expected_names.begin(), expected_names.end());
  CHECK(file.names() == expected_names);
  for (const auto& [name, t] : tensors) {
    INFO("tensor " << name);
    REQUIRE(file.contains(name));
    at::Tensor back = file.load_raw(name);
    CHECK(back.scalar_type() == t.scalar_type());
    CHECK(back.sizes() == t.sizes());
    CHECK(back.is_contiguous());
    CHECK(tensor_bytes(back) == tensor_bytes(t));
    CHECK(file.entry(name).shape == t.sizes().vec());
  }
  CHECK(file.entry("w.f32").dtype == "F32");
  CHECK(file.entry("i64").dtype == "I64");
  // The temporary file was renamed away.
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path()),
                      std::filesystem::directory_iterator()) == 1);
}

TEST_CASE("safetensors writer layout: padded header, data sorted by name", "[safetensors]") {
  halo::test::TempDir dir("halo-st");
  const std::string path = (dir.path() / "layout.safetensors").string();
  hn::write_safetensors(path, {{"b", at::ones({3})}, {"a", at::zeros({1}, at::kHalf)}});
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  CHECK(header_len % 8 == 0);
  CHECK(bytes.size() == 8 + header_len + 2 + 12);
  const std::string header = bytes.substr(8, header_len);
  CHECK(header.find("\"a\"") < header.find("\"b\""));

  hn::SafetensorsFile file(path);
  CHECK(file.entry("a").begin == 0);
  CHECK(file.entry("a").end == 2);
  CHECK(file.entry("b").begin == 2);
  CHECK(file.entry("b").end == 14);
  CHECK(file.metadata().empty());
}

TEST_CASE("safetensors load converts BF16/F16/F32 like at::Tensor::to", "[safetensors]") {
  halo::test::TempDir dir("halo-st");
  const std::string path = (dir.path() / "conv.safetensors").string();
  at::manual_seed(1);
  const at::Tensor bf16 = at::randn({17, 3}).to(at::kBFloat16);
  const at::Tensor f32 = at::randn({9});
  const at::Tensor f16 = at::randn({5}).to(at::kHalf);
  hn::write_safetensors(
      path, {{"bf16", bf16}, {"f32", f32}, {"f16", f16}, {"idx", at::ones({2}, at::kLong)}});
  hn::SafetensorsFile file(path);

  const at::Tensor as_f32 = file.load("bf16", at::kFloat);
  CHECK(as_f32.scalar_type() == at::kFloat);
  CHECK(tensor_bytes(as_f32) == tensor_bytes(bf16.to(at::kFloat)));
  CHECK(tensor_bytes(file.load("f32", at::kBFloat16)) == tensor_bytes(f32.to(at::kBFloat16)));
  CHECK(tensor_bytes(file.load("f16", at::kFloat)) == tensor_bytes(f16.to(at::kFloat)));
  CHECK(tensor_bytes(file.load("f32", at::kFloat)) == tensor_bytes(f32));

  // load() converts floating-point tensors only; load_raw() returns any stored dtype.
  REQUIRE_HALO_ERROR(file.load("idx", at::kFloat),
                     Contains(path) && Contains("'idx'") && Contains("I64"));
  CHECK(file.load_raw("idx").scalar_type() == at::kLong);
  REQUIRE_HALO_ERROR(file.entry("nope"), Contains(path) && Contains("'nope'"));
}

TEST_CASE("safetensors dtype strings map to scalar types and back", "[safetensors]") {
  for (const char* s : {"F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"}) {
    CHECK(hn::scalar_to_safetensors_dtype(hn::safetensors_dtype_to_scalar(s, "ctx")) == s);
  }
  REQUIRE_HALO_ERROR(hn::safetensors_dtype_to_scalar("F7", "my-context"),
                     Contains("my-context") && Contains("'F7'"));
  REQUIRE_HALO_ERROR(hn::scalar_to_safetensors_dtype(at::kComplexFloat), Contains("safetensors"));
}

TEST_CASE("safetensors writer errors name the path", "[safetensors]") {
  halo::test::TempDir dir("halo-st");
  const std::string missing_dir = (dir.path() / "no-such-folder" / "x.safetensors").string();
  REQUIRE_HALO_ERROR(hn::write_safetensors(missing_dir, {{"a", at::ones({2})}}),
                     Contains(missing_dir));
  const std::string path = (dir.path() / "dup.safetensors").string();
  REQUIRE_HALO_ERROR(hn::write_safetensors(path, {{"a", at::ones({2})}, {"a", at::ones({1})}}),
                     Contains(path) && Contains("'a'"));
  REQUIRE_HALO_ERROR(hn::write_safetensors(path, {{"c", at::ones({2}, at::kComplexFloat)}}),
                     Contains(path) && Contains("'c'"));
  CHECK_FALSE(std::filesystem::exists(path));
}

// ---------------------------------------------------------------------------------------------
// Malformed files: each is rejected with the file path (and tensor name where relevant).

TEST_CASE("safetensors rejects a file shorter than 8 bytes", "[safetensors]") {
  halo::test::TempDir dir("halo-st");
  const std::string path = (dir.path() / "short.safetensors").string();
  write_bytes(path, "abc");
  REQUIRE_HALO_ERROR(open_file(path), Contains(path) && Contains("truncated"));
}

TEST_CASE("safetensors rejects a header length beyond the end of file", "[safetensors]") {
  halo::test::TempDir dir("halo-st");
  const std::string header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  const std::string path = write_raw(dir, "long-header.safetensors", header, 4,
                                     static_cast<int64_t>(header.size() + 100));
  REQUIRE_HALO_ERROR(open_file(path), Contains(path) && Contains("beyond the end of the file"));
}

TEST_CASE("safetensors rejects an absurd header length", "[safetensors]") {
  halo::test::TempDir dir("halo-st");
  const std::string path = write_raw(dir, "absurd.safetensors", "{}", 0, int64_t{1} << 40);
  REQUIRE_HALO_ERROR(open_file(path), Contains(path) && Contains("absurd"));
}

TEST_CASE("safetensors rejects a header that is not valid JSON", "[safetensors]") {
  halo::test::TempDir dir("halo-st");
  const std::string path = write_raw(dir, "bad-json.safetensors", R"({"a":{"dtype":"F32",)", 0);
  REQUIRE_HALO_ERROR(open_file(path),
                     Contains(path) && Contains("not valid JSON") && Contains("parse error"));
}

TEST_CASE("safetensors rejects a header that is not an object", "[safetensors]") {
  halo::test::TempDir dir("halo-st");
  const std::string path = write_raw(dir, "array.safetensors", "[1, 2]", 0);
  REQUIRE_HALO_ERROR(open_file(path), Contains(path) && Contains("JSON object"));
  const std::string entry_path = write_raw(dir, "entry.safetensors", R"({"w": 3})", 0);
  REQUIRE_HALO_ERROR(open_file(entry_path), Contains(entry_path) && Contains("'w'"));
}

TEST_CASE("safetensors rejects an unknown dtype", "[safetensors]") {
  halo::test::TempDir dir("halo-st");
  const std::string path = write_raw(
      dir, "dtype.safetensors", R"({"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", 4);
  REQUIRE_HALO_ERROR(open_file(path), Contains(path) && Contains("'w'") && Contains("'F33'"));
}

TEST_CASE("safetensors rejects missing or mistyped entry fields", "[safetensors]") {
  halo::test::TempDir dir("halo-st");
  const std::string no_offsets =
      write_raw(dir, "no-offsets.safetensors", R"({"w":{"dtype":"F32","shape":[1]}})", 4);
  REQUIRE_HALO_ERROR(open_file(no_offsets),
                     Contains(no_offsets) && Contains("'w'") && Contains("data_offsets"));
  const std::string shape_str = write_raw(
      dir, "shape-str.safetensors", R"({"w":{"dtype":"F32","shape":"1","data_offsets":[0,4]}})", 4);
  REQUIRE_HALO_ERROR(open_file(shape_str),
                     Contains(shape_str) && Contains("'w'") && Contains("shape"));
  const std::string no_dtype =
      write_raw(dir, "no-dtype.safetensors", R"({"w":{"shape":[1],"data_offsets":[0,4]}})", 4);
  REQUIRE_HALO_ERROR(open_file(no_dtype),
                     Contains(no_dtype) && Contains("'w'") && Contains("dtype"));
}

TEST_CASE("safetensors rejects data_offsets outside the data buffer", "[safetensors]") {
  halo::test::TempDir dir("halo-st");
  const std::string path = write_raw(
      dir, "outside.safetensors", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8);
  REQUIRE_HALO_ERROR(open_file(path),
                     Contains(path) && Contains("'w'") && Contains("beyond the data buffer"));
}

TEST_CASE("safetensors rejects data_offsets with end before begin", "[safetensors]") {
  halo::test::TempDir dir("halo-st");
  const std::string path = write_raw(
      dir, "reversed.safetensors", R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4);
  REQUIRE_HALO_ERROR(open_file(path),
                     Contains(path) && Contains("'w'") && Contains("end before begin"));
}

TEST_CASE("safetensors rejects overlapping tensors", "[safetensors]") {
  halo::test::TempDir dir("halo-st");
  const std::string path = write_raw(dir, "overlap.safetensors",
                                     R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                     R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                     12);
  REQUIRE_HALO_ERROR(open_file(path),
                     Contains(path) && Contains("'b'") && Contains("'a'") && Contains("overlap"));
}

TEST_CASE("safetensors rejects a byte size that does not match the shape", "[safetensors]") {
  halo::test::TempDir dir("halo-st");
  const std::string path = write_raw(
      dir, "size.safetensors", R"({"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,8]}})", 8);
  REQUIRE_HALO_ERROR(open_file(path), Contains(path) && Contains("'w'") && Contains("needs 12") &&
                                          Contains("span 8"));
}

TEST_CASE("safetensors rejects a negative dimension", "[safetensors]") {
  halo::test::TempDir dir("halo-st");
  const std::string path =
      write_raw(dir, "negative.safetensors",
                R"({"w":{"dtype":"F32","shape":[-1,4],"data_offsets":[0,0]}})", 0);
  REQUIRE_HALO_ERROR(open_file(path), Contains(path) && Contains("'w'") && Contains("negative"));
}

TEST_CASE("safetensors rejects holes in the data buffer", "[safetensors]") {
  halo::test::TempDir dir("halo-st");
  const std::string middle = write_raw(dir, "hole.safetensors",
                                       R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                       R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                                       12);
  REQUIRE_HALO_ERROR(open_file(middle), Contains(middle) && Contains("'b'") && Contains("hole"));
  const std::string trailing = write_raw(
      dir, "tail.safetensors", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 6);
  REQUIRE_HALO_ERROR(open_file(trailing), Contains(trailing) && Contains("hole"));
}

TEST_CASE("safetensors rejects __metadata__ that is not a string map", "[safetensors]") {
  halo::test::TempDir dir("halo-st");
  const std::string path = write_raw(dir, "meta.safetensors", R"({"__metadata__":{"step":12}})", 0);
  REQUIRE_HALO_ERROR(open_file(path),
                     Contains(path) && Contains("__metadata__") && Contains("'step'"));
}

TEST_CASE("safetensors accepts a valid hand-built file", "[safetensors]") {
  halo::test::TempDir dir("halo-st");
  const std::string path = write_raw(dir, "ok.safetensors",
                                     R"({"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                                     R"("a":{"dtype":"U8","shape":[],"data_offsets":[2,3]},)"
                                     R"("__metadata__":{"k":"v"}})",
                                     3);
  hn::SafetensorsFile file(path);
  CHECK(file.names() == std::vector<std::string>{"a", "b"});
  CHECK(file.metadata().at("k") == "v");
  CHECK(file.load_raw("a").dim() == 0);
  CHECK(file.load_raw("b").sum().item<int64_t>() == 2);
}
