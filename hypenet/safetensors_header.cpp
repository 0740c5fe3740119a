// Implementation of safetensors_header.h: the header length, the JSON header and each entry
// checked against the data buffer. Byte order: the header length is little-endian in the format
// and is copied as it is, so this assumes a little-endian host (safetensors.cpp stops a big-endian
// build).
#include "hypenet/safetensors_header.h"

#include "common/error.h"
#include "common/json_fields.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>

namespace halo::hypenet {

namespace {

using json = nlohmann::json;

struct DtypeSize {
  const char* name;
  uint64_t element_size;
};

constexpr DtypeSize kDtypeSizes[] = {
    {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F64", 8}, {"I64", 8},
    {"I32", 4}, {"I16", 2}, {"I8", 1},   {"U8", 1},  {"BOOL", 1},
};

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// "safetensors file '<path>'" and, with a tensor, "..., tensor '<name>'": the prefix of every
// error message so the user knows which file and entry to look at.
std::string where(const std::string& path) {
  return "safetensors file '" + path + "'";
}
std::string where(const std::string& path, const std::string& tensor) {
  return where(path) + ", tensor '" + tensor + "'";
}

SafetensorsEntry parse_entry(const std::string& path, const std::string& name, const json& value,
                             uint64_t data_size) {
  const std::string ctx = where(path, name);
  HALO_CHECK(value.is_object(), ctx,
             ": header entry must be a JSON object with dtype, shape "
             "and data_offsets, found ",
             value.type_name());
  SafetensorsEntry e;
  e.name = name;

  auto dtype_it = value.find("dtype");
  HALO_CHECK(dtype_it != value.end() && dtype_it->is_string(), ctx,
             ": header entry needs a string \"dtype\" (one of ", safetensors_known_dtypes(), ")");
  e.dtype = dtype_it->get<std::string>();
  const uint64_t element_size = safetensors_dtype_size(e.dtype);
  HALO_CHECK(element_size != 0, ctx, ": unknown dtype '", e.dtype, "' (expected one of ",
             safetensors_known_dtypes(), ")");

  auto shape_it = value.find("shape");
  HALO_CHECK(shape_it != value.end() && shape_it->is_array(), ctx,
             ": header entry needs an array \"shape\" of non-negative integers");
  HALO_CHECK(shape_it->size() <= kSafetensorsMaxRank, ctx, ": shape has ", shape_it->size(),
             " dimensions (limit ", kSafetensorsMaxRank, ")");
  uint64_t numel = 1;
  bool numel_overflow = false;
  for (const auto& dim : *shape_it) {
    HALO_CHECK(dim.is_number_integer(), ctx, ": shape ", shape_it->dump(),
               " must hold integers only");
    HALO_CHECK(dim.is_number_unsigned() || dim.get<int64_t>() >= 0, ctx, ": shape ",
               shape_it->dump(), " has a negative dimension");
    const uint64_t d = dim.get<uint64_t>();
    HALO_CHECK(d <= static_cast<uint64_t>(INT64_MAX), ctx, ": shape ", shape_it->dump(),
               " has a dimension beyond int64");
    e.shape.push_back(static_cast<int64_t>(d));
    numel_overflow = numel_overflow || __builtin_mul_overflow(numel, d, &numel);
  }

  auto off_it = value.find("data_offsets");
  HALO_CHECK(off_it != value.end() && off_it->is_array() && off_it->size() == 2 &&
                 (*off_it)[0].is_number_unsigned() && (*off_it)[1].is_number_unsigned(),
             ctx,
             ": header entry needs \"data_offsets\": [begin, end] with two non-negative "
             "integers");
  e.begin = (*off_it)[0].get<uint64_t>();
  e.end = (*off_it)[1].get<uint64_t>();
  HALO_CHECK(e.begin <= e.end, ctx, ": data_offsets [", e.begin, ", ", e.end, "] end before begin");
  HALO_CHECK(e.end <= data_size, ctx, ": data_offsets [", e.begin, ", ", e.end,
             "] reach beyond the data buffer of ", data_size, " bytes (file truncated?)");

  uint64_t expected_bytes = 0;
  numel_overflow = numel_overflow || __builtin_mul_overflow(numel, element_size, &expected_bytes);
  HALO_CHECK(!numel_overflow && expected_bytes == e.end - e.begin, ctx, ": shape ",
             shape_str(e.shape), " of ", e.dtype, " needs ",
             numel_overflow ? std::string("more than 2^64") : std::to_string(expected_bytes),
             " bytes, but data_offsets [", e.begin, ", ", e.end, "] span ", e.end - e.begin);
  return e;
}

// The data buffer must be tiled exactly by the tensors: sorted by offset, each starts where
// the previous one ended and the last ends at the buffer's end (as the Python library requires).
void check_coverage(const std::string& path, const std::map<std::string, SafetensorsEntry>& entries,
                    uint64_t data_size) {
  std::vector<const SafetensorsEntry*> order;
  for (const auto& kv : entries) order.push_back(&kv.second);
  std::sort(order.begin(), order.end(), [](const SafetensorsEntry* a, const SafetensorsEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t cursor = 0;
  const SafetensorsEntry* prev = nullptr;
  for (const SafetensorsEntry* e : order) {
    HALO_CHECK(e->begin >= cursor, where(path, e->name), ": data_offsets [", e->begin, ", ", e->end,
               "] overlap tensor '", prev ? prev->name : "", "' which ends at ", cursor);
    HALO_CHECK(e->begin == cursor, where(path, e->name), ": data_offsets [", e->begin, ", ", e->end,
               "] leave a hole of unused bytes [", cursor, ", ", e->begin,
               ") in the data buffer (tensors must cover it exactly)");
    cursor = e->end;
    prev = e;
  }
  HALO_CHECK(cursor == data_size, where(path), ": tensors cover ", cursor,
             " bytes of the data buffer but it holds ", data_size,
             " (a hole of unused bytes at the end)");
}

}  // namespace

uint64_t safetensors_dtype_size(const std::string& dtype) {
  for (const auto& d : kDtypeSizes) {
    if (dtype == d.name) return d.element_size;
  }
  return 0;
}

std::string safetensors_known_dtypes() {
  std::string out;
  for (const auto& d : kDtypeSizes) out += (out.empty() ? "" : ", ") + std::string(d.name);
  return out;
}

SafetensorsHeader parse_safetensors_header(const std::string& path, const char* bytes,
                                           uint64_t file_size) {
  HALO_CHECK(file_size >= 8, where(path), " is truncated: ", file_size,
             " bytes, but the 8-byte header length alone needs 8");
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes, 8);  // little-endian on disk and on the host
  HALO_CHECK(header_len <= kSafetensorsMaxHeaderBytes, where(path), ": header length ", header_len,
             " bytes is absurd (limit ", kSafetensorsMaxHeaderBytes, "); not a safetensors file?");
  HALO_CHECK(header_len <= file_size - 8, where(path), ": header length ", header_len,
             " reaches beyond the end of the file (", file_size, " bytes); file truncated?");
  SafetensorsHeader out;
  out.data_start = 8 + header_len;
  const uint64_t data_size = file_size - out.data_start;

  const char* text = bytes + 8;
  const char* text_end = bytes + out.data_start;
  check_json_depth(text, text_end, where(path) + " header");
  json header;
  try {
    header = json::parse(text, text_end);
  } catch (const json::exception& e) {
    HALO_FAIL(where(path), ": header is not valid JSON: ", e.what());
  }
  HALO_CHECK(header.is_object(), where(path), ": header must be a JSON object, found ",
             header.type_name());
  HALO_CHECK(header.size() <= kSafetensorsMaxTensors + 1, where(path), ": header lists ",
             header.size(), " entries (limit ", kSafetensorsMaxTensors, " tensors)");

  for (const auto& item : header.items()) {
    if (item.key() == "__metadata__") {
      HALO_CHECK(item.value().is_object(), where(path),
                 ": __metadata__ must be an object mapping strings to strings");
      for (const auto& m : item.value().items()) {
        HALO_CHECK(m.value().is_string(), where(path), ": __metadata__ key '", m.key(),
                   "' must map to a string, found ", m.value().type_name());
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    out.entries[item.key()] = parse_entry(path, item.key(), item.value(), data_size);
  }
  check_coverage(path, out.entries, data_size);
  return out;
}

std::vector<std::pair<std::string, std::string>> parse_checkpoint_index(
    const std::string& index_path, const std::string& text) {
  check_json_depth(text.data(), text.data() + text.size(), "checkpoint index '" + index_path + "'");
  // Ordered, so the shards are opened in the order of the file.
  nlohmann::ordered_json index;
  try {
    index = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    HALO_FAIL("checkpoint index '", index_path, "' is not valid JSON: ", e.what());
  }
  HALO_CHECK(index.is_object(), "checkpoint index '", index_path,
             "' must be a JSON object with a \"weight_map\", found ", index.type_name());
  auto wm_it = index.find("weight_map");
  HALO_CHECK(wm_it != index.end(), "checkpoint index '", index_path,
             "' has no \"weight_map\" (expected {\"weight_map\": {tensor: shard file}})");
  HALO_CHECK(wm_it->is_object(), "checkpoint index '", index_path,
             "': \"weight_map\" must be an object mapping tensor names to shard files, found ",
             wm_it->type_name());
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(wm_it->size());
  for (const auto& item : wm_it->items()) {
    const std::string& tensor = item.key();
    HALO_CHECK(item.value().is_string(), "checkpoint index '", index_path, "': tensor '", tensor,
               "' must map to a shard file name, found ", item.value().type_name());
    std::string shard = item.value().get<std::string>();
    HALO_CHECK(
        !shard.empty() && shard.find('/') == std::string::npos && shard != "." && shard != "..",
        "checkpoint index '", index_path, "': tensor '", tensor, "' maps to '", shard,
        "', expected a plain file name inside the folder");
    out.emplace_back(tensor, std::move(shard));
  }
  return out;
}

}  // namespace halo::hypenet
