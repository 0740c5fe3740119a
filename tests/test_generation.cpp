// The inference cache and the generation engine on the CPU (float32): prefill in chunks plus
// cached decode give the logits of one full forward at every position (Qwen3 and HypeNet of
// several layouts, HyPE's logit scale on); a ragged batch equals its sequences run alone;
// sampling is reproducible and batch-independent; bad requests get clear errors.
#include <catch2/catch.hpp>

#include "common/error.h"
#include "halo/eval/language_model.h"
#include "halo/eval/retrieval_eval.h"
#include "halo/inference/generation_engine.h"
#include "halo/inference/memory_plan.h"
#include "hypenet/fused_projection.h"
#include "hypenet/hybrid_cache.h"
#include "tests/eval_fixtures.h"
#include "tests/generation_fixtures.h"
#include "tests/test_util.h"

#include <c10/core/InferenceMode.h>

#include <map>

using namespace halo;
using hypenet::MixerType;

namespace {

// A HypeNet of the given layout (from a random teacher) with HyPE's logit scale "hype 8" (a small
// a, so the scale moves noticeably over a few dozen positions).
hypenet::CausalLM tiny_hypenet(const std::vector<MixerType>& mixers, uint64_t seed) {
  auto teacher = test::tiny_teacher(seed, static_cast<int64_t>(mixers.size()));
  auto config = hypenet::hypenet_config_like_release(teacher->config(), mixers);
  config.attn_logits_scaling_a = 8.0;
  auto s = hypenet::hypenet_from_teacher(teacher, config, seed + 1);
  hypenet::init_parameters_like_hf(*s, 0.1, seed + 2);  // the new gates too
  s->eval();
  return eval::causal_lm_of(s);
}

hypenet::HybridCache make_cache(hypenet::CausalLM& lm, int64_t rows, int64_t capacity) {
  return hypenet::HybridCache(lm.cache_layout(), rows, capacity, at::kFloat, at::kCPU);
}

}  // namespace

TEST_CASE("prefill in chunks and cached decode equal one full forward", "[generate]") {
  test::use_one_thread();
  c10::InferenceMode guard;
  const std::vector<std::vector<MixerType>> layouts = {
      {MixerType::kLightning, MixerType::kAttention, MixerType::kLightning},
      {MixerType::kAttention, MixerType::kLightning, MixerType::kLightning, MixerType::kAttention},
      {MixerType::kLightning, MixerType::kLightning},
  };
  auto ids = at::randint(0, 300, {1, 70}, at::make_generator<at::CPUGeneratorImpl>(3), at::kLong);
  for (size_t li = 0; li < layouts.size(); ++li) {
    auto lm = tiny_hypenet(layouts[li], 40 + li);
    auto full = lm.forward(ids).logits;  // [1, 70, V]
    for (int64_t chunk : {1, 7, 64, 70}) {
      const double err = test::max_rel_error(test::chunked_logits(lm, ids, chunk), full);
      INFO(test::mixer_letters(layouts[li]) << " chunk " << chunk << ": " << err);
      CHECK(err <= 1e-4);
    }
  }
  // The teacher (every layer attention, RoPE) through the same cache.
  auto teacher = eval::causal_lm_of(test::tiny_teacher(7));
  auto full = teacher.forward(ids).logits;
  for (int64_t chunk : {1, 7, 64, 70}) {
    CHECK(test::max_rel_error(test::chunked_logits(teacher, ids, chunk), full) <= 1e-4);
  }
}

TEST_CASE("HyPE's logit scale is applied at absolute positions in a cached forward", "[generate]") {
  test::use_one_thread();
  auto lm = tiny_hypenet({MixerType::kAttention, MixerType::kLightning}, 60);
  // The same weights without the scale compute something else: the chunked comparison below
  // would catch a cache that restarted positions at each chunk.
  auto unscaled_config = *lm.hypenet;
  unscaled_config.attn_logits_scaling_a.reset();
  hypenet::HypeNetForCausalLM unscaled(unscaled_config);
  {
    torch::NoGradGuard no_grad;
    auto src = lm.student->named_parameters();
    for (auto& p : unscaled->named_parameters()) p.value().copy_(src[p.key()]);
  }
  unscaled->eval();
  c10::InferenceMode guard;
  auto ids = at::randint(0, 300, {1, 40}, at::make_generator<at::CPUGeneratorImpl>(4), at::kLong);
  auto full = lm.forward(ids).logits;
  CHECK(test::max_rel_error(unscaled->forward(ids).logits, full) > 1e-3);
  CHECK(test::max_rel_error(test::chunked_logits(lm, ids, 9), full) <= 1e-4);
}

TEST_CASE("a ragged batch on one cache equals each sequence run alone", "[generate]") {
  test::use_one_thread();
  c10::InferenceMode guard;
  auto lm = tiny_hypenet({MixerType::kLightning, MixerType::kAttention, MixerType::kLightning}, 70);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(5);
  std::vector<at::Tensor> seqs;  // prompt + 4 continuation tokens each
  for (int64_t n : {5, 23, 41}) seqs.push_back(at::randint(0, 300, {1, n + 4}, gen, at::kLong));
  auto got = test::ragged_logits(lm, seqs, 4, /*chunk=*/7);
  for (size_t s = 0; s < seqs.size(); ++s) {
    INFO("sequence " << s);
    CHECK(test::max_rel_error(got[s], lm.forward(seqs[s]).logits) <= 1e-4);
  }
}

TEST_CASE("the engine's greedy tokens equal the uncached reference, batched or alone",
          "[generate]") {
  test::use_one_thread();
  auto lm = tiny_hypenet({MixerType::kAttention, MixerType::kLightning, MixerType::kLightning}, 80);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(6);
  std::vector<inference::GenerationRequest> requests;
  for (int64_t n : {3, 17, 9, 30}) {
    inference::GenerationRequest r;
    auto p = at::randint(0, 300, {n}, gen, at::kLong);
    r.prompt.assign(p.data_ptr<int64_t>(), p.data_ptr<int64_t>() + n);
    r.max_new_tokens = 6;
    requests.push_back(r);
  }
  inference::EngineOptions o;
  o.batch_size = 2;  // four requests through two rows: rows are reused as sequences finish
  o.prefill_chunk = 8;
  auto batched = inference::GenerationEngine(lm, o).generate(requests);
  for (size_t i = 0; i < requests.size(); ++i) {
    auto prompt = at::tensor(requests[i].prompt, at::kLong).unsqueeze(0);
    auto ref = eval::greedy_decode_uncached(lm, prompt, 6);
    std::vector<int64_t> expect(ref.data_ptr<int64_t>(), ref.data_ptr<int64_t>() + 6);
    CHECK(batched[i].tokens == expect);
    CHECK(batched[i].finish == inference::FinishReason::kLength);
    CHECK(batched[i].prompt_tokens == static_cast<int64_t>(requests[i].prompt.size()));
    inference::EngineOptions one = o;
    one.batch_size = 1;
    CHECK(inference::GenerationEngine(lm, one).generate({requests[i]})[0].tokens == expect);
  }
}

TEST_CASE("sampling: seeded, batch-independent, top-k 1 and tiny top-p are greedy", "[generate]") {
  test::use_one_thread();
  auto lm = tiny_hypenet({MixerType::kLightning, MixerType::kAttention}, 90);
  std::vector<inference::GenerationRequest> requests(3);
  for (size_t i = 0; i < 3; ++i) {
    requests[i].prompt = {static_cast<int64_t>(10 + i), 20, 30, static_cast<int64_t>(40 + i)};
    requests[i].max_new_tokens = 12;
    requests[i].sampling.temperature = 1.5;
    requests[i].sampling.seed = 11;
  }
  inference::EngineOptions o;
  auto a = inference::GenerationEngine(lm, o).generate(requests);
  auto b = inference::GenerationEngine(lm, o).generate(requests);
  for (size_t i = 0; i < 3; ++i) CHECK(a[i].tokens == b[i].tokens);
  // Draws come from (seed, request index): one row at a time gives the same tokens.
  o.batch_size = 1;
  auto c = inference::GenerationEngine(lm, o).generate(requests);
  for (size_t i = 0; i < 3; ++i) CHECK(c[i].tokens == a[i].tokens);
  requests[1].sampling.seed = 12;
  CHECK(inference::GenerationEngine(lm, o).generate(requests)[1].tokens != a[1].tokens);

  auto greedy = requests[0];
  greedy.sampling = {};
  const auto expect = inference::GenerationEngine(lm, o).generate({greedy})[0].tokens;
  auto top1 = requests[0];
  top1.sampling.top_k = 1;
  CHECK(inference::GenerationEngine(lm, o).generate({top1})[0].tokens == expect);
  auto nucleus = requests[0];
  nucleus.sampling.top_p = 1e-6;
  CHECK(inference::GenerationEngine(lm, o).generate({nucleus})[0].tokens == expect);
}

TEST_CASE("sampling distribution: temperature, top-k and top-p as transformers applies them",
          "[generate]") {
  auto logits = at::tensor(std::vector<float>{2.0f, 1.0f, 0.0f, -1.0f, 3.0f});
  inference::SamplingParams p;
  p.temperature = 2.0;
  auto plain = inference::sampling_distribution(logits, p);
  CHECK(at::allclose(plain, at::softmax(logits / 2.0, 0)));
  p.top_k = 2;  // keeps ids 4 and 0
  auto topk = inference::sampling_distribution(logits, p);
  CHECK(topk[1].item<float>() == 0.0f);
  CHECK(topk[4].item<float>() + topk[0].item<float>() == Approx(1.0));
  p.top_k = 0;
  p.temperature = 1.0;
  // softmax = [.2312, .0851, .0313, .0115, .6285]: top-p 0.7 keeps ids 4 and 0 (0.86),
  // top-p 0.6 keeps id 4 alone (0.63 >= 0.6).
  p.top_p = 0.7;
  auto kept = inference::sampling_distribution(logits, p).gt(0);
  CHECK(kept.equal(at::tensor(std::vector<int64_t>{1, 0, 0, 0, 1}).to(at::kBool)));
  p.top_p = 0.6;
  kept = inference::sampling_distribution(logits, p).gt(0);
  CHECK(kept.equal(at::tensor(std::vector<int64_t>{0, 0, 0, 0, 1}).to(at::kBool)));
}

TEST_CASE("EOS and stop strings end a sequence, its text leaves them out", "[generate]") {
  test::use_one_thread();
  auto lm = tiny_hypenet({MixerType::kLightning, MixerType::kAttention}, 100);
  test::ByteTokenizer tok;
  inference::GenerationRequest r;
  r.prompt = tok.encode("the key is");
  r.max_new_tokens = 10;
  inference::EngineOptions o;
  o.detokenize = [&](const std::vector<int64_t>& ids) { return tok.decode(ids); };
  auto free_run = inference::GenerationEngine(lm, o).generate({r})[0];
  REQUIRE(free_run.tokens.size() == 10);
  CHECK(free_run.finish == inference::FinishReason::kLength);
  CHECK(free_run.text == tok.decode(free_run.tokens));
  // EOS: the first time free_run.tokens[3] comes up.
  const int64_t eos = free_run.tokens[3];
  const auto first = std::find(free_run.tokens.begin(), free_run.tokens.end(), eos);
  o.eos_ids = {eos};
  auto ended = inference::GenerationEngine(lm, o).generate({r})[0];
  CHECK(ended.finish == inference::FinishReason::kEos);
  CHECK(ended.tokens == std::vector<int64_t>(free_run.tokens.begin(), first + 1));
  CHECK(ended.text == tok.decode(std::vector<int64_t>(free_run.tokens.begin(), first)));
  // A stop string: the text of tokens 2..3 (bytes); the text stops before it.
  o.eos_ids.clear();
  const auto stop = tok.decode({free_run.tokens[2], free_run.tokens[3]});
  r.stop = {stop};
  auto stopped = inference::GenerationEngine(lm, o).generate({r})[0];
  CHECK(stopped.finish == inference::FinishReason::kStop);
  const auto full_text = tok.decode(free_run.tokens);
  CHECK(stopped.text == full_text.substr(0, full_text.find(stop)));
  CHECK(stopped.tokens.size() <= 4);
}

TEST_CASE("bad generation requests are refused with the value and the limit", "[generate]") {
  auto lm = tiny_hypenet({MixerType::kLightning, MixerType::kAttention}, 110);
  inference::EngineOptions o;
  inference::GenerationEngine engine(lm, o);
  auto refused = [&](inference::GenerationRequest r, const std::string& what) {
    r.source = "prompts.jsonl:3";
    try {
      engine.generate({r});
    } catch (const HaloError& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find("prompts.jsonl:3") != std::string::npos);
      CHECK(std::string(e.what()).find(what) != std::string::npos);
      return;
    }
    FAIL("accepted: " << what);
  };
  inference::GenerationRequest ok;
  ok.prompt = {1, 2, 3};
  ok.max_new_tokens = 4;
  auto r = ok;
  r.prompt.clear();
  refused(r, "the prompt is empty");
  r = ok;
  r.prompt[1] = 300;
  refused(r, "prompt token 1 is id 300; the model's vocabulary has ids 0..299");
  r = ok;
  r.sampling.temperature = -0.5;
  refused(r, "temperature is -0.5; expected a number >= 0");
  r = ok;
  r.sampling.top_p = 1.5;
  refused(r, "top_p is 1.5; expected a number in (0, 1]");
  r = ok;
  r.sampling.top_p = 0.0;
  refused(r, "top_p is 0");
  r = ok;
  r.stop = {"x"};
  refused(r, "stop strings need a tokenizer");
  inference::EngineOptions small = o;
  small.capacity = 5;
  try {
    inference::GenerationEngine(lm, small).generate({ok});
    FAIL("over capacity accepted");
  } catch (const HaloError& e) {
    CHECK(std::string(e.what()).find("= 7 tokens exceeds the cache capacity of 5") !=
          std::string::npos);
  }
  // A cache far larger than any machine's memory: refused with the bytes, before allocating.
  inference::EngineOptions huge = o;
  huge.capacity = int64_t(1) << 40;
  try {
    inference::GenerationEngine(lm, huge).generate({ok});
    FAIL("huge cache accepted");
  } catch (const HaloError& e) {
    const std::string m = e.what();
    CHECK(m.find("out of memory") != std::string::npos);
    CHECK(m.find("KV cache") != std::string::npos);
    CHECK(m.find("free") != std::string::npos);
  }
}

TEST_CASE("cache bytes: KV per token of the attention layers, one state per Lightning layer",
          "[generate]") {
  auto lm = tiny_hypenet({MixerType::kLightning, MixerType::kAttention, MixerType::kAttention}, 5);
  const auto b = hypenet::cache_bytes(lm.cache_layout(), 3, 100, at::kBFloat16);
  // 2 attention layers x (k, v) x 2 kv heads x head dim 8 x 2 bytes
  CHECK(b.kv_bytes_per_token == 2 * 2 * 2 * 8 * 2);
  CHECK(b.kv == b.kv_bytes_per_token * 3 * 100);
  // 1 Lightning layer x 3 rows x 4 heads x 8 x 8 float32
  CHECK(b.state == 3 * 4 * 8 * 8 * 4);
  auto cache = make_cache(lm, 3, 100);
  // Keys and values past a row's length start at zero: a decode step of rows of different
  // lengths reads them under a mask, and 0 x NaN of uninitialised memory is NaN (the [cuda]
  // ragged test failed so in bf16 on an H100 with at::empty caches).
  for (int64_t l = 0; l < 3; ++l) {
    if (cache.kv(l).k.defined()) {
      CHECK(cache.kv(l).k.eq(0).all().item<bool>());
      CHECK(cache.kv(l).v.eq(0).all().item<bool>());
    }
  }
  int64_t allocated = 0;
  for (int64_t l = 0; l < 3; ++l) {
    if (cache.kv(l).k.defined()) allocated += 2 * cache.kv(l).k.numel() * 4;
    if (cache.state(l).defined()) allocated += cache.state(l).numel() * 4;
  }
  CHECK(allocated == hypenet::cache_bytes(lm.cache_layout(), 3, 100, at::kFloat).total());
}

// Decode speed (issue 16): q, k, v (+ output gate) and the MLP's gate and up as one product.
// The fused model gives the unfused model's logits, full and cached one token at a time; its
// parameters (what a checkpoint writes) are unchanged; weights replaced after fusing are
// refused instead of silently ignored.
TEST_CASE("fused input projections give the unfused logits and keep the checkpoint",
          "[generate][fused]") {
  test::use_one_thread();
  c10::InferenceMode guard;
  auto ids = at::randint(0, 300, {1, 33}, at::make_generator<at::CPUGeneratorImpl>(9), at::kLong);
  const std::vector<MixerType> layout = {MixerType::kLightning, MixerType::kAttention,
                                         MixerType::kLightning};
  struct Case {
    std::string name;
    hypenet::CausalLM plain, fused;
    torch::nn::Module* fused_root;
    int64_t modules;  // attention / Lightning mixers plus MLPs
  };
  auto teacher_plain = eval::causal_lm_of(test::tiny_teacher(7));
  auto teacher_fused = eval::causal_lm_of(test::tiny_teacher(7));
  auto hybrid_plain = tiny_hypenet(layout, 60);
  auto hybrid_fused = tiny_hypenet(layout, 60);
  std::vector<Case> cases;
  cases.push_back({"qwen3", teacher_plain, teacher_fused, teacher_fused.qwen3.ptr().get(), 6});
  cases.push_back({"hypenet", hybrid_plain, hybrid_fused, hybrid_fused.student.ptr().get(), 6});
  for (auto& c : cases) {
    INFO(c.name);
    const auto before = c.fused_root->named_parameters();
    std::map<std::string, at::Tensor> copies;
    for (const auto& p : before) copies[p.key()] = p.value().clone();
    CHECK(hypenet::fuse_projections_for_inference(*c.fused_root) == c.modules);
    CHECK(hypenet::fuse_projections_for_inference(*c.fused_root) == 0);  // already fused
    // Every parameter: same name, shape and values as before fusing.
    const auto after = c.fused_root->named_parameters();
    REQUIRE(after.size() == copies.size());
    for (const auto& p : after) {
      INFO(p.key());
      REQUIRE(copies.count(p.key()) == 1);
      CHECK(at::equal(p.value(), copies[p.key()]));
    }
    const auto full = c.plain.forward(ids).logits;  // [1, 33, V]
    CHECK(test::max_rel_error(c.fused.forward(ids).logits, full) <= 1e-5);
    CHECK(test::max_rel_error(test::chunked_logits(c.fused, ids, 1), full) <= 1e-4);
    CHECK(test::max_rel_error(test::chunked_logits(c.fused, ids, 7), full) <= 1e-4);
    // Module::to replaces every parameter's data: the fused buffer would be stale.
    c.fused_root->to(at::kDouble);
    CHECK_THROWS_WITH(c.fused.forward(ids), Catch::Contains("no longer a view of the fused"));
  }
}
