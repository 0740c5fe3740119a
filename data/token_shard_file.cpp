// Implementation of token_shard_file.h with the HDF5 C API.
#include "data/token_shard_file.h"

#include "data/sha256.h"
#include "data/shard_manifest.h"
#include "common/atomic_file.h"
#include "common/error.h"

#include <fcntl.h>
#include <hdf5.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace halo::data {

namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "token shards store little-endian ids that are memory-mapped as they are");

// The process-wide HDF5 lock; also turns off HDF5's own error printing (we report errors).
std::unique_lock<std::mutex> lock_hdf5() {
  static std::mutex mutex;
  static std::once_flag quiet;
  std::call_once(quiet, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
  return std::unique_lock<std::mutex>(mutex);
}

// Closes an HDF5 handle of one kind at scope exit.
struct Handle {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Handle() {
    if (id >= 0) close(id);
  }
};

void write_dataset(hid_t file, const char* name, hid_t file_type, hid_t mem_type, hsize_t n,
                   const void* data, const std::string& path) {
  Handle space{H5Screate_simple(1, &n, nullptr), H5Sclose};
  HALO_CHECK(space.id >= 0, path, ": cannot create the dataspace of '", name, "'");
  // No modification times in the object header: the same tokens give the same file bytes.
  Handle dcpl{H5Pcreate(H5P_DATASET_CREATE), H5Pclose};
  H5Pset_obj_track_times(dcpl.id, false);
  Handle ds{H5Dcreate2(file, name, file_type, space.id, H5P_DEFAULT, dcpl.id, H5P_DEFAULT),
            H5Dclose};
  HALO_CHECK(ds.id >= 0, path, ": cannot create dataset '", name, "'");
  HALO_CHECK(H5Dwrite(ds.id, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0, path,
             ": cannot write dataset '", name, "' (disk full?)");
}

}  // namespace

std::string write_token_shard(const std::string& path, const std::vector<uint32_t>& tokens,
                              const std::vector<int64_t>& doc_offsets, const std::string& dtype) {
  HALO_CHECK(!tokens.empty() && doc_offsets.size() >= 2 && doc_offsets.front() == 0 &&
                 doc_offsets.back() == static_cast<int64_t>(tokens.size()),
             path, ": a shard needs tokens and document offsets from 0 to the token count");
  const int bytes = token_dtype_bytes(dtype);
  std::vector<uint16_t> narrow;
  if (bytes == 2) {
    narrow.reserve(tokens.size());
    for (uint32_t t : tokens) {
      HALO_CHECK(t < 65536, path, ": token id ", t, " does not fit dtype uint16");
      narrow.push_back(static_cast<uint16_t>(t));
    }
  }
  write_file_durably(path, [&](const std::string& tmp) {
    auto lock = lock_hdf5();
    // Every object 64-byte aligned, so the memory-mapped ids are aligned for their type.
    Handle fapl{H5Pcreate(H5P_FILE_ACCESS), H5Pclose};
    H5Pset_alignment(fapl.id, 1, 64);
    Handle file{H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id), H5Fclose};
    HALO_CHECK(file.id >= 0, tmp, ": cannot create the HDF5 file (folder missing or read-only?)");
    if (bytes == 2) {
      write_dataset(file.id, "tokens", H5T_STD_U16LE, H5T_NATIVE_UINT16, narrow.size(),
                    narrow.data(), tmp);
    } else {
      write_dataset(file.id, "tokens", H5T_STD_U32LE, H5T_NATIVE_UINT32, tokens.size(),
                    tokens.data(), tmp);
    }
    write_dataset(file.id, "doc_offsets", H5T_STD_I64LE, H5T_NATIVE_INT64, doc_offsets.size(),
                  doc_offsets.data(), tmp);
    HALO_CHECK(H5Fflush(file.id, H5F_SCOPE_GLOBAL) >= 0, tmp, ": cannot flush (disk full?)");
  });
  return sha256_file_hex(path);
}

TokenShardFile::TokenShardFile(const std::string& path, const std::string& dtype,
                               int64_t expect_documents, int64_t expect_tokens)
    : path_(path), bytes_per_token_(token_dtype_bytes(dtype)) {
  haddr_t token_addr = HADDR_UNDEF;
  hsize_t num_tokens = 0;
  struct stat file_stat {};
  HALO_CHECK(::stat(path.c_str(), &file_stat) == 0, "token shard '", path,
             "' cannot be opened: ", std::strerror(errno), ". HINT: re-run `halo-distill prepare`");
  const uint64_t file_size = static_cast<uint64_t>(file_stat.st_size);
  {
    auto lock = lock_hdf5();
    Handle file{H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose};
    HALO_CHECK(file.id >= 0, "token shard '", path,
               "' cannot be opened as HDF5 (missing or "
               "corrupt). HINT: re-run `halo-distill prepare`");
    Handle tok{H5Dopen2(file.id, "tokens", H5P_DEFAULT), H5Dclose};
    HALO_CHECK(tok.id >= 0, "token shard '", path, "': dataset 'tokens' is missing");
    Handle type{H5Dget_type(tok.id), H5Tclose};
    HALO_CHECK(H5Tget_class(type.id) == H5T_INTEGER && H5Tget_sign(type.id) == H5T_SGN_NONE &&
                   H5Tget_order(type.id) == H5T_ORDER_LE &&
                   static_cast<int>(H5Tget_size(type.id)) == bytes_per_token_,
               "token shard '", path, "': dataset 'tokens' is not little-endian ", dtype,
               " as the manifest says");
    Handle space{H5Dget_space(tok.id), H5Sclose};
    HALO_CHECK(H5Sget_simple_extent_ndims(space.id) == 1, "token shard '", path,
               "': dataset 'tokens' must be 1-D");
    H5Sget_simple_extent_dims(space.id, &num_tokens, nullptr);
    HALO_CHECK(expect_tokens >= 0 && num_tokens == static_cast<hsize_t>(expect_tokens),
               "token shard '", path, "' holds ", num_tokens, " tokens; the manifest says ",
               expect_tokens);
    Handle dcpl{H5Dget_create_plist(tok.id), H5Pclose};
    HALO_CHECK(H5Pget_layout(dcpl.id) == H5D_CONTIGUOUS && H5Pget_nfilters(dcpl.id) == 0,
               "token shard '", path, "': dataset 'tokens' must be contiguous and unfiltered");
    token_addr = H5Dget_offset(tok.id);
    HALO_CHECK(token_addr != HADDR_UNDEF && token_addr % bytes_per_token_ == 0, "token shard '",
               path,
               "': dataset 'tokens' has no storage or is misaligned "
               "(not written by `halo-distill prepare`)");

    Handle off{H5Dopen2(file.id, "doc_offsets", H5P_DEFAULT), H5Dclose};
    HALO_CHECK(off.id >= 0, "token shard '", path, "': dataset 'doc_offsets' is missing");
    Handle off_space{H5Dget_space(off.id), H5Sclose};
    hsize_t n_off = 0;
    HALO_CHECK(H5Sget_simple_extent_ndims(off_space.id) == 1, "token shard '", path,
               "': dataset 'doc_offsets' must be 1-D");
    H5Sget_simple_extent_dims(off_space.id, &n_off, nullptr);
    // Sizes the file claims are checked before anything of that size is allocated.
    HALO_CHECK(expect_documents >= 0 && n_off == static_cast<hsize_t>(expect_documents) + 1,
               "token shard '", path, "' holds ", n_off, " document offsets for ",
               expect_documents, " documents in the manifest (expected documents + 1)");
    HALO_CHECK(n_off <= file_size / sizeof(int64_t), "token shard '", path, "' claims ", n_off,
               " document offsets (", n_off, " x 8 bytes), more than its ", file_size,
               " bytes hold");
    doc_offsets_.resize(n_off);
    HALO_CHECK(n_off >= 2 && H5Dread(off.id, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                     doc_offsets_.data()) >= 0,
               "token shard '", path, "': cannot read dataset 'doc_offsets'");
  }
  HALO_CHECK(
      static_cast<int64_t>(num_tokens) == expect_tokens && num_documents() == expect_documents,
      "token shard '", path, "' holds ", num_tokens, " tokens in ", num_documents(),
      " documents; the manifest says ", expect_tokens, " in ", expect_documents);
  HALO_CHECK(doc_offsets_.front() == 0 && doc_offsets_.back() == expect_tokens, "token shard '",
             path, "': doc_offsets must run from 0 to the token count ", expect_tokens);
  for (size_t i = 1; i < doc_offsets_.size(); ++i) {
    HALO_CHECK(doc_offsets_[i] >= doc_offsets_[i - 1], "token shard '", path,
               "': doc_offsets decrease at entry ", i);
  }

  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  HALO_CHECK(fd >= 0, "token shard '", path, "': cannot open: ", std::strerror(errno));
  struct stat st {};
  ::fstat(fd, &st);
  map_size_ = static_cast<size_t>(st.st_size);
  uint64_t end = 0;  // where the tokens end; 2^64 and beyond is truncation too
  const bool overflow =
      __builtin_mul_overflow(static_cast<uint64_t>(num_tokens), bytes_per_token_, &end) ||
      __builtin_add_overflow(end, static_cast<uint64_t>(token_addr), &end);
  if (overflow || end > map_size_) {
    ::close(fd);
    HALO_FAIL("token shard '", path, "' is truncated: its tokens end at byte ",
              overflow ? std::string("2^64 or beyond") : std::to_string(end), " of a ",
              map_size_, "-byte file");
  }
  map_ = ::mmap(nullptr, map_size_, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  HALO_CHECK(map_ != MAP_FAILED, "token shard '", path, "': mmap failed: ", std::strerror(errno));
  tokens_ = static_cast<const unsigned char*>(map_) + token_addr;
}

TokenShardFile::~TokenShardFile() {
  if (map_ && map_ != MAP_FAILED) ::munmap(map_, map_size_);
}

void TokenShardFile::copy_tokens(int64_t begin, int64_t n, int64_t* out) const {
  if (bytes_per_token_ == 2) {
    const auto* p = reinterpret_cast<const uint16_t*>(tokens_) + begin;
    for (int64_t i = 0; i < n; ++i) out[i] = p[i];
  } else {
    const auto* p = reinterpret_cast<const uint32_t*>(tokens_) + begin;
    for (int64_t i = 0; i < n; ++i) out[i] = p[i];
  }
}

}  // namespace halo::data
