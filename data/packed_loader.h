// PackedLoader: fixed-length training sequences packed from the documents of a token-shard set
// (written by `halo-distill prepare`), with document boundaries, a deterministic shuffle per
// (seed, epoch), sharding over data-parallel ranks, a background prefetch thread, and a cursor
// that checkpoints save and restore exactly (also across a change of world size or shape).
//
// The stream. Epoch e of a split is its documents in a deterministic order (a shuffle drawn
// from (seed, e); manifest order when shuffle is false), each document followed by the
// separator id recorded in the manifest (the tokenizer's end-of-text token). Epochs follow each
// other without a gap: the global token stream is epoch 0, epoch 1, ...
//
// Batches. Global batch s has G sequences of T tokens (G = global_batch, T = seq_len) and
// consumes the G*T stream tokens after those of batches 0..s-1. Row r of it is the stream
// tokens [o + r*T, o + (r+1)*T), o its start offset; labels are the same window moved by one
// (the last label of a row is the first token of the next row; at the end of the batch it
// peeks at the stream after it). Rank k of W takes rows [k*b, (k+1)*b), b = G/W: the union of
// the ranks' rows is the 1-rank batch for every W dividing G, and the cursor (a global token
// offset) continues the same stream whatever W, T and G are after a restore.
//
// Document boundaries. doc_starts is true at the first token of each document (the token
// after a separator, or the first token of an epoch). position_ids count 0, 1, ... from the
// start of each row; with restart_positions they also restart at 0 at every doc start inside
// the row. The separator keeps the position of the document it ends. Nothing else restarts:
// the models attend across document boundaries within a row (the Lightning state carries over,
// attention has no document mask), as the separator token marks the boundary to them. The
// shape letters: b = rows of this rank, T = sequence length.
//
// Threads. One PackedLoader is used from one thread; the prefetch thread is internal. Opening
// reads the manifest, verifies every shard's SHA-256 (a corrupt shard is a HaloError naming it)
// and memory-maps the token data; batches are then built without HDF5 calls. Every id of a
// batch is checked against the manifest's vocab_size as the batch is built (a HaloError naming
// the id, where it is in the stream and the size): the boundary check of token ids, so the
// models need not check them on the device.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace halo::data {

struct LoaderOptions {
  std::filesystem::path manifest;  // manifest.json written by `halo-distill prepare`
  std::string split = "train";     // "train" | "validation"
  int64_t seq_len = 0;             // T, > 0
  int64_t global_batch = 0;        // G: sequences per optimizer step summed over all ranks
  int rank = 0;                    // this rank takes rows [rank*b, (rank+1)*b), b = G/world_size
  int world_size = 1;              // must divide G
  uint64_t seed = 0;               // shuffle of documents per (seed, epoch)
  bool shuffle = true;             // false: documents in manifest order every epoch (evaluation)
  int prefetch = 2;  // batches prepared ahead by a background thread (0 = synchronous)
  bool restart_positions = false;  // position ids restart at 0 at each document start

  // Throws HaloError naming the field and the expected value.
  void validate() const;
};

// The two ways the project reads shards, built here only. Training: the "train" split shuffled
// per (seed, epoch), rank `rank`'s share of each global batch, `prefetch` batches ahead.
LoaderOptions training_loader_options(const std::filesystem::path& manifest, int64_t seq_len,
                                      int64_t global_batch, int rank, int world_size, uint64_t seed,
                                      int prefetch);
// Evaluation: the "validation" split in manifest order every time, synchronous, so every caller
// (validation loss, quality gate, eval) sees the same sequences.
LoaderOptions evaluation_loader_options(const std::filesystem::path& manifest, int64_t seq_len,
                                        int64_t global_batch, int rank = 0, int world_size = 1);

// One rank's share of one global batch. All tensors are CPU, contiguous.
struct Batch {
  at::Tensor input_ids;     // [b, T] int64
  at::Tensor labels;        // [b, T] int64: the next token of each position
  at::Tensor position_ids;  // [b, T] int64
  at::Tensor doc_starts;    // [b, T] bool: true at a document's first token (see above)
  int64_t step = 0;         // index of this global batch since the stream's start
};

// Everything needed to continue the exact global batch sequence: the next batch starts at
// token `token_offset` of epoch `epoch` and gets index `step`.
struct LoaderCursor {
  uint64_t seed = 0;
  int64_t epoch = 0;
  int64_t token_offset = 0;  // in [0, tokens of one epoch of the split)
  int64_t step = 0;
  std::string split;       // the split it walks
  std::string dataset_id;  // fingerprint of the shard set (manifest); restore() checks it

  nlohmann::json to_json() const;
  // Errors name the missing or mistyped key.
  static LoaderCursor from_json(const nlohmann::json& j);
  bool operator==(const LoaderCursor& o) const;
};

class PackedLoader {
 public:
  // Validates the options, opens the manifest, verifies shard checksums, starts prefetching.
  explicit PackedLoader(LoaderOptions options);
  ~PackedLoader();
  PackedLoader(const PackedLoader&) = delete;
  PackedLoader& operator=(const PackedLoader&) = delete;

  // The next batch of this rank (the stream never ends: epochs follow each other).
  Batch next();
  // Position just after the last batch next() returned (the start before any next()).
  LoaderCursor cursor() const;
  // The following next() continues from `c`. Its seed replaces the options' seed; a cursor of
  // another split or shard set is a HaloError.
  void restore(const LoaderCursor& c);
  // Length curriculum: the following next() uses these (validated like the options).
  void set_shape(int64_t seq_len, int64_t global_batch);

  const LoaderOptions& options() const;
  int64_t local_batch() const;    // b = global_batch / world_size
  int64_t epoch_tokens() const;   // tokens of one epoch of the split, separators included
  int64_t num_documents() const;  // documents in the split
  int64_t separator_id() const;   // from the manifest
  int64_t vocab_size() const;     // from the manifest
  const std::string& dataset_id() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace halo::data
