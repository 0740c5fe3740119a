// A small XML well-formedness check for the report tests (no XML library in the project): every
// element closed in order, attribute values quoted, '<' never inside text or attributes, '&'
// only as a known entity or character reference, no control characters. The report's HTML is
// written as well-formed XML too, so the same check covers it (a <!DOCTYPE> is allowed).
#pragma once

#include <cctype>
#include <string>
#include <vector>

namespace halo::test {

// "" when `text` is well-formed, else what is wrong and the byte offset.
inline std::string xml_problem(const std::string& text) {
  std::vector<std::string> open;
  size_t i = 0;
  const size_t n = text.size();
  auto fail = [&](const std::string& what) { return what + " at byte " + std::to_string(i); };
  auto name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == ':' ||
           c == '.';
  };
  auto check_entity = [&]() -> bool {  // text[i] == '&'
    const size_t semi = text.find(';', i);
    if (semi == std::string::npos || semi - i > 10) return false;
    const std::string ent = text.substr(i + 1, semi - i - 1);
    bool ok = ent == "amp" || ent == "lt" || ent == "gt" || ent == "quot" || ent == "apos";
    if (!ok && ent.size() > 1 && ent[0] == '#') {
      ok = true;
      const bool hex = ent[1] == 'x';
      for (size_t k = hex ? 2 : 1; k < ent.size(); ++k) {
        ok = ok && (hex ? std::isxdigit(static_cast<unsigned char>(ent[k]))
                        : std::isdigit(static_cast<unsigned char>(ent[k])));
      }
    }
    i = semi + 1;
    return ok;
  };
  bool seen_root = false;
  while (i < n) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') return fail("control character");
    if (c == '&') {
      if (!check_entity()) return fail("bad entity");
      continue;
    }
    if (c == '>') return fail("'>' outside a tag");  // allowed by XML, but never written here
    if (c != '<') {
      if (open.empty() && !std::isspace(c)) return fail("text outside the root element");
      ++i;
      continue;
    }
    if (text.compare(i, 4, "<!--") == 0) {
      const size_t end = text.find("-->", i + 4);
      if (end == std::string::npos) return fail("unclosed comment");
      i = end + 3;
      continue;
    }
    if (text.compare(i, 2, "<?") == 0 || text.compare(i, 9, "<!DOCTYPE") == 0) {
      if (seen_root) return fail("declaration after the root element");
      const size_t end = text.find('>', i);
      if (end == std::string::npos) return fail("unclosed declaration");
      i = end + 1;
      continue;
    }
    const bool closing = i + 1 < n && text[i + 1] == '/';
    size_t k = i + (closing ? 2 : 1);
    const size_t name_start = k;
    while (k < n && name_char(text[k])) ++k;
    const std::string name = text.substr(name_start, k - name_start);
    if (name.empty()) return fail("tag without a name");
    if (closing) {
      while (k < n && std::isspace(static_cast<unsigned char>(text[k]))) ++k;
      if (k >= n || text[k] != '>') return fail("bad closing tag </" + name);
      if (open.empty() || open.back() != name) {
        return fail("</" + name + "> closes <" + (open.empty() ? "" : open.back()) + ">");
      }
      open.pop_back();
      i = k + 1;
      continue;
    }
    if (seen_root && open.empty()) return fail("second root element <" + name + ">");
    seen_root = true;
    // Attributes: name="value" or name='value', separated by whitespace.
    std::vector<std::string> attrs;
    while (true) {
      const size_t before = k;
      while (k < n && std::isspace(static_cast<unsigned char>(text[k]))) ++k;
      if (k >= n) return fail("unclosed tag <" + name);
      if (text[k] == '>' || text.compare(k, 2, "/>") == 0) break;
      if (k == before) return fail("no space before an attribute in <" + name);
      const size_t an = k;
      while (k < n && name_char(text[k])) ++k;
      const std::string attr = text.substr(an, k - an);
      if (attr.empty() || k >= n || text[k] != '=') return fail("bad attribute in <" + name);
      for (const auto& a : attrs) {
        if (a == attr) return fail("duplicate attribute " + attr + " in <" + name);
      }
      attrs.push_back(attr);
      ++k;
      if (k >= n || (text[k] != '"' && text[k] != '\'')) {
        return fail("unquoted attribute " + attr + " in <" + name);
      }
      const char q = text[k++];
      while (k < n && text[k] != q) {
        if (text[k] == '<') return fail("'<' in attribute " + attr);
        if (text[k] == '&') {
          i = k;
          if (!check_entity()) return fail("bad entity in attribute " + attr);
          k = i;
          continue;
        }
        ++k;
      }
      if (k >= n) return fail("unclosed attribute " + attr);
      ++k;
    }
    if (text[k] == '>') {
      open.push_back(name);
      i = k + 1;
    } else {
      i = k + 2;
    }
  }
  if (!open.empty()) return "unclosed element <" + open.back() + "> at the end";
  if (!seen_root) return "no root element";
  return "";
}

}  // namespace halo::test
