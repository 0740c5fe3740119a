// Reading raw text corpora for `halo-distill prepare`: the input files (given or found in
// folders), and the documents of each, with bad input counted per file and kind, never
// silently dropped.
//
// Formats, by file name:
//   *.txt, *.txt.gz      one document per file: the file's bytes exactly (newlines included)
//   *.jsonl, *.jsonl.gz  one document per line: the string field `jsonl_field` of a JSON object
// Any file given by name must have one of these endings; folders are searched recursively and
// files with other endings there are listed as skipped. Inputs are read in sorted path order.
//
// Bad input: a document with a fault is skipped and counted once, under its first fault:
//   invalid_utf8       bytes that are not UTF-8 (text file, or JSONL line)
//   empty_document     no text, or only white space (also a blank JSONL line)
//   line_too_long      a line longer than max_line_bytes (the whole document is skipped)
//   document_too_long  a text file longer than max_document_bytes
//   invalid_json       a JSONL line that is not a JSON object
//   missing_field      a JSON object without the field, or whose field is not a string
//   unreadable_gzip    a .gz file that is not gzip data, or is corrupt or truncated; counted
//                      per file; documents completed before the fault are kept
#pragma once

#include "data/shard_manifest.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace halo::data {

inline constexpr const char* kBadInvalidUtf8 = "invalid_utf8";
inline constexpr const char* kBadEmptyDocument = "empty_document";
inline constexpr const char* kBadLineTooLong = "line_too_long";
inline constexpr const char* kBadDocumentTooLong = "document_too_long";
inline constexpr const char* kBadInvalidJson = "invalid_json";
inline constexpr const char* kBadMissingField = "missing_field";
inline constexpr const char* kBadUnreadableGzip = "unreadable_gzip";

struct InputFile {
  std::string path;
  bool jsonl = false;  // else plain text
  bool gzip = false;
  int64_t bytes = 0;  // size on disk
};

// The input files under `paths` (files and folders). Errors name a missing path or a file given
// by name with an unknown ending; `skipped` receives files with other endings found in folders.
std::vector<InputFile> list_input_files(const std::vector<std::string>& paths,
                                        std::vector<std::string>* skipped);

struct ReaderLimits {
  int64_t max_line_bytes = int64_t{1} << 20;
  int64_t max_document_bytes = int64_t{8} << 20;
  std::string jsonl_field = "text";
};

// Streams the documents of `file` to on_document (each a valid, non-empty UTF-8 string), and
// counts bad input into report->bad. on_bytes(n) is called with the bytes of the file consumed
// so far (compressed bytes for gzip), for progress. Memory: one buffer of 1 MiB and one
// document (at most max_document_bytes, or max_line_bytes for JSONL). An unopenable file is a
// HaloError naming it.
void read_documents(const InputFile& file, const ReaderLimits& limits,
                    const std::function<void(std::string&&)>& on_document, InputReport* report,
                    const std::function<void(int64_t)>& on_bytes);

}  // namespace halo::data
