// `halo-distill bench lightning`: times the Lightning Attention op, forward and
// forward+backward, at the shapes of HALO_NOTES 5 (B x T = 8 x 2048, 1 x 16384, 1 x 65536; H 16,
// D 128), CUDA events, medians after warm-up, and prints for each the bytes-moved floor (q, k, v
// read and o written forward; q, k, v, dO read and dq, dk, dv written backward) and the ratio to
// it, next to flash-linear-attention's chunk_simple_gla anchors measured on an H100. The dtype
// "tf32" is float32 inputs with TF32 products (lightning_attention's tf32), what fla computes
// for float32 inputs: its fp32 anchor is the comparison.
#include "common/error.h"
#include "hypenet/qwen3_checkpoint.h"
#include "ops/lightning_attention/lightning_attention.h"
#include "tools/bench_timer.h"
#include "tools/commands.h"
#include "tools/device_arg.h"
#include "tools/kernel_profile.h"

#include <torch/autograd.h>

#include <iomanip>
#include <iostream>

namespace halo::tools {

namespace {

struct LightningBenchOptions {
  std::string device = "cuda";
  std::string dtypes = "bfloat16,float32";
  std::string shapes = "8x2048,1x16384,1x65536";
  int64_t heads = 16, head_dim = 128;
  int warmup = 3, iters = 10;
  double bandwidth_tbs = 3.0;  // device-to-device copy measured on the H100 host (KINDS.md)
  bool json = false;
  int profile_top = 0;  // > 0: profile one more call of each case, print its top N GPU kernels
};

// fla chunk_simple_gla anchors, H100, bf16 (and fp32 fwd+bwd), HALO_NOTES 5, in ms.
double fla_anchor(int64_t B, int64_t T, bool backward, bool fp32) {
  struct Row {
    int64_t B, T;
    double fwd, fwdbwd, fp32_fwdbwd;
  };
  const Row rows[] = {
      {8, 2048, 0.33, 1.33, 2.63}, {1, 16384, 0.44, 1.99, 2.78}, {1, 65536, 1.72, 7.82, 10.78}};
  for (const auto& r : rows) {
    if (r.B == B && r.T == T) {
      if (fp32) return backward ? r.fp32_fwdbwd : 0.0;
      return backward ? r.fwdbwd : r.fwd;
    }
  }
  return 0.0;
}

void run_lightning(const LightningBenchOptions& o) {
  const auto device = parse_device(o.device);
  nlohmann::json results = nlohmann::json::array();
  auto decay = ops::alibi_decay_rates(o.heads).to(device);
  const double scale = 1.0 / std::sqrt(static_cast<double>(o.head_dim));
  std::stringstream dts(o.dtypes);
  std::string dt_name;
  while (std::getline(dts, dt_name, ',')) {
    const bool tf32 = dt_name == "tf32";  // float32 inputs, TF32 products
    const auto dtype =
        tf32 ? at::kFloat
             : hypenet::parse_dtype(dt_name, "--dtypes (or tf32: float32 inputs, TF32 products)");
    std::stringstream shapes(o.shapes);
    std::string shape;
    while (std::getline(shapes, shape, ',')) {
      const auto x = shape.find('x');
      HALO_CHECK(x != std::string::npos, "--shapes: expected BxT items such as 8x2048, got \"",
                 shape, "\"");
      const int64_t B = std::stoll(shape.substr(0, x)), T = std::stoll(shape.substr(x + 1));
      auto opts = at::TensorOptions().device(device).dtype(dtype);
      auto q = at::randn({B, T, o.heads, o.head_dim}, opts).requires_grad_(true);
      auto k = at::randn({B, T, o.heads, o.head_dim}, opts).requires_grad_(true);
      auto v = at::randn({B, T, o.heads, o.head_dim}, opts).requires_grad_(true);
      auto d_o = at::randn({B, T, o.heads, o.head_dim}, opts);
      const double tensor_bytes = double(B) * T * o.heads * o.head_dim * at::elementSize(dtype);
      for (bool backward : {false, true}) {
        auto call = [&] {
          if (!backward) {
            at::NoGradGuard ng;
            ops::lightning_attention(q, k, v, decay, scale, {}, {}, tf32);
          } else {
            auto [out, state] = ops::lightning_attention(q, k, v, decay, scale, {}, {}, tf32);
            torch::autograd::grad({out}, {q, k, v}, {d_o});
          }
        };
        auto ms = time_runs(device, o.warmup, o.iters, call);
        if (o.profile_top > 0) {  // on stderr, so --json stays parseable
          std::cerr << dt_name << " " << shape << " " << (backward ? "fwd+bwd" : "fwd") << ": ";
          print_kernel_profile(std::cerr, call, o.profile_top, "");
        }
        const double med = median_of(ms);
        const double floor_ms =
            (backward ? 11.0 : 4.0) * tensor_bytes / (o.bandwidth_tbs * 1e12) * 1e3;
        const double fla = fla_anchor(B, T, backward, dtype == at::kFloat);
        const bool kernel = ops::lightning_attention_uses_cuda_kernels(q, v);
        results.push_back({{"dtype", dt_name},
                           {"B", B},
                           {"T", T},
                           {"H", o.heads},
                           {"path", kernel ? "cuda-kernels" : "aten"},
                           {"D", o.head_dim},
                           {"pass", backward ? "fwd+bwd" : "fwd"},
                           {"median_ms", med},
                           {"floor_ms", floor_ms},
                           {"ratio_to_floor", med / floor_ms},
                           {"fla_anchor_ms", fla}});
      }
    }
  }
  if (o.json) {
    std::cout << results.dump(2) << "\n";
    return;
  }
  std::cout << "lightning_attention (" << o.device << ", H " << o.heads << ", D " << o.head_dim
            << ", median of " << o.iters << ")\n";
  std::cout << "  dtype       BxT        pass     median ms   floor ms   x floor   fla ms   x fla"
               "   path\n";
  for (const auto& r : results) {
    const double fla = r["fla_anchor_ms"].get<double>();
    std::cout << std::fixed << "  " << std::left << std::setw(10) << r["dtype"].get<std::string>()
              << std::setw(11)
              << (std::to_string(r["B"].get<int64_t>()) + "x" +
                  std::to_string(r["T"].get<int64_t>()))
              << std::setw(9) << r["pass"].get<std::string>() << std::right << std::setprecision(3)
              << std::setw(10) << r["median_ms"].get<double>() << std::setw(11)
              << r["floor_ms"].get<double>() << std::setprecision(1) << std::setw(10)
              << r["ratio_to_floor"].get<double>() << std::setprecision(2) << std::setw(9) << fla
              << std::setw(8) << (fla > 0 ? r["median_ms"].get<double>() / fla : 0.0) << "   "
              << r["path"].get<std::string>() << "\n";
  }
}

}  // namespace

void add_bench_lightning_command(CLI::App& bench) {
  auto o = std::make_shared<LightningBenchOptions>();
  auto* cmd = bench.add_subcommand(
      "lightning",
      "Time the Lightning Attention op (forward, forward+backward) against the "
      "bytes-moved floor and flash-linear-attention's chunk_simple_gla anchors");
  cmd->add_option("--device", o->device, "cuda, cuda:N or cpu")->capture_default_str();
  cmd->add_option(
         "--dtypes", o->dtypes,
         "Comma-separated: bfloat16, float32, float16, tf32 (float32 inputs, TF32 products)")
      ->capture_default_str();
  cmd->add_option("--shapes", o->shapes, "Comma-separated BxT")->capture_default_str();
  cmd->add_option("--heads", o->heads, "H")->capture_default_str();
  cmd->add_option("--head-dim", o->head_dim, "D")->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "Untimed runs first")->capture_default_str();
  cmd->add_option("--iters", o->iters, "Timed runs (median reported)")->capture_default_str();
  cmd->add_option("--bandwidth-tbs", o->bandwidth_tbs,
                  "Memory bandwidth for the floor, TB/s (3.0 measured on the H100 host)")
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->add_option("--profile", o->profile_top,
                  "After timing each case, profile one more call and print its N most costly GPU "
                  "kernels (state vs output passes) on stderr");
  cmd->callback([o] { run_lightning(*o); });
}

}  // namespace halo::tools
