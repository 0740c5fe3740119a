// `halo-distill bench stage2`: times stage-2 optimizer steps (HALO_NOTES 3 step 3) exactly as
// `halo-distill run` executes them: a Qwen3 teacher shaped by a config.json with random weights
// (frozen, bfloat16 on CUDA), a HypeNet student built from it by weight transfer (attention in
// the layers of --attention-layers, Lightning RNN elsewhere; float32 master weights, or bfloat16
// weights and AdamW state with --precision bfloat16-pure), the stage-2 TrainTask (chunked
// full-vocabulary KL) and the Trainer's own train_step (loader, autocast bfloat16 for
// --precision bfloat16, clipping, AdamW), over a synthetic token-shard set of random ids written
// to a temporary folder. Prints the median step time, tokens/s, model TFLOP/s counting 8 N
// flops per token (teacher forward 2 N, student forward + backward 6 N; N = teacher parameters,
// as the HALO_NOTES section 5 anchor counts), MFU against --peak-tflops, and peak memory.
#include "common/error.h"
#include "common/remove_tree.h"
#include "data/shard_manifest.h"
#include "data/token_shard_file.h"
#include "halo/stages/stage2_distillation.h"
#include "halo/stages/student_builder.h"
#include "halo/train/trainer.h"
#include "hypenet/qwen3_checkpoint.h"
#include "hypenet/weight_transfer.h"
#include "tools/bench_timer.h"
#include "tools/commands.h"
#include "tools/device_arg.h"
#include "tools/device_memory.h"
#include "tools/kernel_profile.h"
#include "tools/size_arg.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <random>
#include <sstream>

namespace halo::tools {

namespace {

namespace fs = std::filesystem;

struct Stage2BenchOptions {
  std::string model;             // teacher config.json
  std::string attention_layers;  // empty: every fourth layer (3, 7, ...), HALO's 25%
  int64_t batch = 12, seq_len = 512, grad_accum = 1;
  int64_t loss_chunk_tokens = 2048;  // the Qwen3-1.7B recipe's value
  std::string device = "cuda";
  std::string precision = "bfloat16";
  std::string lightning_recurrence = "float32";  // pipeline student.lightning_recurrence
  int warmup = 3, iters = 10;
  double peak_tflops = 989.0;  // dense bf16 datasheet peak of the H100 / H200 (HALO_NOTES 5)
  std::string work_dir;        // synthetic shards; empty: a folder under the system temp dir
  int profile_top = 0;         // > 0: profile one more step, print the top kernels
  std::string trace;           // with profile_top: write the Chrome trace here
  bool json = false;
};

std::vector<hypenet::MixerType> bench_mixers(const std::string& list, int64_t layers) {
  std::vector<hypenet::MixerType> mixers(layers, hypenet::MixerType::kLightning);
  if (list.empty()) {
    for (int64_t i = 3; i < layers; i += 4) mixers[i] = hypenet::MixerType::kAttention;
    return mixers;
  }
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    mixers[parse_layer_index(item, layers, "--attention-layers")] = hypenet::MixerType::kAttention;
  }
  return mixers;
}

// A train and a validation split of random ids (documents of 256..4096 tokens), enough for
// `tokens` training tokens. Returns the manifest path.
fs::path write_random_shards(const fs::path& dir, int64_t vocab, int64_t tokens) {
  fs::create_directories(dir);
  data::Manifest m;
  m.tokenizer_kind = "synthetic";
  m.tokenizer_identity = "synthetic:uniform-random";
  m.vocab_size = vocab;
  m.separator_id = 0;
  m.separator_token = "<sep>";
  m.token_dtype = data::token_dtype_for_vocab(vocab);
  std::mt19937_64 rng(1234);
  std::uniform_int_distribution<uint32_t> id(1, static_cast<uint32_t>(vocab - 1));
  std::uniform_int_distribution<int64_t> len(256, 4096);
  for (const auto& [split, want] : {std::pair<std::string, int64_t>{"train", tokens},
                                    std::pair<std::string, int64_t>{"validation", 65536}}) {
    std::vector<uint32_t> ids;
    std::vector<int64_t> offsets{0};
    while (static_cast<int64_t>(ids.size()) < want) {
      const int64_t n = len(rng);
      for (int64_t j = 0; j < n; ++j) ids.push_back(id(rng));
      offsets.push_back(static_cast<int64_t>(ids.size()));
    }
    data::ShardInfo sh;
    sh.file = split + "-0.h5";
    sh.documents = static_cast<int64_t>(offsets.size()) - 1;
    sh.tokens = static_cast<int64_t>(ids.size());
    sh.sha256 = data::write_token_shard((dir / sh.file).string(), ids, offsets, m.token_dtype);
    auto& s = m.splits[split];
    s.documents = sh.documents;
    s.tokens = sh.tokens;
    s.shards.push_back(sh);
  }
  m.write(dir / "manifest.json");
  return dir / "manifest.json";
}

// The checked options: the device and the precision as a stage config takes them.
struct Stage2BenchSetup {
  c10::Device device;
  config::Precision precision;
};

Stage2BenchSetup check_bench_options(const Stage2BenchOptions& o) {
  const auto device = parse_device(o.device);
  HALO_CHECK(o.batch >= 1 && o.seq_len >= 2 && o.grad_accum >= 1 && o.loss_chunk_tokens >= 1,
             "bench stage2: --batch, --grad-accum and --loss-chunk-tokens must be >= 1 and "
             "--seq-len >= 2");
  const auto precision = config::parse_precision(o.precision, "bench stage2: --precision");
  // As a stage config: bfloat16 is CUDA autocast; on the CPU the step would silently run (and
  // be reported as) something else. bfloat16-pure runs anywhere.
  HALO_CHECK(
      precision != config::Precision::kBFloat16 || device.is_cuda(),
      "bench stage2: --precision bfloat16 needs --device cuda (CUDA autocast), got --device ",
      o.device, ". HINT: --precision float32 on the CPU");
  return {device, precision};
}

// The stage-2 stage the timed steps belong to: the options' shape, KL chunk and precision, as
// many steps as the bench takes.
config::StageConfig bench_stage_config(const Stage2BenchOptions& o, config::Precision precision) {
  config::StageConfig stage;
  stage.name = "bench-stage2";
  stage.kind = config::StageKind::kStage2;
  stage.steps = o.warmup + o.iters + (o.profile_top > 0 ? 1 : 0);
  stage.seq_len = o.seq_len;
  stage.batch_size = o.batch;
  stage.grad_accum = o.grad_accum;
  stage.loss = config::Loss::kKl;
  stage.loss_chunk_tokens = o.loss_chunk_tokens;
  stage.precision = precision;
  stage.optimizer.lr = 1e-4;
  return stage;
}

// A random teacher shaped by `tc`, its HypeNet student with `mixers` (built as the pipeline
// builds it, with the options' Lightning recurrence) and the stage-2 task over both on `device`.
std::unique_ptr<stages::StudentTask> make_bench_task(const hypenet::Qwen3Config& tc,
                                                     const std::vector<hypenet::MixerType>& mixers,
                                                     const config::StageConfig& stage,
                                                     const Stage2BenchOptions& o,
                                                     const c10::Device& device) {
  std::cerr << "bench stage2: building a random " << tc.num_parameters()
            << "-parameter teacher and its student ...\n";
  hypenet::Qwen3ForCausalLM teacher(tc);
  {
    torch::NoGradGuard no_grad;
    hypenet::init_qwen3_random(teacher, 0);
  }
  config::StudentSection student_options;
  student_options.lightning_recurrence = config::parse_enum<config::LightningRecurrence>(
      o.lightning_recurrence, config::kLightningRecurrences,
      "bench stage2: --lightning-recurrence");
  auto student = hypenet::hypenet_from_teacher(
      teacher, stages::student_config(student_options, tc, mixers), student_options.init_seed);
  stages::apply_student_runtime_options(student, student_options);
  std::cerr << "bench stage2: moving both models to " << o.device << " ...\n";
  return stages::make_distillation_task(std::move(student), std::move(teacher), stage, device);
}

// The trainer's step times in ms (o.iters timed after o.warmup untimed, the device's peak memory
// counted from the first) and the last step's loss; with --profile one more step, profiled.
struct StepTimes {
  std::vector<double> ms;
  double last_loss = 0;
};

StepTimes time_train_steps(train::Trainer& trainer, const Stage2BenchOptions& o,
                           const c10::Device& device) {
  int64_t step = 0;
  double loss = 0, grad_norm = 0;
  reset_device_peak(device);
  auto ms =
      time_runs(device, o.warmup, o.iters, [&] { loss = trainer.train_step(step++, &grad_norm); });
  if (o.profile_top > 0) {
    print_kernel_profile(
        std::cerr, [&] { loss = trainer.train_step(step++, &grad_norm); }, o.profile_top, o.trace);
  }
  return {std::move(ms), loss};
}

// What the bench reports: the step times (ascending) and the figures derived from them.
struct Stage2BenchResult {
  int64_t parameters = 0;  // N, the teacher's parameters
  std::string mixers;      // a letter per layer: A attention, L Lightning
  std::vector<double> ms;  // step times, ascending
  double median_ms = 0;
  double tokens_per_s = 0;
  double model_tflops = 0;  // 8 N flops per token
  int64_t peak_bytes = -1;  // the device's peak memory (< 0: not known)
  double last_loss = 0;
};

Stage2BenchResult bench_result(const hypenet::Qwen3Config& tc,
                               const std::vector<hypenet::MixerType>& mixers,
                               const config::StageConfig& stage, StepTimes times,
                               int64_t peak_bytes) {
  Stage2BenchResult r;
  r.parameters = tc.num_parameters();
  for (auto m : mixers) r.mixers += m == hypenet::MixerType::kAttention ? 'A' : 'L';
  r.ms = std::move(times.ms);
  std::sort(r.ms.begin(), r.ms.end());
  r.median_ms = median_of(r.ms);
  const double tok = static_cast<double>(stage.tokens_per_step());
  r.tokens_per_s = tok / (r.median_ms * 1e-3);
  r.model_tflops = 8.0 * static_cast<double>(tc.num_parameters()) * r.tokens_per_s / 1e12;
  r.peak_bytes = peak_bytes;
  r.last_loss = times.last_loss;
  return r;
}

nlohmann::json bench_result_json(const Stage2BenchResult& r, const Stage2BenchOptions& o) {
  return {{"model", o.model},
          {"parameters", r.parameters},
          {"mixers", r.mixers},
          {"device", o.device},
          {"precision", o.precision},
          {"lightning_recurrence", o.lightning_recurrence},
          {"batch", o.batch},
          {"seq_len", o.seq_len},
          {"grad_accum", o.grad_accum},
          {"loss_chunk_tokens", o.loss_chunk_tokens},
          {"iters", o.iters},
          {"median_ms", r.median_ms},
          {"min_ms", r.ms.front()},
          {"max_ms", r.ms.back()},
          {"tokens_per_s", r.tokens_per_s},
          {"model_tflops", r.model_tflops},
          {"mfu", r.model_tflops / o.peak_tflops},
          {"peak_bytes", r.peak_bytes},
          {"last_loss", r.last_loss}};
}

void print_bench_result(const Stage2BenchResult& r, const Stage2BenchOptions& o) {
  std::cout << std::fixed << "stage-2 step, " << o.model << " (" << r.parameters
            << " parameters), mixers " << r.mixers << ", " << o.batch << " x " << o.seq_len
            << " tokens x " << o.grad_accum << " micro-batches, " << o.precision
            << " (Lightning recurrence " << o.lightning_recurrence << ") on " << o.device
            << ", median of " << o.iters << "\n"
            << "  step " << std::setprecision(1) << r.median_ms << " ms (min " << r.ms.front()
            << ", max " << r.ms.back() << "), " << std::setprecision(0) << r.tokens_per_s
            << " tokens/s, " << std::setprecision(1) << r.model_tflops << " TFLOP/s (8N), MFU "
            << std::setprecision(1) << 100.0 * r.model_tflops / o.peak_tflops << "% of "
            << std::setprecision(0) << o.peak_tflops << "\n";
  if (r.peak_bytes >= 0) {
    std::cout << "  peak memory " << std::setprecision(1) << r.peak_bytes / 1e9 << " GB\n";
  }
  std::cout << "  last loss " << std::setprecision(4) << r.last_loss << "\n";
}

void run_bench_stage2(const Stage2BenchOptions& o) {
  const auto [device, precision] = check_bench_options(o);
  auto tc = hypenet::Qwen3Config::from_json_file(o.model);
  const auto mixers = bench_mixers(o.attention_layers, tc.num_hidden_layers);
  const config::StageConfig stage = bench_stage_config(o, precision);

  const fs::path dir = o.work_dir.empty() ? fs::temp_directory_path() /
                                                ("halo-bench-stage2-" + std::to_string(::getpid()))
                                          : fs::path(o.work_dir);
  const int64_t tokens = (stage.steps + 1) * stage.tokens_per_step() * 11 / 10;
  const fs::path manifest = write_random_shards(dir / "data", tc.vocab_size, tokens);
  auto task = make_bench_task(tc, mixers, stage, o, device);

  train::TrainerSetup setup;
  setup.stage = stage;
  setup.config_hash = "bench";
  setup.stage_dir = dir / "stage";
  setup.manifest = manifest;
  setup.device = device;
  setup.handle_signals = false;
  train::Trainer trainer(*task, setup);
  std::cerr << "bench stage2: " << o.warmup << " warm-up and " << o.iters << " timed steps ...\n";
  auto times = time_train_steps(trainer, o, device);
  remove_tree_checked(dir.string());
  HALO_CHECK(std::isfinite(times.last_loss), "bench stage2: the loss became ", times.last_loss);

  const auto r = bench_result(tc, mixers, stage, std::move(times), device_peak_bytes(device));
  if (o.json) {
    std::cout << bench_result_json(r, o).dump(2) << "\n";
    return;
  }
  print_bench_result(r, o);
}

}  // namespace

void add_bench_stage2_command(CLI::App& bench) {
  auto o = std::make_shared<Stage2BenchOptions>();
  auto* cmd = bench.add_subcommand(
      "stage2",
      "Time stage-2 (KL distillation) optimizer steps as `run` executes them, on a random "
      "teacher shaped by --model and its HypeNet student: tokens/s, TFLOP/s (8 N flops per "
      "token), MFU, peak memory");
  cmd->add_option("--model", o->model,
                  "Teacher config.json (e.g. configs/models/qwen3-1.7b.json); weights random")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--attention-layers", o->attention_layers,
                  "Comma-separated layers kept as attention (default: every fourth, 3,7,..., "
                  "HALO's 25%); the others are Lightning RNN layers");
  cmd->add_option("--batch", o->batch, "Sequences per micro-batch")->capture_default_str();
  cmd->add_option("--seq-len", o->seq_len, "Tokens per sequence")->capture_default_str();
  cmd->add_option("--grad-accum", o->grad_accum, "Micro-batches per step")->capture_default_str();
  cmd->add_option("--loss-chunk-tokens", o->loss_chunk_tokens, "Rows per chunk of the KL")
      ->capture_default_str();
  cmd->add_option("--device", o->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--precision", o->precision,
                  "bfloat16 (autocast compute, float32 master weights; teacher in bfloat16 on "
                  "CUDA), bfloat16-pure (bfloat16 weights and AdamW state, no autocast, teacher "
                  "in bfloat16: the authors' regime) or float32")
      ->check(CLI::IsMember(config::kPrecisions))
      ->capture_default_str();
  cmd->add_option("--lightning-recurrence", o->lightning_recurrence,
                  "float32 (float32 q, k, v, exact products), tf32 (float32 q, k, v, TF32 "
                  "products as fla computes them) or autocast (bf16 q, k, v for the Lightning "
                  "op under bf16 autocast), as the pipeline's student.lightning_recurrence")
      ->check(CLI::IsMember(config::kLightningRecurrences))
      ->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "Untimed steps first")->capture_default_str();
  cmd->add_option("--iters", o->iters, "Timed steps (median reported)")->capture_default_str();
  cmd->add_option("--peak-tflops", o->peak_tflops,
                  "Peak for MFU (989: dense bf16 datasheet peak of H100 and H200)")
      ->capture_default_str();
  cmd->add_option("--work-dir", o->work_dir,
                  "Folder for the synthetic token shards (removed afterwards; default: temp)");
  cmd->add_option("--profile", o->profile_top,
                  "After timing, profile one more step and print its N most costly GPU kernels "
                  "(to stderr)");
  cmd->add_option("--trace", o->trace, "With --profile: write that step's Chrome trace here");
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->callback([o] { run_bench_stage2(*o); });
}

}  // namespace halo::tools
