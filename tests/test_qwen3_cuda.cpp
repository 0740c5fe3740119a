// [cuda] tests of the Qwen3 teacher (run on the GPU host; the binary skips without a GPU):
// bfloat16 CUDA logits against float32 CPU logits, and float32 CUDA against transformers.
#include <catch2/catch.hpp>

#include "hypenet/qwen3_checkpoint.h"
#include "hypenet/safetensors.h"
#include "tests/test_util.h"

using namespace halo;

TEST_CASE("Qwen3 on CUDA matches the CPU model", "[cuda][qwen3]") {
  const std::string root = test::fixtures_dir() + "/qwen3";
  for (const std::string name : {"tied_mha", "untied_gqa2_sharded", "untied_gqa4_bias"}) {
    SECTION(name) {
      const std::string dir = root + "/" + name;
      hypenet::SafetensorsFile ref_file(dir + "/reference.safetensors");
      auto ids = ref_file.load_raw("ids").unsqueeze(0);
      auto hf = ref_file.load("logits", at::kFloat);
      c10::InferenceMode guard;
      auto cpu = hypenet::load_qwen3(dir, at::kFloat, at::kCPU)->forward(ids).logits.squeeze(0);
      auto cuda32 = hypenet::load_qwen3(dir, at::kFloat, at::kCUDA)
                        ->forward(ids.to(at::kCUDA)).logits.squeeze(0).cpu();
      auto cuda16 = hypenet::load_qwen3(dir, at::kBFloat16, at::kCUDA)
                        ->forward(ids.to(at::kCUDA)).logits.squeeze(0).cpu();
      const double e32 = test::max_rel_error(cuda32, hf);
      const double e16 = test::max_rel_error(cuda16, cpu);
      INFO(name << ": float32 CUDA vs transformers " << e32 << ", bfloat16 CUDA vs float32 CPU "
                << e16);
      // TF32 may be used by cuBLAS for float32 matmuls: allow its precision, not more.
      CHECK(e32 <= 1e-3);
      CHECK(e16 <= 2e-2);
      CHECK(cuda16.isfinite().all().item<bool>());
    }
  }
}

TEST_CASE("Qwen3 bfloat16 on CUDA is close to float32 CPU at a longer length", "[cuda][qwen3]") {
  hypenet::Qwen3Config c;
  c.vocab_size = 1000;
  c.hidden_size = 256;
  c.intermediate_size = 512;
  c.num_hidden_layers = 4;
  c.num_attention_heads = 8;
  c.num_key_value_heads = 2;
  c.head_dim = 64;
  c.initializer_range = 0.05;
  test::TempDir dir;
  {
    hypenet::Qwen3ForCausalLM m(c);
    hypenet::init_qwen3_random(m, 11);
    hypenet::save_qwen3(dir.str(), m, at::kFloat, 0);
  }
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  auto ids = at::randint(c.vocab_size, {2, 700}, gen, at::kLong);
  c10::InferenceMode guard;
  auto cpu = hypenet::load_qwen3(dir.str(), at::kFloat, at::kCPU)->forward(ids).logits;
  auto gpu = hypenet::load_qwen3(dir.str(), at::kBFloat16, at::kCUDA)
                 ->forward(ids.to(at::kCUDA)).logits.cpu();
  const double err = test::max_rel_error(gpu, cpu);
  INFO("bfloat16 CUDA vs float32 CPU: " << err);
  CHECK(err <= 2e-2);
}
