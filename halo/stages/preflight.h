// Pre-flight: before `run` or `stage` trains a single step (and before it writes anything into
// the run folder), every input the requested stages will need is checked, so that a bad input
// stops the run in seconds instead of at the first evaluation, hours and no checkpoint later:
//   - device:    run.device "cuda" on a machine where LibTorch sees no CUDA device;
//   - teacher:   teacher.path (when a pending stage reads it) holds a readable config.json and
//                weights whose headers are valid and whose embedding matches the config;
//   - tokenizer: the vocabulary the data was prepared with (manifest vocab_size) fits the
//                teacher's vocab_size (teacher.path's config.json, or the pretrain stage's
//                model_config); when the quality gate or a selection stage will load the
//                tokenizer file, that file exists and is the one the data was prepared with;
//   - disk:      free space where the run folder lives covers the checkpoints the pending
//                training stages keep (parameters x 12 bytes: float32 weights and AdamW's two
//                moments, x keep_last + 1 while a new one is committed), an estimate it prints;
//   - data:      every shard of every split (train and validation) against the SHA-256 the
//                manifest records (data::verify_shard_checksum, the check TokenShards makes).
// Errors are HaloErrors naming the file, what was expected and what was found (exit 1). Run by
// run_pipeline right after check_run_folder (run_identity.h), on every rank.
#pragma once

#include "halo/config/pipeline_config.h"

#include <cstddef>

namespace halo::stages {

// Checks the inputs of stages [first, last) of `p` (stages already done are skipped, but the
// data and the device are always checked). `verbose` prints one line per check to stderr.
void preflight(const config::PipelineConfig& p, size_t first, size_t last, bool verbose = true);

}  // namespace halo::stages
