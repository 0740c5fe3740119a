// Implementation of token_shards.h.
#include "data/token_shards.h"

#include "common/error.h"
#include "data/sha256.h"

namespace halo::data {

void verify_shard_checksum(const std::filesystem::path& manifest_path, const std::string& split,
                           const ShardInfo& sh) {
  const std::string path = (manifest_path.parent_path() / sh.file).string();
  HALO_CHECK(std::filesystem::is_regular_file(path), "token shard '", path, "' (", split,
             " split of ", manifest_path.string(), ") is missing: the manifest records it with ",
             sh.documents, " documents and SHA-256 ", sh.sha256,
             ". HINT: re-run `halo-distill prepare` (or restore the shard from a copy)");
  const std::string actual = sha256_file_hex(path);
  HALO_CHECK(actual == sh.sha256, "token shard '", path, "' (", split, " split) is corrupt: its ",
             "SHA-256 is ", actual, " but the manifest ", manifest_path.string(), " records ",
             sh.sha256, ". HINT: re-run `halo-distill prepare` (or restore the shard from a copy)");
}

TokenShards::TokenShards(const std::filesystem::path& manifest_path, const std::string& split,
                         bool verify_checksums)
    : manifest_(Manifest::read(manifest_path)), split_(split) {
  const SplitInfo& info = manifest_.split(split, manifest_path.string());
  HALO_CHECK(info.documents > 0, manifest_path.string(), ": split \"", split,
             "\" has no documents. HINT: ",
             split == "validation" ? "prepare with a larger --validation-fraction or corpus"
                                   : "prepare a corpus with some valid documents");
  const auto dir = manifest_path.parent_path();
  // No reserve(info.documents): that count is the manifest's claim; the vectors grow by what
  // each shard file, checked against its size, actually holds.
  for (const ShardInfo& sh : info.shards) {
    const std::string path = (dir / sh.file).string();
    if (verify_checksums) verify_shard_checksum(manifest_path, split, sh);
    shards_.push_back(
        std::make_unique<TokenShardFile>(path, manifest_.token_dtype, sh.documents, sh.tokens));
    const auto& offsets = shards_.back()->doc_offsets();
    for (size_t d = 0; d + 1 < offsets.size(); ++d) {
      doc_shard_.push_back(static_cast<int32_t>(shards_.size() - 1));
      doc_begin_.push_back(offsets[d]);
      doc_length_.push_back(offsets[d + 1] - offsets[d]);
    }
    num_tokens_ += sh.tokens;
  }
}

void TokenShards::copy_document(int64_t doc, int64_t begin, int64_t n, int64_t* out) const {
  shards_[doc_shard_[doc]]->copy_tokens(doc_begin_[doc] + begin, n, out);
}

std::vector<int64_t> TokenShards::document(int64_t doc) const {
  HALO_CHECK(doc >= 0 && doc < num_documents(), "document ", doc, " out of range [0, ",
             num_documents(), ")");
  std::vector<int64_t> out(doc_length_[doc]);
  copy_document(doc, 0, document_length(doc), out.data());
  return out;
}

}  // namespace halo::data
