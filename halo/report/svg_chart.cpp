// SVG line charts, heatmaps and bar charts (svg_chart.h): layout by simple arithmetic on an
// estimated text width (7 px per character at 12 px sans-serif), ticks from nice_ticks /
// log_ticks, text through xml_escape. Everything is written into one string per chart.
#include "halo/report/svg_chart.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "common/error.h"

extern char** environ;

namespace halo::report {
namespace {

constexpr double kCharWidth = 7.0;  // estimated width of one character at font-size 12
constexpr double kTitleHeight = 30.0;
constexpr double kLegendRow = 18.0;

// Okabe & Ito (2008), ordered for contrast on white; their yellow (#F0E442) comes last.
constexpr std::array<const char*, 8> kPalette = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                                 "#CC79A7", "#56B4E9", "#000000", "#F0E442"};

// A coordinate or size in an attribute: one decimal is finer than a pixel.
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

double text_width(const std::string& text) {
  // Count UTF-8 code points, not bytes.
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return kCharWidth * static_cast<double>(n);
}

bool finite(double v) {
  return std::isfinite(v);
}

// The <svg> root with a white background and the chart's title as <title> and heading.
void open_svg(std::ostringstream& os, double width, double height, const std::string& title) {
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(width) << "\" height=\""
     << num(height) << "\" viewBox=\"0 0 " << num(width) << ' ' << num(height)
     << "\" font-family=\"sans-serif\" font-size=\"12\" role=\"img\">\n";
  os << "<title>" << xml_escape(title) << "</title>\n";
  os << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  if (!title.empty()) {
    os << "<text x=\"" << num(width / 2) << "\" y=\"20\" text-anchor=\"middle\" font-size=\"14\""
       << " font-weight=\"bold\">" << xml_escape(title) << "</text>\n";
  }
}

void text_at(std::ostringstream& os, double x, double y, const std::string& text,
             const char* anchor, const std::string& extra = "") {
  os << "<text x=\"" << num(x) << "\" y=\"" << num(y) << "\" text-anchor=\"" << anchor << '"'
     << extra << '>' << xml_escape(text) << "</text>\n";
}

// A y-axis label, rotated to read bottom to top, centred on [top, bottom].
void y_label_at(std::ostringstream& os, double x, double top, double bottom,
                const std::string& label) {
  if (label.empty()) return;
  const double cy = (top + bottom) / 2;
  os << "<text x=\"" << num(x) << "\" y=\"" << num(cy) << "\" text-anchor=\"middle\""
     << " transform=\"rotate(-90 " << num(x) << ' ' << num(cy) << ")\">" << xml_escape(label)
     << "</text>\n";
}

// One axis: maps data values to pixels, linearly or on log10.
struct Axis {
  double lo = 0, hi = 1;  // data domain
  double p0 = 0, p1 = 1;  // pixel range (p0 <-> lo)
  bool log = false;
  std::vector<double> ticks;
  double step = 1;      // tick step for labels (linear axes)
  bool binary = false;  // K/M/G as powers of 1024 (log axis of powers of two)

  double map(double v) const {
    const double a = log ? std::log10(lo) : lo;
    const double b = log ? std::log10(hi) : hi;
    const double t = ((log ? std::log10(v) : v) - a) / (b - a);
    return p0 + t * (p1 - p0);
  }
  std::string label(double v) const {
    if (!log) return format_tick(v, step, false);
    if ((binary && v >= 1024) || v >= 1e5) return format_tick(v, v, binary);
    char buf[32];  // 0.25, 0.004, 3e-05: the value's own digits
    std::snprintf(buf, sizeof buf, "%.4g", v);
    return buf;
  }
};

// Fills ticks and domain from the data range [lo, hi] (finite; lo > 0 on a log axis). Log axes
// take powers of two when `token_counts` (lengths, positions), else 1-2-5 steps per decade.
void fit_axis(Axis& axis, double lo, double hi, bool log, bool token_counts) {
  axis.log = log;
  if (log) {
    axis.ticks = token_counts ? log_ticks(lo, hi) : decade_ticks(lo, hi);
    axis.binary = token_counts && hi / lo <= std::ldexp(1.0, 24);
    // A little room beyond the end ticks, so points on them are not cut by the frame.
    const double pad = std::pow(axis.ticks.back() / axis.ticks.front(), 0.03);
    axis.lo = axis.ticks.front() / pad;
    axis.hi = axis.ticks.back() * pad;
    return;
  }
  axis.ticks = nice_ticks(lo, hi);
  axis.step = axis.ticks.size() > 1 ? axis.ticks[1] - axis.ticks[0] : 1;
  axis.lo = axis.ticks.front();
  axis.hi = axis.ticks.back();
}

// The legend below the plot: entries flow left to right, wrapping at `width`. Returns the rows.
struct LegendEntry {
  std::string name, colour;
  enum Kind { kLine, kBox, kDashed } kind = kLine;
};

int legend_rows(const std::vector<LegendEntry>& entries, double width) {
  if (entries.empty()) return 0;
  int rows = 1;
  double x = 0;
  for (const auto& e : entries) {
    const double w = 28 + text_width(e.name) + 16;
    if (x > 0 && x + w > width) {
      ++rows;
      x = 0;
    }
    x += w;
  }
  return rows;
}

void draw_legend(std::ostringstream& os, const std::vector<LegendEntry>& entries, double left,
                 double top, double width) {
  double x = 0, y = top;
  for (const auto& e : entries) {
    const double w = 28 + text_width(e.name) + 16;
    if (x > 0 && x + w > width) {
      x = 0;
      y += kLegendRow;
    }
    const double sx = left + x, sy = y + 9;
    if (e.kind == LegendEntry::kBox) {
      os << "<rect x=\"" << num(sx + 4) << "\" y=\"" << num(sy - 6)
         << "\" width=\"14\" height=\"12\""
         << " fill=\"" << e.colour << "\"/>\n";
    } else {
      os << "<line x1=\"" << num(sx) << "\" y1=\"" << num(sy) << "\" x2=\"" << num(sx + 22)
         << "\" y2=\"" << num(sy) << "\" stroke=\"" << e.colour << "\" stroke-width=\"2\""
         << (e.kind == LegendEntry::kDashed ? " stroke-dasharray=\"5 3\"" : "") << "/>\n";
    }
    text_at(os, sx + 28, sy + 4, e.name, "start");
    x += w;
  }
}

// Frame, grid lines and tick labels of a plot area [left, right] x [top, bottom].
void draw_axes(std::ostringstream& os, const Axis& x, const Axis& y, double left, double right,
               double top, double bottom) {
  os << "<g stroke=\"#dddddd\" stroke-width=\"1\">\n";
  for (double t : x.ticks) {
    const double px = x.map(t);
    os << "<line x1=\"" << num(px) << "\" y1=\"" << num(top) << "\" x2=\"" << num(px) << "\" y2=\""
       << num(bottom) << "\"/>\n";
  }
  for (double t : y.ticks) {
    const double py = y.map(t);
    os << "<line x1=\"" << num(left) << "\" y1=\"" << num(py) << "\" x2=\"" << num(right)
       << "\" y2=\"" << num(py) << "\"/>\n";
  }
  os << "</g>\n";
  os << "<rect x=\"" << num(left) << "\" y=\"" << num(top) << "\" width=\"" << num(right - left)
     << "\" height=\"" << num(bottom - top) << "\" fill=\"none\" stroke=\"#444444\"/>\n";
  os << "<g fill=\"#333333\">\n";
  for (double t : x.ticks) text_at(os, x.map(t), bottom + 16, x.label(t), "middle");
  for (double t : y.ticks) text_at(os, left - 6, y.map(t) + 4, y.label(t), "end");
  os << "</g>\n";
}

double max_label_width(const Axis& axis) {
  double w = 0;
  for (double t : axis.ticks) w = std::max(w, text_width(axis.label(t)));
  return w;
}

void no_data(std::ostringstream& os, double left, double right, double top, double bottom) {
  os << "<rect x=\"" << num(left) << "\" y=\"" << num(top) << "\" width=\"" << num(right - left)
     << "\" height=\"" << num(bottom - top) << "\" fill=\"#f6f6f6\" stroke=\"#444444\"/>\n";
  text_at(os, (left + right) / 2, (top + bottom) / 2, "no data", "middle",
          " fill=\"#666666\" font-size=\"14\"");
}

// The frame of a line or bar chart: the plot area [left, right] x [top, bottom], inside margins
// for the y tick labels (those of `y`, when there is data) and for the axis labels. `right` is
// the chart kind's own: chart_frame leaves it 0.
struct ChartFrame {
  double left = 0, right = 0, top = 0, bottom = 0;
};

template <class Spec>
ChartFrame chart_frame(const Spec& spec, bool has_data, const Axis& y) {
  ChartFrame f;
  f.left = 20 + (spec.y_label.empty() ? 0 : 16) + (has_data ? max_label_width(y) : 0) + 8;
  f.top = kTitleHeight + 6;
  f.bottom = spec.height - 22 - (spec.x_label.empty() ? 0 : 16);
  return f;
}

// Opens a line or bar chart's SVG, `width` wide and spec.height tall plus the legend's rows, with
// its title and axis labels; without data, says so in the frame.
template <class Spec>
void open_chart(std::ostringstream& os, const Spec& spec, double width, const ChartFrame& f,
                const std::vector<LegendEntry>& legend, bool has_data) {
  const int rows = legend_rows(legend, f.right - f.left);
  const double height = spec.height + rows * kLegendRow + (rows > 0 ? 4 : 0);
  open_svg(os, width, height, spec.title);
  if (!spec.x_label.empty()) {
    text_at(os, (f.left + f.right) / 2, f.bottom + 34, spec.x_label, "middle");
  }
  y_label_at(os, 16, f.top, f.bottom, spec.y_label);
  if (!has_data) no_data(os, f.left, f.right, f.top, f.bottom);
}

// The legend below the frame, and the end of the SVG.
template <class Spec>
void close_chart(std::ostringstream& os, const Spec& spec, const ChartFrame& f,
                 const std::vector<LegendEntry>& legend) {
  draw_legend(os, legend, f.left, spec.height - 2, f.right - f.left);
  os << "</svg>\n";
}

std::string hex_colour(double r, double g, double b) {
  char buf[8];
  auto c = [](double v) { return static_cast<int>(std::lround(std::clamp(v, 0.0, 255.0))); };
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c(r), c(g), c(b));
  return buf;
}

// Relative luminance of "#rrggbb" (0 black .. 1 white), to pick a readable text colour.
double luminance(const std::string& hex) {
  const long v = std::strtol(hex.c_str() + 1, nullptr, 16);
  auto lin = [](double c) {
    c /= 255.0;
    return c <= 0.03928 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * lin((v >> 16) & 0xFF) + 0.7152 * lin((v >> 8) & 0xFF) + 0.0722 * lin(v & 0xFF);
}

std::string format_cell(double v, int decimals) {
  if (!finite(v)) return "n/a";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", std::clamp(decimals, 0, 6), v);
  return buf;
}

// Trims "1.500" to "1.5" and "2.000" to "2".
std::string trim_zeros(std::string s) {
  if (s.find('.') == std::string::npos) return s;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// A long run of pixel points (a 100k-step loss curve) cut to at most 4 per pixel column: the
// first, lowest, highest and last point of each column, in order, so spikes survive and the
// drawn line looks the same while the SVG stays small.
std::vector<std::pair<double, double>> decimate_run(
    const std::vector<std::pair<double, double>>& run) {
  if (run.size() < 2000) return run;
  std::vector<std::pair<double, double>> out;
  size_t start = 0;
  while (start < run.size()) {
    const double column = std::floor(run[start].first);
    size_t end = start, lo = start, hi = start;
    while (end < run.size() && std::floor(run[end].first) == column) {
      if (run[end].second < run[lo].second) lo = end;
      if (run[end].second > run[hi].second) hi = end;
      ++end;
    }
    size_t keep[4] = {start, std::min(lo, hi), std::max(lo, hi), end - 1};
    for (size_t k = 0; k < 4; ++k) {
      if (k == 0 || keep[k] != keep[k - 1]) out.push_back(run[keep[k]]);
    }
    start = end;
  }
  return out;
}

// The 1, 2, 5 or 10 multiple of a power of ten nearest to x (Heckbert, Graphics Gems 1990).
double heckbert_nice(double x) {
  const double e = std::floor(std::log10(x));
  const double f = x / std::pow(10.0, e);
  const double nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
  return nf * std::pow(10.0, e);
}

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      switch (c) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&quot;";
          break;
        case '\'':
          out += "&#39;";
          break;
        default:
          if (c >= 0x20 || c == '\t' || c == '\n') out += static_cast<char>(c);
          if (c == '\r') out += ' ';
      }
      ++i;
      continue;
    }
    // A UTF-8 sequence: lead byte range, continuation bytes, no overlongs or surrogates.
    size_t len = 0;
    unsigned char lo2 = 0x80, hi2 = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo2 = 0xA0;
      if (c == 0xED) hi2 = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo2 = 0x90;
      if (c == 0xF4) hi2 = 0x8F;
    }
    bool ok = len > 0 && i + len <= n && s[i + 1] >= lo2 && s[i + 1] <= hi2;
    for (size_t k = 2; ok && k < len; ++k) ok = s[i + k] >= 0x80 && s[i + k] <= 0xBF;
    if (ok) {
      out.append(text, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!finite(lo) || !finite(hi)) return {0, 1};
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) {
    const double d = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= d;
    hi += d;
  }
  // Heckbert's step (a 1, 2 or 5 multiple of a power of ten near range / (target - 1)), without
  // rounding the range first: that gave 0..1500 in steps of 500 for 3..1047.
  const double step = heckbert_nice((hi - lo) / std::max(1, target - 1));
  if (!finite(step) || step <= 0) return {lo, hi};
  const double first = std::floor(lo / step + 1e-9);
  const double last = std::ceil(hi / step - 1e-9);
  std::vector<double> ticks;
  for (double i = first; i <= last + 0.5; i += 1) {
    const double v = i * step;
    ticks.push_back(v == 0 ? 0.0 : v);  // no -0
  }
  return ticks;
}

std::vector<double> log_ticks(double lo, double hi) {
  if (!(lo > 0) || !(hi > 0) || !finite(lo) || !finite(hi)) return {1, 10};
  if (hi < lo) std::swap(lo, hi);
  const double base = hi / lo <= std::ldexp(1.0, 24) ? 2.0 : 10.0;
  const double lb = std::log(base);
  double k0 = std::floor(std::log(lo) / lb + 1e-9);
  double k1 = std::ceil(std::log(hi) / lb - 1e-9);
  if (k1 <= k0) k1 = k0 + 1;
  const double stride = std::ceil((k1 - k0) / 7.0);
  k0 = std::floor(k0 / stride) * stride;
  k1 = std::ceil(k1 / stride) * stride;
  std::vector<double> ticks;
  for (double k = k0; k <= k1 + 0.5; k += stride) ticks.push_back(std::pow(base, k));
  return ticks;
}

std::vector<double> decade_ticks(double lo, double hi) {
  if (!(lo > 0) || !(hi > 0) || !finite(lo) || !finite(hi)) return {1, 10};
  if (hi < lo) std::swap(lo, hi);
  double d0 = std::floor(std::log10(lo) + 1e-9);
  double d1 = std::ceil(std::log10(hi) - 1e-9);
  if (d1 <= d0) d1 = d0 + 1;
  std::vector<double> ticks;
  if (d1 - d0 <= 2) {
    // 1, 2, 5 per decade, from the last one <= lo to the first one >= hi.
    std::vector<double> all;
    for (double d = d0; d <= d1 + 0.5; d += 1) {
      for (double m : {1.0, 2.0, 5.0}) all.push_back(m * std::pow(10.0, d));
    }
    size_t first = 0, last = all.size() - 1;
    while (first + 1 < all.size() && all[first + 1] <= lo * (1 + 1e-9)) ++first;
    while (last > first + 1 && all[last - 1] >= hi * (1 - 1e-9)) --last;
    ticks.assign(all.begin() + static_cast<std::ptrdiff_t>(first),
                 all.begin() + static_cast<std::ptrdiff_t>(last) + 1);
    return ticks;
  }
  const double stride = std::ceil((d1 - d0) / 7.0);
  d0 = std::floor(d0 / stride) * stride;
  d1 = std::ceil(d1 / stride) * stride;
  for (double d = d0; d <= d1 + 0.5; d += stride) ticks.push_back(std::pow(10.0, d));
  return ticks;
}

std::string format_tick(double value, double step, bool binary_units) {
  if (!finite(value)) return "n/a";
  if (value == 0) return "0";
  step = std::abs(step);
  if (!(step > 0) || !finite(step)) step = std::abs(value);
  const double a = std::abs(value);
  double unit = 1;
  const char* suffix = "";
  if (binary_units && a >= 1024) {
    const double k = 1024;
    unit = a >= k * k * k ? k * k * k : a >= k * k ? k * k : k;
    suffix = a >= k * k * k ? "G" : a >= k * k ? "M" : "K";
  } else if (!binary_units && a >= 1e5) {
    unit = a >= 1e9 ? 1e9 : a >= 1e6 ? 1e6 : 1e3;
    suffix = a >= 1e9 ? "G" : a >= 1e6 ? "M" : "k";
  }
  const double scaled_step = step / unit;
  int decimals =
      scaled_step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(scaled_step) - 1e-9));
  decimals = std::clamp(decimals, 0, 12);
  if (a / unit < 1e-4 || a / unit >= 1e15) {  // far out of the range fixed notation reads well in
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.3g", value);
    return buf;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value / unit);
  return trim_zeros(buf) + suffix;
}

std::string palette_colour(size_t i) {
  return kPalette[i % kPalette.size()];
}

std::string heat_colour(double t) {
  // Viridis at 0, 0.25, 0.5, 0.75, 1 (matplotlib's table), linear in between.
  static const double stops[5][3] = {
      {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  if (!finite(t)) t = 0;
  t = std::clamp(t, 0.0, 1.0) * 4;
  const int i = std::min(3, static_cast<int>(t));
  const double f = t - i;
  return hex_colour(stops[i][0] + f * (stops[i + 1][0] - stops[i][0]),
                    stops[i][1] + f * (stops[i + 1][1] - stops[i][1]),
                    stops[i][2] + f * (stops[i + 1][2] - stops[i][2]));
}

std::string line_chart_svg(const LineChartSpec& spec) {
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  auto usable_x = [&](double x) { return finite(x) && (!spec.log_x || x > 0); };
  auto usable_y = [&](double y) { return finite(y) && (!spec.log_y || y > 0); };
  for (const auto& s : spec.series) {
    HALO_CHECK(s.x.size() == s.y.size(), "line chart '", spec.title, "': series '", s.name,
               "' has ", s.x.size(), " x values but ", s.y.size(), " y values");
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!usable_x(s.x[i]) || !usable_y(s.y[i])) continue;
      xlo = std::min(xlo, s.x[i]);
      xhi = std::max(xhi, s.x[i]);
      ylo = std::min(ylo, s.y[i]);
      yhi = std::max(yhi, s.y[i]);
    }
  }
  const bool has_data = xlo <= xhi;
  std::vector<double> markers;
  for (double m : spec.x_markers) {
    if (!usable_x(m)) continue;
    markers.push_back(m);
    if (has_data) {
      xlo = std::min(xlo, m);
      xhi = std::max(xhi, m);
    }
  }

  std::vector<LegendEntry> legend;
  for (size_t i = 0; i < spec.series.size(); ++i) {
    legend.push_back({spec.series[i].name, palette_colour(i), LegendEntry::kLine});
  }
  if (!spec.marker_label.empty() && !markers.empty()) {
    legend.push_back({spec.marker_label, "#555555", LegendEntry::kDashed});
  }
  if (spec.series.size() == 1 && spec.marker_label.empty()) legend.clear();  // title says it

  Axis x, y;
  if (has_data) {
    // A fixed y range (accuracy: 0..1) widened by data outside it.
    if (std::isfinite(spec.y_min) && (!spec.log_y || spec.y_min > 0))
      ylo = std::min(ylo, spec.y_min);
    if (std::isfinite(spec.y_max) && (!spec.log_y || spec.y_max > 0))
      yhi = std::max(yhi, spec.y_max);
    fit_axis(x, xlo, xhi, spec.log_x, true);
    fit_axis(y, ylo, yhi, spec.log_y, false);
    // A log x axis over a few measured lengths: ticks at those lengths, not at powers of two.
    std::vector<double> xs;
    for (const auto& s : spec.series) {
      for (size_t i = 0; i < s.x.size(); ++i) {
        if (usable_x(s.x[i]) && usable_y(s.y[i])) xs.push_back(s.x[i]);
      }
    }
    std::sort(xs.begin(), xs.end());
    xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
    if (spec.log_x && xs.size() >= 2 && xs.size() <= 10) {
      x.ticks = xs;
      const double pad = std::pow(xhi / xlo, 0.05);
      x.lo = xlo / pad;
      x.hi = xhi * pad;
    }
  }
  auto frame = chart_frame(spec, has_data, y);
  frame.right = spec.width - 20;
  const double left = frame.left, right = frame.right, top = frame.top, bottom = frame.bottom;

  std::ostringstream os;
  open_chart(os, spec, spec.width, frame, legend, has_data);
  if (has_data) {
    x.p0 = left;
    x.p1 = right;
    // Inset so that points on the end ticks (accuracy 0 or 1) are not hidden by the frame.
    y.p0 = bottom - 6;
    y.p1 = top + 6;
    draw_axes(os, x, y, left, right, top, bottom);
    for (double m : markers) {
      os << "<line x1=\"" << num(x.map(m)) << "\" y1=\"" << num(top) << "\" x2=\"" << num(x.map(m))
         << "\" y2=\"" << num(bottom) << "\" stroke=\"#555555\""
         << " stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>\n";
    }
    for (size_t si = 0; si < spec.series.size(); ++si) {
      const auto& s = spec.series[si];
      const std::string colour = palette_colour(si);
      // Runs of usable points; NaN or out-of-domain points end a run.
      std::vector<std::vector<std::pair<double, double>>> runs(1);
      size_t count = 0;
      for (size_t i = 0; i < s.x.size(); ++i) {
        if (!usable_x(s.x[i]) || !usable_y(s.y[i])) {
          if (!runs.back().empty()) runs.emplace_back();
          continue;
        }
        runs.back().emplace_back(x.map(s.x[i]), y.map(s.y[i]));
        ++count;
      }
      for (auto& run : runs) run = decimate_run(run);
      os << "<g fill=\"" << colour << "\" stroke=\"" << colour << "\">\n";
      os << "<title>" << xml_escape(s.name) << "</title>\n";
      for (const auto& run : runs) {
        if (run.size() >= 2) {
          os << "<path fill=\"none\" stroke-width=\"2\" stroke-linejoin=\"round\" d=\"";
          for (size_t i = 0; i < run.size(); ++i) {
            os << (i == 0 ? 'M' : 'L') << num(run[i].first) << ' ' << num(run[i].second) << ' ';
          }
          os << "\"/>\n";
        }
        // Dots where points are few enough to see, and always for a lone point.
        if (run.size() == 1 || count <= 40) {
          const char* r = run.size() == 1 ? "4.5" : "3";  // a lone point must stand out
          for (const auto& [px, py] : run) {
            os << "<circle cx=\"" << num(px) << "\" cy=\"" << num(py) << "\" r=\"" << r << "\"/>\n";
          }
        }
      }
      os << "</g>\n";
    }
  }
  close_chart(os, spec, frame, legend);
  return os.str();
}

std::string heatmap_svg(const HeatmapSpec& spec) {
  const size_t rows = spec.values.size();
  size_t cols = spec.x_ticks.size();
  for (const auto& r : spec.values) cols = std::max(cols, r.size());
  HALO_CHECK(spec.y_ticks.empty() || spec.y_ticks.size() == rows, "heatmap '", spec.title,
             "': ", spec.y_ticks.size(), " row labels for ", rows, " rows");
  HALO_CHECK(spec.x_ticks.empty() || spec.x_ticks.size() == cols, "heatmap '", spec.title,
             "': ", spec.x_ticks.size(), " column labels for ", cols, " columns");
  HALO_CHECK(spec.vmax > spec.vmin, "heatmap '", spec.title, "': vmax (", spec.vmax,
             ") must be above vmin (", spec.vmin, ")");

  double ylab_w = 0;
  for (const auto& t : spec.y_ticks) ylab_w = std::max(ylab_w, text_width(t));
  const double cw = spec.cell_width, ch = spec.cell_height;
  const double left = 20 + (spec.y_label.empty() ? 0 : 16) + ylab_w + 8;
  const double top = kTitleHeight + 8;
  const double grid_w = std::max(1.0, static_cast<double>(cols)) * cw;
  const double grid_h = std::max(1.0, static_cast<double>(rows)) * ch;
  const double bar_h = std::max(grid_h, 100.0);
  const double bottom = top + grid_h;
  const double width =
      std::max(left + grid_w + 90, text_width(spec.title) * 1.2 + 40);  // colour bar on the right
  const double height = std::max(top + bar_h, bottom + 22 + (spec.x_label.empty() ? 0 : 18)) + 10;

  std::ostringstream os;
  open_svg(os, width, height, spec.title);
  y_label_at(os, 16, top, bottom, spec.y_label);
  if (rows == 0 || cols == 0) {
    no_data(os, left, left + grid_w, top, bottom);
  }
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < cols; ++c) {
      const double v =
          c < spec.values[r].size() ? spec.values[r][c] : std::numeric_limits<double>::quiet_NaN();
      const double x0 = left + c * cw, y0 = top + r * ch;
      const std::string fill =
          finite(v) ? heat_colour((v - spec.vmin) / (spec.vmax - spec.vmin)) : "#d9d9d9";
      os << "<rect x=\"" << num(x0) << "\" y=\"" << num(y0) << "\" width=\"" << num(cw)
         << "\" height=\"" << num(ch) << "\" fill=\"" << fill << "\" stroke=\"#ffffff\">"
         << "<title>" << xml_escape(spec.y_ticks.empty() ? "" : spec.y_ticks[r])
         << (spec.y_ticks.empty() || spec.x_ticks.empty() ? "" : ", ")
         << xml_escape(spec.x_ticks.empty() ? "" : spec.x_ticks[c]) << ": "
         << format_cell(v, spec.decimals) << "</title></rect>\n";
      const std::string ink = finite(v) && luminance(fill) < 0.35 ? "#ffffff" : "#000000";
      text_at(os, x0 + cw / 2, y0 + ch / 2 + 4, format_cell(v, spec.decimals), "middle",
              " fill=\"" + ink + "\" font-size=\"11\"");
    }
  }
  for (size_t r = 0; r < spec.y_ticks.size(); ++r) {
    text_at(os, left - 6, top + r * ch + ch / 2 + 4, spec.y_ticks[r], "end");
  }
  for (size_t c = 0; c < spec.x_ticks.size(); ++c) {
    text_at(os, left + c * cw + cw / 2, bottom + 16, spec.x_ticks[c], "middle");
  }
  if (!spec.x_label.empty()) {
    text_at(os, left + grid_w / 2, bottom + 36, spec.x_label, "middle");
  }
  // Colour bar: 20 bands from vmin (bottom) to vmax (top), labelled at both ends and the middle.
  const double bx = left + grid_w + 20;
  const int bands = 20;
  for (int i = 0; i < bands; ++i) {
    const double t = (i + 0.5) / bands;
    os << "<rect x=\"" << num(bx) << "\" y=\"" << num(top + bar_h * (1 - (i + 1.0) / bands))
       << "\" width=\"14\" height=\"" << num(bar_h / bands + 0.5) << "\" fill=\"" << heat_colour(t)
       << "\"/>\n";
  }
  os << "<rect x=\"" << num(bx) << "\" y=\"" << num(top) << "\" width=\"14\" height=\""
     << num(bar_h) << "\" fill=\"none\" stroke=\"#444444\"/>\n";
  const double span = spec.vmax - spec.vmin;
  for (double t : {0.0, 0.5, 1.0}) {
    const double v = spec.vmin + t * span;
    text_at(os, bx + 20, top + bar_h * (1 - t) + 4, format_tick(v, span / 2), "start");
  }
  os << "</svg>\n";
  return os.str();
}

std::string bar_chart_svg(const BarChartSpec& spec) {
  const size_t n = spec.values.size();
  HALO_CHECK(spec.labels.empty() || spec.labels.size() == n, "bar chart '", spec.title,
             "': ", spec.labels.size(), " labels for ", n, " values");
  HALO_CHECK(spec.highlighted.empty() || spec.highlighted.size() == n, "bar chart '", spec.title,
             "': ", spec.highlighted.size(), " highlight flags for ", n, " values");
  double lo = 0, hi = 0;  // bars start at zero
  bool has_data = false;
  for (double v : spec.values) {
    if (!finite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    has_data = true;
  }
  Axis y;
  if (has_data) {
    if (hi == lo) {
      fit_axis(y, 0, 1, false, false);  // all zero: still a readable 0..1 axis
    } else {
      // Headroom for the value written above the tallest bar.
      fit_axis(y, lo < 0 ? lo * 1.08 : lo, hi > 0 ? hi * 1.08 : hi, false, false);
    }
  }
  const bool any_highlight =
      std::find(spec.highlighted.begin(), spec.highlighted.end(), true) != spec.highlighted.end();
  std::vector<LegendEntry> legend;
  if (any_highlight) {
    legend.push_back({spec.highlight_name, palette_colour(3), LegendEntry::kBox});
    legend.push_back({spec.other_name, palette_colour(0), LegendEntry::kBox});
  }
  auto frame = chart_frame(spec, has_data, y);
  const double slot_min = 14;
  frame.right = std::max(spec.width - 20, frame.left + slot_min * static_cast<double>(n));
  const double left = frame.left, right = frame.right, top = frame.top, bottom = frame.bottom;

  std::ostringstream os;
  open_chart(os, spec, right + 20, frame, legend, has_data);
  if (has_data) {
    y.p0 = bottom;
    y.p1 = top;
    Axis x;  // a dummy x axis without ticks: bars carry their own labels
    x.ticks.clear();
    draw_axes(os, x, y, left, right, top, bottom);
    const double slot = (right - left) / static_cast<double>(n);
    double max_label = 0;
    for (const auto& l : spec.labels) max_label = std::max(max_label, text_width(l));
    // Label every k-th bar so that labels do not overlap.
    const size_t every =
        std::max<size_t>(1, static_cast<size_t>(std::ceil((max_label + 4) / slot)));
    const bool values_fit = slot >= 34;
    const double zero = y.map(0);
    for (size_t i = 0; i < n; ++i) {
      const double cx = left + (i + 0.5) * slot;
      const double v = spec.values[i];
      const bool hl = !spec.highlighted.empty() && spec.highlighted[i];
      if (finite(v)) {
        const double py = y.map(v);
        os << "<rect x=\"" << num(cx - slot * 0.35) << "\" y=\"" << num(std::min(py, zero))
           << "\" width=\"" << num(slot * 0.7) << "\" height=\"" << num(std::abs(zero - py))
           << "\" fill=\"" << (hl ? palette_colour(3) : palette_colour(0)) << '"'
           << (hl ? " stroke=\"#000000\" stroke-width=\"1\"" : "") << "><title>"
           << xml_escape(spec.labels.empty() ? std::to_string(i) : spec.labels[i]) << ": "
           << format_cell(v, 4) << "</title></rect>\n";
        if (values_fit) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%.3g", v);
          text_at(os, cx, (v >= 0 ? py - 4 : py + 12), buf, "middle",
                  " font-size=\"10\" fill=\"#333333\"");
        }
      } else {
        text_at(os, cx, zero - 4, "n/a", "middle", " font-size=\"10\" fill=\"#666666\"");
      }
      if (!spec.labels.empty() && i % every == 0) {
        text_at(os, cx, bottom + 16, spec.labels[i], "middle", hl ? " font-weight=\"bold\"" : "");
      }
    }
    if (lo < 0) {
      os << "<line x1=\"" << num(left) << "\" y1=\"" << num(zero) << "\" x2=\"" << num(right)
         << "\" y2=\"" << num(zero) << "\" stroke=\"#444444\"/>\n";
    }
  }
  close_chart(os, spec, frame, legend);
  return os.str();
}

bool svg_to_png(const std::filesystem::path& svg, const std::filesystem::path& png) {
  const char* path_env = std::getenv("PATH");
  std::string converter;
  std::stringstream dirs(path_env ? path_env : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/rsvg-convert";
    if (::access(candidate.c_str(), X_OK) == 0) {
      converter = candidate;
      break;
    }
  }
  if (converter.empty()) return false;
  const std::string svg_s = svg.string(), png_s = png.string();
  std::vector<std::string> args = {converter, "--format", "png", "--output", png_s, svg_s};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, converter.c_str(), nullptr, nullptr, argv.data(), environ);
  HALO_CHECK(rc == 0, "could not start ", converter, " to convert ", svg_s, " to PNG (error ", rc,
             ")");
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    HALO_CHECK(errno == EINTR, "waiting for ", converter, " failed (errno ", errno, ")");
  }
  HALO_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, converter, " failed on ", svg_s,
             " (exit status ", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
             "). HINT: its error is printed above; the SVG is kept.");
  return true;
}

}  // namespace halo::report
