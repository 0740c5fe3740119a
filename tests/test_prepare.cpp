// `prepare` (data/prepare_corpus.h) and the CLI: the shards decode back to the input documents
// (.txt, .jsonl and their .gz forms; Qwen3 byte-level BPE with uint32 ids and SentencePiece with
// uint16 ids), the split and output do not depend on the thread count, and every kind of bad
// input is counted with its file, never silently dropped. Corpora are made in the test.
#include "common/error.h"
#include "data/corpus_reader.h"
#include "data/prepare_corpus.h"
#include "data/token_shards.h"
#include "data/tokenizer.h"
#include "tests/test_util.h"

#include <zlib.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

namespace halo::data {
namespace {

namespace fs = std::filesystem;

std::string qwen3_tokenizer() {
  return test::fixtures_dir() + "/tokenizers/qwen3/tokenizer.json";
}
std::string sp_tokenizer() {
  return test::fixtures_dir() + "/tokenizers/sp/bpe_bytes.model";
}

void write_file(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream f(p, std::ios::binary);
  f << bytes;
  REQUIRE(f.good());
}

std::string gzip_bytes(const std::string& bytes, const fs::path& tmp) {
  gzFile gz = gzopen(tmp.c_str(), "wb");
  REQUIRE(gz != nullptr);
  REQUIRE(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())) == int(bytes.size()));
  gzclose(gz);
  std::ifstream f(tmp, std::ios::binary);
  std::string out((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  fs::remove(tmp);
  return out;
}

std::string jsonl_line(const std::string& field, const std::string& text) {
  return nlohmann::json({{field, text}}).dump() + "\n";
}

// A mixed corpus in four files; returns the documents in the order prepare reads them.
std::vector<std::string> make_corpus(const fs::path& in, const std::string& field = "text") {
  const std::vector<std::string> pieces = {
      "The quick brown fox jumps over the lazy dog.\n\nSecond paragraph, caf\xc3\xa9 na\xc3\xafve.",
      "def f(x):\n    return x ** 2  # squares\n\n\n    \tindented\n",
      "\xe4\xb8\xad\xe6\x96\x87\xe6\xb5\x8b\xe8\xaf\x95 \xf0\x9f\x98\x80\xf0\x9f\x8e\x89 12345 "
      "3.14159 <|endoftext|> inside",
      "Line one\r\nLine two\r\n   leading spaces and trailing   \n"};
  auto doc = [&](int i) {
    std::string s;
    for (int r = 0; r <= 4 + i % 5; ++r)
      s += pieces[(i + r) % pieces.size()] + " #" + std::to_string(i) + "\n";
    return s;
  };
  std::vector<std::string> docs;
  // a.txt: one document.
  docs.push_back(doc(0) + doc(1));
  write_file(in / "a.txt", docs.back());
  // c.jsonl: 9 documents.
  std::string c;
  for (int i = 10; i < 19; ++i) {
    docs.push_back(doc(i));
    c += jsonl_line(field, docs.back());
  }
  write_file(in / "c.jsonl", c);
  // d.jsonl.gz: 6 documents.
  std::string d;
  for (int i = 20; i < 26; ++i) {
    docs.push_back(doc(i));
    d += jsonl_line(field, docs.back());
  }
  write_file(in / "d.jsonl.gz", gzip_bytes(d, in / "tmp.gz"));
  // sub/b.txt.gz: one document.
  docs.push_back(doc(30) + doc(31) + doc(32));
  write_file(in / "sub" / "b.txt.gz", gzip_bytes(docs.back(), in / "tmp.gz"));
  write_file(in / "README.md", "not an input\n");
  return docs;
}

PrepareOptions prepare_options(const std::string& tokenizer, const fs::path& in,
                               const fs::path& out, int threads) {
  PrepareOptions o;
  o.tokenizer = tokenizer;
  o.inputs = {in.string()};
  o.out = out.string();
  o.validation_fraction = 0.25;
  o.shard_tokens = 1024;
  o.threads = threads;
  o.progress = false;
  return o;
}

// Checks that the shards hold exactly `docs` (split every 4th to validation), token for token.
void check_round_trip(const fs::path& manifest, const Tokenizer& tok,
                      const std::vector<std::string>& docs, bool decode) {
  std::vector<std::string> expect[2];
  for (size_t i = 0; i < docs.size(); ++i) expect[i % 4 == 3].push_back(docs[i]);
  const char* names[2] = {"train", "validation"};
  for (int s = 0; s < 2; ++s) {
    TokenShards shards(manifest, names[s]);
    REQUIRE(shards.num_documents() == int64_t(expect[s].size()));
    for (int64_t d = 0; d < shards.num_documents(); ++d) {
      CAPTURE(names[s], d);
      const auto ids = shards.document(d);
      REQUIRE(ids == tok.encode(expect[s][d]));
      if (decode) REQUIRE(tok.decode(ids) == expect[s][d]);
    }
  }
}

}  // namespace

TEST_CASE("prepare round trip (Qwen3 tokenizer): shards decode to the input documents",
          "[prepare]") {
  test::TempDir dir("halo-prepare");
  const auto docs = make_corpus(dir.path() / "in");
  auto tok = load_tokenizer(qwen3_tokenizer());
  const auto r =
      prepare_corpus(prepare_options(qwen3_tokenizer(), dir.path() / "in", dir.path() / "out", 3));
  const fs::path manifest = dir.path() / "out" / "manifest.json";
  check_round_trip(manifest, *tok, docs, /*decode=*/true);

  const Manifest m = Manifest::read(manifest);
  REQUIRE(m.separator_id == 151643);  // <|endoftext|>, not Qwen3's EOS <|im_end|>
  REQUIRE(m.separator_token == "<|endoftext|>");
  REQUIRE(m.token_dtype == "uint32");
  REQUIRE(m.tokenizer_identity == tok->identity());
  REQUIRE(m.vocab_size == tok->vocab_size());
  REQUIRE(m.splits.at("train").documents == 13);
  REQUIRE(m.splits.at("validation").documents == 4);
  REQUIRE(m.splits.at("train").shards.size() >= 2);  // 1024-token shards
  REQUIRE(m.inputs.size() == 4);
  REQUIRE(fs::path(m.inputs[1].file).filename() == "c.jsonl");
  REQUIRE(m.inputs[1].documents == 9);
  REQUIRE(m.inputs[3].documents == 1);
  for (const auto& in : m.inputs) REQUIRE(in.bad.empty());
  REQUIRE(r.skipped_files.size() == 1);
  REQUIRE(r.documents == 17);
  REQUIRE(r.bad_documents == 0);
  // No temporary file is left behind.
  for (const auto& e : fs::directory_iterator(dir.path() / "out")) {
    INFO(e.path());
    REQUIRE(e.path().filename().string().find(".tmp") == std::string::npos);
  }

  // One tokenizer thread gives the same shards.
  prepare_corpus(prepare_options(qwen3_tokenizer(), dir.path() / "in", dir.path() / "out1", 1));
  REQUIRE(Manifest::read(dir.path() / "out1" / "manifest.json").dataset_id() == m.dataset_id());
  // An existing manifest is never overwritten.
  REQUIRE_THROWS_WITH(
      prepare_corpus(prepare_options(qwen3_tokenizer(), dir.path() / "in", dir.path() / "out", 2)),
      Catch::Contains("already exists"));
}

TEST_CASE("prepare round trip (SentencePiece, --jsonl-field): 16-bit ids, EOS separator",
          "[prepare]") {
  test::TempDir dir("halo-prepare");
  const auto docs = make_corpus(dir.path() / "in", "content");
  auto tok = load_tokenizer(sp_tokenizer());
  auto o = prepare_options(sp_tokenizer(), dir.path() / "in", dir.path() / "out", 2);
  o.limits.jsonl_field = "content";
  prepare_corpus(o);
  const fs::path manifest = dir.path() / "out" / "manifest.json";
  check_round_trip(manifest, *tok, docs, /*decode=*/false);
  const Manifest m = Manifest::read(manifest);
  REQUIRE(m.token_dtype == "uint16");
  REQUIRE(m.separator_id == tok->special_ids().eos);
}

TEST_CASE("prepare: every kind of bad input is counted with its file", "[prepare]") {
  test::TempDir dir("halo-prepare");
  const fs::path in = dir.path() / "in";
  write_file(in / "good.txt", "hello world\n");
  write_file(in / "bad_utf8.txt", "abc\xff\xfe def\n");
  write_file(in / "empty.txt", "  \n\n");
  write_file(in / "long_line.txt", "short\n" + std::string(300, 'x') + "\nend\n");
  std::string big;
  for (int i = 0; i < 10; ++i) big += std::string(89, 'a' + i) + "\n";
  write_file(in / "big.txt", big);
  write_file(in / "records.jsonl",
             "{\"text\": \"good one\"}\n"
             "{\"body\": \"x\"}\n"
             "{\"text\": 5}\n"
             "not json\n"
             "\n"
             "{\"text\": \"   \"}\n"
             "{\"text\": \"bad \xff\"}\n"
             "{\"text\": \"" +
                 std::string(200, 'y') +
                 "\"}\n"
                 "[1, 2]\n"
                 "{\"text\": \"last good\"}");
  write_file(in / "not_gzip.jsonl.gz", "{\"text\": \"plain text named .gz\"}\n");
  std::string records;
  for (int i = 0; i < 3000; ++i) {
    records += jsonl_line(
        "text", "record " + std::to_string(i) + " " + std::to_string((i * 7919u) % 100003u));
  }
  const std::string gz = gzip_bytes(records, in / "tmp.gz");
  write_file(in / "truncated.jsonl.gz", gz.substr(0, gz.size() * 6 / 10));
  const std::string gz_text = gzip_bytes(records, in / "tmp.gz");
  write_file(in / "truncated.txt.gz", gz_text.substr(0, gz_text.size() / 2));

  auto o = prepare_options(qwen3_tokenizer(), in, dir.path() / "out", 2);
  o.validation_fraction = 0;
  o.limits.max_line_bytes = 100;
  o.limits.max_document_bytes = 500;
  const auto r = prepare_corpus(o);
  const Manifest m = Manifest::read(dir.path() / "out" / "manifest.json");
  std::map<std::string, InputReport> by_name;
  for (const auto& rep : m.inputs) by_name[fs::path(rep.file).filename().string()] = rep;
  auto bad = [&](const std::string& file, const std::string& kind) {
    const auto& rep = by_name.at(file);
    auto it = rep.bad.find(kind);
    return it == rep.bad.end() ? BadInputCount{} : it->second;
  };
  REQUIRE(by_name.at("good.txt").documents == 1);
  REQUIRE(by_name.at("good.txt").bad.empty());
  REQUIRE(bad("bad_utf8.txt", kBadInvalidUtf8).count == 1);
  REQUIRE(bad("bad_utf8.txt", kBadInvalidUtf8).first == "byte 3");
  REQUIRE(bad("empty.txt", kBadEmptyDocument).count == 1);
  REQUIRE(bad("long_line.txt", kBadLineTooLong).count == 1);
  REQUIRE(bad("long_line.txt", kBadLineTooLong).first == "line 2");
  REQUIRE(bad("big.txt", kBadDocumentTooLong).count == 1);
  REQUIRE(by_name.at("records.jsonl").documents == 2);
  REQUIRE(bad("records.jsonl", kBadMissingField).count == 2);
  REQUIRE(bad("records.jsonl", kBadMissingField).first == "line 2");
  REQUIRE(bad("records.jsonl", kBadInvalidJson).count == 2);
  REQUIRE(bad("records.jsonl", kBadInvalidJson).first == "line 4");
  REQUIRE(bad("records.jsonl", kBadEmptyDocument).count == 2);
  REQUIRE(bad("records.jsonl", kBadEmptyDocument).first == "line 5");
  REQUIRE(bad("records.jsonl", kBadInvalidUtf8).count == 1);
  REQUIRE(bad("records.jsonl", kBadLineTooLong).count == 1);
  REQUIRE(bad("records.jsonl", kBadLineTooLong).first == "line 8");
  REQUIRE(bad("not_gzip.jsonl.gz", kBadUnreadableGzip).count == 1);
  REQUIRE(by_name.at("not_gzip.jsonl.gz").documents == 0);
  REQUIRE(bad("truncated.txt.gz", kBadUnreadableGzip).count == 1);
  REQUIRE(by_name.at("truncated.txt.gz").documents == 0);
  REQUIRE(bad("truncated.jsonl.gz", kBadUnreadableGzip).count == 1);
  const int64_t kept = by_name.at("truncated.jsonl.gz").documents;
  REQUIRE(kept > 0);
  REQUIRE(kept < 3000);
  REQUIRE(r.bad_documents == 1 + 1 + 1 + 1 + 8 + 1 + 1 + 1);

  // The records kept from the truncated file are whole and in order.
  auto tok = load_tokenizer(qwen3_tokenizer());
  TokenShards shards(dir.path() / "out" / "manifest.json", "train");
  REQUIRE(shards.num_documents() == 1 + 2 + kept);
  // Sorted input order: bad_utf8, big, empty, good, long_line, not_gzip, records, truncated...
  REQUIRE(tok->decode(shards.document(0)) == "hello world\n");
  REQUIRE(tok->decode(shards.document(1)) == "good one");
  REQUIRE(tok->decode(shards.document(2)) == "last good");
  for (int64_t i = 0; i < kept; ++i) {
    REQUIRE(tok->decode(shards.document(3 + i)) ==
            "record " + std::to_string(i) + " " + std::to_string((i * 7919u) % 100003u));
  }
}

TEST_CASE("prepare CLI: summary with bad input per file, refusals with clear errors",
          "[prepare][cli]") {
  test::TempDir dir("halo-prepare");
  const fs::path in = dir.path() / "in";
  write_file(in / "good.jsonl", "{\"text\": \"one\"}\n{\"text\": \"two\"}\n{\"oops\": 1}\n");
  write_file(in / "bad.txt", "\xc3\x28 broken\n");
  const std::string out = (dir.path() / "out").string();
  auto r = test::run_cli("prepare --tokenizer " + qwen3_tokenizer() + " --input " + in.string() +
                         " --out " + out + " --validation-fraction 0 --quiet");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  REQUIRE_THAT(r.output, Catch::Contains("2 documents"));
  REQUIRE_THAT(r.output, Catch::Contains("bad input: 2 documents skipped"));
  REQUIRE_THAT(r.output, Catch::Contains("good.jsonl: missing_field x1, first at line 3"));
  REQUIRE_THAT(r.output, Catch::Contains("bad.txt: invalid_utf8 x1"));
  REQUIRE_THAT(r.output, Catch::Contains("peak RSS"));

  // bench loader runs on the result (a smoke check of the command; no timing is asserted).
  r = test::run_cli("bench loader --manifest " + out + "/manifest.json --seq-len 3 " +
                        "--global-batch 2 --warmup 0 --batches 4 --json",
                    /*merge_stderr=*/false);
  REQUIRE(r.exit_code == 0);
  const auto bench = nlohmann::json::parse(r.output);
  REQUIRE(bench.at("tokens").get<double>() == 4 * 2 * 3);
  REQUIRE(bench.at("documents").get<int64_t>() == 2);
  REQUIRE(bench.contains("tokens_per_s"));

  r = test::run_cli("prepare --tokenizer " + qwen3_tokenizer() + " --input " + in.string() +
                    " --out " + out + " --quiet");
  REQUIRE(r.exit_code == 1);
  REQUIRE_THAT(r.output, Catch::Contains("already exists"));
  r = test::run_cli("prepare --tokenizer " + qwen3_tokenizer() + " --input " +
                    (in / "bad.txt").string() + " --out " + out + "2 --quiet");
  REQUIRE(r.exit_code == 1);
  REQUIRE_THAT(r.output, Catch::Contains("no valid document") &&
                             Catch::Contains("read 1 file(s)") &&
                             Catch::Contains("skipped as bad") &&
                             Catch::Contains("the --out folder was removed again"));
  REQUIRE_FALSE(fs::exists(out + "2"));  // no empty shard folder left behind
  r = test::run_cli("prepare --tokenizer " + qwen3_tokenizer() + " --input " +
                    (dir.path() / "missing.txt").string() + " --out " + out + "3 --quiet");
  REQUIRE(r.exit_code == 1);
  REQUIRE_THAT(r.output, Catch::Contains("missing.txt") && Catch::Contains("no such file"));
}

TEST_CASE(
    "prepare --teacher: the teacher's eos_token_id separates documents, the manifest "
    "records the id and where it came from, old manifests still load",
    "[prepare][separator]") {
  test::TempDir dir("halo-prepare-sep");
  const fs::path in = dir.path() / "in";
  write_file(in / "a.txt", "first document\n");
  write_file(in / "b.txt", "second document\n");
  auto run = [&](const std::string& out, const std::string& teacher) {
    auto o = prepare_options(qwen3_tokenizer(), in, dir.path() / out, 1);
    o.validation_fraction = 0;
    o.teacher = teacher;
    prepare_corpus(o);
    return Manifest::read(dir.path() / out / "manifest.json");
  };
  // Qwen3-1.7B's generation_config.json lists [<|im_end|>, <|endoftext|>]; its first id is the
  // tokenizer's EOS that the authors' data code appends, not <|endoftext|> (151643).
  const fs::path t1 = dir.path() / "teacher1";
  write_file(t1 / "generation_config.json", R"({"eos_token_id": [151645, 151643]})");
  write_file(t1 / "config.json", R"({"eos_token_id": 151643})");
  const Manifest m1 = run("out1", t1.string());
  CHECK(m1.separator_id == 151645);
  CHECK(m1.separator_token == "<|im_end|>");
  CHECK_THAT(m1.separator_source, Catch::Contains("teacher generation_config.json eos_token_id") &&
                                      Catch::Contains("first of the list") &&
                                      Catch::Contains((t1 / "generation_config.json").string()));
  // config.json when generation_config.json names none.
  const fs::path t2 = dir.path() / "teacher2";
  write_file(t2 / "generation_config.json", R"({"do_sample": true})");
  write_file(t2 / "config.json", R"({"eos_token_id": 151645})");
  const Manifest m2 = run("out2", t2.string());
  CHECK(m2.separator_id == 151645);
  CHECK_THAT(m2.separator_source, Catch::StartsWith("teacher config.json eos_token_id ("));
  // A teacher that names no EOS: the tokenizer's, and the source says so.
  const fs::path t3 = dir.path() / "teacher3";
  write_file(t3 / "config.json", R"({"model_type": "qwen3"})");
  const Manifest m3 = run("out3", t3.string());
  CHECK(m3.separator_id == 151643);
  CHECK_THAT(m3.separator_source, Catch::StartsWith("tokenizer <|endoftext|>") &&
                                      Catch::Contains("names no eos_token_id"));
  // No teacher: the tokenizer's <|endoftext|>.
  const Manifest m0 = run("out0", "");
  CHECK(m0.separator_id == 151643);
  CHECK(m0.separator_source == "tokenizer <|endoftext|>");
  CHECK(m0.dataset_id() != m1.dataset_id());  // another separator, another data set
  // An EOS id outside the tokenizer is refused, naming the file and key, before --out is made.
  const fs::path t4 = dir.path() / "teacher4";
  write_file(t4 / "config.json", R"({"eos_token_id": 999999})");
  REQUIRE_THROWS_WITH(run("out4", t4.string()), Catch::Contains((t4 / "config.json").string()) &&
                                                    Catch::Contains("'eos_token_id' is 999999"));
  CHECK_FALSE(fs::exists(dir.path() / "out4"));
  REQUIRE_THROWS_WITH(run("out5", (dir.path() / "nope").string()),
                      Catch::Contains("--teacher") && Catch::Contains("not a folder"));

  // A manifest written before the source was recorded loads, with the same data set id.
  const fs::path manifest = dir.path() / "out1" / "manifest.json";
  auto j = nlohmann::json::parse(std::ifstream(manifest));
  REQUIRE(j.contains("separator_source"));
  j.erase("separator_source");
  std::ofstream(dir.path() / "old.json") << j.dump(2);
  const Manifest old = Manifest::read(dir.path() / "old.json");
  CHECK(old.separator_source.empty());
  CHECK(old.separator_id == 151645);
  CHECK(old.dataset_id() == m1.dataset_id());

  // The CLI takes --teacher and prints where the separator came from.
  auto r = test::run_cli("prepare --tokenizer " + qwen3_tokenizer() + " --teacher " + t1.string() +
                         " --input " + in.string() + " --out " + (dir.path() / "cli").string() +
                         " --quiet --validation-fraction 0");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Catch::Contains("separator 151645 (<|im_end|>; from the teacher "
                                       "generation_config.json eos_token_id"));
}

}  // namespace halo::data
