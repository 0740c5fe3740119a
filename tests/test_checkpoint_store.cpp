// CheckpointStore: only folders with the completion marker count; commit replaces an
// incomplete folder of the same step, keeps the newest keep_last, and removes stale temporary
// folders; durable file writes (common/atomic_file.h) leave the old content or the new one;
// the learning-rate schedules hit their end points.
#include <catch2/catch.hpp>

#include "common/atomic_file.h"
#include "common/error.h"
#include "halo/checkpoint/checkpoint_store.h"
#include "halo/train/lr_schedule.h"
#include "tests/test_util.h"

#include <fstream>

using namespace halo;
namespace fs = std::filesystem;

TEST_CASE("checkpoint folders count only once complete, keep the last k", "[checkpoint]") {
  test::TempDir dir;
  checkpoint::CheckpointStore store(dir.path() / "ck", 2);
  CHECK(!store.latest());
  CHECK(!fs::exists(dir.path() / "ck"));  // a store that is only read writes nothing
  for (int64_t step : {2, 4}) {
    auto tmp = store.begin(step);
    std::ofstream(tmp / "payload") << step;
    store.commit(step);
  }
  CHECK(store.complete_steps() == std::vector<int64_t>{2, 4});
  // A crash mid-write: step-6 renamed but without its marker, and a temporary folder of 8.
  fs::create_directories(store.step_dir(6));
  std::ofstream(store.step_dir(6) / "payload") << "partial";
  fs::create_directories(dir.path() / "ck" / ".tmp-step-8");
  CHECK(store.complete_steps() == std::vector<int64_t>{2, 4});
  CHECK(*store.latest() == store.step_dir(4));

  // Writing step 6 again replaces the incomplete folder; step 2 falls out of keep_last = 2.
  auto tmp = store.begin(6);
  std::ofstream(tmp / "payload") << "six";
  store.commit(6);
  CHECK(store.complete_steps() == std::vector<int64_t>{4, 6});
  std::ifstream in(store.step_dir(6) / "payload");
  std::string s;
  in >> s;
  CHECK(s == "six");
  CHECK(!fs::exists(dir.path() / "ck" / ".tmp-step-8"));
  CHECK(!fs::exists(store.step_dir(2)));
}

TEST_CASE("learning-rate schedules: warmup, cosine and wsd end points", "[train]") {
  config::ScheduleConfig s;
  s.kind = "cosine";
  s.warmup_steps = 4;
  s.min_lr = 1e-5;
  CHECK(train::lr_at(s, 1e-3, 0, 100) == Approx(2.5e-4));
  CHECK(train::lr_at(s, 1e-3, 3, 100) == Approx(1e-3));
  CHECK(train::lr_at(s, 1e-3, 4, 100) == Approx(1e-3));
  CHECK(train::lr_at(s, 1e-3, 99, 100) == Approx(1e-5));
  const double mid = train::lr_at(s, 1e-3, 4 + 95 / 2, 100);
  CHECK(mid == Approx(1e-5 + (1e-3 - 1e-5) * 0.5 * (1 + std::cos(M_PI * 47.0 / 95.0))));
  s.kind = "wsd";
  s.decay_fraction = 0.2;  // the last 20 steps decay
  CHECK(train::lr_at(s, 1e-3, 50, 100) == Approx(1e-3));
  CHECK(train::lr_at(s, 1e-3, 75, 100) == Approx(1e-3));
  CHECK(train::lr_at(s, 1e-3, 99, 100) == Approx(1e-5));
  CHECK(train::lr_at(s, 1e-3, 89, 100) < 1e-3);
  s.kind = "constant";
  CHECK(train::lr_at(s, 1e-3, 99, 100) == Approx(1e-3));
}

TEST_CASE("durable writes: new content or the old, never a temporary file left", "[checkpoint]") {
  test::TempDir dir;
  const fs::path path = dir.path() / "x.json";
  write_text_atomically(path, "old\n");
  // A writer that fails half-way (disk full, HDF5 error) keeps the old content.
  CHECK_THROWS_WITH(write_file_durably(path,
                                       [](const std::string& tmp) {
                                         std::ofstream(tmp) << "torn";
                                         throw HaloError("writer failed");
                                       }),
                    Catch::Contains("writer failed"));
  std::ifstream in(path);
  std::string s;
  in >> s;
  CHECK(s == "old");
  write_text_atomically(path, "new\n");
  std::ifstream in2(path);
  in2 >> s;
  CHECK(s == "new");
  for (const auto& e : fs::directory_iterator(dir.path())) CHECK(e.path() == path);
  // A folder that does not exist is named in the error.
  CHECK_THROWS_WITH(write_text_atomically(dir.path() / "missing" / "y.json", "y"),
                    Catch::Contains("missing/y.json"));
}
