// save/load of meta.json, optimizer.pt and rng.pt.
#include "halo/checkpoint/training_state.h"

#include "common/atomic_file.h"
#include "common/error.h"
#include "halo/checkpoint/checkpoint_store.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/serialize/archive.h>

#include <algorithm>
#include <fstream>
#include <mutex>

namespace halo::checkpoint {

namespace fs = std::filesystem;

namespace {

at::Tensor cpu_rng_state() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_cpu_rng_state(const at::Tensor& state) {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

}  // namespace

void save_training_state(const fs::path& dir, const CheckpointMeta& meta,
                         torch::optim::Optimizer& optimizer) {
  nlohmann::json j = {{"magic", kCheckpointMagic},
                      {"version", kCheckpointVersion},
                      {"stage", meta.stage},
                      {"step", meta.step},
                      {"world_size", meta.world_size},
                      {"config_hash", meta.config_hash},
                      {"loader_cursor", meta.loader_cursor},
                      {"extra", meta.extra},
                      {"config", meta.config}};
  write_text_atomically(dir / "meta.json", j.dump(2) + "\n");

  torch::serialize::OutputArchive opt;
  optimizer.save(opt);
  opt.save_to((dir / "optimizer.pt").string());

  torch::serialize::OutputArchive rng;
  rng.write("cpu", cpu_rng_state());
  const int64_t num_cuda = torch::cuda::is_available() ? torch::cuda::device_count() : 0;
  rng.write("num_cuda", torch::tensor(num_cuda));
  for (int64_t d = 0; d < num_cuda; ++d) {
    auto gen = at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, d));
    std::lock_guard<std::mutex> lock(gen.mutex());
    rng.write("cuda" + std::to_string(d), gen.get_state());
  }
  rng.save_to((dir / "rng.pt").string());
}

void load_training_state(const fs::path& dir, torch::optim::Optimizer& optimizer) {
  torch::serialize::InputArchive opt;
  opt.load_from((dir / "optimizer.pt").string());
  optimizer.load(opt);

  torch::serialize::InputArchive rng;
  rng.load_from((dir / "rng.pt").string());
  at::Tensor cpu;
  rng.read("cpu", cpu);
  set_cpu_rng_state(cpu);
  at::Tensor num;
  rng.read("num_cuda", num);
  const int64_t saved_cuda = num.item<int64_t>();
  const int64_t num_cuda = torch::cuda::is_available() ? torch::cuda::device_count() : 0;
  for (int64_t d = 0; d < std::min(saved_cuda, num_cuda); ++d) {
    at::Tensor state;
    rng.read("cuda" + std::to_string(d), state);
    auto gen = at::globalContext().defaultGenerator(c10::Device(c10::kCUDA, d));
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
  }
}

}  // namespace halo::checkpoint
