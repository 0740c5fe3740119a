// `halo-distill bench decode`: time per output token of the generation engine's decode step, for
// each model, context length and batch size: prefill time (a real chunked prefill) or a synthetic
// fill of the caches, then the median of N decode steps (device events), tokens/s, peak device
// memory, and the bandwidth floor (bytes one step must read / peak bandwidth) with the ratio to
// it. A context that does not fit prints the planner's "out of memory: needs X" and goes on.
#include "common/error.h"
#include "halo/inference/decode_graph.h"
#include "halo/inference/memory_plan.h"
#include "hypenet/causal_lm.h"
#include "hypenet/fused_projection.h"
#include "hypenet/hybrid_cache.h"
#include "hypenet/qwen3_checkpoint.h"
#include "ops/decode_linear/decode_linear.h"
#include "ops/rms_norm/rms_norm_row_block.h"
#include "tools/bench_timer.h"
#include "tools/commands.h"
#include "tools/device_arg.h"
#include "tools/device_memory.h"
#include "tools/kernel_profile.h"
#include "tools/size_arg.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>

#if HALO_WITH_CUDA
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime_api.h>
#endif

namespace halo::tools {

namespace {

struct DecodeArgs {
  std::vector<std::string> models;
  std::string contexts = "4K,32K";
  std::string batches = "1";
  std::string device = "cuda", dtype = "bfloat16", fill = "synthetic";
  int64_t new_tokens = 32, warmup = 3, prefill_chunk = 4096;
  double peak_gbps = 0;  // 0: by the card's name
  int profile = 0;       // > 0: the top kernels of one more decode step, on stderr
  std::string sdpa = "flash,efficient,cudnn,math";  // attention backends LibTorch may choose
  std::string graph = "on";  // on: replay a captured CUDA graph of the step (GPU); off: eager
  std::string fuse = "off";  // on: q, k, v (+ gate) and MLP gate / up as one product each
  std::string decode_linear = "off";  // on: ops/decode_linear for the few rows of a step
  std::string row_block = "off";      // on: RMSNorm's block-per-row kernel for few wide rows
  bool json = false;
};

// Peak memory bandwidth of the card in GB/s: H200 4800 (HBM3e), H100 SXM 3350 (HBM3, the figure
// HALO_NOTES 5 uses); 0 when unknown (then --peak-gbps must say).
double card_peak_gbps(const c10::Device& device, std::string* name) {
#if HALO_WITH_CUDA
  if (device.is_cuda()) {
    cudaDeviceProp prop{};
    const int index = device.has_index() ? device.index() : c10::cuda::current_device();
    if (cudaGetDeviceProperties(&prop, index) == cudaSuccess) {
      *name = prop.name;
      if (name->find("H200") != std::string::npos) return 4800.0;
      if (name->find("H100") != std::string::npos) return 3350.0;
    }
  }
#endif
  *name = device.str();
  return 0.0;
}

// Bytes one decode step of `batch` rows at `context` tokens must move: every weight once (the
// input embedding only for its `batch` rows unless tied to the LM head), each attention layer's
// keys and values of every cached token, each Lightning state read and written.
int64_t decode_step_bytes(hypenet::CausalLM& m, int64_t batch, int64_t context) {
  int64_t weights = 0;
  const auto embed =
      m.qwen3 ? m.qwen3->model->embed_tokens->weight : m.student->model->embed_tokens->weight;
  const auto params = m.qwen3 ? m.qwen3->parameters() : m.student->parameters();
  for (const auto& p : params) weights += p.numel() * static_cast<int64_t>(p.element_size());
  if (!m.base.tie_word_embeddings) {
    weights -= embed.numel() * static_cast<int64_t>(embed.element_size());
    weights += batch * m.base.hidden_size * static_cast<int64_t>(embed.element_size());
  }
  const auto c = hypenet::cache_bytes(m.cache_layout(), batch, context, embed.scalar_type());
  return weights + c.kv + 2 * c.state;
}

nlohmann::json bench_one(hypenet::CausalLM& m, const DecodeArgs& a, int64_t context, int64_t batch,
                         const c10::Device& device, double peak_gbps) {
  nlohmann::json r = {{"context", context}, {"batch", batch}};
  const auto w = m.output_embedding();
  const int64_t capacity = context + a.warmup + a.new_tokens + 4;
  const auto& b = m.base;
  const int64_t chunk = a.fill == "prefill" ? std::min(a.prefill_chunk, context) : 1;
  auto plan = inference::plan_generation_memory(m.cache_layout(), batch, capacity, batch * chunk,
                                                b.hidden_size, b.intermediate_size, b.vocab_size,
                                                w.scalar_type());
  r["cache_bytes"] = plan.cache.total();
  try {
    inference::check_generation_fits(plan, device, batch, capacity);
  } catch (const HaloError& e) {
    r["out_of_memory"] = e.what();
    return r;
  }
  reset_device_peak(device);
  hypenet::HybridCache cache(m.cache_layout(), batch, capacity, w.scalar_type(), device);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(context * 31 + batch);
  if (a.fill == "synthetic") {
    at::manual_seed(static_cast<uint64_t>(context));
    cache.fill_synthetic(context);
    r["fill"] = "synthetic";
  } else {
    auto ids = at::randint(b.vocab_size, {batch, context}, gen, at::kLong);
    std::vector<int64_t> rows(batch);
    for (int64_t i = 0; i < batch; ++i) rows[i] = i;
    const auto start = std::chrono::steady_clock::now();
    for (int64_t s = 0; s < context; s += chunk) {
      const int64_t n = std::min(chunk, context - s);
      auto step = hypenet::make_cache_step(rows, std::vector<int64_t>(batch, s),
                                           std::vector<int64_t>(batch, n), device);
      hypenet::ForwardOptions fo;
      fo.logits_to_keep = 1;
      m.forward(ids.narrow(1, s, n).to(device), fo, &cache, &step).logits.argmax(-1).cpu();
    }
    r["fill"] = "prefill";
    r["prefill_ms"] =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  std::vector<int64_t> rows(batch);
  for (int64_t i = 0; i < batch; ++i) rows[i] = i;
  std::unique_ptr<inference::DecodeGraph> graph;
  if (a.graph == "on" && inference::DecodeGraph::available(m)) {
    const auto start = std::chrono::steady_clock::now();
    graph = std::make_unique<inference::DecodeGraph>(m, cache);
    std::vector<int64_t> first(batch);
    for (auto& t : first) t = at::randint(b.vocab_size, {1}, gen, at::kLong).item<int64_t>();
    graph->step(first, std::vector<char>(batch, 1));  // then each step feeds its greedy tokens
    graph->greedy_tokens();
    r["capture_ms"] =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  r["graph"] = graph != nullptr;
  auto step_fn = [&] {
    if (graph) {
      graph->step_greedy();
      return;
    }
    std::vector<int64_t> starts(batch);
    for (int64_t i = 0; i < batch; ++i) starts[i] = cache.length(i);
    auto step = hypenet::make_cache_step(rows, starts, std::vector<int64_t>(batch, 1), device);
    auto ids = at::randint(b.vocab_size, {batch, 1}, gen, at::kLong).to(device);
    hypenet::ForwardOptions fo;
    fo.logits_to_keep = 1;
    m.forward(ids, fo, &cache, &step).logits.argmax(-1);
  };
  auto ms = time_runs(device, static_cast<int>(a.warmup), static_cast<int>(a.new_tokens), step_fn);
  if (a.profile > 0) {
    std::cerr << "profile of one decode step: " << m.model_type << ", context " << context
              << ", batch " << batch << "\n";
    print_kernel_profile(std::cerr, step_fn, a.profile, "");
  }
  const double median = median_of(ms);
  const int64_t bytes = decode_step_bytes(m, batch, context);
  r["ms_per_token"] = median;
  r["tokens_per_s"] = batch / (median * 1e-3);
  r["bytes_per_step"] = bytes;
  r["peak_memory_bytes"] = device_peak_bytes(device);
  if (peak_gbps > 0) {
    const double floor_ms = bytes / (peak_gbps * 1e9) * 1e3;
    r["floor_ms"] = floor_ms;
    r["ratio_to_floor"] = median / floor_ms;
  }
  return r;
}

// Enables exactly the listed scaled_dot_product_attention backends for this process.
void set_sdpa_backends(const std::string& list) {
  bool flash = false, efficient = false, cudnn = false, math = false;
  std::stringstream ss(list);
  for (std::string b; std::getline(ss, b, ',');) {
    if (b == "flash")
      flash = true;
    else if (b == "efficient")
      efficient = true;
    else if (b == "cudnn")
      cudnn = true;
    else if (b == "math")
      math = true;
    else
      HALO_FAIL("--sdpa: unknown backend \"", b, "\"; expected flash, efficient, cudnn, math");
  }
  auto& ctx = at::globalContext();
  ctx.setSDPUseFlash(flash);
  ctx.setSDPUseMemEfficient(efficient);
  ctx.setSDPUseCuDNN(cudnn);
  ctx.setSDPUseMath(math);
}

void run_bench_decode(const DecodeArgs& a) {
  set_sdpa_backends(a.sdpa);
  const auto device = parse_device(a.device);
  const auto dtype = hypenet::parse_dtype(a.dtype, "--dtype");
  const auto contexts = parse_count_list(a.contexts, "--context");
  const auto batches = parse_count_list(a.batches, "--batch");
  std::string card;
  const double peak = a.peak_gbps > 0 ? a.peak_gbps : card_peak_gbps(device, &card);
  if (a.peak_gbps > 0) card_peak_gbps(device, &card);
  nlohmann::json out = {{"device", card},
                        {"dtype", a.dtype},
                        {"fill", a.fill},
                        {"sdpa", a.sdpa},
                        {"graph", a.graph},
                        {"fuse_projections", a.fuse},
                        {"decode_linear", a.decode_linear},
                        {"rms_norm_row_block", a.row_block},
                        {"new_tokens", a.new_tokens},
                        {"peak_gbps", peak},
                        {"models", nlohmann::json::array()}};
  c10::InferenceMode guard;
  ops::set_decode_linear_kernel_enabled(a.decode_linear == "on");
  ops::set_rms_norm_row_block_enabled(a.row_block == "on");
  for (const auto& dir : a.models) {
    auto m = hypenet::load_causal_lm(dir, dtype, device);
    if (a.fuse == "on") {
      if (m.qwen3) hypenet::fuse_projections_for_inference(*m.qwen3);
      if (m.student) hypenet::fuse_projections_for_inference(*m.student);
    }
    nlohmann::json mj = {
        {"model", dir}, {"model_type", m.model_type}, {"results", nlohmann::json::array()}};
    for (auto context : contexts) {
      for (auto batch : batches) {
        auto r = bench_one(m, a, context, batch, device, peak);
        if (!a.json) {
          if (r.contains("out_of_memory")) {
            std::printf("%-28s ctx %8lld  batch %3lld  out of memory: needs %s\n", dir.c_str(),
                        static_cast<long long>(context), static_cast<long long>(batch),
                        hypenet::format_bytes(r["cache_bytes"].get<int64_t>()).c_str());
          } else {
            std::printf(
                "%-28s ctx %8lld  batch %3lld  %8.3f ms/token %10.1f tokens/s  floor %s  "
                "peak mem %s%s\n",
                dir.c_str(), static_cast<long long>(context), static_cast<long long>(batch),
                r["ms_per_token"].get<double>(), r["tokens_per_s"].get<double>(),
                r.contains("floor_ms") ? str_cat(r["floor_ms"].get<double>(), " ms (x",
                                                 r["ratio_to_floor"].get<double>(), ")")
                                             .c_str()
                                       : "n/a",
                r["peak_memory_bytes"].get<int64_t>() >= 0
                    ? hypenet::format_bytes(r["peak_memory_bytes"].get<int64_t>()).c_str()
                    : "n/a",
                r.contains("prefill_ms")
                    ? str_cat("  prefill ", r["prefill_ms"].get<double>(), " ms").c_str()
                    : "");
          }
          std::fflush(stdout);
        }
        mj["results"].push_back(r);
      }
    }
    out["models"].push_back(mj);
  }
  // The first model's time per token over each other model's, per context and batch: the
  // figure of issue 16 (a teacher first, its HypeNet second: how much faster the student decodes).
  out["speedup_over_first"] = nlohmann::json::array();
  const auto& models = out["models"];
  for (size_t m = 1; m < models.size(); ++m) {
    const auto& base = models[0]["results"];
    const auto& other = models[m]["results"];
    for (size_t i = 0; i < base.size() && i < other.size(); ++i) {
      nlohmann::json row = {{"model", models[m]["model"]},
                            {"context", base[i]["context"]},
                            {"batch", base[i]["batch"]}};
      if (base[i].contains("ms_per_token") && other[i].contains("ms_per_token")) {
        row["speedup"] =
            base[i]["ms_per_token"].get<double>() / other[i]["ms_per_token"].get<double>();
      } else {
        row["speedup"] = nullptr;  // one of them did not fit
      }
      if (!a.json) {
        std::printf("%-28s ctx %8lld  batch %3lld  %s than %s\n",
                    models[m]["model"].get<std::string>().c_str(),
                    static_cast<long long>(base[i]["context"].get<int64_t>()),
                    static_cast<long long>(base[i]["batch"].get<int64_t>()),
                    row["speedup"].is_null()
                        ? "no ratio (out of memory)"
                        : str_cat(row["speedup"].get<double>(), "x faster").c_str(),
                    models[0]["model"].get<std::string>().c_str());
      }
      out["speedup_over_first"].push_back(row);
    }
  }
  if (a.json) std::cout << out.dump(2) << "\n";
  if (!a.json && a.fill == "synthetic") {
    std::printf("(caches filled with random values, no prefill: decode time only)\n");
  }
}

}  // namespace

void add_bench_decode_command(CLI::App& bench) {
  auto a = std::make_shared<DecodeArgs>();
  auto* cmd = bench.add_subcommand(
      "decode",
      "Time per output token of the cached decode step for each --model, --context and --batch: "
      "median over --new-tokens steps (device events), tokens/s, peak memory, and the bandwidth "
      "floor (weights + KV caches + recurrent states read per step / peak bandwidth). A context "
      "that does not fit is reported with the bytes it needs.");
  cmd->add_option("--model", a->models, "Model folder (repeatable)")->required();
  cmd->add_option("--context", a->contexts, "Context lengths, e.g. 4K,32K,128K,512K,1M")
      ->capture_default_str();
  cmd->add_option("--batch", a->batches, "Batch sizes, e.g. 1,8,32")->capture_default_str();
  cmd->add_option("--new-tokens", a->new_tokens, "Timed decode steps (median reported)")
      ->capture_default_str();
  cmd->add_option("--warmup", a->warmup, "Untimed decode steps first")->capture_default_str();
  cmd->add_option("--fill", a->fill,
                  "prefill (real chunked prefill, timed) or synthetic (random caches: for "
                  "contexts where a prefill would dominate the run)")
      ->check(CLI::IsMember({"prefill", "synthetic"}))
      ->capture_default_str();
  cmd->add_option("--prefill-chunk", a->prefill_chunk, "Prompt tokens per prefill forward")
      ->capture_default_str();
  cmd->add_option("--device", a->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--dtype", a->dtype, "bfloat16 or float32")->capture_default_str();
  cmd->add_option("--peak-gbps", a->peak_gbps,
                  "Peak memory bandwidth for the floor (default: H100 3350, H200 4800)");
  cmd->add_option("--profile", a->profile,
                  "After the timing, profile one more decode step and print its top N GPU "
                  "kernels and their sum against the wall time (stderr)");
  cmd->add_option("--sdpa", a->sdpa,
                  "Attention backends scaled_dot_product_attention may pick, comma separated "
                  "(flash, efficient, cudnn, math), to compare them")
      ->capture_default_str();
  cmd->add_option("--graph", a->graph,
                  "on: each decode step replays one captured CUDA graph (GPU; the engine's "
                  "default); off: every kernel launched from the host")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  cmd->add_option("--fuse-projections", a->fuse,
                  "on: each layer's q, k, v (and output gate) and its MLP's gate and up "
                  "projections computed as one matrix product each (hypenet/fused_projection.h; "
                  "weights become views of one buffer, nothing copied twice); off: one per layer")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  cmd->add_option("--decode-linear", a->decode_linear,
                  "on: linear layers of at most 8 rows in bf16/fp16 on a GPU run the "
                  "bandwidth-bound kernel of ops/decode_linear; off: at::linear (cuBLAS). Off by "
                  "default until a GPU run has passed its [cuda] tests")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  cmd->add_option("--rms-norm-row-block", a->row_block,
                  "on: RMSNorm over at most 264 rows of >= 1024 columns runs one block per row "
                  "instead of a warp per row. Off by default until a GPU run has passed its "
                  "[cuda] test")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([a] { run_bench_decode(*a); });
}

}  // namespace halo::tools
