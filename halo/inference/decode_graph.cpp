// Implementation of decode_graph.h.
#include "halo/inference/decode_graph.h"

#include "common/error.h"
#include "ops/decode_attention/decode_attention.h"

#include <numeric>

#if HALO_WITH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace halo::inference {

struct DecodeGraph::State {
  hypenet::CausalLM* model = nullptr;
  hypenet::HybridCache* cache = nullptr;
  int64_t R = 0;
#if HALO_WITH_CUDA
  at::cuda::CUDAGraph graph;
#endif
  at::Tensor io;              // [2, R] int64 on the device: token ids, positions (one upload)
  at::Tensor logits, greedy;  // [R, V], [R]: outputs of the captured step
  // What `io` holds before the next replay (ids only while ids_known: a replay leaves the greedy
  // tokens there, unknown to the host until greedy_tokens()).
  std::vector<int64_t> ids_on_device, positions_on_device;
  bool ids_known = true;
};

bool DecodeGraph::available(const hypenet::CausalLM& model) {
#if HALO_WITH_CUDA
  const auto w = model.output_embedding();
  if (!w.is_cuda()) return false;
  const auto layout = model.cache_layout();
  if (layout.num_attention_layers() == 0) return true;
  const auto& b = model.base;
  auto probe = at::empty({1, 1, layout.kv_heads, layout.head_dim}, w.options());
  return ops::decode_attention_uses_kernel(probe, b.num_attention_heads / b.num_key_value_heads);
#else
  (void)model;
  return false;
#endif
}

namespace {

// Rows 0..R-1, one token each, at `positions` [R, 1] (device); host starts all 0 (the forward's
// check_step compares them with the lengths, which the caller sets to 0 around the capture).
hypenet::CacheStep all_rows_step(int64_t R, const at::Tensor& positions) {
  hypenet::CacheStep step;
  step.slots.resize(static_cast<size_t>(R));
  std::iota(step.slots.begin(), step.slots.end(), int64_t{0});
  step.starts.assign(static_cast<size_t>(R), 0);
  step.lengths.assign(static_cast<size_t>(R), 1);
  step.offsets.resize(static_cast<size_t>(R) + 1);
  std::iota(step.offsets.begin(), step.offsets.end(), int64_t{0});
  step.slot_index = at::arange(R, positions.options());
  step.positions = positions;
  step.contiguous_slots = true;
  return step;
}

}  // namespace

DecodeGraph::DecodeGraph(hypenet::CausalLM& model, hypenet::HybridCache& cache)
    : s_(std::make_unique<State>()) {
  HALO_CHECK(available(model),
             "decode graph: needs a model on a CUDA device whose attention layers the decode "
             "kernel takes (ops/decode_attention)");
#if HALO_WITH_CUDA
  auto& s = *s_;
  s.model = &model;
  s.cache = &cache;
  s.R = cache.batch();
  const auto w = model.output_embedding();
  const auto device = w.device();
  const auto i64 = at::TensorOptions().dtype(at::kLong).device(device);
  s.io = at::zeros({2, s.R}, i64);
  s.ids_on_device.assign(static_cast<size_t>(s.R), 0);
  s.positions_on_device.assign(static_cast<size_t>(s.R), 0);
  auto ids = s.io[0].view({s.R, 1});
  auto positions = s.io[1].view({s.R, 1});
  hypenet::ForwardOptions fo;
  fo.logits_to_keep = 1;

  c10::cuda::CUDAGuard device_guard(device);
  auto current = c10::cuda::getCurrentCUDAStream();
  auto side = c10::cuda::getStreamFromPool(false, device.index());
  at::cuda::CUDAEvent ready;
  ready.record(current);
  ready.block(side);
  std::vector<int64_t> lengths(static_cast<size_t>(s.R));
  for (int64_t r = 0; r < s.R; ++r) lengths[r] = cache.length(r);
  {
    c10::cuda::CUDAStreamGuard stream_guard(side);
    // Warm-up on a scratch cache: lazy set-up (cuBLAS workspaces of this stream, the ops'
    // one-time argument checks that read the device) must not happen inside the capture.
    {
      hypenet::HybridCache scratch(model.cache_layout(), s.R, 1, w.scalar_type(), device);
      auto scratch_step = all_rows_step(s.R, at::zeros({s.R, 1}, i64));
      model.forward(ids, fo, &scratch, &scratch_step);
    }
    auto step = all_rows_step(s.R, positions);
    for (int64_t r = 0; r < s.R; ++r) cache.set_length(r, 0);
    try {
      s.graph.capture_begin();
      auto out = model.forward(ids, fo, &cache, &step);
      s.logits = out.logits.view({s.R, -1});  // [R, V]
      s.greedy = s.logits.argmax(-1);         // [R]
      ids.view({s.R}).copy_(s.greedy);        // the next input of each row
      positions.add_(1);
      s.graph.capture_end();
    } catch (...) {
      try {
        s.graph.capture_end();
      } catch (...) {
      }
      for (int64_t r = 0; r < s.R; ++r) cache.set_length(r, lengths[r]);
      throw;
    }
    for (int64_t r = 0; r < s.R; ++r) cache.set_length(r, lengths[r]);
  }
  at::cuda::CUDAEvent captured;
  captured.record(side);
  captured.block(current);
#endif
}

DecodeGraph::~DecodeGraph() = default;

int64_t DecodeGraph::rows() const {
  return s_->R;
}

int64_t DecodeGraph::next_position(int64_t row) const {
  const int64_t length = s_->cache->length(row);
  HALO_CHECK(length < s_->cache->capacity(), "decode graph: row ", row, " holds ", length,
             " tokens, the cache's capacity; no room for another");
  return length;
}

const at::Tensor& DecodeGraph::replay(const std::vector<int64_t>& positions,
                                      const std::vector<char>& live) {
  auto& s = *s_;
#if HALO_WITH_CUDA
  s.graph.replay();
#endif
  for (int64_t r = 0; r < s.R; ++r) {
    s.positions_on_device[r] = positions[r] + 1;
    if (live[r]) s.cache->set_length(r, positions[r] + 1);
  }
  s.ids_known = false;
  return s.logits;
}

const at::Tensor& DecodeGraph::step(const std::vector<int64_t>& ids,
                                    const std::vector<char>& live) {
  auto& s = *s_;
  HALO_CHECK(static_cast<int64_t>(ids.size()) == s.R && static_cast<int64_t>(live.size()) == s.R,
             "decode graph: step needs one id and one live flag per cache row (", s.R, "), got ",
             ids.size(), " and ", live.size());
  std::vector<int64_t> want_ids(static_cast<size_t>(s.R)), want_pos(static_cast<size_t>(s.R));
  bool upload = !s.ids_known;
  for (int64_t r = 0; r < s.R; ++r) {
    // A row not live runs the dummy token at position 0 with whatever id the device holds.
    want_pos[r] = live[r] ? next_position(r) : 0;
    want_ids[r] = live[r] ? ids[r] : (s.ids_known ? s.ids_on_device[r] : 0);
    upload |=
        want_pos[r] != s.positions_on_device[r] || (live[r] && want_ids[r] != s.ids_on_device[r]);
  }
  if (upload) {
    auto host = at::empty({2, s.R}, at::kLong);
    std::copy(want_ids.begin(), want_ids.end(), host.data_ptr<int64_t>());
    std::copy(want_pos.begin(), want_pos.end(), host.data_ptr<int64_t>() + s.R);
    s.io.copy_(host);
  }
  return replay(want_pos, live);
}

const at::Tensor& DecodeGraph::step_greedy() {
  auto& s = *s_;
  std::vector<int64_t> want_pos(static_cast<size_t>(s.R));
  bool upload = false;
  for (int64_t r = 0; r < s.R; ++r) {
    want_pos[r] = next_position(r);
    upload |= want_pos[r] != s.positions_on_device[r];
  }
  if (upload) s.io[1].copy_(at::tensor(want_pos, at::kLong));
  return replay(want_pos, std::vector<char>(static_cast<size_t>(s.R), 1));
}

std::vector<int64_t> DecodeGraph::greedy_tokens() {
  auto& s = *s_;
  auto host = s.greedy.to(at::kCPU, at::kLong).contiguous();
  s.ids_on_device.assign(host.data_ptr<int64_t>(), host.data_ptr<int64_t>() + s.R);
  s.ids_known = true;
  return s.ids_on_device;
}

}  // namespace halo::inference
