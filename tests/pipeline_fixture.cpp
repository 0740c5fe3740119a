// The tiny pipeline fixture: corpus, tokenizer, shards, model config and pipeline YAML.
#include "tests/pipeline_fixture.h"

#include "data/prepare_corpus.h"
#include "tests/test_util.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <vector>

namespace halo::test {

namespace {

// Deterministic pseudo-English: sentences from a small vocabulary with a fixed LCG, so the
// tokenizer has structure to learn and every run sees the same bytes.
void write_corpus(const std::string& path, int documents) {
  const std::vector<std::string> words = {
      "the",   "a",         "model", "learns",  "small", "tokens",  "from",  "text",
      "and",   "every",     "layer", "keeps",   "state", "over",    "long",  "context",
      "while", "attention", "reads", "memory",  "of",    "passkey", "river", "stone",
      "green", "light",     "runs",  "quickly", "into",  "quiet",   "hills", "where",
      "birds", "sing",      "at",    "dawn",    "with",  "bright",  "songs"};
  uint64_t s = 12345;
  auto next = [&s]() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(s >> 33);
  };
  std::ofstream out(path);
  for (int d = 0; d < documents; ++d) {
    std::string text;
    const int sentences = 3 + static_cast<int>(next() % 6);
    for (int k = 0; k < sentences; ++k) {
      const int n = 4 + static_cast<int>(next() % 8);
      for (int w = 0; w < n; ++w) {
        std::string word = words[next() % words.size()];
        if (w == 0) word[0] = static_cast<char>(word[0] - 'a' + 'A');
        text += word + (w + 1 < n ? " " : ". ");
      }
    }
    out << "{\"text\": \"" << text << "\"}\n";
  }
}

void require_cli(const std::string& args) {
  auto r = run_cli(args);
  INFO("halo-distill " << args << "\n" << r.output);
  REQUIRE(r.exit_code == 0);
}

}  // namespace

TinyPipeline make_tiny_pipeline(const std::string& dir) {
  namespace fs = std::filesystem;
  TinyPipeline t;
  t.dir = dir;
  t.manifest = dir + "/data/manifest.json";
  t.model_config = dir + "/model.json";
  if (fs::exists(t.manifest)) return t;
  fs::create_directories(dir);
  write_corpus(dir + "/corpus.jsonl", 600);
  // SentencePiece reads lines of plain text.
  {
    std::ifstream in(dir + "/corpus.jsonl");
    std::ofstream out(dir + "/corpus.txt");
    std::string line;
    while (std::getline(in, line)) out << line.substr(10, line.size() - 12) << "\n";
  }
  require_cli("train-tokenizer --input " + dir + "/corpus.txt --model-prefix " + dir +
              "/tok --vocab-size 200 --model-type bpe");
  data::PrepareOptions prep;
  prep.tokenizer = dir + "/tok.model";
  prep.inputs = {dir + "/corpus.jsonl"};
  prep.out = dir + "/data";
  prep.validation_fraction = 0.1;
  prep.threads = 1;
  prep.progress = false;
  data::prepare_corpus(prep);
  std::ofstream(t.model_config)
      << R"({"vocab_size": 200, "hidden_size": 32, "intermediate_size": 64,
  "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
  "tie_word_embeddings": true, "rope_theta": 10000.0, "max_position_embeddings": 512})";
  return t;
}

std::string TinyPipeline::write_pipeline(const std::string& name, const std::string& out) const {
  const std::string path = dir + "/" + name + ".yaml";
  std::ofstream f(path);
  f << "run:\n  out_dir: " << dir << "/" << out << "\n  seed: 7\n  threads: 2\n"
    << "data:\n  manifest: " << manifest << "\n  prefetch: 1\n"
    << "quality_gate:\n  enabled: false\n"
    << "stages:\n"
    << "  - name: pretrain\n    kind: pretrain\n    model_config: " << model_config << "\n"
    << "    steps: 10\n    seq_len: 32\n    batch_size: 4\n    grad_accum: 2\n"
    << "    optimizer: {lr: 0.003, weight_decay: 0.1}\n"
    << "    schedule: {kind: cosine, warmup_steps: 2, min_lr: 0.0003}\n"
    << "    checkpoint: {every: 3, keep_last: 2}\n    eval: {every: 4, batches: 2}\n"
    << "  - name: align\n    kind: stage1\n    steps: 8\n    seq_len: 32\n    batch_size: 4\n"
    << "    loss: l2norm\n    optimizer: {lr: 0.002}\n    checkpoint: {every: 3}\n"
    << "    eval: {batches: 2}\n"
    << "  - name: select\n    kind: selection\n    method: uniform\n    num_attention_layers: 1\n"
    << "    report_all_scores: false\n"
    << "  - name: distill\n    kind: stage2\n    steps: 8\n    seq_len: 32\n    batch_size: 4\n"
    << "    loss_chunk_tokens: 48\n    optimizer: {lr: 0.001}\n"
    << "    schedule: {kind: wsd, warmup_steps: 1, min_lr: 0.0001}\n"
    << "    checkpoint: {every: 3}\n    eval: {batches: 2}\n"
    << "  - name: long\n    kind: stage3\n    steps: 8\n    batch_size: 4\n"
    << "    curriculum:\n      - {from_step: 0, seq_len: 32}\n      - {from_step: 4, seq_len: 64}\n"
    << "    optimizer: {lr: 0.0005}\n    checkpoint: {every: 3}\n    eval: {batches: 2}\n";
  return path;
}

}  // namespace halo::test
