// Implementation of safetensors.h: header validation, the mmap-backed reader, the atomic writer
// and the dtype tables. Byte order: the header length and all tensor data are little-endian in
// the format, and this code copies them as they are, so it assumes a little-endian host (x86-64,
// aarch64); a static_assert below stops a big-endian build.
#include "hypenet/safetensors.h"

#include "common/atomic_file.h"
#include "common/error.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.cpp copies little-endian data as is: big-endian hosts are not supported"
#endif

namespace halo::hypenet {

namespace {

using json = nlohmann::json;

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  uint64_t element_size;
};

constexpr DtypeInfo kDtypes[] = {
    {"F32", at::kFloat, 4},  {"F16", at::kHalf, 2}, {"BF16", at::kBFloat16, 2},
    {"F64", at::kDouble, 8}, {"I64", at::kLong, 8}, {"I32", at::kInt, 4},
    {"I16", at::kShort, 2},  {"I8", at::kChar, 1},  {"U8", at::kByte, 1},
    {"BOOL", at::kBool, 1},
};

const DtypeInfo* find_dtype(const std::string& name) {
  for (const auto& d : kDtypes) {
    if (name == d.name) return &d;
  }
  return nullptr;
}

std::string known_dtypes() {
  std::string out;
  for (const auto& d : kDtypes) out += (out.empty() ? "" : ", ") + std::string(d.name);
  return out;
}

// "safetensors file '<path>'" and, with a tensor, "..., tensor '<name>'": the prefix of every
// error message so the user knows which file and entry to look at.
std::string where(const std::string& path) {
  return "safetensors file '" + path + "'";
}
std::string where(const std::string& path, const std::string& tensor) {
  return where(path) + ", tensor '" + tensor + "'";
}

}  // namespace

at::ScalarType safetensors_dtype_to_scalar(const std::string& dtype, const std::string& context) {
  const DtypeInfo* info = find_dtype(dtype);
  HALO_CHECK(info != nullptr, context, ": unknown safetensors dtype '", dtype,
             "' (expected one of ", known_dtypes(), ")");
  return info->type;
}

std::string scalar_to_safetensors_dtype(at::ScalarType type) {
  for (const auto& d : kDtypes) {
    if (d.type == type) return d.name;
  }
  HALO_FAIL("dtype ", c10::toString(type),
            " cannot be stored in safetensors (supported: ", known_dtypes(), ")");
}

// ---------------------------------------------------------------------------------------------
// Reader

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  HALO_CHECK(fd >= 0, "cannot open ", where(path), ": ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    HALO_FAIL("cannot stat ", where(path), ": ", std::strerror(err));
  }
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8) {
    ::close(fd);
    HALO_FAIL(where(path), " is truncated: ", file_size,
              " bytes, but the 8-byte header length alone needs 8");
  }
  void* map = ::mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_err = errno;
  ::close(fd);  // the mapping keeps the file alive
  HALO_CHECK(map != MAP_FAILED, "cannot mmap ", where(path), ": ", std::strerror(map_err));
  map_ = map;
  map_size_ = file_size;

  try {
    SafetensorsHeader header =
        parse_safetensors_header(path, static_cast<const char*>(map_), file_size);
    data_start_ = header.data_start;
    entries_ = std::move(header.entries);
    metadata_ = std::move(header.metadata);
  } catch (...) {
    ::munmap(map_, map_size_);
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (map_) ::munmap(map_, map_size_);
}

bool SafetensorsFile::contains(const std::string& name) const {
  return entries_.count(name) != 0;
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  auto it = entries_.find(name);
  HALO_CHECK(it != entries_.end(), where(path_), " has no tensor '", name, "' (it holds ",
             entries_.size(), " tensors)");
  return it->second;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& kv : entries_) out.push_back(kv.first);
  return out;
}

at::Tensor SafetensorsFile::load_raw(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  const at::ScalarType type = safetensors_dtype_to_scalar(e.dtype, where(path_, name));
  // A fresh tensor and a memcpy: the mapping's offsets need not be aligned for the dtype, and
  // the result must outlive this object.
  at::Tensor out = at::empty(e.shape, at::TensorOptions().dtype(type).device(at::kCPU));
  const uint64_t bytes = e.end - e.begin;
  if (bytes > 0) {
    std::memcpy(out.data_ptr(), static_cast<const char*>(map_) + data_start_ + e.begin, bytes);
  }
  return out;
}

at::Tensor SafetensorsFile::load(const std::string& name, at::ScalarType dtype) const {
  const SafetensorsEntry& e = entry(name);
  HALO_CHECK(e.dtype == "F32" || e.dtype == "F16" || e.dtype == "BF16", where(path_, name),
             ": stored as ", e.dtype,
             ", but load() converts only F32, F16 and BF16 tensors "
             "(use load_raw for other dtypes)");
  HALO_CHECK(at::isFloatingType(dtype), where(path_, name), ": cannot convert to ",
             c10::toString(dtype), "; load() needs a floating-point target dtype");
  at::Tensor raw = load_raw(name);
  return raw.scalar_type() == dtype ? raw : raw.to(dtype);
}

// ---------------------------------------------------------------------------------------------
// Writer

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // Sort by name; the data is laid out in the same order as the (sorted) JSON keys.
  std::vector<std::pair<std::string, at::Tensor>> sorted;
  sorted.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    HALO_CHECK(name != "__metadata__", "cannot write '", path,
               "': '__metadata__' is reserved and cannot name a tensor");
    HALO_CHECK(t.defined(), "cannot write '", path, "': tensor '", name, "' is undefined");
    const at::ScalarType type = t.scalar_type();
    HALO_CHECK(std::any_of(std::begin(kDtypes), std::end(kDtypes),
                           [type](const DtypeInfo& d) { return d.type == type; }),
               "cannot write '", path, "': tensor '", name, "' has dtype ", c10::toString(type),
               " which safetensors cannot store here (supported: ", known_dtypes(), ")");
    sorted.emplace_back(name, t.cpu().contiguous());
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 1; i < sorted.size(); ++i) {
    HALO_CHECK(sorted[i].first != sorted[i - 1].first, "cannot write '", path, "': tensor '",
               sorted[i].first, "' appears twice");
  }

  json header = json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : sorted) {
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    header[name] = {{"dtype", scalar_to_safetensors_dtype(t.scalar_type())},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string header_text;
  try {
    header_text = header.dump();
  } catch (const json::exception& e) {
    HALO_FAIL("cannot write '", path,
              "': header cannot be encoded (tensor names and metadata "
              "must be UTF-8): ",
              e.what());
  }
  // Pad with spaces so the data buffer starts 8-byte aligned (as the Python library does).
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  const uint64_t header_len = header_text.size();

  write_file_durably(path, [&](const std::string& tmp) {
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    HALO_CHECK(fd >= 0, "cannot open '", tmp, "' for writing (for '", path,
               "'): ", std::strerror(errno));
    try {
      write_all(fd, &header_len, 8, path);  // little-endian host
      write_all(fd, header_text.data(), header_text.size(), path);
      for (const auto& [name, t] : sorted) {
        write_all(fd, t.data_ptr(), static_cast<size_t>(t.numel()) * t.element_size(), path);
      }
    } catch (...) {
      ::close(fd);
      throw;
    }
    HALO_CHECK(::close(fd) == 0, "cannot close '", path, "': ", std::strerror(errno),
               " (disk full?)");
  });
}

}  // namespace halo::hypenet
