// HypeNet: weight transfer from a transformers-made Qwen3 teacher, exact teacher reproduction
// when every layer stays attention, Lightning layers against an independent float64
// step-by-step computation, checkpoint round trips, and config validation messages.
#include <catch2/catch.hpp>

#include "common/error.h"
#include "halo/losses/chunked_kl.h"
#include "hypenet/causal_lm.h"
#include "hypenet/checkpoint_files.h"
#include "hypenet/hypenet_checkpoint.h"
#include "hypenet/lightning_mixer.h"
#include "hypenet/weight_transfer.h"
#include "tests/test_util.h"

#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <optional>

using namespace halo;
using Catch::Matchers::Contains;
using hypenet::MixerType;

namespace {

const std::string kTeacher = "/qwen3/untied_gqa2_sharded";  // 3 layers, 4 q / 2 kv heads, d 24

std::vector<MixerType> mixers(const std::string& letters) {
  std::vector<MixerType> m;
  for (char c : letters) m.push_back(c == 'A' ? MixerType::kAttention : MixerType::kLightning);
  return m;
}

// Independent float64 computation of one Lightning layer, step by step, from its parameters:
// projections, per-head RMSNorm, RoPE (rotate-half, theta from the config), GQA repetition, the
// recurrence S_t = exp(-lambda) S_{t-1} + k_t^T v_t, o_t = scale q_t S_t, output norm and gate.
at::Tensor lightning_layer_by_steps(hypenet::LightningMixerImpl& m, const hypenet::HypeNetConfig& c,
                                    const at::Tensor& h /* [1, T, D] float64 */) {
  const int64_t T = h.size(1), H = c.lightning_nh, Hkv = c.lightning_nkv, d = c.lightning_head_dim;
  auto x = h[0];  // [T, D]
  auto lin = [](const at::Tensor& a, torch::nn::Linear& l) {
    auto y = at::matmul(a, l->weight.t());
    return l->bias.defined() ? y + l->bias : y;
  };
  auto norm = [&](const at::Tensor& a, const at::Tensor& w) {
    return w * a / at::sqrt(a.pow(2).mean(-1, true) + c.base.rms_norm_eps);
  };
  auto q = lin(x, m.q_proj).view({T, H, d});
  auto k = lin(x, m.k_proj).view({T, Hkv, d});
  auto v = lin(x, m.v_proj).view({T, Hkv, d});
  if (c.lightning_use_qk_norm) {
    q = norm(q, m.q_norm->weight);
    k = norm(k, m.k_norm->weight);
  }
  if (c.lightning_use_rope) {
    auto rope = [&](const at::Tensor& a) {
      auto out = a.clone();
      for (int64_t t = 0; t < T; ++t) {
        for (int64_t i = 0; i < d / 2; ++i) {
          const double inv = 1.0 / std::pow(c.base.rope_theta, double(2 * i) / double(d));
          const double cs = std::cos(t * inv), sn = std::sin(t * inv);
          auto x1 = a.select(0, t).select(-1, i), x2 = a.select(0, t).select(-1, i + d / 2);
          out.select(0, t).select(-1, i).copy_(x1 * cs - x2 * sn);
          out.select(0, t).select(-1, i + d / 2).copy_(x2 * cs + x1 * sn);
        }
      }
      return out;
    };
    q = rope(q);
    k = rope(k);
  }
  k = k.repeat_interleave(H / Hkv, 1);
  v = v.repeat_interleave(H / Hkv, 1);
  auto o = at::zeros({T, H, d}, h.options());
  for (int64_t head = 0; head < H; ++head) {
    // ALiBi slope of this head (HALO_NOTES 2.1), recomputed here from the formula.
    const double log2n = std::log2(static_cast<double>(H));
    REQUIRE(std::floor(log2n) == log2n);  // the test uses a power-of-two head count
    const double start = std::pow(2.0, -std::pow(2.0, -(log2n - 3)));
    const double lambda = std::pow(start, head + 1);
    auto S = at::zeros({d, d}, h.options());
    for (int64_t t = 0; t < T; ++t) {
      S = std::exp(-lambda) * S + at::outer(k[t][head], v[t][head]);
      o[t][head] = c.lightning_scale_value() * at::matmul(q[t][head], S);
    }
  }
  auto out = o.reshape({T, H * d});
  if (c.lightning_use_output_norm) out = norm(out, m.o_norm->weight);
  if (c.lightning_use_output_gate) out = out * at::sigmoid(lin(x, m.z_proj));
  return lin(out, m.o_proj).unsqueeze(0);
}

}  // namespace

TEST_CASE("HypeNet with every layer attention, RoPE and no gates, reproduces the teacher",
          "[hypenet][hf]") {
  const std::string dir = test::fixtures_dir() + kTeacher;
  auto teacher = hypenet::load_qwen3(dir, at::kFloat, at::kCPU);
  auto config = hypenet::hypenet_config_like_release(teacher->config(), mixers("AAA"));
  config.attn_use_rope = true;
  config.attn_use_output_gate = false;
  auto student = hypenet::hypenet_from_teacher(teacher, config, 1);
  auto ids = at::randint(teacher->config().vocab_size, {2, 37}, at::kLong);
  c10::InferenceMode guard;
  CHECK(at::equal(student->forward(ids).logits, teacher->forward(ids).logits));
}

TEST_CASE("HypeNet Lightning layers match a float64 step-by-step computation", "[hypenet][hf]") {
  const std::string dir = test::fixtures_dir() + kTeacher;
  auto teacher = hypenet::load_qwen3(dir, at::kDouble, at::kCPU);
  for (const std::string layout : {"LAL", "LLL"}) {
    for (bool expand : {true, false}) {
      SECTION(layout + (expand ? " expanded kv" : " repeated kv")) {
        auto config = hypenet::hypenet_config_like_release(teacher->config(), mixers(layout));
        if (!expand) {
          config.expand_kv_proj = false;
          config.lightning_nkv = teacher->config().num_key_value_heads;
        }
        auto student = hypenet::hypenet_from_teacher(teacher, config, 2);
        student->to(at::kDouble);
        auto ids = at::randint(config.base.vocab_size, {1, 75}, at::kLong);
        hypenet::ForwardOptions opt;
        opt.capture_mixers = true;
        c10::InferenceMode guard;
        auto out = student->forward(ids, opt);
        for (size_t i = 0; i < layout.size(); ++i) {
          if (layout[i] != 'L') continue;
          auto expect =
              lightning_layer_by_steps(*student->layer(i).lightning, config, out.mixer_inputs[i]);
          const double err = test::max_rel_error(out.mixer_outputs[i], expect);
          INFO("layer " << i << ": " << err);
          CHECK(err <= 1e-10);
        }
      }
    }
  }
}

TEST_CASE("convert copies and expands the teacher's weights as HALO does", "[hypenet][hf]") {
  const std::string dir = test::fixtures_dir() + kTeacher;
  auto teacher = hypenet::load_qwen3(dir, at::kFloat, at::kCPU);
  auto config = hypenet::hypenet_config_like_release(teacher->config(), mixers("LAL"));
  auto student = hypenet::hypenet_from_teacher(teacher, config, 3);
  auto t = teacher->named_parameters();
  auto s = student->named_parameters();
  const int64_t d = teacher->config().head_dim, D = teacher->config().hidden_size;
  // Lightning layer 0: k rows of kv head j appear for query heads 2j and 2j+1.
  auto tk = t["model.layers.0.self_attn.k_proj.weight"].view({2, d, D});
  auto sk = s["model.layers.0.self_attn.k_proj.weight"].view({4, d, D});
  CHECK(at::equal(sk[0], tk[0]));
  CHECK(at::equal(sk[1], tk[0]));
  CHECK(at::equal(sk[2], tk[1]));
  CHECK(at::equal(sk[3], tk[1]));
  CHECK(at::equal(s["model.layers.0.self_attn.q_proj.weight"],
                  t["model.layers.0.self_attn.q_proj.weight"]));
  CHECK(at::equal(s["model.layers.0.self_attn.k_norm.weight"],
                  t["model.layers.0.self_attn.k_norm.weight"]));
  CHECK(at::equal(s["model.layers.0.self_attn.o_norm.weight"], at::ones({4 * d})));
  CHECK(s.contains("model.layers.0.self_attn.z_proj.weight"));
  const double z_std = s["model.layers.0.self_attn.z_proj.weight"].std().item<double>();
  CHECK(z_std == Approx(0.02).epsilon(0.1));
  // Attention layer 1: the teacher's weights plus a new output gate.
  CHECK(at::equal(s["model.layers.1.self_attn.k_proj.weight"],
                  t["model.layers.1.self_attn.k_proj.weight"]));
  CHECK(s.contains("model.layers.1.self_attn.o_gate.weight"));
  CHECK(at::equal(s["model.layers.1.mlp.up_proj.weight"], t["model.layers.1.mlp.up_proj.weight"]));
  CHECK(at::equal(s["lm_head.weight"], t["lm_head.weight"]));
}

// Issue 18 item 4: the student's head is a choice (student.lm_head, convert --lm-head).
TEST_CASE("the student's LM head: tied drops an untied teacher's head, untied keeps or copies one",
          "[hypenet][hf][lm_head]") {
  using hypenet::student_head_tied;
  CHECK(student_head_tied("tied", false, "k"));
  CHECK(student_head_tied("tied", true, "k"));
  CHECK_FALSE(student_head_tied("teacher", false, "k"));
  CHECK(student_head_tied("teacher", true, "k"));
  CHECK_FALSE(student_head_tied("untied", true, "k"));
  CHECK_THROWS_WITH(student_head_tied("both", true, "student.lm_head"),
                    Contains("student.lm_head") && Contains("tied, teacher or untied"));

  // The untied teacher: its head differs from its embedding, so the checks below can fail.
  auto untied = hypenet::load_qwen3(test::fixtures_dir() + kTeacher, at::kFloat, at::kCPU);
  REQUIRE_FALSE(untied->config().tie_word_embeddings);
  auto t = untied->named_parameters();
  REQUIRE_FALSE(at::equal(t["lm_head.weight"], t["model.embed_tokens.weight"]));
  auto config = hypenet::hypenet_config_like_release(untied->config(), mixers("LAL"));
  config.base.tie_word_embeddings = true;  // the authors' HypeNet-9B from Qwen3-8B
  auto tied = hypenet::hypenet_from_teacher(untied, config, 3);
  auto s = tied->named_parameters();
  CHECK_FALSE(s.contains("lm_head.weight"));
  CHECK(at::equal(s["model.embed_tokens.weight"], t["model.embed_tokens.weight"]));
  CHECK(tied->output_embedding().data_ptr() == s["model.embed_tokens.weight"].data_ptr());
  // Saved and loaded: no lm_head.weight in the files, tied in config.json.
  test::TempDir dir;
  hypenet::save_hypenet(dir.str(), tied, at::kFloat, 0);
  CHECK_FALSE(hypenet::CheckpointFiles(dir.str()).contains("lm_head.weight"));
  auto back = hypenet::load_hypenet(dir.str(), at::kFloat, at::kCPU);
  CHECK(back->config().base.tie_word_embeddings);
  CHECK(at::equal(back->output_embedding(), t["model.embed_tokens.weight"]));

  // Kept untied ("teacher"): the head is the teacher's.
  config.base.tie_word_embeddings = false;
  auto kept = hypenet::hypenet_from_teacher(untied, config, 3);
  CHECK(at::equal(kept->named_parameters()["lm_head.weight"], t["lm_head.weight"]));

  // "untied" with a tied teacher: a head of its own, starting as a copy of the embedding.
  auto tied_teacher =
      hypenet::load_qwen3(test::fixtures_dir() + "/qwen3/tied_mha", at::kFloat, at::kCPU);
  REQUIRE(tied_teacher->config().tie_word_embeddings);
  auto c2 = hypenet::hypenet_config_like_release(tied_teacher->config(), mixers("LA"));
  c2.base.tie_word_embeddings = false;
  auto own = hypenet::hypenet_from_teacher(tied_teacher, c2, 3);
  auto o = own->named_parameters();
  REQUIRE(o.contains("lm_head.weight"));
  CHECK(at::equal(o["lm_head.weight"], o["model.embed_tokens.weight"]));
  CHECK(o["lm_head.weight"].data_ptr() != o["model.embed_tokens.weight"].data_ptr());
}

TEST_CASE("HypeNet checkpoints round-trip bit-exactly and load through CausalLM", "[hypenet][hf]") {
  const std::string dir = test::fixtures_dir() + kTeacher;
  auto teacher = hypenet::load_qwen3(dir, at::kFloat, at::kCPU);
  auto config = hypenet::hypenet_config_like_release(teacher->config(), mixers("LAL"));
  config.attn_logits_scaling_a = 500.0;
  auto student = hypenet::hypenet_from_teacher(teacher, config, 4);
  test::TempDir out;
  hypenet::save_hypenet(out.str(), student, at::kFloat, 20000);
  CHECK(hypenet::CheckpointFiles(out.str()).sharded());
  auto loaded = hypenet::load_causal_lm(out.str(), at::kFloat, at::kCPU);
  REQUIRE(loaded.model_type == "hypenet");
  auto a = student->named_parameters(), b = loaded.student->named_parameters();
  REQUIRE(a.size() == b.size());
  for (const auto& item : a) {
    INFO(item.key());
    CHECK(at::equal(item.value(), b[item.key()]));
  }
  CHECK(loaded.hypenet->to_json() == config.to_json());
  auto ids = at::randint(config.base.vocab_size, {1, 30}, at::kLong);
  c10::InferenceMode guard;
  CHECK(at::equal(loaded.forward(ids).logits, student->forward(ids).logits));
  // The logit scale is on at inference, off in training mode.
  hypenet::ForwardOptions train;
  train.training = true;
  CHECK_FALSE(at::equal(student->forward(ids, train).logits, student->forward(ids).logits));
}

// Independent float64 computation of a HypeNet attention layer at inference: projections,
// per-head RMSNorm, no RoPE (NoPE), q times HyPE's s_t = log(t + a) / log(a) at position t,
// causal softmax(q k^T / sqrt(d)) v with GQA, the sigmoid output gate, o_proj.
at::Tensor hype_attention_by_formula(hypenet::Qwen3AttentionImpl& m, int64_t Hq, int64_t Hkv,
                                     int64_t d, double a, double eps,
                                     const at::Tensor& h /* [1, T, D] */) {
  const int64_t T = h.size(1);
  auto rms = [eps](const at::Tensor& x, const at::Tensor& w) {
    return x * at::rsqrt(x.pow(2).mean(-1, true) + eps) * w;
  };
  auto q = rms(at::linear(h, m.q_proj->weight).view({T, Hq, d}), m.q_norm->weight);
  auto k = rms(at::linear(h, m.k_proj->weight).view({T, Hkv, d}), m.k_norm->weight);
  auto v = at::linear(h, m.v_proj->weight).view({T, Hkv, d});
  auto pos = at::arange(T, at::kDouble);
  q = q * (at::log(pos + a) / std::log(a)).view({T, 1, 1});
  k = k.repeat_interleave(Hq / Hkv, 1);
  v = v.repeat_interleave(Hq / Hkv, 1);
  auto scores = at::einsum("thd,shd->hts", {q, k}) / std::sqrt(double(d));  // [Hq, T, T]
  auto future = at::ones({T, T}, at::kBool).triu(1);
  auto p = at::softmax(scores.masked_fill(future, -INFINITY), -1);
  auto o = at::einsum("hts,shd->thd", {p, v}).reshape({1, T, Hq * d});
  o = o * at::sigmoid(at::linear(h, m.o_gate->weight));
  return at::linear(o, m.o_proj->weight);
}

TEST_CASE("HyPE's attention layers follow the formula: NoPE, q scaled by log(t+a)/log(a)",
          "[hypenet][hf]") {
  const std::string dir = test::fixtures_dir() + kTeacher;
  auto teacher = hypenet::load_qwen3(dir, at::kDouble, at::kCPU);
  const auto& tc = teacher->config();
  auto config = hypenet::hypenet_config_like_release(tc, mixers("LAL"));
  for (double a : {500.0, 4.0}) {
    config.attn_logits_scaling_a = a;
    auto student = hypenet::hypenet_from_teacher(teacher, config, 6);
    student->to(at::kDouble);
    auto ids = at::randint(tc.vocab_size, {1, 40}, at::kLong);
    hypenet::ForwardOptions opt;
    opt.capture_mixers = true;
    c10::InferenceMode guard;
    auto out = student->forward(ids, opt);
    auto& attn = *student->layer(1).attention;
    auto want = hype_attention_by_formula(attn, tc.num_attention_heads, tc.num_key_value_heads,
                                          tc.head_dim, a, tc.rms_norm_eps, out.mixer_inputs[1]);
    INFO("a = " << a << " max diff " << (out.mixer_outputs[1] - want).abs().max().item<double>()
                << " max " << want.abs().max().item<double>());
    CHECK(at::allclose(out.mixer_outputs[1], want, 1e-10, 1e-10));
    // Without the scale (training) the same formula with s_t = 1 must not match it.
    hypenet::ForwardOptions train = opt;
    train.training = true;
    auto plain = student->forward(ids, train);
    CHECK_FALSE(at::allclose(plain.mixer_outputs[1], want, 1e-6, 1e-6));
  }
}

TEST_CASE("malformed HypeNet configs are rejected with the file and key", "[hypenet][config]") {
  hypenet::Qwen3Config base;
  base.vocab_size = 50;
  base.hidden_size = 32;
  base.intermediate_size = 40;
  base.num_hidden_layers = 3;
  base.num_attention_heads = 4;
  base.num_key_value_heads = 2;
  base.head_dim = 8;
  auto good = hypenet::hypenet_config_like_release(base, mixers("LAL")).to_json();
  test::TempDir dir;
  const std::string path = dir.str() + "/config.json";
  auto expect = [&](nlohmann::json j, const std::string& what) {
    std::ofstream(path) << j.dump();
    REQUIRE_THROWS_AS(hypenet::HypeNetConfig::from_json_file(path), HaloError);
    REQUIRE_THROWS_WITH(hypenet::HypeNetConfig::from_json_file(path),
                        Contains(path) && Contains(what));
  };
  REQUIRE_NOTHROW(hypenet::HypeNetConfig::from_json(good, "good"));
  auto j = good;
  j["mixer_types"] = {"attn", "lightning-attn"};
  expect(j, "'mixer_types' lists 2 mixers but 'num_hidden_layers' is 3");
  j = good;
  j["mixer_types"][1] = "mamba";
  expect(j, "unknown mixer \"mamba\"");
  j = good;
  j["lightning_nkv"] = 3;
  expect(j, "'lightning_nh' (4) must be a multiple of 'lightning_nkv' (3)");
  j = good;
  j["num_key_value_heads"] = 3;
  expect(j, "num_key_value_heads");
  j = good;
  j["lightning_scale"] = "2";
  expect(j, "lightning_scale");
  j = good;
  j["lightning_use_short_conv"] = true;
  expect(j, "lightning_use_short_conv");
  j = good;
  j["attn_logits_scaling"] = "yarn 4";
  expect(j, "attn_logits_scaling");
  j = good;
  j.erase("mixer_types");
  expect(j, "mixer_types");
  j = good;
  j["model_type"] = "qwen3";
  expect(j, "model_type");
}

TEST_CASE("a float32 HypeNet under autocast: stage 2's loss and gradients run in bfloat16",
          "[hypenet][losses]") {
  // What a bfloat16 stage does on the GPU (CUDA autocast, float32 master weights), on the CPU's
  // autocast: the norms hand their consumers bfloat16, the final hidden state reaches the
  // chunked KL in bfloat16 beside the float32 head, and the gradients land in float32 close to
  // those of the float32 step.
  const std::string dir = test::fixtures_dir() + kTeacher;
  auto teacher = hypenet::load_qwen3(dir, at::kFloat, at::kCPU);
  auto config = hypenet::hypenet_config_like_release(teacher->config(), mixers("LAL"));
  auto ids = at::randint(config.base.vocab_size, {2, 70}, at::kLong);
  hypenet::ForwardOptions fo;
  fo.return_hidden = true;
  fo.skip_logits = true;
  at::Tensor teacher_hidden;
  {
    torch::NoGradGuard no_grad;
    teacher_hidden = teacher->forward(ids, fo).hidden.reshape({-1, config.base.hidden_size});
  }
  fo.training = true;
  const auto mask = at::ones({ids.numel()}, at::kBool);
  auto step = [&](bool autocast) {
    auto student = hypenet::hypenet_from_teacher(teacher, config, 3);
    at::Tensor hidden, loss;
    {
      std::optional<test::Autocast> scope;
      if (autocast) scope.emplace(at::kCPU);
      hidden = student->forward(ids, fo).hidden;
      loss = losses::chunked_kl_loss(
          hidden.reshape({-1, config.base.hidden_size}), student->output_embedding(),
          teacher_hidden, teacher->output_embedding(), mask, 64, static_cast<double>(ids.numel()));
    }
    CHECK(hidden.scalar_type() == (autocast ? at::kBFloat16 : at::kFloat));
    loss.backward();
    auto q = student->layer(0).lightning->q_proj->weight.grad();
    REQUIRE(q.defined());
    CHECK(q.scalar_type() == at::kFloat);
    return std::make_pair(loss.item<double>(), q.clone());
  };
  const auto [l32, g32] = step(false);
  const auto [l16, g16] = step(true);
  INFO("loss float32 " << l32 << ", autocast " << l16);
  CHECK(std::isfinite(l16));
  CHECK(std::abs(l16 - l32) <= 5e-2 * std::abs(l32));
  CHECK(test::max_rel_error(g16, g32) <= 1e-1);
}

TEST_CASE("a Lightning mixer follows its decay rates when they are changed or replaced",
          "[hypenet]") {
  // The mixer keeps the rates it hands the op on the device of its last call (so that on a GPU
  // neither the copy nor the op's positivity check waits on every call); a change in place or a
  // new tensor (whose version starts at 0 again) must reach the op.
  auto teacher = hypenet::load_qwen3(test::fixtures_dir() + kTeacher, at::kFloat, at::kCPU);
  auto config = hypenet::hypenet_config_like_release(teacher->config(), mixers("LLL"));
  hypenet::LightningMixer mixer(config);
  auto x = at::randn({2, 40, config.base.hidden_size});
  torch::NoGradGuard no_grad;
  const auto slopes = mixer->decay.clone();
  const auto y_slopes = mixer->forward(x, nullptr);
  mixer->decay.mul_(0.25);
  const auto y_quarter = mixer->forward(x, nullptr);
  CHECK(test::max_rel_error(y_quarter, y_slopes) > 1e-2);
  // Not bit-exact: the CPU matmuls may split their work differently from call to call (one run
  // in 20 differed in the last bits with two busy cores); a stale rate differs by > 1e-2.
  mixer->decay = slopes * 0.25;
  CHECK(test::max_rel_error(mixer->forward(x, nullptr), y_quarter) <= 1e-5);
  mixer->decay = slopes.clone();
  CHECK(test::max_rel_error(mixer->forward(x, nullptr), y_slopes) <= 1e-5);
  mixer->decay.fill_(0.f);
  CHECK_THROWS_WITH(mixer->forward(x, nullptr), Contains("decay must be positive"));
}
