// Parity of the C++ Qwen3 teacher with Hugging Face transformers: each fixture folder (made by
// tests/fixtures/make_qwen3_fixtures.py) is loaded and its float32 logits compared with the
// ones transformers computed, max|diff| / max|ref| <= 1e-4.
#include <catch2/catch.hpp>

#include "hypenet/qwen3_checkpoint.h"
#include "hypenet/safetensors.h"
#include "tests/test_util.h"

#include <filesystem>

using namespace halo;

namespace {

struct Reference {
  at::Tensor ids;     // [T] int64
  at::Tensor logits;  // [T, V] float32
};

Reference load_reference(const std::string& dir) {
  hypenet::SafetensorsFile f(dir + "/reference.safetensors");
  return {f.load_raw("ids"), f.load("logits", at::kFloat)};
}

}  // namespace

TEST_CASE("Qwen3 float32 logits match transformers on every fixture", "[qwen3][hf]") {
  const std::string root = test::fixtures_dir() + "/qwen3";
  for (const std::string name : {"tied_mha", "untied_gqa2_sharded", "untied_gqa4_bias"}) {
    SECTION(name) {
      const std::string dir = root + "/" + name;
      auto ref = load_reference(dir);
      auto model = hypenet::load_qwen3(dir, at::kFloat, at::kCPU);
      c10::InferenceMode guard;
      auto logits = model->forward(ref.ids.unsqueeze(0)).logits.squeeze(0);
      REQUIRE(logits.sizes() == ref.logits.sizes());
      const double err = test::max_rel_error(logits, ref.logits);
      INFO(name << ": max|diff|/max|ref| = " << err);
      CHECK(err <= 1e-4);
      CHECK(ref.logits.abs().max().item<double>() > 1e-3);  // the reference is not degenerate
    }
  }
}

TEST_CASE("Sharded fixture really is sharded and tied fixture has no lm_head", "[qwen3][hf]") {
  const std::string root = test::fixtures_dir() + "/qwen3";
  CHECK(std::filesystem::exists(root + "/untied_gqa2_sharded/model.safetensors.index.json"));
  hypenet::SafetensorsFile tied(root + "/tied_mha/model.safetensors");
  CHECK_FALSE(tied.contains("lm_head.weight"));
}

TEST_CASE("Qwen3 bfloat16 CPU logits stay close to float32", "[qwen3][hf]") {
  const std::string dir = test::fixtures_dir() + "/qwen3/untied_gqa2_sharded";
  auto ref = load_reference(dir);
  auto model = hypenet::load_qwen3(dir, at::kBFloat16, at::kCPU);
  c10::InferenceMode guard;
  auto logits = model->forward(ref.ids.unsqueeze(0)).logits.squeeze(0);
  CHECK(logits.scalar_type() == at::kBFloat16);
  CHECK(test::max_rel_error(logits, ref.logits) <= 2e-2);
}

TEST_CASE("Mixer capture returns each layer's attention input and output", "[qwen3][hf]") {
  const std::string dir = test::fixtures_dir() + "/qwen3/untied_gqa4_bias";
  auto ref = load_reference(dir);
  auto model = hypenet::load_qwen3(dir, at::kFloat, at::kCPU);
  c10::InferenceMode guard;
  hypenet::ForwardOptions opt;
  opt.capture_mixers = true;
  auto ids = ref.ids.unsqueeze(0);
  auto out = model->forward(ids, opt);
  const auto L = model->config().num_hidden_layers;
  REQUIRE(out.mixer_inputs.size() == size_t(L));
  REQUIRE(out.mixer_outputs.size() == size_t(L));
  // Capturing does not change the result.
  CHECK(at::equal(out.logits, model->forward(ids).logits));
  // Layer 0's captured input is RMSNorm(embedding) and its output is the attention applied to
  // it: recompute both from the parts.
  auto layer0 = model->model->layers[0]->as<hypenet::Qwen3DecoderLayerImpl>();
  auto x = at::embedding(model->model->embed_tokens->weight, ids);
  auto h = layer0->input_layernorm(x);
  CHECK(at::allclose(out.mixer_inputs[0], h));
  auto rope = hypenet::rotary_tables(at::arange(ids.size(1)), model->config().head_dim,
                                     model->config().rope_theta, at::kFloat);
  CHECK(at::allclose(out.mixer_outputs[0], layer0->self_attn(h, hypenet::AttentionInputs{&rope, {}})));
  CHECK(out.mixer_inputs[L - 1].sizes() == x.sizes());
}

TEST_CASE("logits_to_keep returns the last positions only", "[qwen3][hf]") {
  const std::string dir = test::fixtures_dir() + "/qwen3/tied_mha";
  auto ref = load_reference(dir);
  auto model = hypenet::load_qwen3(dir, at::kFloat, at::kCPU);
  c10::InferenceMode guard;
  hypenet::ForwardOptions opt;
  opt.logits_to_keep = 3;
  auto logits = model->forward(ref.ids.unsqueeze(0), opt).logits.squeeze(0);
  REQUIRE(logits.size(0) == 3);
  CHECK(test::max_rel_error(logits, ref.logits.narrow(0, ref.logits.size(0) - 3, 3)) <= 1e-4);
}
