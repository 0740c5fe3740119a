// Implementation of corpus_reader.h: files through zlib (gzip) or plain reads, split into lines
// by a 1 MiB buffer so that no line or document grows beyond its limit in memory.
#include "data/corpus_reader.h"

#include "common/error.h"
#include "common/json_limits.h"
#include "data/unicode.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace halo::data {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Classifies a file name; false for an unknown ending.
bool classify(const fs::path& p, InputFile* out) {
  const std::string name = p.filename().string();
  out->path = p.string();
  out->gzip = ends_with(name, ".gz");
  const std::string base = out->gzip ? name.substr(0, name.size() - 3) : name;
  if (ends_with(base, ".jsonl")) {
    out->jsonl = true;
  } else if (ends_with(base, ".txt")) {
    out->jsonl = false;
  } else {
    return false;
  }
  std::error_code ec;
  out->bytes = static_cast<int64_t>(fs::file_size(p, ec));
  return true;
}

bool is_blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  });
}

void count_bad(InputReport* report, const char* kind, const std::string& where) {
  BadInputCount& b = report->bad[kind];
  if (b.count++ == 0) b.first = where;
}

// Bytes of a plain or gzip file in 1 MiB blocks, cut into lines.
class LineSource {
 public:
  LineSource(const InputFile& f) : file_(f), buffer_(size_t{1} << 20) {
    if (f.gzip) {
      gz_ = gzopen(f.path.c_str(), "rb");
      HALO_CHECK(gz_ != nullptr, f.path, ": cannot open: ", std::strerror(errno));
      gzbuffer(gz_, 1 << 17);
      // zlib reads a non-gzip file as it is ("direct"); a .gz file must be gzip data.
      if (gzdirect(gz_)) failed_ = "not gzip data";
    } else {
      plain_ = std::fopen(f.path.c_str(), "rb");
      HALO_CHECK(plain_ != nullptr, f.path, ": cannot open: ", std::strerror(errno));
    }
  }
  ~LineSource() {
    if (gz_) gzclose(gz_);
    if (plain_) std::fclose(plain_);
  }
  LineSource(const LineSource&) = delete;
  LineSource& operator=(const LineSource&) = delete;

  // The next line, '\n' included when present, into *line; when longer than `limit` bytes its
  // bytes are skipped and *too_long is set. False at the end of the input or at a fault.
  bool next(std::string* line, int64_t limit, bool* too_long) {
    line->clear();
    *too_long = false;
    bool any = false;
    while (true) {
      if (pos_ == end_ && !fill()) return any;
      any = true;
      const char* start = buffer_.data() + pos_;
      const char* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - pos_));
      const size_t take = nl ? static_cast<size_t>(nl - start) + 1 : end_ - pos_;
      if (!*too_long) {
        if (static_cast<int64_t>(line->size() + take) > limit + (nl ? 1 : 0)) {
          *too_long = true;
          line->clear();
        } else {
          line->append(start, take);
        }
      }
      pos_ += take;
      if (nl) return true;
    }
  }
  // Why reading stopped early ("" when the input ended normally).
  const std::string& failure() const { return failed_; }
  int64_t bytes_consumed() const { return consumed_; }

 private:
  bool fill() {
    pos_ = end_ = 0;
    if (!failed_.empty() || eof_) return false;
    if (!deferred_failure_.empty()) {
      failed_ = deferred_failure_;
      return false;
    }
    if (gz_) {
      const int n = gzread(gz_, buffer_.data(), static_cast<unsigned>(buffer_.size()));
      int err = Z_OK;
      const char* msg = gzerror(gz_, &err);
      if (n < 0) {
        failed_ = msg && *msg ? msg : "gzip read error";
        return false;
      }
      // A fault after some bytes (e.g. a truncated file): deliver the bytes, fail next time.
      if (err != Z_OK && err != Z_STREAM_END) deferred_failure_ = msg && *msg ? msg : "gzip error";
      consumed_ = gzoffset(gz_);
      if (n == 0) {
        if (!deferred_failure_.empty()) {
          failed_ = deferred_failure_;
        } else {
          eof_ = true;
        }
        return false;
      }
      end_ = static_cast<size_t>(n);
    } else {
      const size_t n = std::fread(buffer_.data(), 1, buffer_.size(), plain_);
      HALO_CHECK(!std::ferror(plain_), file_.path, ": read error: ", std::strerror(errno));
      consumed_ += static_cast<int64_t>(n);
      if (n == 0) {
        eof_ = true;
        return false;
      }
      end_ = n;
    }
    return true;
  }

  const InputFile& file_;
  std::vector<char> buffer_;
  size_t pos_ = 0, end_ = 0;
  gzFile gz_ = nullptr;
  FILE* plain_ = nullptr;
  bool eof_ = false;
  std::string failed_, deferred_failure_;
  int64_t consumed_ = 0;
};

void read_text_document(LineSource& src, const ReaderLimits& limits,
                        const std::function<void(std::string&&)>& on_document, InputReport* report,
                        const std::function<void(int64_t)>& on_bytes) {
  std::string doc, line;
  bool too_long = false;
  int64_t line_number = 0;
  const char* fault = nullptr;
  std::string where;
  while (src.next(&line, limits.max_line_bytes, &too_long)) {
    ++line_number;
    if (line_number % 4096 == 0) on_bytes(src.bytes_consumed());
    if (fault) continue;  // skip to the end, to report a gzip fault after it too
    if (too_long) {
      fault = kBadLineTooLong;
      where = str_cat("line ", line_number);
      doc.clear();
      doc.shrink_to_fit();
    } else if (static_cast<int64_t>(doc.size() + line.size()) > limits.max_document_bytes) {
      fault = kBadDocumentTooLong;
      where = str_cat("line ", line_number);
      doc.clear();
      doc.shrink_to_fit();
    } else {
      doc += line;
    }
  }
  on_bytes(src.bytes_consumed());
  if (!src.failure().empty()) {
    count_bad(report, kBadUnreadableGzip, src.failure());
    return;
  }
  if (fault) {
    count_bad(report, fault, where);
    return;
  }
  const size_t bad = find_invalid_utf8(doc);
  if (bad != std::string::npos) {
    count_bad(report, kBadInvalidUtf8, str_cat("byte ", bad));
  } else if (is_blank(doc)) {
    count_bad(report, kBadEmptyDocument, "");
  } else {
    on_document(std::move(doc));
  }
}

void read_jsonl_documents(LineSource& src, const ReaderLimits& limits,
                          const std::function<void(std::string&&)>& on_document,
                          InputReport* report, const std::function<void(int64_t)>& on_bytes) {
  std::string line;
  bool too_long = false;
  int64_t line_number = 0;
  // A line without its '\n' is the last one; when a gzip fault ended the input it may be cut,
  // so it is handled only once the input is known to have ended normally.
  std::string last;
  int64_t last_number = 0;
  bool last_too_long = false, have_last = false;
  auto handle = [&](std::string& text, int64_t number, bool long_line) {
    const std::string where = str_cat("line ", number);
    if (long_line) return count_bad(report, kBadLineTooLong, where);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (find_invalid_utf8(text) != std::string::npos) {
      return count_bad(report, kBadInvalidUtf8, where);
    }
    if (is_blank(text)) return count_bad(report, kBadEmptyDocument, where);
    // A line of nested brackets (up to max_line_bytes deep) would overflow the stack in the
    // recursive JSON parser; it is invalid_json for this reader (json_limits.h).
    if (json_depth_violation(text.data(), text.data() + text.size()) >= 0) {
      return count_bad(report, kBadInvalidJson, where);
    }
    nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return count_bad(report, kBadInvalidJson, where);
    auto it = j.find(limits.jsonl_field);
    if (it == j.end() || !it->is_string()) return count_bad(report, kBadMissingField, where);
    std::string doc = it->get<std::string>();
    if (is_blank(doc)) return count_bad(report, kBadEmptyDocument, where);
    on_document(std::move(doc));
  };
  while (src.next(&line, limits.max_line_bytes, &too_long)) {
    ++line_number;
    if (line_number % 4096 == 0) on_bytes(src.bytes_consumed());
    const bool complete = too_long || (!line.empty() && line.back() == '\n');
    if (complete) {
      handle(line, line_number, too_long);
    } else {
      last.swap(line);
      last_number = line_number;
      last_too_long = too_long;
      have_last = true;
    }
  }
  on_bytes(src.bytes_consumed());
  if (!src.failure().empty()) {
    count_bad(report, kBadUnreadableGzip, src.failure());
    return;  // the cut last line goes with the file's fault
  }
  if (have_last) handle(last, last_number, last_too_long);
}

}  // namespace

std::vector<InputFile> list_input_files(const std::vector<std::string>& paths,
                                        std::vector<std::string>* skipped) {
  std::vector<InputFile> out;
  for (const std::string& p : paths) {
    std::error_code ec;
    HALO_CHECK(fs::exists(p, ec), "--input ", p, ": no such file or folder");
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> found;
      for (auto it = fs::recursive_directory_iterator(
               p, fs::directory_options::follow_directory_symlink, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec)) found.push_back(it->path());
      }
      HALO_CHECK(!ec, "--input ", p, ": cannot list the folder: ", ec.message());
      std::sort(found.begin(), found.end());
      for (const auto& f : found) {
        InputFile in;
        if (classify(f, &in)) {
          out.push_back(in);
        } else if (skipped) {
          skipped->push_back(f.string());
        }
      }
    } else {
      InputFile in;
      HALO_CHECK(classify(p, &in), "--input ", p,
                 ": unknown file type. HINT: inputs are .txt, "
                 ".jsonl, .txt.gz or .jsonl.gz files, or folders of them");
      out.push_back(in);
    }
  }
  return out;
}

void read_documents(const InputFile& file, const ReaderLimits& limits,
                    const std::function<void(std::string&&)>& on_document, InputReport* report,
                    const std::function<void(int64_t)>& on_bytes) {
  LineSource src(file);
  if (file.jsonl) {
    read_jsonl_documents(src, limits, on_document, report, on_bytes);
  } else {
    read_text_document(src, limits, on_document, report, on_bytes);
  }
}

}  // namespace halo::data
