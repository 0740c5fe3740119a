// [cuda] The decode step replayed from a CUDA graph (halo/inference/decode_graph.h) against the
// same step run eagerly: a HypeNet (Lightning layers with the decode kernel, an attention layer
// with HyPE's scale) and a Qwen3 teacher, bfloat16 and float32, three rows prefilled to
// different lengths. All rows live: the logits must be identical, token after token. A row left
// out (the engine's finished sequence) keeps its length and the others still match the eager
// step. The engine with graphs gives the tokens it gives without them.
#include <catch2/catch.hpp>

#include "halo/inference/decode_graph.h"
#include "halo/inference/generation_engine.h"
#include "hypenet/parameter_init.h"
#include "tests/generation_fixtures.h"
#include "tests/test_util.h"

#include <c10/core/InferenceMode.h>

using namespace halo;

namespace {

hypenet::CausalLM hybrid(at::ScalarType dtype) {
  return test::kernel_sized_hybrid(dtype, at::kCUDA, /*seed=*/21);
}

hypenet::CausalLM teacher(at::ScalarType dtype) {
  hypenet::Qwen3ForCausalLM t(test::kernel_sized_teacher_config());
  hypenet::init_parameters_like_hf(*t, 0.1, 22);
  t->to(at::kCUDA, dtype);
  t->eval();
  hypenet::CausalLM lm;
  lm.model_type = "qwen3";
  lm.base = test::kernel_sized_teacher_config();
  lm.qwen3 = t;
  return lm;
}

// Prefills row r of `cache` with prompts[r].
void prefill(hypenet::CausalLM& lm, hypenet::HybridCache& cache,
             const std::vector<at::Tensor>& prompts) {
  for (int64_t r = 0; r < static_cast<int64_t>(prompts.size()); ++r) {
    const int64_t n = prompts[r].size(1);
    auto step = hypenet::make_cache_step({r}, {0}, {n}, at::kCUDA);
    lm.forward(prompts[r].cuda(), {}, &cache, &step);
  }
}

// The eager decode step of `rows` (ids per row) on `cache`: logits [N, V].
at::Tensor eager_step(hypenet::CausalLM& lm, hypenet::HybridCache& cache,
                      const std::vector<int64_t>& rows, const std::vector<int64_t>& ids) {
  std::vector<int64_t> starts;
  for (auto r : rows) starts.push_back(cache.length(r));
  auto step =
      hypenet::make_cache_step(rows, starts, std::vector<int64_t>(rows.size(), 1), at::kCUDA);
  hypenet::ForwardOptions fo;
  fo.logits_to_keep = 1;
  auto in = at::tensor(ids).view({-1, 1}).cuda();
  return lm.forward(in, fo, &cache, &step).logits.view({static_cast<int64_t>(rows.size()), -1});
}

void graph_matches_eager(hypenet::CausalLM& lm) {
  REQUIRE(inference::DecodeGraph::available(lm));
  const auto dtype = lm.output_embedding().scalar_type();
  const int64_t V = lm.base.vocab_size;
  std::vector<at::Tensor> prompts;
  for (int64_t n : {5, 40, 17}) prompts.push_back(at::randint(V, {1, n}, at::kLong));
  hypenet::HybridCache eager(lm.cache_layout(), 3, 64, dtype, at::kCUDA);
  hypenet::HybridCache graphed(lm.cache_layout(), 3, 64, dtype, at::kCUDA);
  prefill(lm, eager, prompts);
  prefill(lm, graphed, prompts);
  inference::DecodeGraph graph(lm, graphed);
  for (int64_t r = 0; r < 3; ++r) CHECK(graphed.length(r) == prompts[r].size(1));  // untouched

  std::vector<int64_t> ids = {1, 2, 3};
  for (int t = 0; t < 6; ++t) {
    auto want = eager_step(lm, eager, {0, 1, 2}, ids);
    auto got = graph.step(ids, {1, 1, 1}).clone();
    INFO(c10::toString(dtype)
         << " step " << t << ": max abs difference "
         << (got.to(at::kFloat) - want.to(at::kFloat)).abs().max().item<float>());
    CHECK(at::equal(got, want));
    auto greedy = graph.greedy_tokens();
    CHECK(greedy == std::vector<int64_t>{want[0].argmax().item<int64_t>(),
                                         want[1].argmax().item<int64_t>(),
                                         want[2].argmax().item<int64_t>()});
    for (int64_t r = 0; r < 3; ++r) CHECK(graphed.length(r) == eager.length(r));
    ids = greedy;  // no upload: the graph already holds them
  }
  // Chained greedy replays (the benchmark's loop) follow the same tokens.
  for (int t = 0; t < 3; ++t) {
    auto got = graph.step_greedy().clone();
    auto want = eager_step(lm, eager, {0, 1, 2}, ids);
    CHECK(at::equal(got, want));
    ids = graph.greedy_tokens();
  }
  // Row 1 leaves: its length stays; rows 0 and 2 match an eager step of those two rows (other
  // GEMM shapes: equal up to rounding).
  const int64_t kept = graphed.length(1);
  for (int t = 0; t < 3; ++t) {
    auto want = eager_step(lm, eager, {0, 2}, {ids[0], ids[2]});
    auto got = graph.step({ids[0], 999, ids[2]}, {1, 0, 1}).clone();
    const double e0 = test::max_rel_error(got[0], want[0]);
    const double e2 = test::max_rel_error(got[2], want[1]);
    INFO(c10::toString(dtype) << " step " << t << " with row 1 idle: " << e0 << ", " << e2);
    CHECK(e0 <= (dtype == at::kFloat ? 1e-3 : 2e-2));
    CHECK(e2 <= (dtype == at::kFloat ? 1e-3 : 2e-2));
    CHECK(graphed.length(1) == kept);
    auto g = graph.greedy_tokens();
    ids = {want[0].argmax().item<int64_t>(), 0, want[1].argmax().item<int64_t>()};
    (void)g;
  }
}

}  // namespace

TEST_CASE("a graph-replayed decode step equals the eager step (HypeNet)", "[cuda][graph]") {
  c10::InferenceMode guard;
  for (auto dtype : {at::kBFloat16, at::kFloat}) {
    auto lm = hybrid(dtype);
    graph_matches_eager(lm);
  }
}

TEST_CASE("a graph-replayed decode step equals the eager step (Qwen3)", "[cuda][graph]") {
  c10::InferenceMode guard;
  for (auto dtype : {at::kBFloat16, at::kFloat}) {
    auto lm = teacher(dtype);
    graph_matches_eager(lm);
  }
}

TEST_CASE("the engine with CUDA graphs gives the tokens it gives without", "[cuda][graph]") {
  std::vector<inference::GenerationRequest> requests;
  for (int64_t n : {9, 100, 40, 3, 77}) {
    inference::GenerationRequest r;
    auto p = at::randint(257, {n}, at::kLong);
    r.prompt.assign(p.data_ptr<int64_t>(), p.data_ptr<int64_t>() + n);
    r.max_new_tokens = 6 + n % 5;  // rows finish at different steps and are refilled
    requests.push_back(r);
  }
  for (auto make : {&hybrid, &teacher}) {
    auto lm = make(at::kFloat);
    inference::EngineOptions o;
    o.batch_size = 2;
    o.prefill_chunk = 32;
    o.cuda_graph = false;
    auto eager = inference::GenerationEngine(lm, o).generate(requests);
    o.cuda_graph = true;
    auto graphed = inference::GenerationEngine(lm, o).generate(requests);
    for (size_t i = 0; i < requests.size(); ++i) {
      INFO(lm.model_type << " request " << i);
      CHECK(graphed[i].tokens == eager[i].tokens);
    }
  }
}
