// Implementation of prepare_corpus.h.
#include "data/prepare_corpus.h"

#include "common/error.h"
#include "common/model_folder_files.h"
#include "common/remove_tree.h"
#include "data/token_shard_file.h"
#include "data/tokenizer.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace halo::data {

namespace fs = std::filesystem;

namespace {

constexpr size_t kChunkBytes = size_t{1} << 20;

struct Chunk {
  int64_t seq = 0;
  std::vector<std::string> docs;
  std::vector<int32_t> file_of;  // input file index of each document
  size_t bytes = 0;
};

struct TokenizedChunk {
  std::vector<std::vector<uint32_t>> docs;
  std::vector<int32_t> file_of;
  int64_t text_bytes = 0;
};

// The shards of one split being written.
struct SplitWriter {
  std::string name;
  std::vector<uint32_t> tokens;
  std::vector<int64_t> offsets{0};
  SplitInfo info;

  // Grows the buffer once to the shard size (not by doubling past it): the memory bound.
  void add(const std::vector<uint32_t>& doc, int64_t shard_tokens) {
    const size_t need = tokens.size() + doc.size();
    if (need > tokens.capacity()) tokens.reserve(std::max(need, size_t(shard_tokens)));
    tokens.insert(tokens.end(), doc.begin(), doc.end());
    offsets.push_back(static_cast<int64_t>(tokens.size()));
  }
  void flush(const fs::path& dir, const std::string& dtype) {
    if (offsets.size() < 2) return;
    char file[64];
    std::snprintf(file, sizeof(file), "%s-%05zu.h5", name.c_str(), info.shards.size());
    ShardInfo sh;
    sh.file = file;
    sh.documents = static_cast<int64_t>(offsets.size()) - 1;
    sh.tokens = static_cast<int64_t>(tokens.size());
    sh.sha256 = write_token_shard((dir / file).string(), tokens, offsets, dtype);
    info.documents += sh.documents;
    info.tokens += sh.tokens;
    info.shards.push_back(sh);
    tokens.clear();
    tokens.shrink_to_fit();
    offsets.assign(1, 0);
  }
};

// The pipeline's shared state: work queue, results by sequence number, and the first error.
struct Pipeline {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Chunk> work;
  std::map<int64_t, TokenizedChunk> done;
  int64_t in_flight = 0;  // chunks read and not yet written
  int64_t max_in_flight = 0;
  bool reader_finished = false;
  int64_t chunks_total = -1;  // known once the reader finished
  std::exception_ptr error;
  bool aborted = false;

  void fail(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(mu);
    if (!error) error = e;
    aborted = true;
    cv.notify_all();
  }
};

std::string human(double v) {
  char buf[32];
  if (v >= 1e9) {
    std::snprintf(buf, sizeof(buf), "%.2fG", v / 1e9);
  } else if (v >= 1e6) {
    std::snprintf(buf, sizeof(buf), "%.2fM", v / 1e6);
  } else if (v >= 1e3) {
    std::snprintf(buf, sizeof(buf), "%.1fk", v / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%.0f", v);
  }
  return buf;
}

// The progress bar on stderr: redrawn in place on a terminal, a line every 10 s otherwise.
class Progress {
 public:
  Progress(bool enabled, int64_t total_bytes)
      : enabled_(enabled),
        tty_(::isatty(2) != 0),
        total_(total_bytes),
        start_(std::chrono::steady_clock::now()),
        last_(start_) {}

  void update(int64_t bytes, int64_t docs, int64_t tokens, int64_t bad, bool final = false) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    const double since = std::chrono::duration<double>(now - last_).count();
    if (!final && since < (tty_ ? 0.25 : 10.0)) return;
    last_ = now;
    const double t = std::max(1e-9, std::chrono::duration<double>(now - start_).count());
    const double frac = total_ > 0 ? std::min(1.0, double(bytes) / double(total_)) : 1.0;
    const int width = 24, filled = static_cast<int>(frac * width);
    std::string bar(filled, '#');
    bar.resize(width, '.');
    std::fprintf(stderr,
                 "%sprepare [%s] %3.0f%% %sB/%sB | %s docs %s docs/s | %s tokens %s tok/s "
                 "| %lld bad%s",
                 tty_ ? "\r" : "", bar.c_str(), frac * 100, human(double(bytes)).c_str(),
                 human(double(total_)).c_str(), human(double(docs)).c_str(),
                 human(docs / t).c_str(), human(double(tokens)).c_str(), human(tokens / t).c_str(),
                 static_cast<long long>(bad), tty_ && !final ? "" : "\n");
    std::fflush(stderr);
  }

 private:
  bool enabled_, tty_;
  int64_t total_;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace

void PrepareOptions::validate() const {
  HALO_CHECK(!tokenizer.empty(), "prepare: --tokenizer is required");
  HALO_CHECK(!inputs.empty(), "prepare: --input is required (files or folders)");
  HALO_CHECK(!out.empty(), "prepare: --out is required");
  HALO_CHECK(validation_fraction >= 0 && validation_fraction <= 0.5,
             "prepare: --validation-fraction must be in [0, 0.5], got ", validation_fraction);
  HALO_CHECK(shard_tokens >= 1024, "prepare: --shard-tokens must be >= 1024, got ", shard_tokens);
  HALO_CHECK(threads >= 0 && threads <= 256, "prepare: --threads must be in [0, 256], got ",
             threads);
  HALO_CHECK(limits.max_line_bytes >= 16, "prepare: --max-line-bytes must be >= 16, got ",
             limits.max_line_bytes);
  HALO_CHECK(limits.max_document_bytes >= limits.max_line_bytes, "prepare: --max-document-bytes (",
             limits.max_document_bytes, ") must be >= --max-line-bytes (", limits.max_line_bytes,
             ")");
  HALO_CHECK(!limits.jsonl_field.empty(), "prepare: --jsonl-field must not be empty");
}

Separator choose_separator(const Tokenizer& tokenizer, const std::string& teacher_dir) {
  Separator sep;
  if (!teacher_dir.empty()) {
    HALO_CHECK(fs::is_directory(teacher_dir), "prepare: --teacher ", teacher_dir,
               ": not a folder (expected the teacher's model folder with config.json)");
    std::string file;
    const auto ids = halo::model_eos_token_ids(teacher_dir, &file);
    if (!ids.empty()) {
      HALO_CHECK(ids[0] < tokenizer.vocab_size(), file, ": key 'eos_token_id' is ", ids[0],
                 ", not an id of the tokenizer ", tokenizer.path(), " (", tokenizer.vocab_size(),
                 " ids). HINT: prepare with the teacher's own tokenizer");
      sep.id = ids[0];
      sep.token = tokenizer.decode({ids[0]});
      sep.source = str_cat("teacher ", fs::path(file).filename().string(), " eos_token_id",
                           ids.size() > 1 ? " (first of the list)" : "", " (", file, ")");
      return sep;
    }
  }
  const std::string no_teacher_eos =
      teacher_dir.empty() ? "" : str_cat(" (the teacher ", teacher_dir, " names no eos_token_id)");
  if (auto id = tokenizer.token_to_id("<|endoftext|>")) {
    sep.id = *id;
    sep.token = "<|endoftext|>";
    sep.source = "tokenizer <|endoftext|>" + no_teacher_eos;
    return sep;
  }
  const int64_t eos = tokenizer.special_ids().eos;
  HALO_CHECK(eos >= 0, tokenizer.path(),
             ": the tokenizer has neither <|endoftext|> nor an EOS "
             "token to separate documents. HINT: train it with an EOS id (train-tokenizer does)");
  sep.id = eos;
  sep.token = tokenizer.decode({eos});
  sep.source = "tokenizer EOS" + no_teacher_eos;
  return sep;
}

namespace {

// The --out folder, created when missing (then *created is true: it is removed again if no
// valid document is found); one that already holds a manifest.json is refused.
fs::path create_out_folder(const std::string& dir, bool* created) {
  const fs::path out(dir);
  std::error_code ec;
  *created = !fs::exists(out, ec);
  fs::create_directories(out, ec);
  HALO_CHECK(fs::is_directory(out, ec), "prepare: cannot create --out folder ", dir);
  HALO_CHECK(!fs::exists(out / "manifest.json", ec), "prepare: ", (out / "manifest.json").string(),
             " already exists. HINT: choose an empty --out folder, or delete the old shard set");
  return out;
}

// The manifest's header: tokenizer, separator, token dtype, split fraction, the input files.
Manifest manifest_header(const Tokenizer& tokenizer, const Separator& sep,
                         const std::vector<InputFile>& files, double validation_fraction) {
  Manifest m;
  m.tokenizer_kind = tokenizer.kind();
  m.tokenizer_identity = tokenizer.identity();
  m.tokenizer_path = tokenizer.path();
  m.vocab_size = tokenizer.vocab_size();
  m.separator_id = sep.id;
  m.separator_token = sep.token;
  m.separator_source = sep.source;
  m.token_dtype = token_dtype_for_vocab(m.vocab_size);
  m.validation_fraction = validation_fraction;
  m.inputs.resize(files.size());
  for (size_t i = 0; i < files.size(); ++i) m.inputs[i].file = files[i].path;
  return m;
}

// Progress counters the reader updates and the writer shows.
struct ReadCounters {
  std::atomic<int64_t> bytes{0}, bad{0};
};

// The reader thread: documents in input order, cut into chunks of about kChunkBytes, queued for
// the tokenizer workers (at most p.max_in_flight chunks read and not yet written); bad
// documents are counted per file in reports[i].
void read_chunks(Pipeline& p, const std::vector<InputFile>& files, const ReaderLimits& limits,
                 std::vector<InputReport>& reports, ReadCounters& counters) {
  Chunk chunk;
  int64_t seq = 0;
  int64_t bytes_before = 0;
  auto push = [&] {
    if (chunk.docs.empty()) return;
    std::unique_lock<std::mutex> lock(p.mu);
    p.cv.wait(lock, [&] { return p.aborted || p.in_flight < p.max_in_flight; });
    if (p.aborted) throw std::runtime_error("aborted");
    chunk.seq = seq++;
    ++p.in_flight;
    p.work.push_back(std::move(chunk));
    chunk = Chunk();
    p.cv.notify_all();
  };
  for (size_t i = 0; i < files.size(); ++i) {
    read_documents(
        files[i], limits,
        [&](std::string&& doc) {
          chunk.bytes += doc.size();
          chunk.docs.push_back(std::move(doc));
          chunk.file_of.push_back(static_cast<int32_t>(i));
          if (chunk.bytes >= kChunkBytes) push();
        },
        &reports[i], [&](int64_t n) { counters.bytes = bytes_before + n; });
    bytes_before += files[i].bytes;
    counters.bytes = bytes_before;
    for (const auto& [kind, b] : reports[i].bad) counters.bad += b.count;
  }
  push();
  std::lock_guard<std::mutex> lock(p.mu);
  p.reader_finished = true;
  p.chunks_total = seq;
  p.cv.notify_all();
}

// The ids of one chunk's documents, narrowed to uint32 (each checked against vocab_size).
TokenizedChunk tokenize_chunk(Chunk& chunk, const Tokenizer& tokenizer,
                              const std::vector<InputFile>& files, int64_t vocab_size) {
  TokenizedChunk t;
  t.file_of = std::move(chunk.file_of);
  t.text_bytes = static_cast<int64_t>(chunk.bytes);
  t.docs.reserve(chunk.docs.size());
  for (size_t d = 0; d < chunk.docs.size(); ++d) {
    std::vector<int64_t> ids;
    try {
      ids = tokenizer.encode(chunk.docs[d]);
    } catch (const HaloError& e) {
      HALO_FAIL(files[t.file_of[d]].path, ": tokenizer failed on a document: ", e.what());
    }
    std::string().swap(chunk.docs[d]);
    std::vector<uint32_t> narrow(ids.size());
    for (size_t k = 0; k < ids.size(); ++k) {
      HALO_CHECK(ids[k] >= 0 && ids[k] < vocab_size, "tokenizer returned id ", ids[k],
                 " outside [0, ", vocab_size, ")");
      narrow[k] = static_cast<uint32_t>(ids[k]);
    }
    t.docs.push_back(std::move(narrow));
  }
  return t;
}

// A tokenizer worker thread: takes chunks off the queue until the reader has finished and the
// queue is empty (or the pipeline aborted), and files each result under its sequence number.
void tokenize_chunks(Pipeline& p, const Tokenizer& tokenizer, const std::vector<InputFile>& files,
                     int64_t vocab_size) {
  while (true) {
    Chunk chunk;
    {
      std::unique_lock<std::mutex> lock(p.mu);
      p.cv.wait(lock, [&] { return p.aborted || !p.work.empty() || p.reader_finished; });
      if (p.aborted) return;
      if (p.work.empty()) return;  // reader finished and nothing left
      chunk = std::move(p.work.front());
      p.work.pop_front();
    }
    TokenizedChunk t = tokenize_chunk(chunk, tokenizer, files, vocab_size);
    std::lock_guard<std::mutex> lock(p.mu);
    p.done.emplace(chunk.seq, std::move(t));
    p.cv.notify_all();
  }
}

// What the writer wrote: both splits (their last shards not yet flushed) and the totals.
struct WrittenSplits {
  SplitWriter train, validation;
  int64_t documents = 0, tokens = 0, text_bytes = 0;
};

// The writer (the calling thread): chunks in sequence order; document i goes to validation when
// floor((i + 1) f) > floor(i f), else to train (prepare_corpus.h); a split's shard is written
// once it holds o.shard_tokens ids. Per-input documents and tokens go to m.inputs.
void write_chunks(Pipeline& p, const PrepareOptions& o, const fs::path& out, Manifest& m,
                  Progress& progress, const ReadCounters& counters, WrittenSplits& w) {
  const double f = o.validation_fraction;
  for (int64_t next = 0;; ++next) {
    TokenizedChunk t;
    {
      std::unique_lock<std::mutex> lock(p.mu);
      p.cv.wait_for(lock, std::chrono::milliseconds(250), [&] {
        return p.aborted || p.done.count(next) || (p.reader_finished && next >= p.chunks_total);
      });
      if (p.aborted) break;
      if (p.reader_finished && next >= p.chunks_total) break;
      auto it = p.done.find(next);
      if (it == p.done.end()) {
        --next;  // not ready yet: report progress and wait again
        lock.unlock();
        progress.update(counters.bytes, w.documents, w.tokens, counters.bad);
        continue;
      }
      t = std::move(it->second);
      p.done.erase(it);
    }
    w.text_bytes += t.text_bytes;
    for (size_t d = 0; d < t.docs.size(); ++d) {
      const int64_t i = w.documents;
      const bool to_validation = f > 0 && std::floor(double(i + 1) * f) > std::floor(double(i) * f);
      SplitWriter& split = to_validation ? w.validation : w.train;
      split.add(t.docs[d], o.shard_tokens);
      if (static_cast<int64_t>(split.tokens.size()) >= o.shard_tokens) {
        split.flush(out, m.token_dtype);
      }
      InputReport& r = m.inputs[t.file_of[d]];
      ++r.documents;
      r.tokens += static_cast<int64_t>(t.docs[d].size());
      w.tokens += static_cast<int64_t>(t.docs[d].size());
      ++w.documents;
    }
    {
      std::lock_guard<std::mutex> lock(p.mu);
      --p.in_flight;
    }
    p.cv.notify_all();
    progress.update(counters.bytes, w.documents, w.tokens, counters.bad);
  }
}

// No valid document: what it saw, and no empty shard folder left behind for a later run to trip
// over (the --out folder is removed when prepare created it).
[[noreturn]] void fail_without_documents(const Manifest& m, const PrepareResult& result,
                                         size_t num_files, const fs::path& out, bool created_out) {
  std::string kinds;
  std::map<std::string, int64_t> by_kind;
  for (const auto& input : m.inputs) {
    for (const auto& [kind, b] : input.bad) by_kind[kind] += b.count;
  }
  for (const auto& [kind, count] : by_kind)
    kinds += str_cat(kinds.empty() ? "" : ", ", count, " ", kind);
  if (created_out) remove_tree(out.string());  // best effort: the error below matters more
  HALO_FAIL("prepare: no valid document in the input: read ", num_files, " file(s), ",
            result.input_bytes, " bytes; ", result.bad_documents, " document(s) skipped as bad",
            kinds.empty() ? "" : " (" + kinds + ")",
            created_out ? "; the --out folder was removed again" : "",
            ". HINT: check the files' encoding (UTF-8) and, for JSONL, --jsonl-field");
}

}  // namespace

PrepareResult prepare_corpus(const PrepareOptions& o) {
  o.validate();
  const auto t0 = std::chrono::steady_clock::now();
  PrepareResult result;
  const auto files = list_input_files(o.inputs, &result.skipped_files);
  HALO_CHECK(!files.empty(),
             "prepare: no .txt/.jsonl(.gz) files under --input. HINT: check the "
             "paths and the file endings");
  for (const auto& f : files) result.input_bytes += f.bytes;

  // Tokenizer and separator before the --out folder exists: a bad --teacher leaves nothing behind.
  auto tokenizer = load_tokenizer(o.tokenizer);
  const Separator sep = choose_separator(*tokenizer, o.teacher);
  bool created_out = false;
  const fs::path out = create_out_folder(o.out, &created_out);
  Manifest m = manifest_header(*tokenizer, sep, files, o.validation_fraction);

  // Reader -> tokenizer workers -> writer (this thread), the first error stops all three.
  const int threads = o.threads > 0
                          ? o.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  result.threads = threads;
  Pipeline p;
  p.max_in_flight = 2 * threads + 2;
  ReadCounters counters;
  std::vector<InputReport> reader_reports(files.size());
  std::thread reader([&] {
    try {
      read_chunks(p, files, o.limits, reader_reports, counters);
    } catch (...) {
      p.fail(std::current_exception());
    }
  });
  std::vector<std::thread> workers;
  for (int w = 0; w < threads; ++w) {
    workers.emplace_back([&] {
      try {
        tokenize_chunks(p, *tokenizer, files, m.vocab_size);
      } catch (...) {
        p.fail(std::current_exception());
      }
    });
  }
  WrittenSplits written;
  written.train.name = "train";
  written.validation.name = "validation";
  Progress progress(o.progress, result.input_bytes);
  try {
    write_chunks(p, o, out, m, progress, counters, written);
  } catch (...) {
    p.fail(std::current_exception());
  }
  reader.join();
  for (auto& w : workers) w.join();
  if (p.error) std::rethrow_exception(p.error);

  written.train.flush(out, m.token_dtype);
  written.validation.flush(out, m.token_dtype);
  m.splits["train"] = written.train.info;
  m.splits["validation"] = written.validation.info;
  for (size_t i = 0; i < files.size(); ++i) {
    m.inputs[i].bad = reader_reports[i].bad;
    for (const auto& [kind, b] : m.inputs[i].bad) result.bad_documents += b.count;
  }
  if (written.documents == 0) fail_without_documents(m, result, files.size(), out, created_out);
  m.write(out / "manifest.json");
  progress.update(result.input_bytes, written.documents, written.tokens, result.bad_documents,
                  true);
  result.manifest = m;
  result.documents = written.documents;
  result.tokens = written.tokens;
  result.text_bytes = written.text_bytes;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace halo::data
