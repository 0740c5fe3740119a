// Implementation of shard_manifest.h: manifest.json to and from the Manifest struct.
#include "data/shard_manifest.h"

#include "common/atomic_file.h"
#include "common/error.h"
#include "common/json_fields.h"
#include "data/sha256.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace halo::data {

using halo::JsonFields;
using nlohmann::json;

int token_dtype_bytes(const std::string& dtype) {
  if (dtype == "uint16") return 2;
  if (dtype == "uint32") return 4;
  HALO_FAIL("token dtype '", dtype, "' is not supported (expected uint16 or uint32)");
}

std::string token_dtype_for_vocab(int64_t vocab_size) {
  HALO_CHECK(vocab_size > 0 && vocab_size <= (int64_t{1} << 32), "vocabulary size ", vocab_size,
             " does not fit 32-bit token ids");
  return vocab_size <= 65536 ? "uint16" : "uint32";
}

namespace {

json split_to_json(const SplitInfo& s) {
  json shards = json::array();
  for (const auto& sh : s.shards) {
    shards.push_back({{"file", sh.file},
                      {"documents", sh.documents},
                      {"tokens", sh.tokens},
                      {"sha256", sh.sha256}});
  }
  return {{"documents", s.documents}, {"tokens", s.tokens}, {"shards", shards}};
}

SplitInfo split_from_json(const JsonFields& f) {
  SplitInfo s;
  s.documents = f.require_int("documents");
  s.tokens = f.require_int("tokens");
  HALO_CHECK(f.has("shards") && f.raw().at("shards").is_array(), f.where("shards"),
             ": expected an array of shards");
  int64_t docs = 0, tokens = 0;
  const auto& arr = f.raw().at("shards");
  for (size_t i = 0; i < arr.size(); ++i) {
    HALO_CHECK(arr[i].is_object(), f.where("shards"), "[", i, "]: expected an object");
    JsonFields sf(arr[i], str_cat(f.file(), ": shards[", i, "]"));
    ShardInfo sh;
    sh.file = sf.require_string("file");
    sh.documents = sf.require_int("documents");
    sh.tokens = sf.require_int("tokens");
    sh.sha256 = sf.require_string("sha256");
    HALO_CHECK(sh.documents > 0 && sh.tokens >= 0 && sh.sha256.size() == 64, sf.where("file"),
               ": a shard needs documents > 0, tokens >= 0 and a 64-digit sha256");
    HALO_CHECK(!__builtin_add_overflow(docs, sh.documents, &docs) &&
                   !__builtin_add_overflow(tokens, sh.tokens, &tokens),
               sf.where("documents"), ": the split's document or token count overflows int64");
    s.shards.push_back(std::move(sh));
  }
  HALO_CHECK(docs == s.documents && tokens == s.tokens, f.where("documents"),
             ": the split totals (", s.documents, " documents, ", s.tokens,
             " tokens) differ from the sum over its shards (", docs, ", ", tokens, ")");
  return s;
}

}  // namespace

json Manifest::to_json() const {
  json splits_json = json::object();
  for (const auto& [name, s] : splits) splits_json[name] = split_to_json(s);
  json inputs_json = json::array();
  for (const auto& in : inputs) {
    json bad = json::object();
    for (const auto& [kind, b] : in.bad) bad[kind] = {{"count", b.count}, {"first", b.first}};
    inputs_json.push_back(
        {{"file", in.file}, {"documents", in.documents}, {"tokens", in.tokens}, {"bad", bad}});
  }
  return {{"format", kManifestFormat},
          {"version", kManifestVersion},
          {"tokenizer",
           {{"kind", tokenizer_kind}, {"identity", tokenizer_identity}, {"path", tokenizer_path}}},
          {"vocab_size", vocab_size},
          {"separator_id", separator_id},
          {"separator_token", separator_token},
          {"separator_source", separator_source},
          {"token_dtype", token_dtype},
          {"validation_fraction", validation_fraction},
          {"dataset_id", dataset_id()},
          {"splits", splits_json},
          {"inputs", inputs_json}};
}

Manifest Manifest::from_json(const json& j, const std::string& source) {
  JsonFields f(j, source);
  const std::string format = f.require_string("format");
  HALO_CHECK(format == kManifestFormat, f.where("format"), ": expected \"", kManifestFormat,
             "\", found \"", format,
             "\". HINT: pass the manifest.json written by "
             "`halo-distill prepare`");
  const int64_t version = f.require_int("version");
  HALO_CHECK(version == kManifestVersion, f.where("version"), ": expected ", kManifestVersion,
             ", found ", version, ". HINT: re-run `halo-distill prepare` with this build");
  Manifest m;
  auto tok = f.get_object("tokenizer");
  HALO_CHECK(tok.has_value(), f.where("tokenizer"), " is missing (required)");
  m.tokenizer_kind = tok->require_string("kind");
  m.tokenizer_identity = tok->require_string("identity");
  m.tokenizer_path = tok->get_string("path", "");
  m.vocab_size = f.require_int("vocab_size");
  m.separator_id = f.require_int("separator_id");
  m.separator_token = f.get_string("separator_token", "");
  m.separator_source = f.get_string("separator_source", "");  // absent before issue 18 item 5
  m.token_dtype = f.require_string("token_dtype");
  m.validation_fraction = f.get_number("validation_fraction", 0.0);
  HALO_CHECK(m.token_dtype == "uint16" || m.token_dtype == "uint32", f.where("token_dtype"),
             ": expected \"uint16\" or \"uint32\", found \"", m.token_dtype, "\"");
  const int dtype_bytes = token_dtype_bytes(m.token_dtype);
  HALO_CHECK(m.vocab_size <= (int64_t{1} << (8 * dtype_bytes)), f.where("vocab_size"), ": ",
             m.vocab_size, " ids do not fit token_dtype ", m.token_dtype, " (limit ",
             int64_t{1} << (8 * dtype_bytes), ")");
  HALO_CHECK(m.vocab_size > 0 && m.separator_id >= 0 && m.separator_id < m.vocab_size,
             f.where("separator_id"), ": expected an id in [0, vocab_size = ", m.vocab_size,
             "), found ", m.separator_id);
  auto splits = f.get_object("splits");
  HALO_CHECK(splits.has_value(), f.where("splits"), " is missing (required)");
  for (const auto& [name, value] : splits->raw().items()) {
    auto s = splits->get_object(name);
    HALO_CHECK(s.has_value(), splits->where(name), ": expected an object");
    m.splits[name] = split_from_json(*s);
  }
  if (f.has("inputs") && f.raw().at("inputs").is_array()) {
    const auto& inputs = f.raw().at("inputs");
    for (size_t i = 0; i < inputs.size(); ++i) {
      HALO_CHECK(inputs[i].is_object(), f.where("inputs"), "[", i, "]: expected an object");
      const JsonFields in(inputs[i], str_cat(f.file(), ": inputs[", i, "]"));
      InputReport r;
      r.file = in.get_string("file", "");
      r.documents = in.get_int("documents", 0);
      r.tokens = in.get_int("tokens", 0);
      if (auto bad = in.get_object("bad")) {
        for (const auto& [kind, value] : bad->raw().items()) {
          auto b = bad->get_object(kind);
          HALO_CHECK(b.has_value(), bad->where(kind), ": expected an object {count, first}");
          r.bad[kind] = {b->get_int("count", 0), b->get_string("first", "")};
        }
      }
      m.inputs.push_back(std::move(r));
    }
  }
  if (f.has("dataset_id")) {
    const std::string recorded = f.require_string("dataset_id");
    HALO_CHECK(recorded == m.dataset_id(), f.where("dataset_id"), ": recorded ", recorded,
               " but the shard list gives ", m.dataset_id(),
               " (the manifest was edited). HINT: re-run `halo-distill prepare`");
  }
  return m;
}

Manifest Manifest::read(const std::filesystem::path& path) {
  return from_json(halo::read_json_file(path.string()), path.string());
}

void Manifest::write(const std::filesystem::path& path) const {
  write_text_atomically(path.string(), to_json().dump(2) + "\n");
}

std::string Manifest::dataset_id() const {
  Sha256 h;
  h.update(tokenizer_identity);
  h.update(str_cat("|sep=", separator_id, "|", token_dtype));
  for (const auto& [name, s] : splits) {
    h.update("|" + name);
    for (const auto& sh : s.shards) h.update(":" + sh.sha256);
  }
  return h.hex_digest().substr(0, 16);
}

const SplitInfo& Manifest::split(const std::string& name, const std::string& source) const {
  auto it = splits.find(name);
  HALO_CHECK(it != splits.end(), source, ": has no split \"", name,
             "\" (expected \"train\" or \"validation\")");
  return it->second;
}

}  // namespace halo::data
