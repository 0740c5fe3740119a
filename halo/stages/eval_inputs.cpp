// load_eval_inputs: validation batches, tokenizer, filler.
#include "halo/stages/eval_inputs.h"

#include "common/error.h"
#include "data/packed_loader.h"
#include "data/shard_manifest.h"
#include "halo/eval/retrieval_prompts.h"

#include <filesystem>

namespace halo::stages {

EvalInputs load_eval_inputs(const config::PipelineConfig& p, int64_t seq_len, int64_t batch_size,
                            int64_t batches) {
  EvalInputs in;
  data::PackedLoader loader(data::evaluation_loader_options(p.data.manifest, seq_len, batch_size));
  std::vector<at::Tensor> ids;
  for (int64_t i = 0; i < batches; ++i) {
    auto b = loader.next();
    in.validation.push_back({b.input_ids, b.labels, at::Tensor()});
    ids.push_back(b.input_ids);
  }
  const auto manifest = data::Manifest::read(p.data.manifest);
  HALO_CHECK(std::filesystem::exists(manifest.tokenizer_path), p.data.manifest,
             ": the tokenizer it was prepared with (", manifest.tokenizer_path,
             ") is gone; evaluation needs it for the recall prompts");
  in.tokenizer = data::load_tokenizer(manifest.tokenizer_path);
  HALO_CHECK(in.tokenizer->identity() == manifest.tokenizer_identity, manifest.tokenizer_path,
             ": differs from the tokenizer the data was prepared with (", p.data.manifest, ")");
  in.filler = eval::filler_from_token_ids(at::cat(ids, 0), in.tokenizer->special_ids());
  return in;
}

}  // namespace halo::stages
