// `halo-distill bench ...`: timing commands (never run as tests). `bench prefill` times the
// teacher's forward over one long prompt, as a generation prefill does (logits of the last
// token only), and reports tokens/s, achieved TFLOP/s and the ratio to the compute floor.
#include "common/error.h"
#include <ATen/CPUGeneratorImpl.h>
#include "hypenet/causal_lm.h"
#include "tools/bench_timer.h"
#include "tools/commands.h"
#include "tools/device_arg.h"
#include "tools/size_arg.h"

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <sstream>

namespace halo::tools {

namespace {

struct PrefillOptions {
  std::string model;
  std::string tokens = "4096,16384";
  std::string device = "cuda";
  std::string dtype = "bfloat16";
  int warmup = 2;
  int iters = 5;
  double peak_tflops = 781.0;  // 8192^3 bf16 matmul from LibTorch on an H100 (HALO_NOTES 5)
  bool json = false;
};

// Forward flops of one T-token prefill: 2 flops per weight per token for every projection
// (embedding lookup excluded, LM head for the last token only), plus the mixers: causal softmax
// attention 2 * T^2 * Hq * d per layer (QK^T and PV over the causal half); a Lightning layer
// about (4*C*d + 4*d^2) * H per token with chunk C = 64 (HALO_NOTES 2.1), plus its output gate.
double prefill_flops(const hypenet::CausalLM& m, int64_t T) {
  const auto& c = m.base;
  const double D = c.hidden_size, q = c.num_attention_heads * c.head_dim,
               kv = c.num_key_value_heads * c.head_dim, I = c.intermediate_size;
  double total = 2.0 * D * c.vocab_size;
  for (int64_t layer = 0; layer < c.num_hidden_layers; ++layer) {
    const bool lightning =
        m.hypenet && m.hypenet->mixer_types[layer] == hypenet::MixerType::kLightning;
    if (!lightning) {
      const double gate = m.hypenet && m.hypenet->attn_use_output_gate ? D * q : 0.0;
      total += 2.0 * (D * q + 2 * D * kv + q * D + gate + 3 * D * I) * T + 2.0 * T * double(T) * q;
    } else {
      const auto& h = *m.hypenet;
      const double lq = h.lightning_nh * h.lightning_head_dim,
                   lkv = h.lightning_nkv * h.lightning_head_dim, d = h.lightning_head_dim;
      const double gate = h.lightning_use_output_gate ? D * lq : 0.0;
      total += 2.0 * (D * lq + 2 * D * lkv + lq * D + gate + 3 * D * I) * T +
               (4.0 * 64 * d + 4.0 * d * d) * h.lightning_nh * T;
    }
  }
  return total;
}

void run_prefill(const PrefillOptions& o) {
  const auto device = parse_device(o.device);
  const auto dtype = hypenet::parse_dtype(o.dtype, "--dtype");
  auto model = hypenet::load_causal_lm(o.model, dtype, device);
  const auto& c = model.base;
  c10::InferenceMode guard;
  nlohmann::json results = nlohmann::json::array();
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1234);
  for (int64_t T : parse_count_list(o.tokens, "--tokens")) {
    auto ids = at::randint(c.vocab_size, {1, T}, gen, at::kLong).to(device);
    hypenet::ForwardOptions fo;
    fo.logits_to_keep = 1;
    auto ms = time_runs(device, o.warmup, o.iters, [&] { model.forward(ids, fo); });
    std::sort(ms.begin(), ms.end());
    const double median = median_of(ms);
    const double flops = prefill_flops(model, T);
    const double tflops = flops / (median * 1e-3) / 1e12;
    const double floor_ms = flops / (o.peak_tflops * 1e12) * 1e3;
    results.push_back({{"tokens", T}, {"median_ms", median}, {"min_ms", ms.front()},
                       {"max_ms", ms.back()}, {"tokens_per_s", T / (median * 1e-3)},
                       {"tflops", tflops}, {"compute_floor_ms", floor_ms},
                       {"ratio_to_floor", median / floor_ms}});
  }
  if (o.json) {
    std::cout << nlohmann::json({{"model", o.model}, {"device", o.device}, {"dtype", o.dtype},
                                 {"iters", o.iters}, {"results", results}})
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << "prefill " << o.model << " (" << o.dtype << ", " << o.device << ", median of "
            << o.iters << ")\n";
  std::cout << "  tokens   median ms   tokens/s   TFLOP/s   floor ms   x floor\n";
  for (const auto& r : results) {
    std::cout << std::fixed << "  " << std::setw(6) << r["tokens"].get<int64_t>() << std::setw(12)
              << std::setprecision(2) << r["median_ms"].get<double>() << std::setw(11)
              << std::setprecision(0) << r["tokens_per_s"].get<double>() << std::setw(10)
              << std::setprecision(1) << r["tflops"].get<double>() << std::setw(11)
              << std::setprecision(2) << r["compute_floor_ms"].get<double>() << std::setw(10)
              << std::setprecision(2) << r["ratio_to_floor"].get<double>() << "\n";
  }
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto* bench = app.add_subcommand("bench", "Timing commands (medians after warm-up)");
  bench->require_subcommand(1);
  auto opts = std::make_shared<PrefillOptions>();
  auto* cmd = bench->add_subcommand(
      "prefill", "Time the teacher's forward over one random prompt of each length (logits of "
                 "the last token only, as generation's prefill): tokens/s, TFLOP/s, floor ratio");
  cmd->add_option("--model", opts->model, "Model folder")->required();
  cmd->add_option("--tokens", opts->tokens, "Prompt lengths, comma separated")
      ->capture_default_str();
  cmd->add_option("--device", opts->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--dtype", opts->dtype, "float32 or bfloat16")->capture_default_str();
  cmd->add_option("--warmup", opts->warmup, "Untimed runs first")->capture_default_str();
  cmd->add_option("--iters", opts->iters, "Timed runs (median reported)")->capture_default_str();
  cmd->add_option("--peak-tflops", opts->peak_tflops,
                  "Matmul ceiling for the compute floor (781: measured bf16 8192^3 on H100)")
      ->capture_default_str();
  cmd->add_flag("--json", opts->json, "Print JSON");
  cmd->callback([opts] { run_prefill(*opts); });
  add_bench_lightning_command(*bench);
  add_bench_loader_command(*bench);
  add_bench_kl_command(*bench);
  add_bench_stage2_command(*bench);
  add_bench_decode_command(*bench);
}

}  // namespace halo::tools
