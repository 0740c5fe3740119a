// `halo-distill train-tokenizer --input FILES... --model-prefix P --vocab-size N [...]`: trains a
// SentencePiece model (BPE or unigram) on plain-text files, one sentence per line, for users who
// pretrain their own small teacher. Writes P.model and P.vocab.
#include "common/error.h"
#include "data/sentencepiece_tokenizer.h"
#include "tools/commands.h"

#include <sentencepiece_trainer.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <thread>
#include <unordered_map>

namespace halo::tools {

namespace {

struct TrainTokenizerOptions {
  std::vector<std::string> inputs;
  std::string model_prefix;
  int64_t vocab_size = 0;
  std::string model_type = "bpe";
  double character_coverage = 0.9995;
  bool byte_fallback = false;
  int64_t input_sentence_size = 0;
  bool verbose = false;
};

void run_train_tokenizer(const TrainTokenizerOptions& o) {
  namespace fs = std::filesystem;
  std::error_code ec;
  HALO_CHECK(!o.inputs.empty(), "train-tokenizer: --input needs at least one text file");
  std::string joined;
  for (const auto& in : o.inputs) {
    HALO_CHECK(fs::is_regular_file(in, ec), "train-tokenizer: --input ", in,
               ": no such file (expected a UTF-8 text file, one sentence per line)");
    HALO_CHECK(in.find(',') == std::string::npos, "train-tokenizer: --input ", in,
               ": file names with commas are not supported by the SentencePiece trainer");
    joined += (joined.empty() ? "" : ",") + in;
  }
  HALO_CHECK(o.vocab_size >= 8, "train-tokenizer: --vocab-size is ", o.vocab_size,
             "; expected at least 8 (the special pieces plus some text)");
  HALO_CHECK(o.character_coverage > 0.0 && o.character_coverage <= 1.0,
             "train-tokenizer: --character-coverage is ", o.character_coverage,
             "; expected a value in (0, 1] (0.9995 for most languages, 1.0 for small alphabets)");
  const fs::path prefix(o.model_prefix);
  if (prefix.has_parent_path()) fs::create_directories(prefix.parent_path(), ec);

  std::unordered_map<std::string, std::string> args = {
      {"input", joined},
      {"model_prefix", o.model_prefix},
      {"vocab_size", std::to_string(o.vocab_size)},
      {"model_type", o.model_type},
      {"character_coverage", std::to_string(o.character_coverage)},
      {"byte_fallback", o.byte_fallback ? "true" : "false"},
      {"num_threads", std::to_string(std::max(1u, std::thread::hardware_concurrency()))},
      {"minloglevel", o.verbose ? "0" : "1"},
  };
  if (o.input_sentence_size > 0) {
    args["input_sentence_size"] = std::to_string(o.input_sentence_size);
    args["shuffle_input_sentence"] = "true";
  }
  const auto status = sentencepiece::SentencePieceTrainer::Train(args);
  HALO_CHECK(status.ok(), "train-tokenizer: SentencePiece training on ", joined,
             " failed: ", status.ToString());
  // Load what was written: proves the file is usable and reports its size.
  data::SentencePieceTokenizer tok(o.model_prefix + ".model");
  std::cout << "wrote " << o.model_prefix << ".model and " << o.model_prefix << ".vocab ("
            << tok.vocab_size() << " pieces, " << o.model_type << ", " << tok.identity() << ")\n";
}

}  // namespace

void add_train_tokenizer_command(CLI::App& app) {
  auto opts = std::make_shared<TrainTokenizerOptions>();
  auto* cmd =
      app.add_subcommand("train-tokenizer",
                         "Train a SentencePiece tokenizer (BPE or unigram) on text files, for a "
                         "teacher you pretrain yourself. Writes PREFIX.model and PREFIX.vocab.");
  cmd->add_option("--input", opts->inputs, "Text files, one sentence per line")->required();
  cmd->add_option("--model-prefix", opts->model_prefix,
                  "Output path without extension (PREFIX.model, PREFIX.vocab)")
      ->required();
  cmd->add_option("--vocab-size", opts->vocab_size, "Number of pieces")->required();
  cmd->add_option("--model-type", opts->model_type, "bpe or unigram")
      ->capture_default_str()
      ->check(CLI::IsMember({"bpe", "unigram"}));
  cmd->add_option("--character-coverage", opts->character_coverage,
                  "Share of characters covered by the vocabulary (1.0 for small alphabets)")
      ->capture_default_str();
  cmd->add_flag("--byte-fallback", opts->byte_fallback,
                "Encode characters outside the vocabulary as UTF-8 byte pieces (lossless)");
  cmd->add_option("--input-sentence-size", opts->input_sentence_size,
                  "Train on this many sentences sampled from the input (0: all)")
      ->capture_default_str();
  cmd->add_flag("--verbose", opts->verbose, "Show the SentencePiece trainer's log");
  cmd->callback([opts] { run_train_tokenizer(*opts); });
}

}  // namespace halo::tools
