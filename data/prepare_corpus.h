// prepare_corpus: raw text -> HDF5 token shards + manifest.json (what `halo-distill prepare`
// runs). A pipeline of one reader thread (files in sorted order, documents in file order),
// N tokenizer threads working on chunks of about 1 MiB of text, and an ordered writer (the
// calling thread) that assigns documents to the splits and writes shards, so the output is the
// same for any number of threads.
//
// Split: the accepted documents are numbered 0, 1, ... in input order; document i goes to
// validation when floor((i + 1) * f) > floor(i * f) (f = validation_fraction: every 1/f-th
// document, exactly round-down(n * f) of n), else to train.
//
// Memory bound: at most 2 * threads + 2 chunks are in flight, each at most 1 MiB of text plus
// one document (<= max_document_bytes; JSONL documents <= max_line_bytes), held as text and as
// tokens (about 4 bytes of ids per byte of text at worst while a chunk is converted); the
// writer holds one shard per split (<= shard_tokens ids of 4 bytes, plus 8 bytes per document).
// So peak memory <= tokenizer + 8 * shard_tokens + 5 * (2 * threads + 2) * (1 MiB +
// max_document_bytes) bytes, whatever the corpus size: about 400 MiB + tokenizer with the
// defaults and 2 threads.
#pragma once

#include "data/corpus_reader.h"
#include "data/shard_manifest.h"

#include <cstdint>
#include <string>
#include <vector>

namespace halo::data {

struct PrepareOptions {
  std::string tokenizer;              // tokenizer.json / .model / folder (load_tokenizer)
  std::string teacher;                // teacher model folder: its eos_token_id separates documents
  std::vector<std::string> inputs;    // files and folders (corpus_reader.h formats)
  std::string out;                    // output folder (created; must not hold a manifest.json)
  double validation_fraction = 0.01;  // in [0, 0.5]
  int64_t shard_tokens = int64_t{1} << 24;  // a shard is closed once it holds this many ids
  int threads = 0;                          // tokenizer threads; 0 = hardware threads
  ReaderLimits limits;
  bool progress = true;  // progress bar on stderr

  void validate() const;
};

struct PrepareResult {
  Manifest manifest;
  std::vector<std::string> skipped_files;  // files in input folders with other endings
  int64_t documents = 0;                   // kept, both splits
  int64_t tokens = 0;
  int64_t bad_documents = 0;  // skipped, all kinds
  int64_t input_bytes = 0;    // on disk
  int64_t text_bytes = 0;     // of the documents kept (uncompressed UTF-8)
  double seconds = 0;
  int threads = 0;
};

// The document separator written to the manifest. With a teacher folder: the first id of its
// generation_config.json `eos_token_id` (a number or a list), else of its config.json's, as the
// authors' data code appends the teacher tokenizer's EOS after every document (HALO_NOTES 3);
// the id must be one the tokenizer decodes. Without a teacher, or when the teacher names none:
// the tokenizer's "<|endoftext|>" when it has one, else its EOS id; neither is a HaloError.
// `source` says which, e.g. "teacher generation_config.json eos_token_id
// (/m/generation_config.json)".
class Tokenizer;
struct Separator {
  int64_t id = -1;
  std::string token;   // its text
  std::string source;  // where the id was taken from
};
Separator choose_separator(const Tokenizer& tokenizer, const std::string& teacher_dir = "");

PrepareResult prepare_corpus(const PrepareOptions& options);

}  // namespace halo::data
