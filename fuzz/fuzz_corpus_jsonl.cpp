// Fuzz target: the corpus reader of `prepare` (data/corpus_reader.h) on one input file. Input:
// 1 byte format (0: .jsonl, 1: .txt, 2: .jsonl.gz, 3: .txt.gz; the byte modulo 4), then the file's
// bytes. Small limits (256-byte lines, 1 KiB documents) so the limit paths run. Every document
// it keeps must be non-empty valid UTF-8 within the limits.
#include "data/corpus_reader.h"
#include "data/unicode.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const char* const kNames[] = {"in.jsonl", "in.txt", "in.jsonl.gz", "in.txt.gz"};
  const int format = data[0] % 4;
  halo::data::InputFile file;
  file.path = halo::fuzz::write_scratch(kNames[format], data + 1, size - 1);
  file.jsonl = format == 0 || format == 2;
  file.gzip = format >= 2;
  file.bytes = static_cast<int64_t>(size - 1);
  halo::data::ReaderLimits limits;
  limits.max_line_bytes = 256;
  limits.max_document_bytes = 1024;
  halo::fuzz::refusing([&] {
    halo::data::InputReport report;
    halo::data::read_documents(
        file, limits,
        [&](std::string&& doc) {
          using halo::fuzz::invariant;
          invariant(!doc.empty(), "document not empty");
          invariant(halo::data::find_invalid_utf8(doc) == std::string::npos,
                    "document is valid UTF-8");
          invariant(static_cast<int64_t>(doc.size()) <=
                        (file.jsonl ? limits.max_line_bytes : limits.max_document_bytes),
                    "document within the limits");
        },
        &report, [](int64_t) {});
    for (const auto& [kind, bad] : report.bad) {
      halo::fuzz::invariant(bad.count > 0, "bad-input counts positive");
    }
  });
  return 0;
}
