// `halo-distill generate`: text (or token ids) in, continuations out, on the generation engine
// (halo/inference): one prompt streams its text to stdout; a JSONL file of prompts gives a JSONL
// file (or stdout) of results, with a progress line of tokens/s on stderr. Every input is checked
// before the model runs, so a bad line costs nothing and leaves no half-written output.
#include "common/atomic_file.h"
#include "common/error.h"
#include "common/model_folder_files.h"
#include "data/tokenizer.h"
#include "halo/inference/generation_engine.h"
#include "halo/train/progress_bar.h"
#include "hypenet/causal_lm.h"
#include "hypenet/hypenet_config.h"
#include "hypenet/module_io.h"
#include "hypenet/qwen3_checkpoint.h"
#include "tools/commands.h"
#include "tools/device_arg.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

namespace halo::tools {

namespace {

struct GenerateArgs {
  std::string model, prompt, prompts_file, tokenizer, out;
  std::string device = "cpu", dtype = "auto";
  int64_t max_new_tokens = 64, top_k = 0, batch_size = 8, prefill_chunk = 512, capacity = 0;
  double temperature = 0.0, top_p = 1.0;
  uint64_t seed = 0;
  std::vector<std::string> stop;
  bool json = false, ignore_eos = false, no_cuda_graph = false;
};

// The request of one JSONL line: {"text": ...} or {"ids": [...]}, plus optional sampling fields
// that override the command line's.
inference::GenerationRequest parse_line(const std::string& line, const std::string& where,
                                        const inference::GenerationRequest& defaults,
                                        const data::Tokenizer* tokenizer) {
  auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  HALO_CHECK(!j.is_discarded() && j.is_object(), where,
             ": not a JSON object (expected {\"text\": \"...\"} or {\"ids\": [1, 2, 3]})");
  static const std::vector<std::string> kKeys = {"text",  "ids",   "max_new_tokens", "temperature",
                                                 "top_k", "top_p", "seed",           "stop"};
  for (const auto& [key, value] : j.items()) {
    HALO_CHECK(std::find(kKeys.begin(), kKeys.end(), key) != kKeys.end(), where, ": unknown key '",
               key,
               "'; expected text or ids, and optionally max_new_tokens, temperature, top_k, "
               "top_p, seed, stop");
  }
  HALO_CHECK(j.contains("text") != j.contains("ids"), where,
             ": give exactly one of 'text' and 'ids'");
  auto r = defaults;
  r.source = where;
  try {
    if (j.contains("text")) {
      HALO_CHECK(j["text"].is_string(), where, ": 'text' must be a string");
      HALO_CHECK(tokenizer, where, ": 'text' needs a tokenizer (--tokenizer, or one in --model)");
      r.prompt = tokenizer->encode(j["text"].get<std::string>());
    } else {
      r.prompt = j["ids"].get<std::vector<int64_t>>();
    }
    if (j.contains("max_new_tokens")) r.max_new_tokens = j["max_new_tokens"].get<int64_t>();
    if (j.contains("temperature")) r.sampling.temperature = j["temperature"].get<double>();
    if (j.contains("top_k")) r.sampling.top_k = j["top_k"].get<int64_t>();
    if (j.contains("top_p")) r.sampling.top_p = j["top_p"].get<double>();
    if (j.contains("seed")) r.sampling.seed = j["seed"].get<uint64_t>();
    if (j.contains("stop")) {
      r.stop = j["stop"].is_string() ? std::vector<std::string>{j["stop"].get<std::string>()}
                                     : j["stop"].get<std::vector<std::string>>();
    }
  } catch (const nlohmann::json::exception& e) {
    HALO_FAIL(where, ": a field has the wrong type (", e.what(), ")");
  }
  return r;
}

std::vector<inference::GenerationRequest> read_requests(const GenerateArgs& a,
                                                        const inference::GenerationRequest& base,
                                                        const data::Tokenizer* tokenizer) {
  if (a.prompts_file.empty()) {
    HALO_CHECK(tokenizer, "--prompt needs a tokenizer: ", a.model,
               " has no tokenizer.json or tokenizer.model; give --tokenizer PATH");
    auto r = base;
    r.source = "--prompt";
    r.prompt = tokenizer->encode(a.prompt);
    return {r};
  }
  std::ifstream in(a.prompts_file);
  HALO_CHECK(in.good(), a.prompts_file, ": cannot open the prompts file");
  std::vector<inference::GenerationRequest> out;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank lines
    out.push_back(parse_line(line, a.prompts_file + ":" + std::to_string(n), base, tokenizer));
  }
  HALO_CHECK(!out.empty(), a.prompts_file, ": no prompts (one JSON object per line)");
  return out;
}

nlohmann::json result_json(const inference::GenerationResult& r) {
  const double decode_tps =
      r.tokens.size() > 1 && r.decode_seconds > 0 ? (r.tokens.size() - 1) / r.decode_seconds : 0.0;
  return {{"text", r.text},
          {"ids", r.tokens},
          {"finish_reason", inference::finish_reason_name(r.finish)},
          {"prompt_tokens", r.prompt_tokens},
          {"new_tokens", r.tokens.size()},
          {"prefill_ms", r.prefill_seconds * 1e3},
          {"decode_ms", r.decode_seconds * 1e3},
          {"decode_tokens_per_s", decode_tps}};
}

// Ends with an incomplete UTF-8 character (decoders show U+FFFD until it is complete).
bool ends_incomplete(const std::string& s) {
  return s.size() >= 3 && s.compare(s.size() - 3, 3, "\xEF\xBF\xBD") == 0;
}

void run_generate(const GenerateArgs& a) {
  const auto device = parse_device(a.device);
  const std::string dtype_name =
      a.dtype == "auto" ? (device.is_cuda() ? "bfloat16" : "float32") : a.dtype;
  const auto dtype = hypenet::parse_dtype(dtype_name, "--dtype");
  inference::GenerationRequest base;
  base.max_new_tokens = a.max_new_tokens;
  base.sampling = {a.temperature, a.top_k, a.top_p, a.seed};
  base.stop = a.stop;
  base.sampling.validate("the command line");
  HALO_CHECK(a.max_new_tokens >= 1, "--max-new-tokens is ", a.max_new_tokens, "; expected >= 1");

  const std::string tok_path =
      a.tokenizer.empty() ? halo::find_model_tokenizer(a.model) : a.tokenizer;
  std::unique_ptr<data::Tokenizer> tokenizer;
  if (!tok_path.empty()) tokenizer = data::load_tokenizer(tok_path);
  const std::string config_path = a.model + "/config.json";
  const auto config = hypenet::read_model_type(a.model) == "hypenet"
                          ? hypenet::HypeNetConfig::from_json_file(config_path).base
                          : hypenet::Qwen3Config::from_json_file(config_path);
  if (tokenizer) {
    HALO_CHECK(tokenizer->vocab_size() <= config.vocab_size, tok_path, ": the tokenizer has ",
               tokenizer->vocab_size(), " ids but ", a.model, "/config.json has vocab_size ",
               config.vocab_size, "; this tokenizer does not belong to this model");
  }
  auto requests = read_requests(a, base, tokenizer.get());

  inference::EngineOptions o;
  o.batch_size = a.batch_size;
  o.prefill_chunk = a.prefill_chunk;
  o.capacity = a.capacity;
  o.cuda_graph = !a.no_cuda_graph;
  if (!a.ignore_eos) {
    o.eos_ids = halo::model_eos_token_ids(a.model);
    if (o.eos_ids.empty() && tokenizer && tokenizer->special_ids().eos >= 0) {
      o.eos_ids = {tokenizer->special_ids().eos};
    }
  }
  if (tokenizer) {
    const int64_t tv = tokenizer->vocab_size();
    const auto* t = tokenizer.get();
    o.detokenize = [t, tv](const std::vector<int64_t>& ids) {
      std::vector<int64_t> known;  // ids of padded embedding rows have no text
      for (auto id : ids) {
        if (id < tv) known.push_back(id);
      }
      return t->decode(known);
    };
  }
  auto model = hypenet::load_causal_lm(a.model, dtype, device);
  inference::GenerationEngine engine(model, o);

  const bool stream = a.prompts_file.empty() && !a.json && tokenizer;
  std::string shown;
  size_t hold_back = 0;  // bytes a stop string could still claim
  for (const auto& st : requests[0].stop) hold_back = std::max(hold_back, st.size() - 1);
  std::vector<int64_t> streamed;
  int64_t produced = 0, finished = 0;
  const auto start = std::chrono::steady_clock::now();
  auto last_print = start;
  auto on_token = [&](const inference::TokenEvent& e) {
    ++produced;
    finished += e.finished;
    if (stream) {
      // The finished text is final (EOS left out, cut before a stop string); before that, the
      // last bytes that could begin a stop string are held back.
      streamed.push_back(e.token);
      std::string text = e.finished ? e.result->text : o.detokenize(streamed);
      if (!e.finished) text.resize(text.size() - std::min(text.size(), hold_back));
      if ((e.finished || !ends_incomplete(text)) && text.size() > shown.size() &&
          text.compare(0, shown.size(), shown) == 0) {
        std::cout << text.substr(shown.size()) << std::flush;
        shown = text;
      }
    } else if (!a.prompts_file.empty()) {
      const auto now = std::chrono::steady_clock::now();
      if (e.finished || now - last_print > std::chrono::seconds(1)) {
        last_print = now;
        const double s = std::chrono::duration<double>(now - start).count();
        std::fprintf(stderr, "\r[generate] %lld/%zu prompts, %s tokens, %s tokens/s   ",
                     static_cast<long long>(finished), requests.size(),
                     train::format_count(double(produced)).c_str(),
                     train::format_count(s > 0 ? produced / s : 0.0).c_str());
      }
    }
  };
  auto results = engine.generate(requests, on_token);
  if (!a.prompts_file.empty()) std::fprintf(stderr, "\n");

  if (stream) {
    const auto& r = results[0];
    std::cout << std::endl;  // flushed before the stderr line below
    std::fprintf(stderr,
                 "[generate] %zu tokens (%s), prompt %lld tokens in %.1f ms, %.1f tokens/s\n",
                 r.tokens.size(), inference::finish_reason_name(r.finish).c_str(),
                 static_cast<long long>(r.prompt_tokens), r.prefill_seconds * 1e3,
                 r.tokens.size() > 1 ? (r.tokens.size() - 1) / r.decode_seconds : 0.0);
    return;
  }
  std::string text;
  for (const auto& r : results) text += result_json(r).dump() + "\n";
  if (a.out.empty()) {
    std::cout << text << std::flush;
  } else {
    write_text_atomically(a.out, text);
    std::fprintf(stderr, "wrote %zu results to %s\n", results.size(), a.out.c_str());
  }
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  auto* cmd = app.add_subcommand(
      "generate",
      "Continue prompts with a Qwen3 teacher or a HypeNet student on the generation engine "
      "(chunked prefill, cached decode: KV caches for attention layers, recurrent states for "
      "Lightning layers). One --prompt streams its text to stdout; --prompts FILE.jsonl (one "
      "{\"text\": ...} or {\"ids\": [...]} per line, optionally with max_new_tokens, "
      "temperature, top_k, top_p, seed, stop) writes one JSON result per line: text, ids, "
      "finish_reason (eos, stop, length), prompt_tokens, new_tokens, prefill_ms, decode_ms, "
      "decode_tokens_per_s.");
  cmd->add_option("--model", a->model, "Model folder (config.json + safetensors)")->required();
  auto* p = cmd->add_option("--prompt", a->prompt, "One prompt, as text");
  auto* f = cmd->add_option("--prompts", a->prompts_file, "JSONL file of prompts");
  p->excludes(f);
  f->excludes(p);
  cmd->add_option("--tokenizer", a->tokenizer,
                  "tokenizer.json or tokenizer.model (default: the one in --model)");
  cmd->add_option("--max-new-tokens", a->max_new_tokens, "New tokens per prompt at most")
      ->capture_default_str();
  cmd->add_option("--temperature", a->temperature, "0 = greedy; > 0 samples")
      ->capture_default_str();
  cmd->add_option("--top-k", a->top_k, "Sample among the k most likely tokens (0 = off)")
      ->capture_default_str();
  cmd->add_option("--top-p", a->top_p, "Nucleus sampling mass in (0, 1] (1 = off)")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed of the draws (with the prompt's index)")
      ->capture_default_str();
  cmd->add_option("--stop", a->stop, "Stop string (repeatable); the text ends before it");
  cmd->add_option("--device", a->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--dtype", a->dtype,
                  "auto (bfloat16 on CUDA, float32 on CPU), float32, "
                  "bfloat16")
      ->capture_default_str();
  cmd->add_option("--batch-size", a->batch_size, "Sequences decoded together")
      ->capture_default_str();
  cmd->add_option("--prefill-chunk", a->prefill_chunk,
                  "Prompt tokens per sequence per forward (bounds activation memory)")
      ->capture_default_str();
  cmd->add_option("--capacity", a->capacity,
                  "Cache tokens per sequence (0 = longest prompt + --max-new-tokens)")
      ->capture_default_str();
  cmd->add_option("--out", a->out, "Write the JSONL results to this file (default: stdout)");
  cmd->add_flag("--json", a->json, "One prompt: print its JSON result instead of streaming");
  cmd->add_flag("--ignore-eos", a->ignore_eos, "Do not stop at the model's EOS ids");
  cmd->add_flag("--no-cuda-graph", a->no_cuda_graph,
                "On a GPU, launch every decode step's kernels from the host instead of replaying "
                "one captured CUDA graph (same results; for comparison and debugging)");
  cmd->callback([a, cmd] {
    HALO_CHECK(cmd->count("--prompt") + cmd->count("--prompts") == 1,
               "generate: give exactly one of --prompt TEXT or --prompts FILE.jsonl");
    run_generate(*a);
  });
}

}  // namespace halo::tools
