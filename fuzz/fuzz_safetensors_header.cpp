// Fuzz target: the safetensors header (hypenet/safetensors_header.h) on arbitrary file bytes. The
// input is the whole file; libFuzzer's buffer is exactly that long, so AddressSanitizer reports
// any read past its end. A header that parses must describe tensors inside the file.
#include "fuzz/fuzz_support.h"
#include "hypenet/safetensors_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  halo::fuzz::refusing([&] {
    const auto header = halo::hypenet::parse_safetensors_header(
        "fuzz.safetensors", reinterpret_cast<const char*>(data), size);
    using halo::fuzz::invariant;
    invariant(header.data_start >= 8 && header.data_start <= size, "data buffer inside the file");
    for (const auto& [name, e] : header.entries) {
      invariant(e.begin <= e.end && e.end <= size - header.data_start, "tensor inside the buffer");
      uint64_t numel = 1;
      for (int64_t d : e.shape) numel *= static_cast<uint64_t>(d);
      invariant(numel * halo::hypenet::safetensors_dtype_size(e.dtype) == e.end - e.begin,
                "tensor bytes equal numel * element size");
    }
  });
  return 0;
}
