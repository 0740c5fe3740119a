// `halo-distill bench loader --manifest M`: how fast PackedLoader delivers batches from token
// shards. Opens the split (checksums verified, timed apart), then times `--batches` calls of
// next() after `--warmup` ones and prints tokens/s. With the default --prefetch 0 the batches
// are built on the calling thread, so the figure is the loader's throughput on one core.
#include "common/error.h"
#include "data/packed_loader.h"
#include "tools/commands.h"

#include <chrono>
#include <cstdio>
#include <memory>

namespace halo::tools {

namespace {

struct LoaderBenchOptions {
  std::string manifest;
  std::string split = "train";
  int64_t seq_len = 2048;
  int64_t global_batch = 8;
  int world_size = 1;
  int prefetch = 0;
  int warmup = 5;
  int batches = 200;
  bool restart_positions = false;
  bool json = false;
};

void run_bench_loader(const LoaderBenchOptions& o) {
  HALO_CHECK(o.batches > 0 && o.warmup >= 0, "--batches must be > 0 and --warmup >= 0");
  using clock = std::chrono::steady_clock;
  data::LoaderOptions lo;
  lo.manifest = o.manifest;
  lo.split = o.split;
  lo.seq_len = o.seq_len;
  lo.global_batch = o.global_batch;
  lo.world_size = o.world_size;
  lo.prefetch = o.prefetch;
  lo.restart_positions = o.restart_positions;
  const auto t_open = clock::now();
  data::PackedLoader loader(lo);
  const double open_s = std::chrono::duration<double>(clock::now() - t_open).count();
  for (int i = 0; i < o.warmup; ++i) loader.next();
  int64_t checksum = 0;
  const auto t0 = clock::now();
  for (int i = 0; i < o.batches; ++i) {
    data::Batch b = loader.next();
    checksum += b.input_ids.data_ptr<int64_t>()[0];  // keeps the work observable
  }
  const double s = std::chrono::duration<double>(clock::now() - t0).count();
  const double tokens = double(o.batches) * loader.local_batch() * o.seq_len;
  if (o.json) {
    std::printf(
        "{\"open_s\": %.4f, \"seconds\": %.4f, \"tokens\": %.0f, \"tokens_per_s\": %.1f, "
        "\"batches_per_s\": %.2f, \"epoch_tokens\": %lld, \"documents\": %lld}\n",
        open_s, s, tokens, tokens / s, o.batches / s, static_cast<long long>(loader.epoch_tokens()),
        static_cast<long long>(loader.num_documents()));
    return;
  }
  std::printf("bench loader: %s split '%s': %lld documents, %lld tokens per epoch\n",
              o.manifest.c_str(), o.split.c_str(), static_cast<long long>(loader.num_documents()),
              static_cast<long long>(loader.epoch_tokens()));
  std::printf("  open (manifest, SHA-256 of the shards, mmap): %.3f s\n", open_s);
  std::printf(
      "  %d batches of [%lld, %lld] (rank 0 of %d, prefetch %d): %.3f s, %.3g tokens/s, "
      "%.1f batches/s (checksum %lld)\n",
      o.batches, static_cast<long long>(loader.local_batch()), static_cast<long long>(o.seq_len),
      o.world_size, o.prefetch, s, tokens / s, o.batches / s, static_cast<long long>(checksum));
}

}  // namespace

void add_bench_loader_command(CLI::App& bench) {
  auto o = std::make_shared<LoaderBenchOptions>();
  auto* cmd = bench.add_subcommand(
      "loader", "Time PackedLoader::next() on token shards: tokens/s (one core with --prefetch 0)");
  cmd->add_option("--manifest", o->manifest, "manifest.json written by prepare")->required();
  cmd->add_option("--split", o->split, "train or validation")->capture_default_str();
  cmd->add_option("--seq-len", o->seq_len, "Sequence length T")->capture_default_str();
  cmd->add_option("--global-batch", o->global_batch, "Sequences per batch over all ranks")
      ->capture_default_str();
  cmd->add_option("--world-size", o->world_size, "Ranks (rank 0 is timed)")->capture_default_str();
  cmd->add_option("--prefetch", o->prefetch, "Batches prepared ahead by a background thread")
      ->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "Untimed batches first")->capture_default_str();
  cmd->add_option("--batches", o->batches, "Timed batches")->capture_default_str();
  cmd->add_flag("--restart-positions", o->restart_positions, "Position ids restart per document");
  cmd->add_flag("--json", o->json, "Print JSON");
  cmd->callback([o] { run_bench_loader(*o); });
}

}  // namespace halo::tools
