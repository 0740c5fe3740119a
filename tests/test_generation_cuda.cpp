// [cuda] The inference cache on the GPU: a HypeNet with kernel-sized Lightning heads (the CUDA
// kernels: chunked prefill with initial states and packed segments, and the decode kernel) and
// attention layers with HyPE's logit scale, in bfloat16 and float32: prefill in chunks plus cached
// decode against one full forward, a ragged batch against its sequences alone, and the engine's
// greedy tokens on CUDA float32 against the CPU's; fused input projections against unfused ones.
#include <catch2/catch.hpp>

#include "halo/inference/generation_engine.h"
#include "hypenet/fused_projection.h"
#include "ops/decode_linear/decode_linear.h"
#include "ops/rms_norm/rms_norm_row_block.h"
#include "tests/generation_fixtures.h"
#include "tests/test_util.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>

using namespace halo;

using test::kernel_sized_hybrid;

TEST_CASE("cached prefill and decode on CUDA equal one full forward", "[cuda][generate]") {
  auto ids = at::randint(257, {1, 300}, at::kLong);
  auto ref32 = kernel_sized_hybrid(at::kFloat, at::kCUDA);
  auto lm = kernel_sized_hybrid(at::kBFloat16, at::kCUDA);
  c10::InferenceMode guard;
  auto full32 = ref32.forward(ids.cuda()).logits;
  for (int64_t chunk : {1, 7, 64, 300}) {
    const double e = test::max_rel_error(test::chunked_logits(ref32, ids, chunk), full32);
    INFO("float32 chunk " << chunk << ": " << e);
    CHECK(e <= 1e-3);  // TF32 matmuls allowed, as the model's own CUDA test
  }
  auto full = lm.forward(ids.cuda()).logits;
  // The bfloat16 model against float32, over the same 300 positions: the scale of bf16 noise.
  const double noise = test::max_rel_error(full, full32);
  for (int64_t chunk : {1, 7, 64, 300}) {
    const double e = test::max_rel_error(test::chunked_logits(lm, ids, chunk), full);
    INFO("bfloat16 chunk " << chunk << ": " << e << " (bf16 vs float32: " << noise << ")");
    CHECK(e <= std::max(2e-2, 2.0 * noise));
  }
}

TEST_CASE("a ragged batch on CUDA equals each sequence alone", "[cuda][generate]") {
  std::vector<at::Tensor> seqs;
  for (int64_t n : {5, 70, 133}) seqs.push_back(at::randint(257, {1, n + 6}, at::kLong));
  std::vector<hypenet::CausalLM> models = {kernel_sized_hybrid(at::kFloat, at::kCUDA),
                                           kernel_sized_hybrid(at::kBFloat16, at::kCUDA)};
  c10::InferenceMode guard;
  for (auto& lm : models) {
    const auto dtype = lm.output_embedding().scalar_type();
    auto got = test::ragged_logits(lm, seqs, 6, /*chunk=*/64);
    for (size_t s = 0; s < seqs.size(); ++s) {
      auto alone = lm.forward(seqs[s].cuda()).logits;
      const double e = test::max_rel_error(got[s], alone);
      INFO(c10::toString(dtype) << " sequence " << s << ": " << e);
      CHECK(e <= (dtype == at::kFloat ? 1e-3 : 2e-2));
    }
  }
}

TEST_CASE("the engine on CUDA float32 gives the CPU's greedy tokens", "[cuda][generate]") {
  auto cpu = kernel_sized_hybrid(at::kFloat, at::kCPU);
  auto gpu = kernel_sized_hybrid(at::kFloat, at::kCUDA);
  std::vector<inference::GenerationRequest> requests;
  for (int64_t n : {9, 100, 40}) {
    inference::GenerationRequest r;
    auto p = at::randint(257, {n}, at::kLong);
    r.prompt.assign(p.data_ptr<int64_t>(), p.data_ptr<int64_t>() + n);
    r.max_new_tokens = 8;
    requests.push_back(r);
  }
  inference::EngineOptions o;
  o.prefill_chunk = 32;
  auto a = inference::GenerationEngine(cpu, o).generate(requests);
  auto b = inference::GenerationEngine(gpu, o).generate(requests);
  for (size_t i = 0; i < requests.size(); ++i) CHECK(a[i].tokens == b[i].tokens);
}

// Decode speed (issue 16): fused q, k, v and MLP gate / up products, and the opt-in decode
// kernels (ops/decode_linear for the few rows of a decode step, RMSNorm's block per row), on the
// GPU in bfloat16 give the plain model's logits within bf16 noise, full and decoded one token at
// a time (other summation orders, so not bitwise).
TEST_CASE("fused projections and the decode kernels on CUDA give the plain logits",
          "[cuda][generate][fused]") {
  auto ids = at::randint(257, {1, 96}, at::kLong);
  auto plain = kernel_sized_hybrid(at::kBFloat16, at::kCUDA);
  auto fused = kernel_sized_hybrid(at::kBFloat16, at::kCUDA);
  auto ref32 = kernel_sized_hybrid(at::kFloat, at::kCUDA);
  c10::InferenceMode guard;
  CHECK(hypenet::fuse_projections_for_inference(*fused.student) == 6);
  const auto full = plain.forward(ids.cuda()).logits;  // cuBLAS, warp-per-row RMSNorm
  const double noise = test::max_rel_error(full, ref32.forward(ids.cuda()).logits);
  const bool linear_before = ops::decode_linear_kernel_enabled();
  const bool row_block_before = ops::rms_norm_row_block_enabled();
  for (bool kernels : {false, true}) {
    ops::set_decode_linear_kernel_enabled(kernels);
    ops::set_rms_norm_row_block_enabled(kernels);
    for (auto* lm : {&plain, &fused}) {
      const double e_full = test::max_rel_error(lm->forward(ids.cuda()).logits, full);
      const double e_step = test::max_rel_error(test::chunked_logits(*lm, ids, 1), full);
      INFO("decode kernels " << kernels << (lm == &fused ? ", fused" : ", plain") << ": full "
                             << e_full << ", one token at a time " << e_step
                             << " (bf16 vs float32: " << noise << ")");
      CHECK(e_full <= std::max(2e-2, 2.0 * noise));
      CHECK(e_step <= std::max(2e-2, 2.0 * noise));
    }
  }
  ops::set_decode_linear_kernel_enabled(linear_before);
  ops::set_rms_norm_row_block_enabled(row_block_before);
}
