// `halo-distill bench kl`: times stage 2's chunked full-vocabulary KL (halo/losses/chunked_kl.h),
// forward + backward, for a list of chunk sizes at one (tokens, vocab, hidden) shape, and prints
// the median time, tokens/s, the matmul TFLOP/s (12 N V D flops: 2 logits matmuls forward,
// 2 recomputed + 2 gradient matmuls backward) and, on CUDA, the peak extra memory next to the
// size of one full float32 [N, V] logits tensor. Default shape: 12 x 512 tokens of a
// Qwen3-1.7B-shaped head (V 151936, D 2048), the stage-2 step of issue 5.
#include "common/error.h"
#include "halo/losses/chunked_kl.h"
#include "hypenet/qwen3_checkpoint.h"
#include "tools/bench_timer.h"
#include "tools/commands.h"
#include "tools/device_arg.h"
#include "tools/device_memory.h"

#include <torch/autograd.h>

#include <iomanip>
#include <iostream>
#include <sstream>

namespace halo::tools {

namespace {

struct KlBenchOptions {
  std::string device = "cuda";
  std::string dtype = "bfloat16";
  int64_t tokens = 12 * 512, vocab = 151936, hidden = 2048;
  std::string chunks = "1024,2048,4096";
  int warmup = 2, iters = 5;
  bool json = false;
};

void run_kl(const KlBenchOptions& o) {
  const auto device = parse_device(o.device);
  const auto dtype = hypenet::parse_dtype(o.dtype, "--dtype");
  HALO_CHECK(o.tokens >= 1 && o.vocab >= 1 && o.hidden >= 1,
             "bench kl: --tokens, --vocab and --hidden must be >= 1");
  auto opts = at::TensorOptions().device(device).dtype(dtype);
  auto sh = at::randn({o.tokens, o.hidden}, opts).requires_grad_(true);          // [N, D]
  auto sw = (at::randn({o.vocab, o.hidden}, opts) * 0.02).requires_grad_(true);  // [V, D]
  auto th = at::randn({o.tokens, o.hidden}, opts);                               // [N, D]
  auto tw = at::randn({o.vocab, o.hidden}, opts) * 0.02;                         // [V, D]
  auto mask = at::ones({o.tokens}, opts.dtype(at::kBool));
  const double flops = 12.0 * double(o.tokens) * double(o.vocab) * double(o.hidden);
  const double full_logits = 4.0 * double(o.tokens) * double(o.vocab);
  nlohmann::json results = nlohmann::json::array();
  std::stringstream list(o.chunks);
  std::string item;
  while (std::getline(list, item, ',')) {
    const int64_t chunk = std::stoll(item);
    auto step = [&] {
      auto loss = losses::chunked_kl_loss(sh, sw, th, tw, mask, chunk, double(o.tokens));
      torch::autograd::grad({loss}, {sh, sw});
    };
    int64_t before = 0;
    if (device.is_cuda()) {
      step();  // warm the allocator
      before = device_allocated_bytes(device);
      reset_device_peak(device);
    }
    const double ms = median_of(time_runs(device, o.warmup, o.iters, step));
    results.push_back({{"chunk_tokens", chunk},
                       {"median_ms", ms},
                       {"tokens_per_s", double(o.tokens) / (ms * 1e-3)},
                       {"tflops", flops / (ms * 1e-3) / 1e12},
                       {"peak_extra_bytes", before < 0 ? -1 : device_peak_bytes(device) - before}});
  }
  if (o.json) {
    std::cout << results.dump(2) << "\n";
    return;
  }
  std::cout << "chunked KL fwd+bwd (" << o.device << ", " << o.dtype << ", N " << o.tokens << ", V "
            << o.vocab << ", D " << o.hidden << ", median of " << o.iters
            << "; one float32 [N, V] = " << std::fixed << std::setprecision(0) << full_logits / 1e6
            << " MB)\n";
  std::cout << "  chunk   median ms    tokens/s   TFLOP/s   peak extra MB\n";
  for (const auto& r : results) {
    const auto peak = r["peak_extra_bytes"].get<int64_t>();
    std::cout << "  " << std::setw(5) << r["chunk_tokens"].get<int64_t>() << std::setprecision(2)
              << std::setw(12) << r["median_ms"].get<double>() << std::setprecision(0)
              << std::setw(12) << r["tokens_per_s"].get<double>() << std::setprecision(3)
              << std::setw(10) << r["tflops"].get<double>() << std::setprecision(0) << std::setw(16)
              << (peak < 0 ? std::string("-") : std::to_string(peak / 1000000)) << "\n";
  }
}

}  // namespace

void add_bench_kl_command(CLI::App& bench) {
  auto o = std::make_shared<KlBenchOptions>();
  auto* cmd = bench.add_subcommand(
      "kl", "Time stage 2's chunked full-vocabulary KL (forward + backward) per chunk size");
  cmd->add_option("--device", o->device, "cuda, cuda:N or cpu")->capture_default_str();
  cmd->add_option("--dtype", o->dtype, "bfloat16, float32 or float16")->capture_default_str();
  cmd->add_option("--tokens", o->tokens, "N: tokens per step")->capture_default_str();
  cmd->add_option("--vocab", o->vocab, "V")->capture_default_str();
  cmd->add_option("--hidden", o->hidden, "D")->capture_default_str();
  cmd->add_option("--chunks", o->chunks, "Comma-separated chunk_tokens values")
      ->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "Untimed runs first")->capture_default_str();
  cmd->add_option("--iters", o->iters, "Timed runs (median reported)")->capture_default_str();
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->callback([o] { run_kl(*o); });
}

}  // namespace halo::tools
