// `halo-distill forward`: logits of one token sequence, written as a float32 safetensors
// tensor named "logits" of shape [T, vocab].
#include "common/error.h"
#include "hypenet/causal_lm.h"
#include "hypenet/safetensors.h"
#include "tools/commands.h"
#include "tools/device_arg.h"
#include "tools/size_arg.h"

#include <torch/cuda.h>

#include <fstream>
#include <iostream>
#include <sstream>

namespace halo::tools {

namespace {

struct ForwardOptions {
  std::string model;
  std::string ids;
  std::string ids_file;
  std::string out;
  std::string device = "cpu";
  std::string dtype = "float32";
};

// Whitespace-separated non-negative integers; `source` names the flag or file in errors.
std::vector<int64_t> parse_ids(const std::string& text, const std::string& source) {
  std::istringstream in(text);
  std::vector<int64_t> ids;
  std::string word;
  while (in >> word) {
    const auto v = parse_whole_integer(word);
    HALO_CHECK(v && *v >= 0, source, ": token ", ids.size(), " is \"", word,
               "\"; expected a non-negative integer id");
    ids.push_back(*v);
  }
  HALO_CHECK(!ids.empty(), source, ": no token ids found (expected e.g. \"1 2 3\")");
  return ids;
}

void run_forward(const ForwardOptions& o) {
  std::vector<int64_t> ids;
  if (!o.ids_file.empty()) {
    std::ifstream in(o.ids_file);
    HALO_CHECK(in.good(), o.ids_file, ": cannot open the ids file");
    std::stringstream ss;
    ss << in.rdbuf();
    ids = parse_ids(ss.str(), o.ids_file);
  } else {
    ids = parse_ids(o.ids, "--ids");
  }
  const auto device = parse_device(o.device);
  const auto dtype = hypenet::parse_dtype(o.dtype, "--dtype");
  auto model = hypenet::load_causal_lm(o.model, dtype, device);
  const int64_t vocab = model.base.vocab_size;
  for (size_t i = 0; i < ids.size(); ++i) {
    HALO_CHECK(ids[i] < vocab, "token ", i, " is id ", ids[i], " but the model's vocab_size is ",
               vocab, " (", o.model, "/config.json)");
  }
  c10::InferenceMode guard;
  auto input = at::tensor(ids, at::kLong).unsqueeze(0).to(device);  // [1, T]
  auto logits = model.forward(input).logits.squeeze(0);              // [T, V]
  hypenet::write_safetensors(o.out, {{"logits", logits.to(at::kCPU, at::kFloat).contiguous()}},
                    {{"model", o.model}, {"dtype", o.dtype}, {"device", o.device}});
  std::cout << "wrote " << o.out << ": logits [" << ids.size() << ", " << vocab << "] float32\n";
}

}  // namespace

void add_forward_command(CLI::App& app) {
  auto opts = std::make_shared<ForwardOptions>();
  auto* cmd = app.add_subcommand(
      "forward", "Run the model (Qwen3 teacher or HypeNet student) on one token sequence and write its logits as a float32 tensor "
                 "named 'logits', shape [T, vocab], to a safetensors file.");
  cmd->add_option("--model", opts->model, "Model folder (config.json + safetensors)")->required();
  auto* ids = cmd->add_option("--ids", opts->ids, "Token ids, space separated, e.g. \"1 2 3\"");
  auto* ids_file =
      cmd->add_option("--ids-file", opts->ids_file, "File of whitespace-separated token ids");
  ids->excludes(ids_file);
  ids_file->excludes(ids);
  cmd->add_option("--out", opts->out, "Output .safetensors file")->required();
  cmd->add_option("--device", opts->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--dtype", opts->dtype, "Compute dtype: float32 or bfloat16")
      ->capture_default_str();
  cmd->callback([opts, cmd] {
    HALO_CHECK(cmd->count("--ids") + cmd->count("--ids-file") == 1,
               "forward: give the tokens with exactly one of --ids or --ids-file");
    run_forward(*opts);
  });
}

}  // namespace halo::tools
