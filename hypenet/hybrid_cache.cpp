// Implementation of hybrid_cache.h.
#include "hypenet/hybrid_cache.h"

#include "common/error.h"

#include <algorithm>
#include <cstdio>
#include <set>

namespace halo::hypenet {

CacheStep make_cache_step(std::vector<int64_t> slots, std::vector<int64_t> starts,
                          std::vector<int64_t> lengths, c10::Device device) {
  const size_t N = slots.size();
  HALO_CHECK(N >= 1 && starts.size() == N && lengths.size() == N,
             "cache step: slots, starts and lengths must be non-empty and of one size, got ",
             slots.size(), ", ", starts.size(), ", ", lengths.size());
  HALO_CHECK(std::set<int64_t>(slots.begin(), slots.end()).size() == N,
             "cache step: a cache row appears twice in one step");
  for (size_t i = 0; i < N; ++i) {
    HALO_CHECK(lengths[i] >= 1 && starts[i] >= 0, "cache step: segment ", i, " has length ",
               lengths[i], " and start ", starts[i], "; expected length >= 1, start >= 0");
  }
  CacheStep s;
  s.slots = std::move(slots);
  s.starts = std::move(starts);
  s.lengths = std::move(lengths);
  s.packed =
      std::any_of(s.lengths.begin(), s.lengths.end(), [&](int64_t n) { return n != s.lengths[0]; });
  s.contiguous_slots = true;
  for (size_t i = 1; i < N; ++i) s.contiguous_slots &= s.slots[i] == s.slots[0] + int64_t(i);
  auto i64 = at::TensorOptions().dtype(at::kLong);
  s.slot_index = at::tensor(s.slots, i64).to(device);
  std::vector<int64_t> pos;
  s.offsets = {0};
  for (size_t i = 0; i < N; ++i) {
    for (int64_t t = 0; t < s.lengths[i]; ++t) pos.push_back(s.starts[i] + t);
    s.offsets.push_back(s.offsets.back() + s.lengths[i]);
  }
  auto positions = at::tensor(pos, i64);
  s.positions =
      (s.packed ? positions.view({1, -1}) : positions.view({int64_t(N), s.lengths[0]})).to(device);
  if (s.packed) s.cu_seqlens = at::tensor(s.offsets, i64).to(device);
  return s;
}

CacheLayout CacheLayout::of(const Qwen3Config& t) {
  CacheLayout l;
  l.mixers.assign(static_cast<size_t>(t.num_hidden_layers), MixerType::kAttention);
  l.kv_heads = t.num_key_value_heads;
  l.head_dim = t.head_dim;
  return l;
}

CacheLayout CacheLayout::of(const HypeNetConfig& c) {
  CacheLayout l = of(c.base);
  l.mixers = c.mixer_types;
  l.lightning_heads = c.lightning_nh;
  l.lightning_dk = l.lightning_dv = c.lightning_head_dim;
  return l;
}

int64_t CacheLayout::num_attention_layers() const {
  return std::count(mixers.begin(), mixers.end(), MixerType::kAttention);
}
int64_t CacheLayout::num_lightning_layers() const {
  return std::count(mixers.begin(), mixers.end(), MixerType::kLightning);
}

namespace {
at::ScalarType state_dtype(at::ScalarType model_dtype) {
  return model_dtype == at::kDouble ? at::kDouble : at::kFloat;
}
}  // namespace

CacheBytes cache_bytes(const CacheLayout& l, int64_t batch, int64_t capacity,
                       at::ScalarType dtype) {
  CacheBytes b;
  const int64_t elt = static_cast<int64_t>(c10::elementSize(dtype));
  b.kv_bytes_per_token = l.num_attention_layers() * 2 * l.kv_heads * l.head_dim * elt;
  b.kv = b.kv_bytes_per_token * batch * capacity;
  b.state = l.num_lightning_layers() * batch * l.lightning_heads * l.lightning_dk * l.lightning_dv *
            static_cast<int64_t>(c10::elementSize(state_dtype(dtype)));
  return b;
}

std::string format_bytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", v, units[u]);
  return buf;
}

HybridCache::HybridCache(const CacheLayout& l, int64_t batch, int64_t capacity,
                         at::ScalarType dtype, c10::Device device)
    : batch_(batch), capacity_(capacity) {
  HALO_CHECK(batch >= 1 && capacity >= 1, "cache: batch and capacity must be >= 1, got ", batch,
             " and ", capacity);
  const auto opts = at::TensorOptions().dtype(dtype).device(device);
  kv_.resize(l.mixers.size());
  state_.resize(l.mixers.size());
  for (size_t i = 0; i < l.mixers.size(); ++i) {
    if (l.mixers[i] == MixerType::kAttention) {
      kv_[i].k = at::zeros({batch, capacity, l.kv_heads, l.head_dim}, opts);
      kv_[i].v = at::zeros({batch, capacity, l.kv_heads, l.head_dim}, opts);
    } else {
      state_[i] = at::zeros({batch, l.lightning_heads, l.lightning_dk, l.lightning_dv},
                            opts.dtype(state_dtype(dtype)));
    }
  }
  lengths_.assign(static_cast<size_t>(batch), 0);
}

void HybridCache::reset_row(int64_t row) {
  HALO_CHECK(row >= 0 && row < batch_, "cache: row ", row, " outside [0, ", batch_, ")");
  lengths_[static_cast<size_t>(row)] = 0;
  for (auto& s : state_) {
    if (s.defined()) s[row].zero_();
  }
}

void HybridCache::fill_synthetic(int64_t length) {
  HALO_CHECK(length >= 0 && length <= capacity_, "cache: synthetic length ", length,
             " outside [0, ", capacity_, "]");
  for (auto& kv : kv_) {
    if (!kv.k.defined()) continue;
    kv.k.narrow(1, 0, length).normal_(0.0, 1.0);
    kv.v.narrow(1, 0, length).normal_(0.0, 1.0);
  }
  for (auto& s : state_) {
    if (s.defined()) s.normal_(0.0, 0.01);
  }
  lengths_.assign(lengths_.size(), length);
}

void HybridCache::check_step(const CacheStep& s) const {
  for (int64_t i = 0; i < s.num_segments(); ++i) {
    const int64_t row = s.slots[i];
    HALO_CHECK(row >= 0 && row < batch_, "cache: row ", row, " outside the cache's ", batch_,
               " rows");
    HALO_CHECK(s.starts[i] == lengths_[row], "cache: segment ", i, " starts at position ",
               s.starts[i], " but row ", row, " holds ", lengths_[row], " tokens");
    HALO_CHECK(s.starts[i] + s.lengths[i] <= capacity_, "cache: row ", row, " would hold ",
               s.starts[i] + s.lengths[i], " tokens, more than its capacity of ", capacity_,
               " (allocate the cache for prompt + new tokens)");
  }
}

void HybridCache::set_length(int64_t row, int64_t length) {
  HALO_CHECK(row >= 0 && row < batch_, "cache: row ", row, " outside [0, ", batch_, ")");
  HALO_CHECK(length >= 0 && length <= capacity_, "cache: length ", length, " of row ", row,
             " outside [0, ", capacity_, "]");
  lengths_[static_cast<size_t>(row)] = length;
}

void HybridCache::commit(const CacheStep& s) {
  for (int64_t i = 0; i < s.num_segments(); ++i) lengths_[s.slots[i]] += s.lengths[i];
}

at::Tensor forward_positions(const at::Tensor& ids, const ForwardOptions& opt,
                             const HybridCache* cache, const CacheStep* step, size_t num_layers,
                             const char* model) {
  if (!cache) {
    if (opt.positions.defined()) return opt.positions.to(ids.device());
    return at::arange(ids.size(1), at::TensorOptions().dtype(at::kLong).device(ids.device()));
  }
  HALO_CHECK(step && cache->num_layers() == static_cast<int64_t>(num_layers), model,
             " forward: a cache of ", num_layers, " layers and a step are needed, got ",
             cache->num_layers(), " layers");
  HALO_CHECK(!opt.positions.defined() && !opt.training && !opt.layer_hook &&
                 !opt.capture_attention_entropy,
             model,
             " forward: a cached forward takes its positions from the step, and no "
             "training flag, layer hook or entropy capture");
  cache->check_step(*step);
  HALO_CHECK(ids.sizes() == step->positions.sizes(), model, " forward: ids ", ids.sizes(),
             " do not match the cache step's layout ", step->positions.sizes());
  return step->positions;
}

at::Tensor last_of_segments(const at::Tensor& x, const CacheStep& s) {
  if (!s.packed) return x.narrow(1, x.size(1) - 1, 1);
  std::vector<int64_t> last;
  for (int64_t i = 0; i < s.num_segments(); ++i) last.push_back(s.offsets[i + 1] - 1);
  return x.index_select(1, at::tensor(last, at::kLong).to(x.device()));
}

at::Tensor keep_logit_rows(const at::Tensor& x, int64_t k, const CacheStep* step) {
  if (step && step->packed) {
    HALO_CHECK(k == 0 || k == 1,
               "forward on a packed cache step: logits_to_keep must be 0 or 1, got ", k);
    return k == 1 ? last_of_segments(x, *step) : x;
  }
  const int64_t T = x.size(1);
  return k > 0 && k < T ? x.narrow(1, T - k, k) : x;
}

at::Tensor gather_rows(const at::Tensor& t, const CacheStep& s) {
  if (s.contiguous_slots) return t.narrow(0, s.slots[0], s.num_segments());
  return t.index_select(0, s.slot_index);
}

void scatter_rows(at::Tensor& t, const CacheStep& s, const at::Tensor& rows) {
  if (s.contiguous_slots) {
    t.narrow(0, s.slots[0], s.num_segments()).copy_(rows);
  } else {
    t.index_copy_(0, s.slot_index, rows.to(t.scalar_type()));
  }
}

}  // namespace halo::hypenet
