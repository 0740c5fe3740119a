// Implementation of packed_loader.h: batches built from a TokenStream, by the caller's thread
// (prefetch = 0) or by one background thread that keeps up to `prefetch` batches ready. A
// restore() or a shape change stops that thread, drops what it prepared and starts it again
// from the consumer's position, so prefetching never changes which batches come out.
#include "data/packed_loader.h"

#include "common/error.h"
#include "data/token_shards.h"
#include "data/token_stream.h"

#include <ATen/ops/empty.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace halo::data {

void LoaderOptions::validate() const {
  HALO_CHECK(!manifest.empty(),
             "loader: 'manifest' is empty. HINT: pass the manifest.json "
             "written by `halo-distill prepare`");
  HALO_CHECK(split == "train" || split == "validation",
             "loader: 'split' must be \"train\" or "
             "\"validation\", got \"",
             split, "\"");
  HALO_CHECK(seq_len > 0, "loader: 'seq_len' must be > 0, got ", seq_len);
  HALO_CHECK(world_size >= 1, "loader: 'world_size' must be >= 1, got ", world_size);
  HALO_CHECK(rank >= 0 && rank < world_size,
             "loader: 'rank' must be in [0, world_size = ", world_size, "), got ", rank);
  HALO_CHECK(global_batch > 0 && global_batch % world_size == 0, "loader: 'global_batch' (",
             global_batch, ") must be > 0 and divisible by world_size (", world_size,
             "). HINT: use a multiple of ", world_size);
  HALO_CHECK(prefetch >= 0, "loader: 'prefetch' must be >= 0, got ", prefetch);
}

nlohmann::json LoaderCursor::to_json() const {
  return {{"seed", seed}, {"epoch", epoch}, {"token_offset", token_offset},
          {"step", step}, {"split", split}, {"dataset_id", dataset_id}};
}

LoaderCursor LoaderCursor::from_json(const nlohmann::json& j) {
  HALO_CHECK(j.is_object(), "loader cursor: expected a JSON object, found ", j.type_name());
  auto need = [&](const char* key) -> const nlohmann::json& {
    HALO_CHECK(j.contains(key), "loader cursor: key '", key, "' is missing (required)");
    return j.at(key);
  };
  auto integer = [&](const char* key) {
    const auto& v = need(key);
    HALO_CHECK(v.is_number_integer(), "loader cursor: key '", key, "' must be an integer, found ",
               v.dump());
    return v;
  };
  LoaderCursor c;
  const auto& seed = integer("seed");
  HALO_CHECK(seed.is_number_unsigned() || seed.get<int64_t>() >= 0,
             "loader cursor: key 'seed' must be >= 0");
  c.seed = seed.get<uint64_t>();
  c.epoch = integer("epoch").get<int64_t>();
  c.token_offset = integer("token_offset").get<int64_t>();
  c.step = integer("step").get<int64_t>();
  HALO_CHECK(c.epoch >= 0 && c.token_offset >= 0 && c.step >= 0,
             "loader cursor: epoch, token_offset and step must be >= 0, got ", j.dump());
  HALO_CHECK(need("split").is_string() && need("dataset_id").is_string(),
             "loader cursor: keys 'split' and 'dataset_id' must be strings");
  c.split = j.at("split").get<std::string>();
  c.dataset_id = j.at("dataset_id").get<std::string>();
  return c;
}

bool LoaderCursor::operator==(const LoaderCursor& o) const {
  return seed == o.seed && epoch == o.epoch && token_offset == o.token_offset && step == o.step &&
         split == o.split && dataset_id == o.dataset_id;
}

namespace {

// Where the next batch starts in the stream, and its index.
struct StreamPos {
  int64_t epoch = 0;
  int64_t offset = 0;
  int64_t step = 0;
};

struct Prepared {
  Batch batch;
  StreamPos end;
  std::exception_ptr error;
};

}  // namespace

struct PackedLoader::Impl {
  LoaderOptions opt;
  TokenShards shards;
  TokenStream stream;
  std::string dataset_id;
  StreamPos pos;  // consumer position: after the last batch next() returned

  // Prefetch thread and its queue.
  std::thread worker;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Prepared> queue;
  bool stop = false;

  explicit Impl(LoaderOptions o)
      : opt(std::move(o)),
        shards(opt.manifest, opt.split),
        stream(shards, opt.seed, opt.shuffle),
        dataset_id(shards.manifest().dataset_id()) {}

  // Token ids enter the models here: an id outside the vocabulary would index past the
  // embedding (a device-side assert on a GPU). The models do not check ids (that would read them
  // back from the device on every forward); the loader checks each row once, on the host, against
  // the manifest's vocabulary, which pre-flight and `eval` check against the model's.
  // ids: n stream tokens from token `offset` of epoch `epoch`.
  void check_vocabulary(const int64_t* ids, int64_t n, int64_t epoch, int64_t offset) const {
    const int64_t V = shards.manifest().vocab_size;
    for (int64_t i = 0; i < n; ++i) {
      HALO_CHECK(ids[i] >= 0 && ids[i] < V, "loader: token id ", ids[i], " at token ", offset + i,
                 " of epoch ", epoch, " of the ", opt.split, " split of ", opt.manifest.string(),
                 " is outside the manifest's vocabulary [0, ", V, ") (vocab_size ", V,
                 "). HINT: the shards were not written for this manifest; re-run `halo-distill "
                 "prepare`");
    }
  }

  // Builds the batch at `p` with the current shape; returns where the next one starts.
  Prepared build(const StreamPos& p, int64_t T, int64_t G) {
    const int64_t b = G / opt.world_size;
    Prepared out;
    at::Tensor window = at::empty({b, T + 1}, at::kLong);
    at::Tensor starts = at::empty({b, T + 1}, at::kBool);
    at::Tensor positions = at::empty({b, T}, at::kLong);
    int64_t* w = window.data_ptr<int64_t>();
    bool* s = starts.data_ptr<bool>();
    int64_t* pid = positions.data_ptr<int64_t>();
    for (int64_t r = 0; r < b; ++r) {
      const int64_t row = opt.rank * b + r;
      stream.read(p.epoch, p.offset + row * T, T + 1, w + r * (T + 1), s + r * (T + 1));
      check_vocabulary(w + r * (T + 1), T + 1, p.epoch, p.offset + row * T);
      const bool* rs = s + r * (T + 1);
      int64_t* rp = pid + r * T;
      int64_t next_pos = 0;
      for (int64_t t = 0; t < T; ++t) {
        if (opt.restart_positions && rs[t]) next_pos = 0;
        rp[t] = next_pos++;
      }
    }
    out.batch.input_ids = window.narrow(1, 0, T).contiguous();
    out.batch.labels = window.narrow(1, 1, T).contiguous();
    out.batch.doc_starts = starts.narrow(1, 0, T).contiguous();
    out.batch.position_ids = positions;
    out.batch.step = p.step;
    out.end = {p.epoch, p.offset + G * T, p.step + 1};
    stream.normalize(&out.end.epoch, &out.end.offset);
    return out;
  }

  void start_worker() {
    if (opt.prefetch == 0) return;
    stop = false;
    const StreamPos start = pos;
    const int64_t T = opt.seq_len, G = opt.global_batch;
    worker = std::thread([this, start, T, G] {
      StreamPos p = start;
      while (true) {
        {
          std::unique_lock<std::mutex> lock(mu);
          cv.wait(lock, [&] { return stop || static_cast<int>(queue.size()) < opt.prefetch; });
          if (stop) return;
        }
        Prepared item;
        try {
          item = build(p, T, G);
          p = item.end;
        } catch (...) {
          item.error = std::current_exception();
        }
        const bool failed = item.error != nullptr;
        {
          std::lock_guard<std::mutex> lock(mu);
          if (stop) return;
          queue.push_back(std::move(item));
        }
        cv.notify_all();
        if (failed) return;
      }
    });
  }

  void stop_worker() {
    if (!worker.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    worker.join();
    queue.clear();
  }
};

LoaderOptions training_loader_options(const std::filesystem::path& manifest, int64_t seq_len,
                                      int64_t global_batch, int rank, int world_size, uint64_t seed,
                                      int prefetch) {
  LoaderOptions lo;
  lo.manifest = manifest;
  lo.split = "train";
  lo.seq_len = seq_len;
  lo.global_batch = global_batch;
  lo.rank = rank;
  lo.world_size = world_size;
  lo.seed = seed;
  lo.prefetch = prefetch;
  return lo;
}

LoaderOptions evaluation_loader_options(const std::filesystem::path& manifest, int64_t seq_len,
                                        int64_t global_batch, int rank, int world_size) {
  auto lo = training_loader_options(manifest, seq_len, global_batch, rank, world_size,
                                    LoaderOptions().seed, /*prefetch=*/0);
  lo.split = "validation";
  lo.shuffle = false;
  return lo;
}

PackedLoader::PackedLoader(LoaderOptions options) {
  options.validate();
  impl_ = std::make_unique<Impl>(std::move(options));
  impl_->start_worker();
}

PackedLoader::~PackedLoader() {
  if (impl_) impl_->stop_worker();
}

Batch PackedLoader::next() {
  Impl& m = *impl_;
  if (m.opt.prefetch == 0) {
    Prepared item = m.build(m.pos, m.opt.seq_len, m.opt.global_batch);
    m.pos = item.end;
    return std::move(item.batch);
  }
  Prepared item;
  {
    std::unique_lock<std::mutex> lock(m.mu);
    m.cv.wait(lock, [&] { return !m.queue.empty(); });
    item = std::move(m.queue.front());
    m.queue.pop_front();
  }
  m.cv.notify_all();
  if (item.error) {
    // The worker stopped at the failure; start it again so that a caller who handles the
    // error and retries gets the same error (or the batch, if the cause went away).
    m.stop_worker();
    m.start_worker();
    std::rethrow_exception(item.error);
  }
  m.pos = item.end;
  return std::move(item.batch);
}

LoaderCursor PackedLoader::cursor() const {
  const Impl& m = *impl_;
  LoaderCursor c;
  c.seed = m.stream.seed();
  c.epoch = m.pos.epoch;
  c.token_offset = m.pos.offset;
  c.step = m.pos.step;
  c.split = m.opt.split;
  c.dataset_id = m.dataset_id;
  return c;
}

void PackedLoader::restore(const LoaderCursor& c) {
  Impl& m = *impl_;
  HALO_CHECK(c.split == m.opt.split, "loader cursor is for split \"", c.split,
             "\" but this loader reads \"", m.opt.split, "\"");
  HALO_CHECK(c.dataset_id == m.dataset_id, "loader cursor was saved on the shard set ",
             c.dataset_id, " but ", m.opt.manifest.string(), " is the set ", m.dataset_id,
             ". HINT: resume with the manifest the run started with");
  HALO_CHECK(c.epoch >= 0 && c.step >= 0 && c.token_offset >= 0 &&
                 c.token_offset < m.stream.epoch_tokens(),
             "loader cursor: token_offset ", c.token_offset, " is outside [0, ",
             m.stream.epoch_tokens(), ") (tokens per epoch of this split)");
  m.stop_worker();
  m.stream.set_seed(c.seed);
  m.opt.seed = c.seed;
  m.pos = {c.epoch, c.token_offset, c.step};
  m.start_worker();
}

void PackedLoader::set_shape(int64_t seq_len, int64_t global_batch) {
  Impl& m = *impl_;
  if (seq_len == m.opt.seq_len && global_batch == m.opt.global_batch) return;
  LoaderOptions changed = m.opt;
  changed.seq_len = seq_len;
  changed.global_batch = global_batch;
  changed.validate();
  m.stop_worker();
  m.opt = changed;
  m.start_worker();
}

const LoaderOptions& PackedLoader::options() const {
  return impl_->opt;
}
int64_t PackedLoader::local_batch() const {
  return impl_->opt.global_batch / impl_->opt.world_size;
}
int64_t PackedLoader::epoch_tokens() const {
  return impl_->stream.epoch_tokens();
}
int64_t PackedLoader::num_documents() const {
  return impl_->shards.num_documents();
}
int64_t PackedLoader::separator_id() const {
  return impl_->shards.manifest().separator_id;
}
int64_t PackedLoader::vocab_size() const {
  return impl_->shards.manifest().vocab_size;
}
const std::string& PackedLoader::dataset_id() const {
  return impl_->dataset_id;
}

}  // namespace halo::data
