// Tokenizers (data/): ids identical to the reference libraries on the fixture corpus (the real
// Qwen3 tokenizer.json against `tokenizers`, derived tokenizer.json variants for the other code
// paths, SentencePiece models against the `sentencepiece` package), decode round trips, the
// factory, and errors that name the file and key. Fixtures: tests/fixtures/
// make_tokenizer_fixtures.py (run by CTest as fixtures.tokenizers).
#include <catch2/catch.hpp>

#include "common/error.h"
#include "data/hf_bpe_tokenizer.h"
#include "data/regex.h"
#include "data/sentencepiece_tokenizer.h"
#include "data/sha256.h"
#include "data/tokenizer.h"
#include "data/unicode.h"
#include "tests/test_util.h"

#include <sentencepiece_processor.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

using namespace halo;
using Catch::Matchers::Contains;

namespace {

std::string tok_fixtures() {
  return test::fixtures_dir() + "/tokenizers";
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  INFO(path);
  REQUIRE(in.good());
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  }
  return rows;
}

struct Doc {
  std::string name, text;
};

std::vector<Doc> read_corpus(const std::string& file) {
  std::vector<Doc> docs;
  for (const auto& row : read_jsonl(tok_fixtures() + "/" + file)) {
    docs.push_back({row.at("name").get<std::string>(), row.at("text").get<std::string>()});
  }
  return docs;
}

// Judges a difference in ids as an equally good answer (an exact tie); null: none is.
using TieJudge =
    std::function<bool(const std::vector<int64_t>& ours, const std::vector<int64_t>& reference)>;

// Compares `tok` with the reference rows ({"ids", "decoded"}) document by document; reports
// counts (WARN, visible with ctest -V) and the first differences.
void check_parity(const data::Tokenizer& tok, const std::vector<Doc>& docs,
                  const std::string& expected_file, const std::string& label,
                  const TieJudge& is_tie = nullptr) {
  const auto expected = read_jsonl(expected_file);
  REQUIRE(expected.size() == docs.size());
  size_t bytes = 0, tokens = 0, id_mismatches = 0, decode_mismatches = 0, ties = 0;
  size_t roundtrip_docs = 0, roundtrip_failures = 0;
  std::vector<std::string> first_failures;
  for (size_t i = 0; i < docs.size(); ++i) {
    const Doc& d = docs[i];
    bytes += d.text.size();
    const auto ref = expected[i].at("ids").get<std::vector<int64_t>>();
    const auto ref_decoded = expected[i].at("decoded").get<std::string>();
    const auto ids = tok.encode(d.text);
    tokens += ids.size();
    if (ids != ref && is_tie && tok.decode(ids) == tok.decode(ref) && is_tie(ids, ref)) {
      ++ties;
    } else if (ids != ref) {
      ++id_mismatches;
      size_t k = 0;
      while (k < ids.size() && k < ref.size() && ids[k] == ref[k]) ++k;
      if (first_failures.size() < 5) {
        first_failures.push_back(str_cat(d.name, ": ids differ at token ", k, " (ours ",
                                         k < ids.size() ? ids[k] : -1, ", reference ",
                                         k < ref.size() ? ref[k] : -1, "; lengths ", ids.size(),
                                         " vs ", ref.size(), ")"));
      }
    }
    const std::string decoded = tok.decode(ref);
    if (decoded != ref_decoded) {
      ++decode_mismatches;
      if (first_failures.size() < 5) first_failures.push_back(d.name + ": decode differs");
    }
    // Where the reference library round-trips (text unchanged by the normalizer), so must we.
    if (ref_decoded == d.text) {
      ++roundtrip_docs;
      if (tok.decode(ids) != d.text) ++roundtrip_failures;
    }
  }
  WARN(label << ": " << docs.size() << " documents, " << bytes << " bytes, " << tokens
             << " tokens; id mismatches " << id_mismatches << " (and " << ties
             << " equal-score ties), decode mismatches " << decode_mismatches << ", round trips "
             << roundtrip_docs - roundtrip_failures << "/" << roundtrip_docs);
  std::string failures;
  for (const auto& f : first_failures) failures += f + "\n";
  INFO(failures);
  CHECK(id_mismatches == 0);
  CHECK(decode_mismatches == 0);
  CHECK(roundtrip_failures == 0);
}

std::string write_file(const test::TempDir& dir, const std::string& name,
                       const std::string& content) {
  const std::string path = dir.str() + "/" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

// A minimal valid byte-level tokenizer.json (256 byte tokens, one merge) as a JSON object.
nlohmann::json tiny_tokenizer_json() {
  nlohmann::json vocab = nlohmann::json::object();
  const auto& table = data::byte_to_unicode();
  for (int b = 0; b < 256; ++b) {
    std::string ch;
    data::append_utf8(table[b], &ch);
    vocab[ch] = b;
  }
  vocab["ab"] = 256;
  return {{"version", "1.0"},
          {"added_tokens", nlohmann::json::array()},
          {"normalizer", nullptr},
          {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}}},
          {"decoder", {{"type", "ByteLevel"}}},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", {"a b"}}}}};
}

std::string load_error(const std::string& path) {
  try {
    data::load_tokenizer(path);
  } catch (const HaloError& e) {
    return e.what();
  }
  FAIL("expected an error loading " << path);
  return "";
}

}  // namespace

TEST_CASE("Qwen3 tokenizer.json: ids identical to tokenizers on over 1 MB of mixed text",
          "[tokenizer]") {
  const auto docs = read_corpus("corpus.jsonl");
  size_t bytes = 0;
  std::set<std::string> groups;
  for (const auto& d : docs) {
    bytes += d.text.size();
    groups.insert(d.name.substr(0, d.name.find('/')));
  }
  REQUIRE(bytes >= 1000000);
  for (const char* g : {"license", "python", "cjk", "emoji", "digits", "whitespace", "special",
                        "random_unicode", "long"}) {
    CHECK(groups.count(g) == 1);
  }
  auto tok = data::load_tokenizer(tok_fixtures() + "/qwen3");
  REQUIRE(tok->kind() == "hf-bpe");
  check_parity(*tok, docs, tok_fixtures() + "/hf/qwen3.expected.jsonl", "qwen3");
}

TEST_CASE(
    "tokenizer.json variants match tokenizers: GPT-2 and Llama-3 styles, added-token flags,"
    " split behaviours",
    "[tokenizer]") {
  const auto docs = read_corpus("corpus_subset.jsonl");
  for (const char* variant : {"gpt2_style", "llama3_style", "flags"}) {
    SECTION(variant) {
      data::HfBpeTokenizer tok(tok_fixtures() + "/hf/" + variant + "/tokenizer.json");
      check_parity(tok, docs, tok_fixtures() + "/hf/" + variant + ".expected.jsonl", variant);
    }
  }
}

// The BPE model must match exactly. The unigram model may differ where two segmentations have
// exactly the same score: Debian's libsentencepiece 0.1.97 breaks such ties differently from the
// PyPI wheel (same Viterbi code, different build; Debian's own spm_encode agrees with us), e.g.
// "-----" as "--" "--" "-" versus "--" "-" "--". Those count as ties when the text and the
// total piece score are the same.
TEST_CASE("SentencePiece models: ids identical to the sentencepiece package", "[tokenizer]") {
  const auto docs = read_corpus("corpus.jsonl");
  SECTION("bpe_bytes") {
    auto tok = data::load_tokenizer(tok_fixtures() + "/sp/bpe_bytes.model");
    REQUIRE(tok->kind() == "sentencepiece");
    check_parity(*tok, docs, tok_fixtures() + "/sp/bpe_bytes.expected.jsonl", "bpe_bytes");
  }
  SECTION("unigram") {
    const std::string path = tok_fixtures() + "/sp/unigram.model";
    auto tok = data::load_tokenizer(path);
    sentencepiece::SentencePieceProcessor scorer;
    REQUIRE(scorer.Load(path).ok());
    auto total = [&](const std::vector<int64_t>& ids) {
      double s = 0;
      for (int64_t id : ids) s += scorer.GetScore(static_cast<int>(id));
      return s;
    };
    check_parity(*tok, docs, tok_fixtures() + "/sp/unigram.expected.jsonl", "unigram",
                 [&](const std::vector<int64_t>& ours, const std::vector<int64_t>& ref) {
                   const double a = total(ours), b = total(ref);
                   return std::abs(a - b) <= 1e-5 * std::max(1.0, std::abs(b));
                 });
  }
}

TEST_CASE("Qwen3 tokenizer: special tokens, vocabulary size, identity", "[tokenizer]") {
  const std::string dir = tok_fixtures() + "/qwen3";
  auto tok = data::load_tokenizer(dir);
  CHECK(tok->path() == dir + "/tokenizer.json");
  CHECK(tok->vocab_size() == 151669);  // 151643 BPE tokens + 26 added (last: </think>)
  // From tokenizer_config.json: eos <|im_end|>, pad <|endoftext|>, no bos.
  CHECK(tok->special_ids().eos == 151645);
  CHECK(tok->special_ids().pad == 151643);
  CHECK(tok->special_ids().bos == -1);
  CHECK(tok->token_to_id("<|endoftext|>") == std::optional<int64_t>(151643));
  CHECK(tok->token_to_id("</think>") == std::optional<int64_t>(151668));
  CHECK(tok->token_to_id("Ġthe").has_value());
  CHECK_FALSE(tok->token_to_id("no such token, surely").has_value());
  CHECK(tok->identity() == "hf-bpe:sha256:" + data::sha256_file_hex(dir + "/tokenizer.json"));
  CHECK(tok->encode("").empty());
  CHECK(tok->encode("<|im_start|>user\nHi<|im_end|>") ==
        std::vector<int64_t>{151644, 872, 198, 13048, 151645});
  CHECK(tok->decode({151644, 872, 198, 13048, 151645}) == "<|im_start|>user\nHi<|im_end|>");
}

TEST_CASE("load_tokenizer chooses the implementation from the path", "[tokenizer]") {
  test::TempDir dir;
  const std::string sp_model = tok_fixtures() + "/sp/unigram.model";
  std::filesystem::copy_file(sp_model, dir.str() + "/tokenizer.model");
  auto from_folder = data::load_tokenizer(dir.str());
  CHECK(from_folder->kind() == "sentencepiece");
  CHECK(from_folder->identity() == "sentencepiece:sha256:" + data::sha256_file_hex(sp_model));
  auto sp = data::load_tokenizer(sp_model);
  CHECK(sp->vocab_size() == 1500);
  CHECK(sp->special_ids().unk == 0);
  CHECK(sp->token_to_id("<unk>") == std::optional<int64_t>(0));
  CHECK_FALSE(sp->token_to_id("no such piece").has_value());
  // tokenizer.json wins over tokenizer.model in one folder.
  write_file(dir, "tokenizer.json", tiny_tokenizer_json().dump());
  CHECK(data::load_tokenizer(dir.str())->kind() == "hf-bpe");
  CHECK(data::load_tokenizer(dir.str() + "/tokenizer.json")->encode("abab") ==
        std::vector<int64_t>{256, 256});
}

TEST_CASE("tokenizer errors name the file, the key and what was expected", "[tokenizer]") {
  test::TempDir dir;
  SECTION("missing path") {
    const std::string p = dir.str() + "/nope/tokenizer.json";
    CHECK_THAT(load_error(p), Contains(p) && Contains("no such file"));
  }
  SECTION("folder without a tokenizer") {
    CHECK_THAT(load_error(dir.str()), Contains(dir.str()) && Contains("neither tokenizer.json"));
  }
  SECTION("unknown extension") {
    const std::string p = write_file(dir, "vocab.txt", "a\nb\n");
    CHECK_THAT(load_error(p), Contains(p) && Contains("unknown tokenizer file type"));
  }
  SECTION("invalid JSON") {
    const std::string p = write_file(dir, "tokenizer.json", "{\"model\": {\"type\": \"BPE\",");
    CHECK_THAT(load_error(p), Contains(p) && Contains("invalid JSON"));
  }
  SECTION("WordPiece model") {
    auto j = tiny_tokenizer_json();
    j["model"] = {{"type", "WordPiece"}, {"vocab", {{"[UNK]", 0}}}, {"unk_token", "[UNK]"}};
    const std::string p = write_file(dir, "tokenizer.json", j.dump());
    CHECK_THAT(load_error(p),
               Contains(p) && Contains("'model.type'") && Contains("WordPiece") && Contains("BPE"));
  }
  SECTION("Metaspace pre-tokenizer") {
    auto j = tiny_tokenizer_json();
    j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "▁"}};
    const std::string p = write_file(dir, "tokenizer.json", j.dump());
    CHECK_THAT(load_error(p),
               Contains(p) && Contains("'pre_tokenizer.type'") && Contains("Metaspace"));
  }
  SECTION("unsupported normalizer inside a sequence") {
    auto j = tiny_tokenizer_json();
    j["normalizer"] = {{"type", "Sequence"},
                       {"normalizers", {{{"type", "NFC"}}, {{"type", "Lowercase"}}}}};
    const std::string p = write_file(dir, "tokenizer.json", j.dump());
    CHECK_THAT(load_error(p),
               Contains("'normalizer.normalizers[1].type'") && Contains("Lowercase"));
  }
  SECTION("merge of an unknown token") {
    auto j = tiny_tokenizer_json();
    j["model"]["merges"] = {"a b", {"ab", "zz"}};
    const std::string p = write_file(dir, "tokenizer.json", j.dump());
    CHECK_THAT(load_error(p), Contains("'model.merges[1]'") && Contains("\"zz\""));
  }
  SECTION("vocabulary that is not byte-level") {
    auto j = tiny_tokenizer_json();
    j["model"]["vocab"].erase("Ġ");
    const std::string p = write_file(dir, "tokenizer.json", j.dump());
    CHECK_THAT(load_error(p), Contains("'model.vocab'") && Contains("byte 32"));
  }
  SECTION("split regex that PCRE2 rejects") {
    auto j = tiny_tokenizer_json();
    j["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}},
          {{"type", "ByteLevel"}, {"use_regex", false}}}}};
    const std::string p = write_file(dir, "tokenizer.json", j.dump());
    CHECK_THAT(load_error(p),
               Contains("'pre_tokenizer.pretokenizers[0].pattern.Regex'") && Contains("(unclosed"));
  }
  SECTION("corrupt SentencePiece model") {
    const std::string p = write_file(dir, "broken.model", "this is not a protobuf");
    CHECK_THAT(load_error(p), Contains(p) && Contains("not a valid SentencePiece model"));
  }
  SECTION("invalid UTF-8 and unknown ids") {
    const std::string p = write_file(dir, "tokenizer.json", tiny_tokenizer_json().dump());
    auto tok = data::load_tokenizer(p);
    CHECK_THROWS_WITH(tok->encode(std::string("ok\xff\xfe", 4)),
                      Contains("not valid UTF-8") && Contains("byte offset 2"));
    CHECK_THROWS_WITH(tok->encode(std::string("\xed\xa0\x80")), Contains("byte offset 0"));
    CHECK_THROWS_WITH(tok->decode({1, 257}), Contains("257") && Contains(p));
    auto sp = data::load_tokenizer(tok_fixtures() + "/sp/unigram.model");
    CHECK_THROWS_WITH(sp->decode({-1}), Contains("-1") && Contains("unigram.model"));
  }
}

TEST_CASE("tokenizer building blocks: SHA-256, byte alphabet, Oniguruma rewrite, UTF-8",
          "[tokenizer]") {
  CHECK(data::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(data::sha256_hex("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(data::sha256_hex(std::string(1000000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

  const auto& table = data::byte_to_unicode();
  std::set<uint32_t> distinct(table.begin(), table.end());
  CHECK(distinct.size() == 256);
  CHECK(table[' '] == 0x120);   // 'Ġ'
  CHECK(table['\n'] == 0x10A);  // 'Ċ'
  CHECK(table['A'] == 'A');
  for (int b = 0; b < 256; ++b) CHECK(data::unicode_to_byte(table[b]) == b);
  CHECK(data::unicode_to_byte(' ') == -1);

  CHECK(data::onig_to_pcre2(R"(\s+(?!\S)|[^\s\p{L}]+|\w|\h)", "t") ==
        R"([\t-\r\x{85}\p{Z}]+(?![^\t-\r\x{85}\p{Z}])|[^\t-\r\x{85}\p{Z}\p{L}]+|)"
        R"([\p{L}\p{M}\p{N}\p{Pc}]|[0-9a-fA-F])");
  CHECK(data::onig_to_pcre2(R"([]\s]|[^]a])", "t") == R"([]\t-\r\x{85}\p{Z}]|[^]a])");
  CHECK_THROWS_WITH(data::onig_to_pcre2("[a[b]]", "the key"),
                    Contains("the key") && Contains("nested"));

  CHECK(data::find_invalid_utf8("plain ascii") == std::string::npos);
  CHECK(data::find_invalid_utf8("中文 😀") == std::string::npos);
  CHECK(data::find_invalid_utf8(std::string("\xc0\x80", 2)) == 0);         // overlong
  CHECK(data::find_invalid_utf8(std::string("ab\xf4\x90\x80\x80")) == 2);  // > U+10FFFF
  CHECK(data::find_invalid_utf8(std::string("abc\xe4\xb8")) == 3);         // truncated
  CHECK(data::normalize_unicode("e\xcc\x81", data::NormalForm::kNFC) == "\xc3\xa9");
  // U+10D27 (Unicode 11, combining class 230) before U+05B8 (class 18): utf8proc reorders them,
  // `tokenizers` (Unicode 9.0 data) leaves them as they are.
  const std::string marks = "x\xf0\x90\xb4\xa7\xd6\xb8";
  CHECK(data::normalize_unicode(marks, data::NormalForm::kNFC) == "x\xd6\xb8\xf0\x90\xb4\xa7");
  CHECK(data::normalize_unicode_v9(marks, data::NormalForm::kNFC) == marks);
  CHECK(data::normalize_unicode_v9("A\xcc\x8a\xf0\x90\xb4\xa7"
                                   "e\xcc\x81",
                                   data::NormalForm::kNFC) == "\xc3\x85\xf0\x90\xb4\xa7\xc3\xa9");
  // Lossy decoding: each maximal invalid subsequence becomes one U+FFFD (as Python "replace").
  const std::string fffd = "\xef\xbf\xbd";
  CHECK(data::utf8_lossy("ok") == "ok");
  CHECK(data::utf8_lossy("ab\xe9"
                         "cd") == "ab" + fffd + "cd");
  CHECK(data::utf8_lossy("\xf0\x9f\x98") == fffd);
  CHECK(data::utf8_lossy("\xed\xa0\x80") == fffd + fffd + fffd);
  CHECK(data::utf8_lossy("\xe4\xb8x\xff") == fffd + "x" + fffd);
  CHECK(data::normalize_unicode("\xef\xac\x81", data::NormalForm::kNFKC) == "fi");
}

TEST_CASE("encode from several threads gives the same ids", "[tokenizer]") {
  const auto docs = read_corpus("corpus_subset.jsonl");
  auto tok = data::load_tokenizer(tok_fixtures() + "/qwen3");
  std::vector<std::vector<int64_t>> serial;
  for (const auto& d : docs) serial.push_back(tok->encode(d.text));
  std::vector<size_t> mismatches(3, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < docs.size(); ++i) {
        if (tok->encode(docs[i].text) != serial[i]) ++mismatches[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (size_t m : mismatches) CHECK(m == 0);
}

// Not run by default (hidden tag): `halo_tests "[.tokenizer-bench]"` prints MB/s on one core.
TEST_CASE("encode speed of the Qwen3 tokenizer", "[.tokenizer-bench]") {
  const auto docs = read_corpus("corpus.jsonl");
  auto tok = data::load_tokenizer(tok_fixtures() + "/qwen3");
  size_t bytes = 0, tokens = 0;
  for (const auto& d : docs) bytes += d.text.size();
  for (int pass = 0; pass < 2; ++pass) {  // pass 0 is cold (empty word cache)
    const auto t0 = std::chrono::steady_clock::now();
    tokens = 0;
    for (const auto& d : docs) tokens += tok->encode(d.text).size();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    WARN((pass == 0 ? "cold" : "warm")
         << ": " << bytes / 1e6 << " MB, " << tokens << " tokens in " << s
         << " s: " << bytes / 1e6 / s << " MB/s, " << tokens / 1e6 / s << " M tokens/s");
  }
}
