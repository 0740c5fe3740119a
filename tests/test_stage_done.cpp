// Whether a stage is done, as the ranks of a data-parallel run see it (read_done_on_all_ranks):
// two ranks as threads whose GradientSync::wait_for_all is a thread barrier. The selection stage
// has no collectives, so a rank that reaches the stage first may finish it and write done.json
// before a slower rank has looked; the slower one must still run the stage with it. Before the
// fix the late rank skipped it, and the 2-process `stage select` of the dist pipeline test hung
// until its 600 s timeout (CI, 2026-12-06).
#include <catch2/catch.hpp>

#include "common/atomic_file.h"
#include "halo/checkpoint/checkpoint_store.h"
#include "halo/config/pipeline_config.h"
#include "halo/stages/stage_context.h"
#include "tests/test_util.h"

#include <chrono>
#include <condition_variable>
#include <exception>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

using namespace halo;
namespace fs = std::filesystem;

namespace {

// A barrier of `n` threads, reusable; a wait longer than 30 s throws instead of hanging the test.
class ThreadBarrier {
 public:
  explicit ThreadBarrier(int n) : n_(n) {}
  void arrive_and_wait() {
    std::unique_lock<std::mutex> lock(m_);
    const int64_t gen = generation_;
    if (++arrived_ == n_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return;
    }
    if (!cv_.wait_for(lock, std::chrono::seconds(30), [&] { return generation_ != gen; })) {
      throw std::runtime_error("thread barrier: the other rank never arrived");
    }
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  int n_, arrived_ = 0;
  int64_t generation_ = 0;
};

// The GradientSync of one thread-rank: wait_for_all meets the other thread-ranks at the barrier;
// nothing else may be called.
class ThreadBarrierSync : public train::GradientSync {
 public:
  explicit ThreadBarrierSync(ThreadBarrier& barrier) : barrier_(barrier) {}
  void set_parameters(const std::vector<at::Tensor>&) override { unused(); }
  void backward(const at::Tensor&, bool) override { unused(); }
  std::vector<double> all_reduce_sum(std::vector<double>) override {
    unused();
    return {};
  }
  void broadcast(const std::vector<at::Tensor>&, int) override { unused(); }
  void wait_for_all(const std::string&, double, const std::string&) override {
    ++waits;
    barrier_.arrive_and_wait();
  }
  int waits = 0;

 private:
  [[noreturn]] static void unused() { throw std::logic_error("not part of this test"); }
  ThreadBarrier& barrier_;
};

// A pipeline whose third stage is a selection, writing into dir/run.
config::PipelineConfig selection_pipeline(const test::TempDir& dir) {
  std::ofstream(dir.str() + "/model.json") << "{}";
  const std::string path = dir.str() + "/cfg.yaml";
  std::ofstream(path) << "run:\n  out_dir: " << dir.str() << "/run\n  seed: 1\n"
                      << "data:\n  manifest: data/manifest.json\n"
                      << "teacher:\n  path: \"\"\n"
                      << "stages:\n"
                      << "  - {name: pre, kind: pretrain, model_config: model.json, steps: 4,"
                         " seq_len: 16, batch_size: 2}\n"
                      << "  - {name: align, kind: stage1, steps: 4, seq_len: 16, batch_size: 2}\n"
                      << "  - {name: select, kind: selection, method: uniform,"
                         " num_attention_layers: 1}\n";
  return config::load_pipeline_config(path);
}

}  // namespace

TEST_CASE(
    "A rank that looks late still runs a stage another rank finished meanwhile "
    "(every rank reads done.json before any goes on)",
    "[pipeline][dist]") {
  test::TempDir dir("halo-stage-done");
  const auto pipeline = selection_pipeline(dir);
  const int index = pipeline.stage_index("select");
  REQUIRE(index >= 0);
  ThreadBarrier barrier(2);

  // One pass of both ranks: rank 1 reaches the check 300 ms late; rank 0 "runs" the stage the
  // moment it may (no collective holds it) and writes done.json when it found none.
  auto pass = [&](std::optional<nlohmann::json>(&seen)[2], int(&waits)[2]) {
    std::exception_ptr errors[2];
    auto rank = [&](int r) {
      try {
        ThreadBarrierSync sync(barrier);
        stages::StageContext ctx;
        ctx.pipeline = &pipeline;
        ctx.index = static_cast<size_t>(index);
        ctx.rank = r;
        ctx.world_size = 2;
        ctx.sync = &sync;
        if (r == 1) std::this_thread::sleep_for(std::chrono::milliseconds(300));
        seen[r] = stages::read_done_on_all_ranks(ctx);
        waits[r] = sync.waits;
        if (r == 0 && !seen[r]) {
          fs::create_directories(ctx.stage_dir());
          write_text_atomically(ctx.stage_dir() / "done.json",
                                nlohmann::json{{"config_hash", ctx.hash()}}.dump());
        }
      } catch (...) {
        errors[r] = std::current_exception();
      }
    };
    std::thread t0(rank, 0), t1(rank, 1);
    t0.join();
    t1.join();
    for (auto& e : errors) {
      if (e) std::rethrow_exception(e);
    }
  };

  std::optional<nlohmann::json> first[2], second[2];
  int waits[2] = {0, 0};
  pass(first, waits);
  CHECK_FALSE(first[0].has_value());
  CHECK_FALSE(first[1].has_value());  // rank 0 had written done.json 300 ms before rank 1 looked
  CHECK(waits[0] == 1);
  CHECK(waits[1] == 1);
  // Run again: done.json now exists before either looks, and both skip the stage.
  pass(second, waits);
  CHECK(second[0].has_value());
  CHECK(second[1].has_value());
}
