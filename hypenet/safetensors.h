// Safetensors files: a validating, mmap-backed reader and an atomic writer.
// Format: 8-byte little-endian header length N, N bytes of JSON header
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data buffer (offsets are relative to its start). Every structural problem is
// reported as a halo::HaloError naming the file and, where relevant, the tensor.
#pragma once

#include "hypenet/safetensors_header.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace halo::hypenet {

// A safetensors file opened with mmap. Construction parses and validates the whole header
// (parse_safetensors_header in safetensors_header.h): header length within the file, valid JSON,
// known dtypes, non-negative shapes, offsets inside the data buffer, no overlaps or holes, byte
// size equal to numel * element size.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  bool contains(const std::string& name) const;
  const SafetensorsEntry& entry(const std::string& name) const;  // throws naming file + tensor
  std::vector<std::string> names() const;                        // sorted
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Copies the tensor out of the mapping and converts it to `dtype` (F32, F16 and BF16 are
  // converted; other stored dtypes are an error naming the tensor). Result is contiguous, CPU.
  at::Tensor load(const std::string& name, at::ScalarType dtype) const;
  // As load(), in the stored dtype (F32/F16/BF16/F64/I64/I32/I16/I8/U8/BOOL).
  at::Tensor load_raw(const std::string& name) const;

 private:
  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  uint64_t data_start_ = 0;  // 8 + header length
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Writes `tensors` (any order; stored sorted by name) to `path` atomically: a temporary file
// in the same folder, fsync, rename. Tensors are written in their own dtype (must be one of the
// dtypes above), contiguous, from CPU (non-CPU tensors are copied to CPU first).
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Safetensors dtype string <-> ATen scalar type; throws HaloError for unknown strings.
at::ScalarType safetensors_dtype_to_scalar(const std::string& dtype, const std::string& context);
std::string scalar_to_safetensors_dtype(at::ScalarType type);

}  // namespace halo::hypenet
