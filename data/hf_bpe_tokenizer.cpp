// Implementation of hf_bpe_tokenizer.h: reading tokenizer.json (and tokenizer_config.json) and
// the encode/decode pipeline. The added-token pass and the id assignment follow `tokenizers`
// (added_vocabulary.rs: extract_and_normalize, add_tokens).
#include "data/hf_bpe_tokenizer.h"

#include "data/sha256.h"
#include "data/tokenizer_json.h"
#include "common/error.h"
#include "common/json_fields.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <limits>
#include <map>

namespace halo::data {

using halo::JsonFields;
using nlohmann::json;
using namespace tokenizer_json;  // NOLINT: the file's JSON helpers

namespace {

// Token ids (vocabulary and added tokens) must be below this: the id tables are allocated up to
// the largest id, so one entry {"x": 2147483646} would otherwise allocate 64 GB. Real vocabularies
// have at most about 262K ids (Gemma 3); 2^22 leaves room for 16x that.
constexpr int64_t kMaxTokenId = int64_t{1} << 22;

// Bytes a ByteLevel decoder produces for one token: each character of the byte-level alphabet
// back to its byte; a token with any other character is taken as its own UTF-8 (as `tokenizers`
// does for added tokens such as "<|im_start|>" or ones with spaces).
std::string byte_level_to_bytes(const std::string& token) {
  std::string out;
  out.reserve(token.size());
  if (find_invalid_utf8(token) != std::string::npos) return token;
  for (size_t i = 0; i < token.size();) {
    uint32_t cp = 0;
    i += next_code_point(token, i, &cp);
    const int b = unicode_to_byte(cp);
    if (b < 0) return token;
    out.push_back(static_cast<char>(b));
  }
  return out;
}

NormalForm parse_normal_form(const std::string& type, const std::string& where) {
  if (type == "NFC") return NormalForm::kNFC;
  if (type == "NFD") return NormalForm::kNFD;
  if (type == "NFKC") return NormalForm::kNFKC;
  if (type == "NFKD") return NormalForm::kNFKD;
  HALO_FAIL(where, " is \"", type,
            "\"; supported normalizers: NFC, NFD, NFKC, NFKD and a Sequence of them (byte-level "
            "BPE tokenizers such as Qwen's use NFC or none)");
}

}  // namespace

HfBpeTokenizer::HfBpeTokenizer(const std::string& path) : path_(path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  HALO_CHECK(fs::is_regular_file(path, ec), path,
             ": no such file (expected a Hugging Face tokenizer.json)");
  const json root = halo::read_json_file(path);
  sha256_ = sha256_file_hex(path);
  // The model type first: a WordPiece or Unigram file fails here, not on a later key.
  const json& model = require_object(root, "model", path_, "model");
  const std::string model_type = model.contains("type") && model.at("type").is_string()
                                     ? model.at("type").get<std::string>()
                                     : "BPE";
  HALO_CHECK(model_type == "BPE", at_key(path_, "model.type"), " is \"", model_type,
             "\"; only \"BPE\" (byte-level, as Qwen, GPT-2 and Llama-3 use) is supported. HINT: "
             "for a SentencePiece-based model pass its tokenizer.model instead");
  load_normalizer(root.contains("normalizer") ? root.at("normalizer") : json());
  pre_tokenizer_ = std::make_unique<PreTokenizer>(
      root.contains("pre_tokenizer") ? root.at("pre_tokenizer") : json(), path_);
  load_model(model);
  load_added_tokens(root.contains("added_tokens") ? root.at("added_tokens") : json::array());
  load_decoder(root.contains("decoder") ? root.at("decoder") : json());
  std::string unk;
  if (model.contains("unk_token") && model.at("unk_token").is_string()) {
    unk = model.at("unk_token").get<std::string>();
  }
  load_special_ids(unk);
}

HfBpeTokenizer::~HfBpeTokenizer() = default;

void HfBpeTokenizer::load_normalizer(const json& j) {
  if (j.is_null()) return;
  HALO_CHECK(j.is_object(), at_key(path_, "normalizer"), ": expected an object or null, found ",
             type_name(j));
  const std::string type = fields_at(j, path_, "normalizer").require_string("type");
  if (type != "Sequence") {
    normal_forms_.push_back(parse_normal_form(type, at_key(path_, "normalizer.type")));
    return;
  }
  HALO_CHECK(j.contains("normalizers") && j.at("normalizers").is_array(),
             at_key(path_, "normalizer.normalizers"), ": expected an array");
  const json& list = j.at("normalizers");
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string key = str_cat("normalizer.normalizers[", i, "]");
    HALO_CHECK(list[i].is_object(), at_key(path_, key), ": expected an object, found ",
               type_name(list[i]));
    const std::string t = fields_at(list[i], path_, key).require_string("type");
    normal_forms_.push_back(parse_normal_form(t, at_key(path_, key + ".type")));
  }
}

void HfBpeTokenizer::load_model(const json& m) {
  json small = json::object();  // the model's keys without the (large) vocab and merges
  for (auto it = m.begin(); it != m.end(); ++it) {
    if (it.key() != "vocab" && it.key() != "merges") small[it.key()] = it.value();
  }
  const JsonFields options(small, path_ + " (model)");
  HALO_CHECK(options.get_number("dropout", 0.0) == 0.0, at_key(path_, "model.dropout"),
             ": BPE dropout is not supported (encoding must be deterministic); set it to null");
  HALO_CHECK(options.get_string("continuing_subword_prefix", "").empty() &&
                 options.get_string("end_of_word_suffix", "").empty(),
             at_key(path_, "model.continuing_subword_prefix/end_of_word_suffix"),
             ": not supported with byte-level BPE (expected empty or null)");
  const bool ignore_merges = options.get_bool("ignore_merges", false);

  const json& vocab = require_object(m, "vocab", path_, "model.vocab");
  int64_t max_id = -1;
  vocab_.reserve(vocab.size());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    HALO_CHECK(it.value().is_number_integer() && it.value().get<int64_t>() >= 0 &&
                   it.value().get<int64_t>() < kMaxTokenId,
               at_key(path_, "model.vocab"), ": the id of token ", json(it.key()).dump(),
               " must be an integer in [0, ", kMaxTokenId, "), found ", type_name(it.value()),
               " (the id table is allocated up to the largest id)");
    const int64_t id = it.value().get<int64_t>();
    vocab_.emplace(it.key(), id);
    max_id = std::max(max_id, id);
  }
  id_to_bytes_.assign(static_cast<size_t>(max_id + 1), std::string());
  id_known_.assign(static_cast<size_t>(max_id + 1), false);
  std::unordered_map<std::string, int32_t> whole_words;
  for (const auto& [token, id] : vocab_) {
    if (id_known_[id]) continue;
    id_known_[id] = true;
    id_to_bytes_[id] = byte_level_to_bytes(token);
    if (ignore_merges) whole_words.emplace(id_to_bytes_[id], static_cast<int32_t>(id));
  }

  std::vector<int32_t> byte_ids(256);
  const auto& table = byte_to_unicode();
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    append_utf8(table[b], &ch);
    auto it = vocab_.find(ch);
    HALO_CHECK(it != vocab_.end(), at_key(path_, "model.vocab"), " has no token for byte ", b,
               " (\"", ch, "\" in the GPT-2 byte alphabet): not a byte-level BPE vocabulary");
    byte_ids[b] = static_cast<int32_t>(it->second);
  }

  HALO_CHECK(m.contains("merges") && m.at("merges").is_array(), at_key(path_, "model.merges"),
             ": expected an array of merges (\"a b\" strings or [a, b] pairs)");
  const json& merges = m.at("merges");
  HALO_CHECK(merges.size() <= static_cast<size_t>(kMaxTokenId), at_key(path_, "model.merges"),
             ": ", merges.size(), " merges (limit ", kMaxTokenId, ", one new token each)");
  std::vector<BpeModel::Merge> ranked;
  ranked.reserve(merges.size());
  auto lookup = [&](const std::string& token, size_t index) {
    auto it = vocab_.find(token);
    HALO_CHECK(it != vocab_.end(), at_key(path_, str_cat("model.merges[", index, "]")), ": ",
               json(token).dump(), " is not in model.vocab");
    return static_cast<int32_t>(it->second);
  };
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& e = merges[i];
    std::string left, right;
    if (e.is_string()) {
      const std::string& line = e.get_ref<const std::string&>();
      if (line.rfind("#version", 0) == 0) continue;
      const size_t space = line.find(' ');
      HALO_CHECK(space != std::string::npos && line.find(' ', space + 1) == std::string::npos,
                 at_key(path_, str_cat("model.merges[", i, "]")),
                 ": expected \"a b\" (two "
                 "tokens and one space), found ",
                 e.dump());
      left = line.substr(0, space);
      right = line.substr(space + 1);
    } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      left = e[0].get<std::string>();
      right = e[1].get<std::string>();
    } else {
      HALO_FAIL(at_key(path_, str_cat("model.merges[", i, "]")),
                ": expected \"a b\" or [\"a\", \"b\"], found ", e.dump());
    }
    ranked.push_back({lookup(left, i), lookup(right, i), lookup(left + right, i)});
  }
  model_ = std::make_unique<BpeModel>(byte_ids, ranked, ignore_merges, std::move(whole_words));
}

void HfBpeTokenizer::load_added_tokens(const json& list) {
  HALO_CHECK(list.is_array(), at_key(path_, "added_tokens"), ": expected an array, found ",
             type_name(list));
  // Ids are assigned as `tokenizers` does when it reads the file (AddedVocabulary::add_tokens):
  // a content already known (an earlier added token, else the model vocabulary) keeps that id;
  // a new one takes the next id after the model vocabulary. The "id" written in the file is only
  // checked for its type: for files saved by `tokenizers` (all real ones) the two agree.
  std::map<int64_t, AddedToken> by_id;
  int64_t next_id = static_cast<int64_t>(vocab_.size());
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string key = str_cat("added_tokens[", i, "]");
    HALO_CHECK(list[i].is_object(), at_key(path_, key), ": expected an object, found ",
               type_name(list[i]));
    const JsonFields f = fields_at(list[i], path_, key);
    const int64_t file_id = f.require_int("id");
    HALO_CHECK(file_id >= 0 && file_id < kMaxTokenId, at_key(path_, key + ".id"),
               ": expected an id in [0, ", kMaxTokenId, "), found ", file_id);
    AddedToken t;
    t.content = f.require_string("content");
    if (t.content.empty()) continue;  // ignored by `tokenizers` too
    t.single_word = f.get_bool("single_word", false);
    t.lstrip = f.get_bool("lstrip", false);
    t.rstrip = f.get_bool("rstrip", false);
    t.special = f.get_bool("special", false);
    t.normalized = f.get_bool("normalized", !t.special);
    if (auto it = added_by_content_.find(t.content); it != added_by_content_.end()) {
      t.id = it->second;
    } else if (auto v = vocab_.find(t.content); v != vocab_.end()) {
      t.id = v->second;
    } else {
      t.id = next_id++;
    }
    added_by_content_[t.content] = t.id;
    by_id[t.id] = std::move(t);  // a later entry for the same id replaces the earlier one
  }
  std::vector<AddedToken> raw, normalized;
  for (auto& [id, t] : by_id) {
    if (static_cast<size_t>(id) >= id_to_bytes_.size()) {
      id_to_bytes_.resize(static_cast<size_t>(id) + 1);
      id_known_.resize(static_cast<size_t>(id) + 1, false);
    }
    // Matched, and decoded, in normalized form when the token is `normalized`.
    if (t.normalized && !normal_forms_.empty()) t.content = normalize(t.content);
    id_to_bytes_[id] = byte_level_to_bytes(t.content);
    id_known_[id] = true;
    (t.normalized ? normalized : raw).push_back(std::move(t));
  }
  raw_added_ = AddedTokenMatcher(std::move(raw));
  normalized_added_ = AddedTokenMatcher(std::move(normalized));
}

void HfBpeTokenizer::load_decoder(const json& j) {
  HALO_CHECK(!j.is_null(), at_key(path_, "decoder"),
             " is null; a byte-level BPE tokenizer needs the ByteLevel decoder");
  HALO_CHECK(j.is_object(), at_key(path_, "decoder"), ": expected an object, found ", type_name(j));
  const std::string type = fields_at(j, path_, "decoder").require_string("type");
  HALO_CHECK(type == "ByteLevel", at_key(path_, "decoder.type"), " is \"", type,
             "\"; only the ByteLevel decoder (byte-level BPE) is supported");
}

void HfBpeTokenizer::load_special_ids(const std::string& model_unk_token) {
  namespace fs = std::filesystem;
  const fs::path config = fs::path(path_).parent_path() / "tokenizer_config.json";
  std::error_code ec;
  if (fs::is_regular_file(config, ec)) {
    const std::string cpath = config.string();
    const json c = halo::read_json_file(cpath);
    auto read = [&](const char* key, int64_t* id) {
      if (!c.contains(key) || c.at(key).is_null()) return;
      const json& v = c.at(key);
      std::string name;
      if (v.is_string()) {
        name = v.get<std::string>();
      } else if (v.is_object() && v.contains("content") && v.at("content").is_string()) {
        name = v.at("content").get<std::string>();
      } else {
        HALO_FAIL(at_key(cpath, key), ": expected a token string or {\"content\": ...}, found ",
                  type_name(v));
      }
      const auto found = token_to_id(name);
      HALO_CHECK(found.has_value(), at_key(cpath, key), " is ", json(name).dump(),
                 ", which is not a token of ", path_);
      *id = *found;
    };
    read("bos_token", &special_ids_.bos);
    read("eos_token", &special_ids_.eos);
    read("pad_token", &special_ids_.pad);
    read("unk_token", &special_ids_.unk);
    return;
  }
  auto first_known = [&](std::initializer_list<const char*> names) -> int64_t {
    for (const char* n : names) {
      if (auto id = token_to_id(n)) return *id;
    }
    return -1;
  };
  special_ids_.bos = first_known({"<|begin_of_text|>", "<s>"});
  special_ids_.eos = first_known({"<|endoftext|>", "<|end_of_text|>", "</s>"});
  special_ids_.pad = first_known({"<pad>", "<|pad|>"});
  special_ids_.unk =
      model_unk_token.empty() ? first_known({"<unk>"}) : token_to_id(model_unk_token).value_or(-1);
}

std::optional<int64_t> HfBpeTokenizer::token_to_id(std::string_view token) const {
  const std::string key(token);
  if (auto it = added_by_content_.find(key); it != added_by_content_.end()) return it->second;
  if (auto it = vocab_.find(key); it != vocab_.end()) return it->second;
  return std::nullopt;
}

std::string HfBpeTokenizer::normalize(std::string_view text) const {
  std::string s(text);
  for (NormalForm f : normal_forms_) s = normalize_unicode_v9(s, f);
  return s;
}

void HfBpeTokenizer::encode_plain(std::string_view normalized, std::vector<int64_t>* out) const {
  std::vector<std::string_view> words;
  std::deque<std::string> storage;
  pre_tokenizer_->split(normalized, &words, &storage);
  for (std::string_view word : words) model_->encode_word(word, out);
}

std::vector<int64_t> HfBpeTokenizer::encode(std::string_view text) const {
  const size_t bad = find_invalid_utf8(text);
  HALO_CHECK(bad == std::string_view::npos, "text to encode is not valid UTF-8 (byte offset ", bad,
             " of ", text.size(), ")");
  std::vector<int64_t> out;
  out.reserve(text.size() / 3 + 4);
  std::vector<TextSegment> segments, inner;
  if (raw_added_.empty()) {
    if (!text.empty()) segments.push_back({0, text.size(), -1});
  } else {
    raw_added_.split(text, &segments);
  }
  for (const TextSegment& seg : segments) {
    if (seg.token >= 0) {
      out.push_back(seg.token);
      continue;
    }
    const std::string_view piece = text.substr(seg.begin, seg.end - seg.begin);
    std::string normalized_storage;
    std::string_view normalized = piece;
    if (!normal_forms_.empty()) {
      normalized_storage = normalize(piece);
      normalized = normalized_storage;
    }
    if (normalized_added_.empty()) {
      encode_plain(normalized, &out);
      continue;
    }
    inner.clear();
    normalized_added_.split(normalized, &inner);
    for (const TextSegment& s : inner) {
      if (s.token >= 0) {
        out.push_back(s.token);
      } else {
        encode_plain(normalized.substr(s.begin, s.end - s.begin), &out);
      }
    }
  }
  return out;
}

std::string HfBpeTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    const int64_t id = ids[i];
    HALO_CHECK(id >= 0 && id < vocab_size() && id_known_[static_cast<size_t>(id)],
               "cannot decode token id ", id, " (position ", i, "): not in the vocabulary of ",
               path_, " (", vocab_size(), " ids)");
    out += id_to_bytes_[static_cast<size_t>(id)];
  }
  return utf8_lossy(out);
}

}  // namespace halo::data
