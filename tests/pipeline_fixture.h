// A tiny end-to-end pipeline for the tests, built through the CLI as a user builds it: a
// synthetic JSONL corpus (deterministic sentences), a SentencePiece tokenizer
// (train-tokenizer), prepared shards (data::prepare_corpus), a 4-layer Qwen3 config, and a pipeline
// YAML with every stage (pretrain, stage1, selection, stage2, stage3 with a length curriculum),
// small enough that the whole pipeline runs in seconds on 2 cores.
#pragma once

#include <string>

namespace halo::test {

struct TinyPipeline {
  std::string dir;       // folder holding everything below
  std::string manifest;  // prepared data
  std::string model_config;
  // Writes dir/NAME.yaml with run.out_dir = dir/OUT_DIR; returns its path.
  std::string write_pipeline(const std::string& name, const std::string& out_dir) const;
};

// Builds (once per folder) the corpus, tokenizer, shards and model config in `dir`.
// Fails the test with the CLI output when a step fails.
TinyPipeline make_tiny_pipeline(const std::string& dir);

}  // namespace halo::test
