// Durable file writes, the one way the project writes a file that must survive a crash
// (safetensors, config.json, manifests, HDF5 shards, checkpoint metadata, reports): the content
// goes to a temporary file beside the target, which is fsync'ed, renamed over the target, and
// then the folder is fsync'ed so the rename itself is on disk. A reader sees the old content or
// the complete new one, never a torn mix; a failed write leaves no temporary file behind.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

namespace halo {

// Writes `path` durably: `fill(tmp)` creates and fills the temporary file `tmp` (any writer:
// POSIX, HDF5), then the steps above. Errors (HaloError) name `path` and the system error.
void write_file_durably(const std::filesystem::path& path,
                        const std::function<void(const std::string& tmp)>& fill);

// write_file_durably with `text` as the content.
void write_text_atomically(const std::filesystem::path& path, const std::string& text);

// Writes all `size` bytes to the open descriptor `fd` (EINTR-safe); errors name `path`.
void write_all(int fd, const void* data, size_t size, const std::string& path);

// fsync of a file or folder; errors name the path.
void fsync_path(const std::filesystem::path& path);

}  // namespace halo
