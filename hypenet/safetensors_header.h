// The header of a safetensors file, parsed and validated without LibTorch: the 8-byte length,
// the JSON header, every tensor entry checked against the data buffer; and the index JSON of a
// sharded checkpoint. SafetensorsFile (safetensors.h) and CheckpointFiles (checkpoint_files.h)
// read files with them; the fuzz targets in fuzz/ feed them arbitrary bytes under
// AddressSanitizer (docs/reliability.md).
//
// Format: 8-byte little-endian header length N, N bytes of JSON header
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data buffer (offsets are relative to its start).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace halo::hypenet {

// A header longer than this is treated as corruption rather than allocated and parsed (the
// Python library uses the same 100 MB limit).
inline constexpr uint64_t kSafetensorsMaxHeaderBytes = 100ull * 1000 * 1000;
// More tensors than this in one file is refused (the largest public checkpoints hold a few
// thousand per shard; each entry costs a map node here).
inline constexpr uint64_t kSafetensorsMaxTensors = 1000000;
// A tensor of higher rank than this is refused (models use at most 5).
inline constexpr uint64_t kSafetensorsMaxRank = 64;

// One tensor entry of a safetensors header, already validated against the file.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // as written in the header: "F32", "BF16", ...
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data buffer, [begin, end)
  uint64_t end = 0;
};

struct SafetensorsHeader {
  uint64_t data_start = 0;  // 8 + header length: where the data buffer starts in the file
  std::map<std::string, SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;
};

// Parses the header of a safetensors file whose whole content is bytes[0, file_size): header
// length within the file and at most kSafetensorsMaxHeaderBytes, valid JSON (nesting limited as
// in json_fields.h), known dtypes, non-negative shapes of rank at most kSafetensorsMaxRank,
// offsets inside the data buffer, no overlaps or holes, byte size equal to numel * element size.
// Reads no byte outside [bytes, bytes + file_size). Errors are HaloErrors naming `path` and,
// where relevant, the tensor.
SafetensorsHeader parse_safetensors_header(const std::string& path, const char* bytes,
                                           uint64_t file_size);

// The weight map of a sharded checkpoint's model.safetensors.index.json, whose whole text is
// `text`: (tensor, shard file) pairs in the order of the file. Errors name `index_path`: invalid
// JSON (nesting limited as in json_fields.h), no object "weight_map", a value that is not a string,
// a shard that is not a plain file name inside the folder.
std::vector<std::pair<std::string, std::string>> parse_checkpoint_index(
    const std::string& index_path, const std::string& text);

// Bytes per element of a safetensors dtype string ("F32" -> 4); 0 when the dtype is unknown.
uint64_t safetensors_dtype_size(const std::string& dtype);
// "F32, F16, BF16, ...": the dtypes this reader knows, for messages.
std::string safetensors_known_dtypes();

}  // namespace halo::hypenet
