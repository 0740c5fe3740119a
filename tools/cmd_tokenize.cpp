// `halo-distill tokenize --tokenizer PATH (--text S | --file F)`: prints the token ids of each
// input line, space separated, one output line per input line (the newline itself is not
// encoded). No BOS/EOS are added. --file - reads standard input.
#include "common/error.h"
#include "data/tokenizer.h"
#include "tools/commands.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>

namespace halo::tools {

namespace {

struct TokenizeOptions {
  std::string tokenizer;
  std::string text;
  std::string file;
  bool has_text = false, has_file = false;  // set from the option counts (--text "" is text)
};

void print_ids(const data::Tokenizer& tok, std::string_view line, std::string* buffer) {
  buffer->clear();
  for (int64_t id : tok.encode(line)) {
    if (!buffer->empty()) buffer->push_back(' ');
    *buffer += std::to_string(id);
  }
  buffer->push_back('\n');
  std::fwrite(buffer->data(), 1, buffer->size(), stdout);
}

void run_tokenize(const TokenizeOptions& o) {
  HALO_CHECK(o.has_text != o.has_file, "tokenize: give exactly one of --text S or --file F");
  auto tok = data::load_tokenizer(o.tokenizer);
  std::string buffer;
  if (o.has_text) {
    size_t start = 0;
    while (true) {
      const size_t nl = o.text.find('\n', start);
      print_ids(*tok, std::string_view(o.text).substr(start, nl - start), &buffer);
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
    return;
  }
  std::ifstream file;
  std::istream* in = &std::cin;
  if (o.file != "-") {
    file.open(o.file, std::ios::binary);
    HALO_CHECK(file.good(), o.file, ": cannot open (missing or unreadable)");
    in = &file;
  }
  std::string line;
  int64_t line_number = 0;
  while (std::getline(*in, line)) {
    ++line_number;
    try {
      print_ids(*tok, line, &buffer);
    } catch (const HaloError& e) {
      HALO_FAIL(o.file, ": line ", line_number, ": ", e.what());
    }
  }
  HALO_CHECK(in->eof(), o.file, ": read error after line ", line_number);
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto opts = std::make_shared<TokenizeOptions>();
  auto* cmd = app.add_subcommand(
      "tokenize",
      "Print the token ids of text, space separated, one line per input line (no "
      "BOS/EOS added), with the teacher's tokenizer.json or a SentencePiece model.");
  cmd->add_option("--tokenizer", opts->tokenizer,
                  "tokenizer.json, SentencePiece .model, or a model folder holding one")
      ->required();
  auto* text = cmd->add_option("--text", opts->text, "Text to encode (each line separately)");
  auto* file = cmd->add_option("--file", opts->file, "UTF-8 text file to encode; - for stdin");
  text->excludes(file);
  cmd->callback([opts, text, file] {
    opts->has_text = text->count() > 0;
    opts->has_file = file->count() > 0;
    run_tokenize(*opts);
  });
}

}  // namespace halo::tools
