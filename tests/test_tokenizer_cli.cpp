// `halo-distill tokenize` and `halo-distill train-tokenizer` run as a user runs them: ids as the
// library computes them, one output line per input line, and bad input that ends in a clear
// message and exit code 1.
#include <catch2/catch.hpp>

#include "data/tokenizer.h"
#include "tests/test_util.h"

#include <sys/wait.h>
#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>

using namespace halo;
using test::run_cli;
using Catch::Matchers::Contains;

namespace {

std::string ids_line(const std::vector<int64_t>& ids) {
  std::string s;
  for (int64_t id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return s;
}

std::string qwen_dir() {
  return test::fixtures_dir() + "/tokenizers/qwen3";
}

}  // namespace

TEST_CASE("tokenize prints the ids of each line", "[tokenizer][cli]") {
  auto tok = data::load_tokenizer(qwen_dir());
  auto r = run_cli("tokenize --tokenizer " + qwen_dir() +
                       " --text 'Hello, world!\n<|im_start|>user 你好 😀\n\n  x'",
                   false);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::string expected = ids_line(tok->encode("Hello, world!")) + "\n" +
                               ids_line(tok->encode("<|im_start|>user 你好 😀")) + "\n\n" +
                               ids_line(tok->encode("  x")) + "\n";
  CHECK(r.output == expected);

  test::TempDir dir;
  const std::string file = dir.str() + "/in.txt";
  std::ofstream(file, std::ios::binary) << "def f(x):\n    return x  # ok\n<|endoftext|>tail";
  auto f = run_cli("tokenize --tokenizer " + qwen_dir() + "/tokenizer.json --file " + file, false);
  REQUIRE(f.exit_code == 0);
  CHECK(f.output == ids_line(tok->encode("def f(x):")) + "\n" +
                        ids_line(tok->encode("    return x  # ok")) + "\n" +
                        ids_line(tok->encode("<|endoftext|>tail")) + "\n");
  auto piped = run_cli("tokenize --tokenizer " + qwen_dir() + " --file - < " + file, false);
  CHECK(piped.output == f.output);
}

TEST_CASE("tokenize reports bad input", "[tokenizer][cli]") {
  test::TempDir dir;
  auto missing = run_cli("tokenize --tokenizer " + dir.str() + "/none.json --text hi");
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.output, Contains(dir.str() + "/none.json") && Contains("no such"));
  auto both = run_cli("tokenize --tokenizer " + qwen_dir() + " --text a --file b");
  CHECK(both.exit_code != 0);
  CHECK_THAT(both.output, Contains("excludes"));
  auto neither = run_cli("tokenize --tokenizer " + qwen_dir());
  CHECK(neither.exit_code == 1);
  CHECK_THAT(neither.output, Contains("exactly one of --text S or --file F"));
  const std::string bad = dir.str() + "/bad.txt";
  std::ofstream(bad, std::ios::binary) << "fine\nbroken \xff here\n";
  auto utf8 = run_cli("tokenize --tokenizer " + qwen_dir() + " --file " + bad);
  CHECK(utf8.exit_code == 1);
  CHECK_THAT(utf8.output, Contains(bad + ": line 2") && Contains("not valid UTF-8"));
}

TEST_CASE("train-tokenizer writes a SentencePiece model that tokenize can use",
          "[tokenizer][cli]") {
  test::TempDir dir;
  const std::string text = dir.str() + "/train.txt";
  {
    std::ifstream in("/usr/share/common-licenses/GPL-3", std::ios::binary);
    REQUIRE(in.good());
    std::stringstream ss;
    ss << in.rdbuf();
    std::ofstream(text, std::ios::binary) << ss.str();
  }
  const std::string prefix = dir.str() + "/out/gpl";
  for (const char* type : {"bpe", "unigram"}) {
    auto r = run_cli("train-tokenizer --input " + text + " --model-prefix " + prefix +
                     " --vocab-size 400 --model-type " + type + " --character-coverage 1.0");
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.output, Contains("wrote " + prefix + ".model") && Contains("400 pieces"));
    auto tok = data::load_tokenizer(prefix + ".model");
    CHECK(tok->vocab_size() == 400);
    const std::string line = "This License applies to any program or other work";
    const auto ids = tok->encode(line);
    CHECK(ids.size() < line.size() / 2);
    CHECK(tok->decode(ids) == line);
    auto t = run_cli("tokenize --tokenizer " + prefix + ".model --text '" + line + "'", false);
    CHECK(t.output == ids_line(ids) + "\n");
  }
  auto missing = run_cli("train-tokenizer --input " + dir.str() + "/nope.txt --model-prefix " +
                         prefix + " --vocab-size 100");
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.output, Contains(dir.str() + "/nope.txt") && Contains("no such file"));
  auto too_big = run_cli("train-tokenizer --input " + text + " --model-prefix " + prefix +
                         "2 --vocab-size 1000000");
  CHECK(too_big.exit_code == 1);
  CHECK_THAT(too_big.output, Contains("SentencePiece training on " + text + " failed"));
  auto bad_type = run_cli("train-tokenizer --input " + text + " --model-prefix " + prefix +
                          " --vocab-size 100 --model-type wordpiece");
  CHECK(bad_type.exit_code != 0);
  CHECK_THAT(bad_type.output, Contains("wordpiece"));
}
