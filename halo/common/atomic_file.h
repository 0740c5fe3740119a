// Atomic small-file writes shared by the checkpoint, manifest and pipeline code: a file is either
// its old content or its complete new content, never a torn mix, even across a crash.
#pragma once

#include <string>

namespace halo {

// Writes `text` to `path` through a temporary file in the same folder, fsync and rename.
// Errors (HaloError) name the path and the system error; the temporary file is removed.
void write_text_atomically(const std::string& path, const std::string& text);

}  // namespace halo
