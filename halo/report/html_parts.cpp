// Implementation of html_parts.h.
#include "halo/report/html_parts.h"

#include <cctype>
#include <cmath>
#include <cstdio>

#include "halo/report/svg_chart.h"

namespace halo::report {

std::string html_text(const std::string& text) {
  return xml_escape(text);
}

std::string format_number(double value, const char* format) {
  if (!std::isfinite(value)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

std::string json_number(const nlohmann::json& object, const char* key, const char* format) {
  if (!object.is_object()) return "-";
  auto it = object.find(key);
  if (it == object.end() || !it->is_number()) return "-";
  return format_number(it->get<double>(), format);
}

std::string json_brief(const nlohmann::json& value, size_t max_chars) {
  std::string s = value.is_string()
                      ? value.get<std::string>()
                      : value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > max_chars) {
    size_t cut = max_chars;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // whole UTF-8
    s = s.substr(0, cut) + "...";
  }
  return s;
}

std::string table_html(const HtmlTable& table) {
  std::string out = "<table>\n";
  if (!table.header.empty()) {
    out += "<thead><tr>";
    for (const auto& h : table.header) out += "<th>" + h + "</th>";
    out += "</tr></thead>\n";
  }
  out += "<tbody>\n";
  for (const auto& row : table.rows) {
    out += "<tr>";
    for (const auto& cell : row) {
      // Numbers (and "-") right-aligned to line up their digits, text left-aligned.
      const char c = cell.empty() ? '-' : cell[0];
      const bool number = std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+';
      out += (number ? "<td>" : "<td class=\"text\">") + cell + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</tbody>\n</table>\n";
}

std::string figure_html(const std::string& svg, const std::string& caption_html) {
  std::string out = "<figure>\n" + svg;
  if (!caption_html.empty()) out += "<figcaption>" + caption_html + "</figcaption>\n";
  return out + "</figure>\n";
}

std::string note_html(const std::string& text_html) {
  return "<div class=\"note\">" + text_html + "</div>\n";
}

}  // namespace halo::report
