// Standalone SVG charts for run reports and `halo-distill eval`: line charts (loss curves,
// accuracy or loss against length), heatmaps (the NIAH length x depth grid) and bar charts (layer
// scores). Each function returns one complete <svg> document as text: nice tick values, axis
// labels, a legend, the Okabe-Ito colour-blind-safe palette, escaped text. No torch, no
// third-party code; svg_to_png shells out to rsvg-convert when it is on PATH.
//
// Missing data is drawn, not refused: NaN or infinite points break a line, a NaN heatmap cell is
// grey with "n/a", a chart without any finite value says "no data".
#pragma once

#include <filesystem>
#include <limits>
#include <string>
#include <vector>

namespace halo::report {

// One line of a line chart: y[i] at x[i] (x and y of equal length, else HaloError).
struct Series {
  std::string name;
  std::vector<double> x, y;
};

struct LineChartSpec {
  std::string title, x_label, y_label;
  bool log_x = false;          // log-scale x axis (points with x <= 0 are left out); with 2 to 10
                               // distinct x values (measured lengths) the ticks are those values
  std::vector<Series> series;  // drawn in palette order; the legend lists them by name
  std::vector<double> x_markers;     // dashed vertical lines (e.g. the training length)
  bool log_y = false;                // log-scale y axis (points with y <= 0 are left out)
  std::string marker_label;          // legend text of the dashed lines ("" -> no legend entry)
  double width = 640, height = 360;  // pixels
  // The y axis covers at least [y_min, y_max] where they are set (accuracy: 0 and 1); NaN: the
  // data's range alone.
  double y_min = std::numeric_limits<double>::quiet_NaN();
  double y_max = std::numeric_limits<double>::quiet_NaN();
};

struct HeatmapSpec {
  std::string title, x_label, y_label;
  std::vector<std::string> x_ticks, y_ticks;  // column and row labels
  std::vector<std::vector<double>> values;    // [row][col]; rows drawn top to bottom
  double vmin = 0, vmax = 1;                  // the colour scale's ends (values are clamped)
  int decimals = 2;                           // digits of the number written in each cell
  double cell_width = 56, cell_height = 30;   // pixels
};

struct BarChartSpec {
  std::string title, x_label, y_label;
  std::vector<std::string> labels;
  std::vector<double> values;
  std::vector<bool> highlighted;            // empty, or one flag per bar
  std::string highlight_name = "selected";  // legend text of highlighted bars
  std::string other_name = "other";         // legend text of the others
  double width = 640, height = 320;         // pixels (widened for many bars)
};

std::string line_chart_svg(const LineChartSpec& spec);
std::string heatmap_svg(const HeatmapSpec& spec);
std::string bar_chart_svg(const BarChartSpec& spec);

// Converts an SVG file to PNG with rsvg-convert when it is on PATH; false when no converter is
// found. A converter that fails throws HaloError with its exit status.
bool svg_to_png(const std::filesystem::path& svg, const std::filesystem::path& png);

// --- Building blocks, exposed for tests and for HTML around the charts -----------------------

// Text safe inside XML/HTML elements and attribute values: & < > " ' escaped, control
// characters other than tab and newline dropped, invalid UTF-8 bytes replaced by U+FFFD.
std::string xml_escape(const std::string& text);

// About `target` round tick values (1, 2 or 5 times a power of ten) covering [lo, hi]; the first
// is <= lo and the last >= hi. lo == hi gives a small range around the value.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);

// Tick values of a log axis over [lo, hi] (both > 0): powers of two for ranges of token counts
// (hi / lo <= 2^24), else powers of ten; at most about 8 ticks, covering the range.
std::vector<double> log_ticks(double lo, double hi);

// Tick values of a log axis of other quantities (losses, norms) over [lo, hi] (both > 0): 1, 2
// and 5 per decade over at most two decades, else powers of ten (every k-th one beyond 7).
std::vector<double> decade_ticks(double lo, double hi);

// A tick label: digits as the tick step needs them, thousands as plain integers up to 99999,
// larger values with K/M/G (binary on a log axis of powers of two, else decimal).
std::string format_tick(double value, double step, bool binary_units = false);

// The i-th colour of the palette (Okabe-Ito order, wrapping around), as "#rrggbb".
std::string palette_colour(size_t i);

// The colour of `t` in [0, 1] on the sequential heatmap scale (viridis), as "#rrggbb".
std::string heat_colour(double t);

}  // namespace halo::report
