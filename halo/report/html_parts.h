// Small HTML building blocks shared by the report's sections: escaped text, numbers, tables,
// figures around an inline SVG chart. Every piece is well-formed XML (the tests parse the page).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace halo::report {

// Text escaped for HTML element content and attribute values.
std::string html_text(const std::string& text);

// A number with printf `format`; "-" for NaN or infinity.
std::string format_number(double value, const char* format = "%.4g");

// `key` of a JSON object as a number with `format`; "-" when absent, null or not a number.
std::string json_number(const nlohmann::json& object, const char* key, const char* format = "%.4g");

// A JSON value on one line, cut to `max_chars` with "..." (for generic tables).
std::string json_brief(const nlohmann::json& value, size_t max_chars = 240);

// A table whose cells are HTML already (escape text with html_text first). The first column is
// left-aligned, the others right-aligned (numbers).
struct HtmlTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};
std::string table_html(const HtmlTable& table);

// An inline SVG chart in a <figure>, with an optional caption (HTML).
std::string figure_html(const std::string& svg, const std::string& caption_html = "");

// A note for the reader (missing data, degenerate scores), styled apart from the text.
std::string note_html(const std::string& text_html);

}  // namespace halo::report
