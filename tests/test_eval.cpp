// Evaluation (halo/eval) on tiny random models: validation loss and next-token accuracy against
// a direct full-logits computation (ignored labels, a chunk size that leaves a partial chunk),
// the passkey and key-value prompts (exact length, needle text, determinism, errors), batched
// greedy decoding against one-by-one decoding, answer matching, and the quality gate report.
#include <catch2/catch.hpp>

#include "common/error.h"
#include "halo/eval/language_model.h"
#include "halo/eval/quality_gate.h"
#include "halo/eval/retrieval_eval.h"
#include "halo/eval/validation_loss.h"
#include "tests/eval_fixtures.h"
#include "tests/test_util.h"

#include <fstream>

using namespace halo;
using Catch::Matchers::Contains;

namespace {

std::string decode(const test::ByteTokenizer& tok, const std::vector<int64_t>& ids) {
  return tok.decode(ids);
}

std::vector<int64_t> filler_text(const test::ByteTokenizer& tok) {
  return eval::filler_from_texts(
      tok, {"the quick brown fox jumps over the lazy dog.", "grass is green and the sky is blue."});
}

}  // namespace

TEST_CASE("validation loss and next-token accuracy equal a direct full-logits computation",
          "[eval]") {
  auto teacher = test::tiny_teacher(11);
  auto lm = eval::causal_lm_of(teacher);
  auto batches = test::random_batches(3, 3, 2, 13);  // N = 26 rows per batch, chunk 7 -> 5 left
  batches[1].labels[0][4] = -100;                    // one more ignored position
  at::NoGradGuard no_grad;
  double nll = 0, hits = 0, n = 0;
  for (const auto& b : batches) {
    auto logits = teacher->forward(b.input_ids).logits.to(at::kDouble);  // [B, T, V]
    auto flat = logits.reshape({-1, logits.size(-1)});
    auto labels = b.labels.reshape({-1});
    auto mask = labels >= 0;
    nll += at::cross_entropy_loss(flat, labels, {}, at::Reduction::Sum, -100).item<double>();
    hits += ((flat.argmax(1) == labels) & mask).sum().item<double>();
    n += mask.sum().item<double>();
  }
  REQUIRE(n == 3 * 2 * 12 - 1);
  auto s = eval::score_tokens(lm, batches, 7);
  CHECK(s.tokens == n);
  CHECK(s.batches == 3);
  CHECK(s.loss == Approx(nll / n).epsilon(1e-5));
  CHECK(s.accuracy == Approx(hits / n).epsilon(1e-12));
  CHECK(s.perplexity() == Approx(std::exp(nll / n)).epsilon(1e-5));
  // The HypeNet student goes through the same path.
  auto student = test::tiny_stage1(teacher, 5);
  auto slm = eval::causal_lm_of(student);
  auto ss = eval::score_tokens(slm, batches, 1000);
  CHECK(ss.tokens == n);
  CHECK(std::isfinite(ss.loss));
  CHECK(ss.loss != Approx(s.loss).epsilon(1e-6));  // a different model

  std::vector<eval::TokenBatch> ignored = {batches[0]};
  ignored[0].labels.fill_(-100);
  CHECK_THROWS_WITH(eval::score_tokens(lm, ignored, 7), Contains("no counted token"));
  auto bad = batches[0];
  bad.labels = bad.labels.narrow(1, 0, 5);
  CHECK_THROWS_WITH(eval::score_tokens(lm, {bad}, 7), Contains("validation batch 0: labels"));
}

TEST_CASE("chunked_argmax equals the argmax of the full logits", "[eval]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(4);
  auto h = at::randn({23, 5}, gen, at::kDouble), w = at::randn({17, 5}, gen, at::kDouble);
  auto full = at::mm(h, w.t()).argmax(1);
  for (int64_t chunk : {1, 4, 23, 50}) CHECK(at::equal(eval::chunked_argmax(h, w, chunk), full));
}

TEST_CASE("passkey prompts: exact length, needle at its depth, deterministic", "[eval]") {
  test::ByteTokenizer tok;
  const auto filler = filler_text(tok);
  for (int64_t length : {300, 333}) {
    CAPTURE(length);
    auto a = eval::make_retrieval_sample(eval::RetrievalTask::kPasskey, tok, filler, length, 42);
    CHECK(static_cast<int64_t>(a.prompt.size()) == length);
    REQUIRE(a.answer.size() == 5);
    CHECK(a.answer[0] != '0');
    const auto text = decode(tok, a.prompt);
    const auto needle = "The pass key is " + a.answer + ". Remember it.";
    const auto pos = text.find(needle);
    REQUIRE(pos != std::string::npos);
    CHECK(text.find("There is an important piece of information") == 0);
    CHECK(text.size() >= 38);
    CHECK(text.substr(text.size() - 38) == "\nWhat is the pass key? The pass key is");
    REQUIRE(a.depths.size() == 1);
    // Needle start relative to the filler region lies at depth * filler length (+-1 rounding).
    const auto intro = tok.encode(
        "There is an important piece of information hidden inside a lot of irrelevant text. "
        "Find it and memorize it. I will quiz you about it.\n");
    const double filler_len = double(length - intro.size() - 38 - (needle.size() + 2));
    CHECK(std::abs(double(pos - 1 - intro.size()) - a.depths[0] * filler_len) <= 1.0);
    // Same seed, same prompt; another seed, another prompt.
    auto again =
        eval::make_retrieval_sample(eval::RetrievalTask::kPasskey, tok, filler, length, 42);
    CHECK(again.prompt == a.prompt);
    auto other =
        eval::make_retrieval_sample(eval::RetrievalTask::kPasskey, tok, filler, length, 43);
    CHECK(other.prompt != a.prompt);
  }
  CHECK_THROWS_WITH(eval::make_retrieval_sample(eval::RetrievalTask::kPasskey, tok, filler, 100, 1),
                    Contains("context length 100 is too short"));
  CHECK_THROWS_WITH(eval::make_retrieval_sample(eval::RetrievalTask::kPasskey, tok, {}, 300, 1),
                    Contains("filler text has no tokens"));
  // Sample seeds depend on (seed, length, k) only.
  CHECK(eval::retrieval_sample_seed(1, 512, 0) == eval::retrieval_sample_seed(1, 512, 0));
  CHECK(eval::retrieval_sample_seed(1, 512, 0) != eval::retrieval_sample_seed(1, 512, 1));
  CHECK(eval::retrieval_sample_seed(1, 512, 0) != eval::retrieval_sample_seed(1, 1024, 0));
  CHECK(eval::retrieval_sample_seed(1, 512, 0) != eval::retrieval_sample_seed(2, 512, 0));
}

TEST_CASE("key-value prompts hold every pair once and ask for one of them", "[eval]") {
  test::ByteTokenizer tok;
  auto s = eval::make_retrieval_sample(eval::RetrievalTask::kKeyValue, tok, filler_text(tok), 400,
                                       7, /*num_kv_pairs=*/3);
  CHECK(s.prompt.size() == 400);
  const auto text = decode(tok, s.prompt);
  size_t count = 0;
  for (size_t p = text.find("The value of key "); p != std::string::npos;
       p = text.find("The value of key ", p + 1)) {
    ++count;
  }
  CHECK(count == 3 + 1);  // three needles and the question's answer stem
  const auto q = text.rfind("What is the value of key ");
  REQUIRE(q != std::string::npos);
  const auto key = text.substr(q + 25, 4);
  CHECK(text.find("The value of key " + key + " is " + s.answer + ".") != std::string::npos);
  CHECK(s.depths.size() == 3);
}

TEST_CASE("retrieval answers match only the exact digits", "[eval]") {
  CHECK(eval::retrieval_answer_matches(" 48213. Remember", "48213"));
  CHECK(eval::retrieval_answer_matches("48213", "48213"));
  CHECK(eval::retrieval_answer_matches("\n 48213\n", "48213"));
  CHECK_FALSE(eval::retrieval_answer_matches(" 482139", "48213"));
  CHECK_FALSE(eval::retrieval_answer_matches(" 4821", "48213"));
  CHECK_FALSE(eval::retrieval_answer_matches(" x48213", "48213"));
  CHECK_FALSE(eval::retrieval_answer_matches("", "48213"));
}

TEST_CASE("filler from token ids drops special tokens", "[eval]") {
  data::SpecialTokenIds sp;
  sp.eos = 256;
  sp.bos = 1;
  auto ids = at::tensor(std::vector<int64_t>{5, 256, 7, 1, 9, 10}, at::kLong).view({2, 3});
  CHECK(eval::filler_from_token_ids(ids, sp) == std::vector<int64_t>{5, 7, 9, 10});
}

TEST_CASE("greedy decoding in a batch equals decoding one prompt at a time", "[eval]") {
  auto teacher = test::tiny_teacher(12);
  auto lm = eval::causal_lm_of(teacher);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(8);
  auto prompts = at::randint(0, 257, {3, 17}, gen, at::kLong);
  auto batched = eval::greedy_decode_uncached(lm, prompts, 4);
  REQUIRE(batched.sizes() == at::IntArrayRef({3, 4}));
  at::NoGradGuard no_grad;
  for (int64_t s = 0; s < 3; ++s) {
    auto ids = prompts.narrow(0, s, 1);
    for (int64_t i = 0; i < 4; ++i) {
      auto next = teacher->forward(ids).logits.select(1, ids.size(1) - 1).argmax(-1, true);
      CHECK(next.item<int64_t>() == batched[s][i].item<int64_t>());
      ids = at::cat({ids, next}, 1);
    }
  }
}

TEST_CASE("retrieval evaluation and the quality gate report", "[eval]") {
  test::use_one_thread();
  auto teacher = test::tiny_teacher(13);
  auto lm = eval::causal_lm_of(teacher);
  test::ByteTokenizer tok;
  eval::QualityGateOptions o;
  o.retrieval_lengths = {400, 480};
  o.retrieval_samples = 3;
  o.batch_size = 2;  // 3 samples -> a full and a partial decode batch
  o.chunk_tokens = 5;
  auto batches = test::random_batches(5, 2, 2, 9);
  auto entry = eval::run_quality_gate(lm, "stage1", batches, tok, filler_text(tok), o);
  CHECK(entry["label"] == "stage1");
  CHECK(entry["validation"]["tokens"].get<double>() == 2 * 2 * 8);
  CHECK(entry["validation"]["loss"].get<double>() ==
        Approx(eval::score_tokens(lm, batches, 1000).loss).epsilon(1e-6));
  for (const char* task : {"passkey", "key_value"}) {
    CAPTURE(task);
    REQUIRE(entry[task].size() == 2);
    CHECK(entry[task][0]["context_length"] == 400);
    CHECK(entry[task][1]["context_length"] == 480);
    CHECK(entry[task][0]["samples"] == 3);
    const double acc = entry[task][0]["accuracy"].get<double>();
    CHECK((acc >= 0.0 && acc <= 1.0));
  }

  test::TempDir dir;
  const auto report = dir.path() / "quality.json";
  eval::append_quality_report(report, entry);
  auto second = entry;
  second["label"] = "stage2";
  eval::append_quality_report(report, second);
  std::ifstream in(report);
  auto j = nlohmann::json::parse(in);
  REQUIRE(j["entries"].size() == 2);
  CHECK(j["entries"][0]["label"] == "stage1");
  CHECK(j["entries"][1]["label"] == "stage2");
  std::ofstream(report) << "{not json";
  CHECK_THROWS_WITH(eval::append_quality_report(report, entry), Contains("not valid JSON"));
}
