// The tasks of `halo-distill eval` (halo/eval: niah_task, position_loss, mc_task, eval_suite,
// eval_results) on fakes and tiny random models: a model that copies its input scores 100% on
// niah and niah-multikey; a needle reader scores multi-value recall by the fraction it names;
// prompts are deterministic per (seed, length, depth, trial) and do not change when other lengths
// or depths are added; the engine-backed TaskModel's log-probabilities and the multiple-choice
// log-likelihood equal a direct full forward; a random model is near chance on multiple choice;
// loss-by-position buckets; bad input names the task, file and line.
#include <catch2/catch.hpp>

#include "common/error.h"
#include "halo/eval/eval_charts.h"
#include "halo/eval/eval_results.h"
#include "halo/eval/eval_suite.h"
#include "halo/eval/language_model.h"
#include "halo/eval/mc_task.h"
#include "halo/eval/needle_haystack.h"
#include "halo/eval/niah_task.h"
#include "halo/eval/position_loss.h"
#include "halo/eval/retrieval_eval.h"
#include "tests/eval_fixtures.h"
#include "tests/eval_task_fakes.h"
#include "tests/test_util.h"

#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace halo;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

std::vector<int64_t> haystack_text(const test::ByteTokenizer& tok) {
  return eval::filler_from_texts(
      tok, {"the quick brown fox jumps over the lazy dog while the farmer sleeps.",
            "grass is green and the sky is blue; rivers run down to the sea.",
            "a long story about nothing at all, told slowly by the fire."});
}

eval::NiahOptions niah_grid(eval::NiahVariant v, std::vector<int64_t> lengths,
                            std::vector<double> depths, int64_t trials) {
  eval::NiahOptions o;
  o.variant = v;
  o.lengths = std::move(lengths);
  o.depths = std::move(depths);
  o.trials = trials;
  o.seed = 11;
  return o;
}

// ids [T] -> [T - 1] float64: log_softmax of one full forward, gathered at the next tokens.
at::Tensor direct_log_probs(hypenet::CausalLM& lm, const std::vector<int64_t>& ids) {
  at::NoGradGuard no_grad;
  auto t = at::tensor(ids, at::kLong).unsqueeze(0);                     // [1, T]
  auto logits = lm.forward(t).logits.select(0, 0).to(at::kDouble);      // [T, V]
  auto logp = at::log_softmax(logits, -1).narrow(0, 0, t.size(1) - 1);  // [T - 1, V]
  return logp.gather(1, t.select(0, 0).narrow(0, 1, t.size(1) - 1).unsqueeze(1)).squeeze(1);
}

fs::path source_dir() {
  const char* env = std::getenv("HALO_SOURCE_DIR");
  return env ? fs::path(env) : fs::path(__FILE__).parent_path().parent_path();
}

}  // namespace

TEST_CASE("niah prompts: exact length, the asked needle at its depth, one seed per cell",
          "[eval][niah]") {
  test::ByteTokenizer tok;
  const auto filler = haystack_text(tok);
  for (auto v :
       {eval::NiahVariant::kSingle, eval::NiahVariant::kMultiKey, eval::NiahVariant::kMultiValue}) {
    CAPTURE(eval::niah_task_name(v));
    auto o = niah_grid(v, {900}, {0.0}, 1);
    for (double depth : {0.0, 0.3, 1.0}) {
      const auto seed = eval::niah_sample_seed(o.seed, v, 900, depth, 2);
      auto s = eval::make_niah_sample(v, tok, filler, 900, depth, seed, o);
      REQUIRE(s.prompt.size() == 900);
      CHECK(s.answers.size() == (v == eval::NiahVariant::kMultiValue ? 4u : 1u));
      const auto text = tok.decode(s.prompt);
      // The asked key's first needle starts round(depth * filler) bytes into the filler (between
      // the instruction and the question; each needle is 50 bytes).
      const auto at = text.find("is: " + s.answers[0] + ".\n");
      REQUIRE(at != std::string::npos);
      const auto needle_start = static_cast<int64_t>(text.rfind('\n', at));
      const auto intro = static_cast<int64_t>(std::string(eval::kRecallInstruction).size());
      const auto question = static_cast<int64_t>(text.rfind("\nWhat"));
      const int64_t needles = v == eval::NiahVariant::kSingle ? 1 : 4;
      const int64_t filler_len = question - intro - 50 * needles;
      if (v != eval::NiahVariant::kMultiKey) {  // multi-key: distractors may come before
        CHECK(needle_start == intro + std::llround(depth * double(filler_len)));
      }
      for (const auto& a : s.answers) CHECK(text.find("is: " + a + ".") != std::string::npos);
      // Same seed: the same prompt; another trial: another one.
      CHECK(eval::make_niah_sample(v, tok, filler, 900, depth, seed, o).prompt == s.prompt);
      CHECK(eval::make_niah_sample(v, tok, filler, 900, depth,
                                   eval::niah_sample_seed(o.seed, v, 900, depth, 3), o)
                .prompt != s.prompt);
    }
  }
  CHECK(eval::niah_sample_seed(0, eval::NiahVariant::kSingle, 900, 0.1, 0) ==
        eval::niah_sample_seed(0, eval::NiahVariant::kSingle, 900, 1.0 / 10.0, 0));
  CHECK(eval::niah_sample_seed(0, eval::NiahVariant::kSingle, 900, 0.1, 0) !=
        eval::niah_sample_seed(0, eval::NiahVariant::kMultiKey, 900, 0.1, 0));
}

TEST_CASE("a model that copies its input gets niah and niah-multikey 100%", "[eval][niah]") {
  test::ByteTokenizer tok;
  const auto filler = haystack_text(tok);
  for (auto v : {eval::NiahVariant::kSingle, eval::NiahVariant::kMultiKey}) {
    CAPTURE(eval::niah_task_name(v));
    test::CopyModel copy;
    const auto o = niah_grid(v, {700, 1500}, {0.0, 0.5, 1.0}, 3);
    const auto acc = eval::evaluate_niah(copy, tok, filler, o);
    REQUIRE(acc.size() == 2);
    for (const auto& row : acc) {
      REQUIRE(row.size() == 3);
      for (double a : row) CHECK(a == 1.0);
    }
    CHECK(copy.seen.size() == 2 * 3 * 3);
  }
  // The copier repeats the latest needle of the key and the text after it: one value of four.
  test::CopyModel copy;
  const auto multi = eval::evaluate_niah(
      copy, tok, filler, niah_grid(eval::NiahVariant::kMultiValue, {900}, {0.5}, 2));
  CHECK(multi[0][0] == 0.25);
}

TEST_CASE("niah-multivalue scores the fraction of the values named", "[eval][niah]") {
  test::ByteTokenizer tok;
  const auto filler = haystack_text(tok);
  const auto o = niah_grid(eval::NiahVariant::kMultiValue, {1000}, {0.0, 0.6, 1.0}, 2);
  for (size_t named : {4u, 2u, 0u}) {
    CAPTURE(named);
    test::NeedleReader reader(tok, named);
    const auto acc = eval::evaluate_niah(reader, tok, filler, o);
    for (double a : acc[0]) CHECK(a == Approx(named / 4.0));
  }
  // The reader also gets the single and multi-key variants right (the question names the key).
  test::NeedleReader reader(tok, 1);
  const auto keys = eval::evaluate_niah(reader, tok, filler,
                                        niah_grid(eval::NiahVariant::kMultiKey, {800}, {0.2}, 3));
  CHECK(keys[0][0] == 1.0);
  CHECK(eval::niah_score(" 1234567, 7654321.", {"1234567", "7654321"}) == 1.0);
  CHECK(eval::niah_score(" 12345678", {"1234567"}) == 0.0);  // a longer number is not the value
  CHECK(eval::niah_score("x1234567y", {"1234567"}) == 1.0);
  CHECK(eval::niah_score("", {"1"}) == 0.0);
}

TEST_CASE("niah scores are deterministic and unchanged when lengths or depths are added",
          "[eval][niah]") {
  test::ByteTokenizer tok;
  const auto filler = haystack_text(tok);
  // A copier that answers only when the prompt's token sum is even: scores depend on the
  // exact prompts, so a changed prompt shows.
  struct HalfCopy : test::CopyModel {
    std::vector<std::vector<int64_t>> greedy_continue(
        const std::vector<std::vector<int64_t>>& prompts, const std::vector<int64_t>& n) override {
      auto out = CopyModel::greedy_continue(prompts, n);
      for (size_t i = 0; i < prompts.size(); ++i) {
        int64_t sum = 0;
        for (auto t : prompts[i]) sum += t;
        if (sum % 2) out[i].assign(n[i], ' ');
      }
      return out;
    }
  };
  HalfCopy small_model, big_model, again_model, more_trials_model;
  const auto v = eval::NiahVariant::kSingle;
  const auto small = eval::evaluate_niah(small_model, tok, filler, niah_grid(v, {800}, {0.5}, 6));
  const auto big = eval::evaluate_niah(big_model, tok, filler,
                                       niah_grid(v, {700, 800, 1200}, {0.0, 0.5, 0.9}, 6));
  const auto again = eval::evaluate_niah(again_model, tok, filler,
                                         niah_grid(v, {700, 800, 1200}, {0.0, 0.5, 0.9}, 6));
  CHECK(big == again);  // deterministic
  // Cell (800, 0.5) of the big grid: the same prompts and score as the grid of that cell alone.
  REQUIRE(big_model.seen.size() == 3 * 3 * 6);
  for (int64_t t = 0; t < 6; ++t) CHECK(small_model.seen[t] == big_model.seen[3 * 6 + 6 + t]);
  CHECK(big[1][1] == small[0][0]);
  // More trials keep the first ones.
  eval::evaluate_niah(more_trials_model, tok, filler, niah_grid(v, {800}, {0.5}, 9));
  for (int64_t t = 0; t < 6; ++t) CHECK(more_trials_model.seen[t] == small_model.seen[t]);
  // Scores vary between cells, so a changed prompt could show.
  double lo = 1, hi = 0;
  for (const auto& row : big) {
    for (double a : row) lo = std::min(lo, a), hi = std::max(hi, a);
  }
  CHECK(lo < hi);
  // Another seed: other prompts.
  HalfCopy other_seed;
  auto o = niah_grid(v, {800}, {0.5}, 6);
  o.seed = 12;
  eval::evaluate_niah(other_seed, tok, filler, o);
  CHECK(other_seed.seen[0] != small_model.seen[0]);
}

TEST_CASE("niah checks: a length below the prompt overhead, depths, counts", "[eval][niah]") {
  test::ByteTokenizer tok;
  const auto filler = haystack_text(tok);
  auto o = niah_grid(eval::NiahVariant::kMultiKey, {2000, 300}, {0.5}, 1);
  CHECK_THROWS_WITH(eval::check_niah_options(o, tok, filler),
                    Contains("niah-multikey: context length 300 is too short") &&
                        Contains("HINT: use a context length of at least"));
  o.lengths = {2000};
  o.depths = {1.5};
  CHECK_THROWS_WITH(eval::check_niah_options(o, tok, filler), Contains("depth 1.5"));
  o.depths = {0.5};
  o.trials = 0;
  CHECK_THROWS_WITH(eval::check_niah_options(o, tok, filler), Contains("trials must be >= 1"));
  o.trials = 1;
  CHECK_NOTHROW(eval::check_niah_options(o, tok, filler));
  CHECK_THROWS_WITH(eval::check_niah_options(o, tok, {}), Contains("no tokens"));
}

TEST_CASE(
    "the engine-backed TaskModel: log-probabilities equal a full forward, greedy equals "
    "uncached decoding",
    "[eval][task_model]") {
  test::use_one_thread();
  auto teacher = test::tiny_teacher(21);
  teacher->to(at::kDouble);
  auto student = test::tiny_stage1(teacher, 4);
  student->to(at::kDouble);
  std::vector<hypenet::CausalLM> models = {eval::causal_lm_of(teacher),
                                           eval::causal_lm_of(student)};
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  auto rand_ids = at::randint(0, 257, {41}, gen, at::kLong);
  std::vector<int64_t> ids(rand_ids.data_ptr<int64_t>(), rand_ids.data_ptr<int64_t>() + 41);
  for (auto& lm : models) {
    CAPTURE(lm.model_type);
    for (int64_t chunk : {1, 7, 40, 100}) {
      CAPTURE(chunk);
      eval::LmTaskOptions lo;
      lo.prefill_chunk = chunk;
      eval::LmTaskModel m(lm, lo);
      auto got = m.next_token_log_probs(ids);
      REQUIRE(got.sizes() == at::IntArrayRef({40}));
      CHECK(test::max_rel_error(got, direct_log_probs(lm, ids)) < 1e-10);
    }
    // Several sequences scored together (ragged: packed steps; equal: uniform steps), in
    // batches of 2 rows, against a full forward of each.
    const std::vector<std::vector<int64_t>> seqs = {ids,
                                                    {ids.begin() + 2, ids.begin() + 19},
                                                    {ids.begin() + 5, ids.begin() + 22},
                                                    {ids[0], ids[1]}};
    for (int64_t chunk : {4, 7, 64}) {
      CAPTURE(chunk);
      eval::LmTaskOptions lo;
      lo.prefill_chunk = chunk;
      lo.batch_size = 2;
      auto got = eval::LmTaskModel(lm, lo).next_token_log_probs_batch(seqs);
      REQUIRE(got.size() == seqs.size());
      for (size_t i = 0; i < seqs.size(); ++i) {
        CAPTURE(i);
        CHECK(test::max_rel_error(got[i], direct_log_probs(lm, seqs[i])) < 1e-10);
      }
    }
    // Prompts of different lengths through the engine against the uncached reference.
    std::vector<std::vector<int64_t>> prompts = {{ids.begin(), ids.begin() + 9},
                                                 {ids.begin() + 3, ids.begin() + 20},
                                                 {ids.begin() + 1, ids.begin() + 10}};
    eval::LmTaskOptions cached;
    cached.batch_size = 2;
    cached.prefill_chunk = 4;
    const std::vector<int64_t> budgets = {5, 3, 6};  // one per prompt
    auto engine_out = eval::LmTaskModel(lm, cached).greedy_continue(prompts, budgets);
    for (size_t i = 0; i < prompts.size(); ++i) {
      auto ref =
          eval::greedy_decode_uncached(lm, at::tensor(prompts[i], at::kLong).unsqueeze(0), 6);
      std::vector<int64_t> want(ref.data_ptr<int64_t>(), ref.data_ptr<int64_t>() + budgets[i]);
      CHECK(engine_out[i] == want);
    }
    // Without the cache (equal lengths per batch), the same tokens.
    eval::LmTaskOptions uncached = cached;
    uncached.use_cache = false;
    const std::vector<std::vector<int64_t>> same_length = {prompts[0], prompts[2], prompts[0]};
    CHECK(eval::LmTaskModel(lm, uncached).greedy_continue(same_length, {5, 6, 2}) ==
          std::vector<std::vector<int64_t>>(
              {engine_out[0], engine_out[2], {engine_out[0][0], engine_out[0][1]}}));
  }
}

TEST_CASE("niah on a real model: a cell's continuations do not depend on the other cells",
          "[eval][niah]") {
  test::use_one_thread();
  test::ByteTokenizer tok;
  const auto filler = haystack_text(tok);
  auto teacher = test::tiny_teacher(24);
  auto lm = eval::causal_lm_of(teacher);
  // Records what the engine-backed model answers, prompt by prompt.
  struct Recorder : eval::TaskModel {
    eval::LmTaskModel inner;
    std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> seen;
    explicit Recorder(hypenet::CausalLM& m) : inner(m, make_options()) {}
    static eval::LmTaskOptions make_options() {
      eval::LmTaskOptions o;
      o.batch_size = 3;
      o.prefill_chunk = 100;
      return o;
    }
    std::vector<std::vector<int64_t>> greedy_continue(
        const std::vector<std::vector<int64_t>>& prompts, const std::vector<int64_t>& n) override {
      auto out = inner.greedy_continue(prompts, n);
      for (size_t i = 0; i < prompts.size(); ++i) seen.emplace_back(prompts[i], out[i]);
      return out;
    }
    at::Tensor next_token_log_probs(const std::vector<int64_t>& ids) override {
      return inner.next_token_log_probs(ids);
    }
  };
  const auto v = eval::NiahVariant::kMultiKey;
  Recorder small(lm), big(lm);
  eval::evaluate_niah(small, tok, filler, niah_grid(v, {600}, {0.5}, 4));
  eval::evaluate_niah(big, tok, filler, niah_grid(v, {500, 600}, {0.0, 0.5, 1.0}, 4));
  REQUIRE(small.seen.size() == 4);
  REQUIRE(big.seen.size() == 2 * 3 * 4);
  for (size_t t = 0; t < 4; ++t) {
    CHECK(small.seen[t].first == big.seen[12 + 4 + t].first);
    CHECK(small.seen[t].second == big.seen[12 + 4 + t].second);  // bit for bit
  }
}

TEST_CASE(
    "multiple choice: log-likelihood equals a direct computation, a random model is near "
    "chance",
    "[eval][mc]") {
  test::use_one_thread();
  test::ByteTokenizer tok;
  auto teacher = test::tiny_teacher(22);
  teacher->to(at::kDouble);
  auto lm = eval::causal_lm_of(teacher);
  eval::LmTaskOptions lo;
  lo.prefill_chunk = 5;
  eval::LmTaskModel m(lm, lo);
  const auto context = tok.encode("Question: what colour is grass? Answer:");
  const auto choice = tok.encode(" green");
  std::vector<int64_t> all = context;
  all.insert(all.end(), choice.begin(), choice.end());
  // Direct: full forward, log_softmax, the choice tokens' entries summed.
  double direct = 0.0;
  {
    at::NoGradGuard no_grad;
    auto t = at::tensor(all, at::kLong).unsqueeze(0);
    auto logp = at::log_softmax(lm.forward(t).logits.select(0, 0), -1);  // [T, V]
    for (size_t i = 0; i < choice.size(); ++i) {
      direct += logp[static_cast<int64_t>(context.size() + i - 1)][choice[i]].item<double>();
    }
  }
  CHECK(eval::choice_log_likelihood(m, context, choice) == Approx(direct).epsilon(1e-12));

  // 240 items of 4 random letter strings, random labels: a random model has no idea.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(9);
  std::vector<eval::McItem> items;
  for (int i = 0; i < 240; ++i) {
    eval::McItem item;
    item.context = "pick:";
    for (int c = 0; c < 4; ++c) {
      const auto len = at::randint(2, 7, {1}, gen, at::kLong).item<int64_t>();
      std::string s = " ";
      for (int64_t k = 0; k < len; ++k)
        s += static_cast<char>('a' + at::randint(0, 26, {1}, gen, at::kLong).item<int64_t>());
      item.choices.push_back(s);
    }
    item.label = at::randint(0, 4, {1}, gen, at::kLong).item<int64_t>();
    items.push_back(item);
  }
  const auto score = eval::evaluate_mc(m, tok, items);
  CHECK(score.items == 240);
  // The choices scored together (LmTaskModel's batch) pick what one-by-one scoring picks.
  struct OneByOne : eval::TaskModel {
    eval::TaskModel& inner;
    explicit OneByOne(eval::TaskModel& m) : inner(m) {}
    std::vector<std::vector<int64_t>> greedy_continue(const std::vector<std::vector<int64_t>>& p,
                                                      const std::vector<int64_t>& n) override {
      return inner.greedy_continue(p, n);
    }
    at::Tensor next_token_log_probs(const std::vector<int64_t>& ids) override {
      return inner.next_token_log_probs(ids);
    }
  } one_by_one(m);
  const auto single = eval::evaluate_mc(one_by_one, tok, items);
  CHECK(single.acc == score.acc);
  CHECK(single.acc_norm == score.acc_norm);
  // Chance is 0.25; 240 items give a standard error of 0.028.
  CHECK(score.acc > 0.14);
  CHECK(score.acc < 0.36);
  CHECK(score.acc_norm > 0.14);
  CHECK(score.acc_norm < 0.36);
  // An oracle that gives the label's tokens log-probability 0 and others -1 scores 1.
  struct Oracle : eval::TaskModel {
    std::vector<std::vector<int64_t>> right;  // ids of context + the right choice, per item
    std::vector<std::vector<int64_t>> greedy_continue(const std::vector<std::vector<int64_t>>&,
                                                      const std::vector<int64_t>&) override {
      return {};
    }
    at::Tensor next_token_log_probs(const std::vector<int64_t>& ids) override {
      const bool hit = std::find(right.begin(), right.end(), ids) != right.end();
      return at::full({static_cast<int64_t>(ids.size()) - 1}, hit ? 0.0 : -1.0, at::kDouble);
    }
  } oracle;
  int64_t right = 0, right_norm = 0;  // item by item: the items share their context
  for (const auto& item : items) {
    auto ids = tok.encode(item.context);
    const auto c = tok.encode(item.choices[item.label]);
    ids.insert(ids.end(), c.begin(), c.end());
    oracle.right = {ids};
    const auto one = eval::evaluate_mc(oracle, tok, {item});
    right += one.acc == 1.0;
    right_norm += one.acc_norm == 1.0;
  }
  CHECK(right == 240);
  CHECK(right_norm == 240);
}

TEST_CASE("multiple-choice files: the shipped sample reads, bad lines name file and line",
          "[eval][mc]") {
  const auto sample = source_dir() / "configs/eval/mc_sample.jsonl";
  const auto items = eval::read_mc_file(sample);
  CHECK(items.size() >= 20);
  for (const auto& it : items) {
    CHECK(it.choices.size() >= 2);
    CHECK(it.label < static_cast<int64_t>(it.choices.size()));
  }
  CHECK(eval::mc_task_name(sample) == "mc:mc_sample");

  test::TempDir dir;
  const auto path = (dir.path() / "bad.jsonl").string();
  auto write = [&](const std::string& text) { std::ofstream(path) << text; };
  const std::string good = R"({"context": "a", "choices": [" b", " c"], "label": 1})";
  write(good + "\n\n" + good + "\n{\"context\": \"a\", \"choices\": [\" b\"\n");
  CHECK_THROWS_WITH(eval::read_mc_file(path), Contains(path + ":4") && Contains("not a JSON"));
  write(good + "\n" + R"({"context": "a", "choices": [" b", " c"], "label": 2})" + "\n");
  CHECK_THROWS_WITH(eval::read_mc_file(path),
                    Contains(path + ":2") && Contains("'label' is 2 but there are 2 choices"));
  write(R"({"context": "a", "choices": [" b"], "label": 0})");
  CHECK_THROWS_WITH(eval::read_mc_file(path), Contains(":1") && Contains("at least 2"));
  write(R"({"context": "", "choices": [" b", "c"], "label": 0})");
  CHECK_THROWS_WITH(eval::read_mc_file(path), Contains("'context' is empty"));
  write("\n\n");
  CHECK_THROWS_WITH(eval::read_mc_file(path), Contains("no items"));
  CHECK_THROWS_WITH(eval::read_mc_file(dir.path() / "missing.jsonl"), Contains("cannot open"));
}

TEST_CASE("ppl-by-position: bucket means of known per-position losses", "[eval][ppl]") {
  test::ByteTokenizer tok;
  const auto filler = haystack_text(tok);
  eval::PositionLossOptions o;
  o.length = 101;  // positions 0..99 predict
  o.num_buckets = 4;
  o.sequences = 3;
  test::PositionalLossModel m;
  const auto r = eval::evaluate_position_loss(m, filler, o);
  CHECK(r.bucket_edges == std::vector<int64_t>({0, 25, 50, 75, 101}));
  // Bucket [a, b) holds positions a..min(b, 100)-1, loss (t + 1) / 100 each.
  CHECK(r.loss[0] == Approx(0.13));  // mean of 1..25 / 100
  CHECK(r.loss[3] == Approx(0.88));  // mean of 76..100 / 100
  CHECK(r.tokens == std::vector<double>({75, 75, 75, 75}));
  // Windows: the requested length, deterministic, different offsets per window.
  const auto w = eval::position_loss_windows(filler, o);
  REQUIRE(w.size() == 3);
  CHECK(w[0].size() == 101);
  CHECK(w == eval::position_loss_windows(filler, o));
  CHECK(w[0] != w[1]);
  o.num_buckets = 101;
  CHECK_THROWS_WITH(eval::check_position_loss_options(o),
                    Contains("buckets must be in [1, length - 1 = 100], got 101"));

  // A real model: the bucket means are its per-position losses.
  test::use_one_thread();
  auto teacher = test::tiny_teacher(23);
  auto lm = eval::causal_lm_of(teacher);
  eval::LmTaskModel real(lm);
  o.num_buckets = 2;
  o.sequences = 1;
  const auto p = eval::evaluate_position_loss(real, filler, o);
  auto direct = -direct_log_probs(lm, eval::position_loss_windows(filler, o)[0]);  // [100]
  CHECK(p.loss[0] == Approx(direct.narrow(0, 0, 50).mean().item<double>()).epsilon(1e-5));
  CHECK(p.loss[1] == Approx(direct.narrow(0, 50, 50).mean().item<double>()).epsilon(1e-5));
}

TEST_CASE("eval suite: task list, checks before any model, results.json and results.md",
          "[eval][suite]") {
  test::ByteTokenizer tok;
  const auto filler = haystack_text(tok);
  CHECK_THROWS_WITH(eval::parse_eval_tasks("niah,needle"), Contains("unknown task 'needle'") &&
                                                               Contains("niah-multikey") &&
                                                               Contains("mc:FILE.jsonl"));
  CHECK_THROWS_WITH(eval::parse_eval_tasks("kv,kv"), Contains("given twice"));
  CHECK_THROWS_WITH(eval::parse_eval_tasks("kv,,niah"), Contains("empty task name"));
  const auto mc = (source_dir() / "configs/eval/mc_sample.jsonl").string();
  auto tasks = eval::parse_eval_tasks("niah,niah-multivalue,passkey,kv,ppl-by-position,mc:" + mc);
  REQUIRE(tasks.size() == 6);
  CHECK(tasks[5].name == "mc:mc_sample");

  eval::EvalSettings s;
  s.lengths = {700, 1100};
  s.depths = {0.0, 1.0};
  s.trials = 2;
  s.ppl_length = 64;
  s.ppl_buckets = 4;
  s.train_length = 32;
  {
    auto short_settings = s;
    short_settings.lengths = {700, 150};
    CHECK_THROWS_WITH(eval::EvalSuite(tasks, short_settings, tok, filler),
                      Contains("context length 150 is too short"));
    auto no_lengths = s;
    no_lengths.lengths.clear();
    CHECK_THROWS_WITH(eval::EvalSuite(tasks, no_lengths, tok, filler), Contains("--lengths"));
  }
  std::vector<std::string> warnings;
  eval::EvalSuite suite(tasks, s, tok, filler,
                        [&](const std::string& w) { warnings.push_back(w); });
  CHECK_FALSE(warnings.empty());  // the 3-sentence filler is shorter than the prompts

  const auto names = eval::unique_model_names({"/runs/a/student/", "/other/student", "teacher"});
  CHECK(names == std::vector<std::string>({"student", "student-2", "teacher"}));
  auto results = suite.empty_results({{"copy", "/x/copy"}, {"reader", "/x/reader"}}, "2026-01-01");
  test::CopyModel copy;
  test::NeedleReader reader(tok, 4);
  suite.run_model(copy, "copy", results);
  suite.run_model(reader, "reader", results);
  CHECK(results["format"] == "halo-eval/1");
  const auto& t = results["tasks"];
  CHECK(t["niah"]["lengths"].get<std::vector<int64_t>>() == std::vector<int64_t>({700, 1100}));
  CHECK(t["niah"]["accuracy"]["copy"].get<std::vector<std::vector<double>>>() ==
        std::vector<std::vector<double>>({{1, 1}, {1, 1}}));
  CHECK(t["niah-multivalue"]["accuracy"]["reader"][1][0] == 1.0);
  CHECK(t["passkey"]["accuracy"]["copy"].get<std::vector<double>>() ==
        std::vector<double>({1, 1}));  // the gate's task
  CHECK(t["passkey"]["trials"] == 2);
  CHECK(t["kv"]["accuracy"]["reader"].size() == 2);
  CHECK(t["ppl-by-position"]["bucket_edges"].get<std::vector<int64_t>>() ==
        std::vector<int64_t>({0, 16, 32, 48, 64}));
  CHECK(t["ppl-by-position"]["train_length"] == 32);
  CHECK(t["ppl-by-position"]["loss"]["copy"][0].get<double>() == Approx(std::log(300.0)));
  CHECK(t["ppl-by-position"]["tokens"]["copy"][3] == 4 * 15);
  CHECK(t["mc:mc_sample"]["items"].get<size_t>() == suite.tasks()[5].items.size());
  CHECK(t["mc:mc_sample"]["acc"].contains("reader"));

  const auto md = eval::eval_results_markdown(results);
  // Sections in the order the tasks were given (passkey before kv, mc last).
  CHECK(md.find("## niah\n") < md.find("## niah-multivalue"));
  CHECK(md.find("## passkey") < md.find("## kv"));
  CHECK(md.find("## ppl-by-position") < md.find("## mc:mc_sample"));
  CHECK_THAT(md, Contains("## niah\n") && Contains("| copy | 700 | 100.0% | 100.0% | 100.0% |") &&
                     Contains("## ppl-by-position") && Contains("| 0-15 | 5.704 | 0.000 |") &&
                     Contains("## mc:mc_sample") && Contains("training length 32"));

  // Pictures: a heatmap per model per niah task, one loss chart with every model, retrieval
  // curves; PNG copies when rsvg-convert is on PATH.
  test::TempDir dir;
  const auto files = eval::write_eval_charts(results, dir.path());
  size_t svgs = 0, pngs = 0;
  for (const auto& f : files) {
    CHECK(fs::file_size(f) > 0);
    svgs += f.extension() == ".svg";
    pngs += f.extension() == ".png";
  }
  CHECK(svgs == 2 * 2 + 1 + 2);  // niah and niah-multivalue x 2 models, ppl, passkey, kv
  CHECK((pngs == 0 || pngs == svgs));
  auto read = [&](const std::string& name) {
    std::ifstream in(dir.path() / name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  CHECK_THAT(read("niah-copy.svg"), Contains("<svg") && Contains("niah: copy") &&
                                        Contains("1.00") && Contains("700") && Contains("100%"));
  CHECK_THAT(read("niah-multivalue-reader.svg"), Contains("niah-multivalue: reader"));
  CHECK_THAT(read("ppl-by-position.svg"), Contains("Loss by position") && Contains("copy") &&
                                              Contains("reader") && Contains("training length"));
  CHECK_THAT(read("passkey.svg"), Contains("passkey accuracy"));
  CHECK(eval::length_label(2048) == "2K");
  CHECK(eval::length_label(3 << 20) == "3M");
  CHECK(eval::length_label(1000) == "1000");
}
