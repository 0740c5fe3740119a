// Implementation of generation_engine.h.
#include "halo/inference/generation_engine.h"

#include "common/error.h"
#include "halo/inference/decode_graph.h"
#include "halo/inference/memory_plan.h"
#include "hypenet/hybrid_cache.h"

#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>

namespace halo::inference {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A sequence in a cache row.
struct LiveSequence {
  size_t request = 0;
  int64_t fed = 0;       // prompt tokens already in the cache
  int64_t pending = -1;  // the last new token, not yet in the cache (-1: none)
  std::optional<TokenSampler> sampler;
  GenerationResult result;
  Clock::time_point started, first_token;
};

}  // namespace

std::string finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::kLength:
      return "length";
    case FinishReason::kEos:
      return "eos";
    case FinishReason::kStop:
      return "stop";
  }
  return "?";
}

GenerationEngine::GenerationEngine(hypenet::CausalLM& model, EngineOptions options)
    : model_(model), options_(std::move(options)) {
  HALO_CHECK(options_.batch_size >= 1, "generation: batch size must be >= 1, got ",
             options_.batch_size);
  HALO_CHECK(options_.prefill_chunk >= 1, "generation: prefill chunk must be >= 1 token, got ",
             options_.prefill_chunk);
  HALO_CHECK(options_.capacity >= 0, "generation: capacity must be >= 0 (0 = as needed), got ",
             options_.capacity);
}

int64_t GenerationEngine::needed_capacity(const std::vector<GenerationRequest>& requests) {
  int64_t c = 0;
  for (const auto& r : requests) {
    c = std::max(c, static_cast<int64_t>(r.prompt.size()) + r.max_new_tokens);
  }
  return c;
}

void GenerationEngine::validate(const std::vector<GenerationRequest>& requests,
                                int64_t capacity) const {
  const int64_t vocab = model_.base.vocab_size;
  for (size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    const std::string where = r.source.empty() ? "request " + std::to_string(i) : r.source;
    HALO_CHECK(!r.prompt.empty(), where, ": the prompt is empty; give at least one token");
    for (size_t j = 0; j < r.prompt.size(); ++j) {
      HALO_CHECK(r.prompt[j] >= 0 && r.prompt[j] < vocab, where, ": prompt token ", j, " is id ",
                 r.prompt[j], "; the model's vocabulary has ids 0..", vocab - 1);
    }
    HALO_CHECK(r.max_new_tokens >= 1, where, ": max_new_tokens is ", r.max_new_tokens,
               "; expected >= 1");
    const int64_t need = static_cast<int64_t>(r.prompt.size()) + r.max_new_tokens;
    HALO_CHECK(need <= capacity, where, ": prompt (", r.prompt.size(),
               " tokens) + max_new_tokens (", r.max_new_tokens, ") = ", need,
               " tokens exceeds the cache capacity of ", capacity, " tokens per sequence");
    r.sampling.validate(where);
    HALO_CHECK(r.stop.empty() || options_.detokenize, where,
               ": stop strings need a tokenizer to decode the output");
    for (const auto& s : r.stop) HALO_CHECK(!s.empty(), where, ": a stop string is empty");
  }
}

std::vector<GenerationResult> GenerationEngine::generate(
    const std::vector<GenerationRequest>& requests, const TokenCallback& on_token) {
  if (requests.empty()) return {};
  const int64_t capacity = options_.capacity > 0 ? options_.capacity : needed_capacity(requests);
  validate(requests, capacity);
  const auto weight = model_.output_embedding();
  const auto device = weight.device();
  const auto dtype = weight.scalar_type();
  const int64_t rows = std::min<int64_t>(options_.batch_size, requests.size());
  const auto layout = model_.cache_layout();
  if (options_.check_memory) {
    const auto& b = model_.base;
    auto plan = plan_generation_memory(layout, rows, capacity,
                                       rows * std::min(options_.prefill_chunk, capacity),
                                       b.hidden_size, b.intermediate_size, b.vocab_size, dtype);
    check_generation_fits(plan, device, rows, capacity);
  }

  c10::InferenceMode inference;
  hypenet::HybridCache cache(layout, rows, capacity, dtype, device);
  std::vector<std::optional<LiveSequence>> live(static_cast<size_t>(rows));
  std::vector<GenerationResult> results(requests.size());
  size_t next_request = 0;
  auto fill_rows = [&] {
    for (int64_t row = 0; row < rows && next_request < requests.size(); ++row) {
      if (live[row]) continue;
      cache.reset_row(row);
      LiveSequence s;
      s.request = next_request;
      const auto& r = requests[next_request];
      s.sampler.emplace(r.sampling, next_request);
      s.result.prompt_tokens = static_cast<int64_t>(r.prompt.size());
      s.started = Clock::now();
      live[row] = std::move(s);
      ++next_request;
    }
  };
  // Appends `token` to the row's sequence; ends it when it is done.
  auto emit = [&](int64_t row, int64_t token) {
    auto& s = *live[row];
    const auto& r = requests[s.request];
    auto& res = s.result;
    if (res.tokens.empty()) {
      s.first_token = Clock::now();
      res.prefill_seconds = seconds_since(s.started);
    }
    res.tokens.push_back(token);
    s.pending = token;
    bool done = false;
    if (std::find(options_.eos_ids.begin(), options_.eos_ids.end(), token) !=
        options_.eos_ids.end()) {
      res.finish = FinishReason::kEos;
      done = true;
    } else if (!r.stop.empty()) {
      const auto text = options_.detokenize(res.tokens);
      for (const auto& stop : r.stop) {
        const auto at = text.find(stop);
        if (at != std::string::npos) {
          res.finish = FinishReason::kStop;
          res.text = text.substr(0, at);
          done = true;
          break;
        }
      }
    }
    if (!done && static_cast<int64_t>(res.tokens.size()) >= r.max_new_tokens) {
      res.finish = FinishReason::kLength;
      done = true;
    }
    if (done) {
      res.decode_seconds = seconds_since(s.first_token);
      if (options_.detokenize && res.finish != FinishReason::kStop) {
        auto ids = res.tokens;
        if (res.finish == FinishReason::kEos) ids.pop_back();
        res.text = options_.detokenize(ids);
      }
    }
    if (on_token) on_token({s.request, token, done, done ? &res : nullptr});
    if (done) {
      results[s.request] = std::move(res);
      live[row].reset();
    }
  };

  // Decode steps replay a CUDA graph of the step over all rows, captured at the first one.
  const bool use_graph = options_.cuda_graph && DecodeGraph::available(model_);
  std::unique_ptr<DecodeGraph> graph;
  auto graph_decode = [&] {
    if (!graph) graph = std::make_unique<DecodeGraph>(model_, cache);
    std::vector<int64_t> ids(static_cast<size_t>(rows), 0);
    std::vector<char> mask(static_cast<size_t>(rows), 0);
    for (int64_t row = 0; row < rows; ++row) {
      if (!live[row]) continue;
      ids[row] = live[row]->pending;
      mask[row] = 1;
    }
    const auto& logits = graph->step(ids, mask);  // [R, V]
    const auto greedy = graph->greedy_tokens();   // one sync per step
    for (int64_t row = 0; row < rows; ++row) {
      if (!mask[row]) continue;
      auto& s = *live[row];
      emit(row, s.sampler->params().greedy() ? greedy[row] : s.sampler->next(logits[row]));
    }
  };

  fill_rows();
  while (std::any_of(live.begin(), live.end(), [](const auto& s) { return s.has_value(); })) {
    // Prefill first: rows with prompt left take their next chunk; otherwise every live row
    // decodes its pending token.
    std::vector<int64_t> slots, starts, lengths;
    std::vector<at::Tensor> pieces;
    for (int64_t row = 0; row < rows; ++row) {
      if (!live[row]) continue;
      const auto& s = *live[row];
      const auto& prompt = requests[s.request].prompt;
      const int64_t left = static_cast<int64_t>(prompt.size()) - s.fed;
      if (left <= 0) continue;
      const int64_t n = std::min(left, options_.prefill_chunk);
      slots.push_back(row);
      starts.push_back(cache.length(row));
      lengths.push_back(n);
      pieces.push_back(at::tensor(
          std::vector<int64_t>(prompt.begin() + s.fed, prompt.begin() + s.fed + n), at::kLong));
    }
    const bool prefill = !slots.empty();
    if (!prefill && use_graph) {
      graph_decode();
      fill_rows();
      continue;
    }
    if (!prefill) {
      for (int64_t row = 0; row < rows; ++row) {
        if (!live[row]) continue;
        slots.push_back(row);
        starts.push_back(cache.length(row));
        lengths.push_back(1);
        pieces.push_back(at::tensor(std::vector<int64_t>{live[row]->pending}, at::kLong));
      }
    }
    auto step = hypenet::make_cache_step(slots, starts, lengths, device);
    auto ids = (step.packed ? at::cat(pieces).view({1, -1}) : at::stack(pieces)).to(device);
    hypenet::ForwardOptions fo;
    fo.logits_to_keep = 1;
    auto logits = model_.forward(ids, fo, &cache, &step).logits;  // [N, 1, V] or [1, N, V]
    logits = logits.reshape({step.num_segments(), -1});           // [N, V]
    auto greedy = logits.argmax(-1).to(at::kCPU);                 // one sync per step
    for (int64_t i = 0; i < step.num_segments(); ++i) {
      const int64_t row = slots[i];
      auto& s = *live[row];
      if (prefill) {
        s.fed += lengths[i];
        if (s.fed < static_cast<int64_t>(requests[s.request].prompt.size())) continue;
      }
      const int64_t token =
          s.sampler->params().greedy() ? greedy[i].item<int64_t>() : s.sampler->next(logits[i]);
      emit(row, token);
    }
    fill_rows();
  }
  return results;
}

at::Tensor greedy_generate(hypenet::CausalLM& model, const at::Tensor& prompts,
                           int64_t max_new_tokens, int64_t batch_size, int64_t prefill_chunk) {
  HALO_CHECK(prompts.dim() == 2 && prompts.scalar_type() == at::kLong,
             "greedy_generate: prompts must be int64 [S, T], got ", prompts.sizes());
  const int64_t S = prompts.size(0);
  if (max_new_tokens == 0) return at::empty({S, 0}, prompts.options().device(at::kCPU));
  auto host = prompts.to(at::kCPU).contiguous();
  std::vector<GenerationRequest> requests(static_cast<size_t>(S));
  for (int64_t i = 0; i < S; ++i) {
    auto row = host[i];
    requests[i].prompt.assign(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
    requests[i].max_new_tokens = max_new_tokens;
  }
  EngineOptions o;
  o.batch_size = batch_size;
  o.prefill_chunk = prefill_chunk;
  GenerationEngine engine(model, o);
  auto results = engine.generate(requests);
  auto out = at::empty({S, max_new_tokens}, at::kLong);
  for (int64_t i = 0; i < S; ++i) {
    for (int64_t t = 0; t < max_new_tokens; ++t) out[i][t] = results[i].tokens[t];
  }
  return out;
}

}  // namespace halo::inference
