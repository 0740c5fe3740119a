// `halo-distill prepare`: raw text (.txt, .jsonl and their .gz forms) -> HDF5 token shards and
// manifest.json for the loaders. Streaming and multi-threaded with bounded memory; bad input is
// counted per file and kind and printed, never silently dropped (data/prepare_corpus.h).
#include "common/error.h"
#include "data/prepare_corpus.h"
#include "tools/commands.h"
#include "tools/size_arg.h"

#include <sys/resource.h>

#include <cstdio>
#include <memory>

namespace halo::tools {

namespace {

struct PrepareCliOptions {
  data::PrepareOptions prepare;
  std::string shard_tokens = "16777216";
  std::string max_line_bytes = "1MiB";
  std::string max_document_bytes = "8MiB";
  bool quiet = false;
};

void run_prepare(PrepareCliOptions& o) {
  o.prepare.shard_tokens = static_cast<int64_t>(parse_size(o.shard_tokens, "--shard-tokens"));
  o.prepare.limits.max_line_bytes =
      static_cast<int64_t>(parse_size(o.max_line_bytes, "--max-line-bytes"));
  o.prepare.limits.max_document_bytes =
      static_cast<int64_t>(parse_size(o.max_document_bytes, "--max-document-bytes"));
  o.prepare.progress = !o.quiet;
  const data::PrepareResult r = data::prepare_corpus(o.prepare);

  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  const double cpu_s = double(usage.ru_utime.tv_sec) + usage.ru_utime.tv_usec * 1e-6 +
                       double(usage.ru_stime.tv_sec) + usage.ru_stime.tv_usec * 1e-6;
  const auto& m = r.manifest;
  std::printf(
      "prepare: %lld documents (%.1f MB of text), %lld tokens from %zu files (%.1f MB on "
      "disk) in %.1f s\n",
      static_cast<long long>(r.documents), r.text_bytes / 1e6, static_cast<long long>(r.tokens),
      m.inputs.size(), r.input_bytes / 1e6, r.seconds);
  for (const char* split : {"train", "validation"}) {
    const auto& s = m.splits.at(split);
    std::printf("  %-10s %lld documents, %lld tokens, %zu shards\n", split,
                static_cast<long long>(s.documents), static_cast<long long>(s.tokens),
                s.shards.size());
  }
  std::printf("  tokenizer %s, separator %lld (%s; from the %s), vocab %lld, ids %s\n",
              m.tokenizer_identity.c_str(), static_cast<long long>(m.separator_id),
              m.separator_token.c_str(), m.separator_source.c_str(),
              static_cast<long long>(m.vocab_size), m.token_dtype.c_str());
  std::printf(
      "  speed: %.0f tokens/s wall with %d tokenizer threads; %.0f tokens per CPU-second "
      "(%.1f CPU-s); peak RSS %.0f MiB\n",
      r.tokens / r.seconds, r.threads, cpu_s > 0 ? r.tokens / cpu_s : 0.0, cpu_s,
      usage.ru_maxrss / 1024.0);
  if (!r.skipped_files.empty()) {
    std::printf("  skipped %zu files with other endings in input folders, e.g. %s\n",
                r.skipped_files.size(), r.skipped_files.front().c_str());
  }
  if (r.bad_documents > 0) {
    std::printf("bad input: %lld documents skipped\n", static_cast<long long>(r.bad_documents));
    for (const auto& in : m.inputs) {
      for (const auto& [kind, b] : in.bad) {
        std::printf("  %s: %s x%lld%s%s\n", in.file.c_str(), kind.c_str(),
                    static_cast<long long>(b.count), b.first.empty() ? "" : ", first at ",
                    b.first.c_str());
      }
    }
  } else {
    std::printf("bad input: none\n");
  }
  std::printf("wrote %s/manifest.json\n", o.prepare.out.c_str());
}

}  // namespace

void add_prepare_command(CLI::App& app) {
  auto o = std::make_shared<PrepareCliOptions>();
  auto* cmd = app.add_subcommand(
      "prepare",
      "Tokenize raw text into HDF5 token shards + manifest.json for training.\n"
      "Inputs: .txt (one document per file), .jsonl (one document per line, --jsonl-field), and "
      "their .gz forms; folders are searched recursively. Bad input (invalid UTF-8, empty "
      "documents, over-long lines or documents, invalid JSON, missing field, unreadable gzip) "
      "is skipped, counted per file and kind, printed and recorded in the manifest.\n"
      "Memory bound: tokenizer + 8 x shard-tokens + 5 x (2 x threads + 2) x (1 MiB + "
      "max-document-bytes) bytes, whatever the corpus size (about 400 MiB + tokenizer with the "
      "defaults and 2 threads).");
  cmd->add_option("--tokenizer", o->prepare.tokenizer,
                  "tokenizer.json, SentencePiece .model, or a folder with one")
      ->required();
  cmd->add_option("--teacher", o->prepare.teacher,
                  "Teacher model folder: documents are separated by the first id of its "
                  "generation_config.json (else config.json) eos_token_id, as the authors' data "
                  "code does; without it, the tokenizer's <|endoftext|> (else its EOS)");
  cmd->add_option("--input", o->prepare.inputs, "Input files or folders (one or more)")->required();
  cmd->add_option("--out", o->prepare.out, "Output folder (must not hold a manifest.json)")
      ->required();
  cmd->add_option("--jsonl-field", o->prepare.limits.jsonl_field,
                  "String field of each JSONL object that holds the text")
      ->capture_default_str();
  cmd->add_option("--validation-fraction", o->prepare.validation_fraction,
                  "Fraction of documents (every 1/f-th) held out as the validation split")
      ->capture_default_str();
  cmd->add_option("--shard-tokens", o->shard_tokens,
                  "Token ids per shard (a shard is closed "
                  "once it holds this many)")
      ->capture_default_str();
  cmd->add_option("--threads", o->prepare.threads, "Tokenizer threads (0 = hardware threads)")
      ->capture_default_str();
  cmd->add_option("--max-line-bytes", o->max_line_bytes,
                  "Longest line accepted (a JSONL record or a line of a .txt document)")
      ->capture_default_str();
  cmd->add_option("--max-document-bytes", o->max_document_bytes,
                  "Largest .txt document (file) accepted")
      ->capture_default_str();
  cmd->add_flag("--quiet", o->quiet, "No progress bar");
  cmd->callback([o] { run_prepare(*o); });
}

}  // namespace halo::tools
