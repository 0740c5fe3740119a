// Tests of the SVG chart module (halo/report/svg_chart): well-formed XML for ordinary, empty and
// NaN input, escaping of hostile text, tick choice, tick labels, colours, the PNG converter.
#include <unistd.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <regex>
#include <string>

#include "common/error.h"
#include "halo/report/svg_chart.h"
#include "tests/xml_check.h"

using namespace halo::report;
using halo::test::xml_problem;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// The text of every <text> element, in order.
std::vector<std::string> texts(const std::string& svg) {
  std::vector<std::string> out;
  const std::regex re("<text[^>]*>([^<]*)</text>");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), re); it != std::sregex_iterator();
       ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

bool has_text(const std::string& svg, const std::string& t) {
  for (const auto& s : texts(svg)) {
    if (s == t) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("xml_problem tells well-formed from broken XML", "[report][svg]") {
  // The checker itself must fail on the mistakes it is meant to catch.
  CHECK(xml_problem("<a x=\"1\"><b/>t &amp; u</a>").empty());
  CHECK(xml_problem("<!DOCTYPE html>\n<html><p>&#39;&#x27;</p></html>").empty());
  CHECK_FALSE(xml_problem("<a><b></a></b>").empty());
  CHECK_FALSE(xml_problem("<a>").empty());
  CHECK_FALSE(xml_problem("<a x=1></a>").empty());
  CHECK_FALSE(xml_problem("<a>x & y</a>").empty());
  CHECK_FALSE(xml_problem("<a>1 < 2</a>").empty());
  CHECK_FALSE(xml_problem("<a x=\"<\"></a>").empty());
  CHECK_FALSE(xml_problem("<a x=\"1\" x=\"2\"></a>").empty());
  CHECK_FALSE(xml_problem("<a></a><b></b>").empty());
  CHECK_FALSE(xml_problem(std::string("<a>\x01</a>")).empty());
}

TEST_CASE("xml_escape escapes markup, drops control bytes, repairs bad UTF-8", "[report][svg]") {
  CHECK(xml_escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;");
  CHECK(xml_escape(std::string("x\x01y\x1f")) == "xy");
  CHECK(xml_escape("tab\tnl\n") == "tab\tnl\n");
  CHECK(xml_escape("caf\xC3\xA9 \xE2\x86\x92") == "caf\xC3\xA9 \xE2\x86\x92");  // é →
  CHECK(xml_escape("bad \xFF end") == "bad \xEF\xBF\xBD end");
  CHECK(xml_escape("cut \xE2\x86") == "cut \xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(xml_escape("overlong \xC0\xAF") == "overlong \xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("nice_ticks chooses 1-2-5 steps that cover the range", "[report][svg]") {
  auto t = nice_ticks(0, 1);
  REQUIRE(t.size() == 6);
  CHECK(t.front() == Approx(0));
  CHECK(t[1] == Approx(0.2));
  CHECK(t.back() == Approx(1));

  t = nice_ticks(2.31, 2.87);
  CHECK(t.front() <= 2.31);
  CHECK(t.back() >= 2.87);
  CHECK(t[1] - t[0] == Approx(0.1));

  t = nice_ticks(3, 1047);  // steps
  CHECK(t.front() == 0);
  CHECK(t[1] == Approx(200));
  CHECK(t.back() == Approx(1200));

  t = nice_ticks(-3.2, 4.9);
  CHECK(t.front() <= -3.2);
  CHECK(t.back() >= 4.9);
  CHECK(t[1] - t[0] == Approx(2));
  for (double v : t) CHECK_FALSE((std::signbit(v) && v == 0));  // never "-0"

  t = nice_ticks(5, 5);  // one value: a small range around it
  CHECK(t.front() < 5);
  CHECK(t.back() > 5);
  t = nice_ticks(0, 0);
  CHECK(t.front() < 0);
  CHECK(t.back() > 0);
  t = nice_ticks(kNaN, 1);
  CHECK(t.size() == 2);
}

TEST_CASE("log_ticks: powers of two for token counts, of ten for wide ranges", "[report][svg]") {
  auto t = log_ticks(2048, 131072);
  REQUIRE(t.size() == 7);
  CHECK(t.front() == 2048);
  CHECK(t.back() == 131072);
  CHECK(t[1] == 4096);

  t = log_ticks(1, 1 << 20);  // 21 powers of two: every third one
  CHECK(t.size() <= 9);
  CHECK(t.front() <= 1);
  CHECK(t.back() >= (1 << 20));

  t = log_ticks(1e-3, 1e6);  // ten decades: every other power of ten
  CHECK(t.front() <= 1e-3);
  CHECK(t.back() >= 1e6);
  CHECK(t[1] / t[0] == Approx(100));
  CHECK(t.size() <= 8);

  t = log_ticks(300, 300);
  CHECK(t.front() <= 300);
  CHECK(t.back() >= 300);
  CHECK(t.size() >= 2);
}

TEST_CASE("decade_ticks: 1-2-5 within two decades, powers of ten beyond", "[report][svg]") {
  auto t = decade_ticks(0.2, 3);
  CHECK(t == std::vector<double>{0.2, 0.5, 1, 2, 5});
  t = decade_ticks(0.31, 0.9);
  CHECK(t.front() == Approx(0.2));
  CHECK(t.back() == Approx(1));
  t = decade_ticks(0.0039, 2.3);  // a gradient norm falling from 2.3: four decades
  CHECK(t == std::vector<double>{0.001, 0.01, 0.1, 1, 10});
  t = decade_ticks(1e-6, 1e9);  // fifteen decades: every third power
  CHECK(t.front() <= 1e-6);
  CHECK(t.back() >= 1e9);
  CHECK(t[1] / t[0] == Approx(1000));
  CHECK(t.size() <= 9);
}

TEST_CASE("log axis labels carry the tick's own digits", "[report][svg]") {
  LineChartSpec spec;
  spec.title = "grad";
  spec.log_y = true;
  spec.series.push_back({"g", {1, 2, 3}, {2.3, 0.25, 0.004}});
  std::string svg = line_chart_svg(spec);
  CHECK(xml_problem(svg).empty());
  CHECK(has_text(svg, "0.001"));
  CHECK(has_text(svg, "0.01"));
  CHECK(has_text(svg, "10"));
  CHECK_FALSE(has_text(svg, "0.004"));  // powers of ten, not of two

  spec.series = {{"g", {1, 2, 3}, {3.9, 0.6, 0.3}}};
  svg = line_chart_svg(spec);
  for (const char* label : {"0.2", "0.5", "1", "2", "5"}) {
    INFO(label);
    CHECK(has_text(svg, label));
  }

  spec.log_y = false;
  spec.log_x = true;
  spec.series = {{"acc", {64, 128, 256}, {1, 0.5, 0.25}}};
  svg = line_chart_svg(spec);
  CHECK(has_text(svg, "64"));
  CHECK(has_text(svg, "256"));
}

TEST_CASE("format_tick prints as many digits as the step needs", "[report][svg]") {
  CHECK(format_tick(0.2, 0.2) == "0.2");
  CHECK(format_tick(0.30000000000000004, 0.1) == "0.3");
  CHECK(format_tick(2.35, 0.05) == "2.35");
  CHECK(format_tick(1000, 200) == "1000");
  CHECK(format_tick(35000, 5000) == "35000");
  CHECK(format_tick(250000, 50000) == "250k");
  CHECK(format_tick(1250000, 50000) == "1.25M");
  CHECK(format_tick(0, 0.1) == "0");
  CHECK(format_tick(-0.5, 0.5) == "-0.5");
  CHECK(format_tick(2048, 2048, true) == "2K");
  CHECK(format_tick(131072, 131072, true) == "128K");
  CHECK(format_tick(1 << 20, 1 << 20, true) == "1M");
  CHECK(format_tick(512, 512, true) == "512");
  CHECK(format_tick(kNaN, 1) == "n/a");
}

TEST_CASE("line chart: valid SVG with ticks, legend, markers and escaped names", "[report][svg]") {
  LineChartSpec spec;
  spec.title = "loss <stage2> & co";
  spec.x_label = "step";
  spec.y_label = "loss";
  spec.series.push_back({"train", {1, 2, 3, 4}, {2.9, 2.7, 2.6, 2.55}});
  spec.series.push_back({"val \"held-out\"", {2, 4}, {2.8, 2.65}});
  spec.x_markers = {3};
  spec.marker_label = "stage end";
  const std::string svg = line_chart_svg(spec);
  INFO(svg);
  CHECK(xml_problem(svg).empty());
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(has_text(svg, "loss &lt;stage2&gt; &amp; co"));
  CHECK(has_text(svg, "val &quot;held-out&quot;"));
  CHECK(has_text(svg, "stage end"));
  CHECK(has_text(svg, "2.6"));  // a y tick
  CHECK(has_text(svg, "step"));
  CHECK(count_of(svg, "<path") == 2);
  CHECK(count_of(svg, "stroke-dasharray") == 2);  // the marker line and its legend entry
  CHECK(svg.find(palette_colour(0)) != std::string::npos);
  CHECK(svg.find(palette_colour(1)) != std::string::npos);
}

TEST_CASE("line chart: NaN breaks a line, empty input says no data", "[report][svg]") {
  LineChartSpec spec;
  spec.title = "gaps";
  spec.series.push_back({"a", {1, 2, 3, 4, 5}, {1, 2, kNaN, 4, 5}});
  std::string svg = line_chart_svg(spec);
  CHECK(xml_problem(svg).empty());
  CHECK(count_of(svg, "<path") == 2);  // two runs: 1-2 and 4-5
  CHECK(svg.find("nan") == std::string::npos);
  CHECK(svg.find("inf") == std::string::npos);

  spec.series = {{"lone", {1, 2, 3}, {kNaN, 7, kNaN}}};
  svg = line_chart_svg(spec);
  CHECK(xml_problem(svg).empty());
  CHECK(count_of(svg, "<path") == 0);
  CHECK(count_of(svg, "<circle") == 1);

  for (auto series : {std::vector<Series>{}, std::vector<Series>{{"x", {}, {}}},
                      std::vector<Series>{{"y", {1, 2}, {kNaN, kNaN}}}}) {
    spec.series = series;
    svg = line_chart_svg(spec);
    INFO(svg);
    CHECK(xml_problem(svg).empty());
    CHECK(has_text(svg, "no data"));
  }

  spec.series = {{"bad", {1, 2}, {1}}};
  CHECK_THROWS_AS(line_chart_svg(spec), halo::HaloError);
}

TEST_CASE("line chart: 100k points are drawn with a few per pixel, spikes kept", "[report][svg]") {
  LineChartSpec spec;
  spec.title = "long run";
  Series s{"loss", {}, {}};
  for (int i = 1; i <= 100000; ++i) {
    s.x.push_back(i);
    s.y.push_back(i == 61234 ? 50.0 : 3.0 + 1.0 / i);
  }
  spec.series.push_back(s);
  const std::string svg = line_chart_svg(spec);
  CHECK(xml_problem(svg).empty());
  CHECK(svg.size() < 100000);                       // not megabytes
  CHECK(count_of(svg, " L") < 4 * 640);             // at most 4 points per pixel column
  CHECK(has_text(svg, "50"));                       // the y axis reaches the spike...
  const std::regex top_point(" L[0-9.]+ 42\\.0 ");  // ...and the path goes up to it (y = top + 6)
  CHECK(std::regex_search(svg, top_point));
}

TEST_CASE("line chart: a log x axis of token lengths", "[report][svg]") {
  LineChartSpec spec;
  spec.title = "accuracy by length";
  spec.log_x = true;
  spec.series.push_back({"teacher", {0, 2048, 8192, 32768}, {1, 1, 0.5, 0}});
  spec.series.push_back({"student", {2048, 8192, 32768}, {1, 1, 1}});
  const std::string svg = line_chart_svg(spec);
  CHECK(xml_problem(svg).empty());
  CHECK(has_text(svg, "2K"));
  CHECK(has_text(svg, "32K"));
  CHECK(count_of(svg, "<circle") == 6);  // x = 0 cannot be drawn on a log axis
}

TEST_CASE("line chart: accuracy keeps its 0..1 axis, few lengths are the ticks", "[report][svg]") {
  LineChartSpec spec;
  spec.title = "passkey";
  spec.log_x = true;
  spec.y_min = 0;
  spec.y_max = 1;
  spec.series.push_back({"a", {320, 448}, {0, 0}});
  spec.series.push_back({"b", {320, 448}, {0, 0}});
  const std::string svg = line_chart_svg(spec);
  CHECK(xml_problem(svg).empty());
  CHECK(has_text(svg, "0"));
  CHECK(has_text(svg, "1"));
  CHECK_FALSE(has_text(svg, "-1"));  // all zero: without y_min/y_max the axis ran -1..1
  CHECK(has_text(svg, "320"));
  CHECK(has_text(svg, "448"));
  CHECK_FALSE(has_text(svg, "256"));  // not the powers of two around them
}

TEST_CASE("heatmap: annotated cells, readable ink, n/a cells, checked shapes", "[report][svg]") {
  HeatmapSpec spec;
  spec.title = "NIAH: teacher";
  spec.x_label = "context length";
  spec.y_label = "depth";
  spec.x_ticks = {"2K", "8K", "32K"};
  spec.y_ticks = {"0.0", "0.5", "1.0"};
  spec.values = {{1, 0.75, 0}, {1, 0.5, kNaN}, {0.25, 1, 1}};
  const std::string svg = heatmap_svg(spec);
  INFO(svg);
  CHECK(xml_problem(svg).empty());
  CHECK(has_text(svg, "0.75"));
  CHECK(has_text(svg, "n/a"));
  CHECK(has_text(svg, "32K"));
  CHECK(has_text(svg, "depth"));
  CHECK(count_of(svg, "#d9d9d9") == 1);  // the NaN cell
  // 0 is the dark end of viridis: its number is white; 1 is the light end: black.
  CHECK(svg.find("fill=\"#ffffff\" font-size=\"11\">0.00<") != std::string::npos);
  CHECK(svg.find("fill=\"#000000\" font-size=\"11\">1.00<") != std::string::npos);

  HeatmapSpec empty;
  empty.title = "none";
  const std::string e = heatmap_svg(empty);
  CHECK(xml_problem(e).empty());
  CHECK(has_text(e, "no data"));

  spec.y_ticks = {"only one"};
  CHECK_THROWS_AS(heatmap_svg(spec), halo::HaloError);
  spec.y_ticks = {"0.0", "0.5", "1.0"};
  spec.vmax = spec.vmin;
  CHECK_THROWS_AS(heatmap_svg(spec), halo::HaloError);
}

TEST_CASE("bar chart: highlighted bars, negative values, many bars", "[report][svg]") {
  BarChartSpec spec;
  spec.title = "layer importance";
  spec.x_label = "layer";
  spec.labels = {"0", "1", "2", "3"};
  spec.values = {0.5, -0.25, kNaN, 1.5};
  spec.highlighted = {false, true, false, true};
  spec.highlight_name = "kept as attention";
  const std::string svg = bar_chart_svg(spec);
  INFO(svg);
  CHECK(xml_problem(svg).empty());
  CHECK(has_text(svg, "kept as attention"));
  CHECK(has_text(svg, "n/a"));
  CHECK(count_of(svg, "fill=\"" + palette_colour(3) + "\"") == 3);  // 2 bars + legend box
  CHECK(has_text(svg, "-0.5"));                                     // a y tick below zero

  BarChartSpec many;
  many.title = "64 layers";
  for (int i = 0; i < 64; ++i) {
    many.labels.push_back(std::to_string(i));
    many.values.push_back(i * 0.01);
  }
  const std::string m = bar_chart_svg(many);
  CHECK(xml_problem(m).empty());
  CHECK(count_of(m, "<rect x=") >= 64);

  BarChartSpec zero;
  zero.title = "all zero";
  zero.values = {0, 0, 0};
  CHECK(xml_problem(bar_chart_svg(zero)).empty());
  CHECK(has_text(bar_chart_svg(zero), "1"));  // a 0..1 axis, no headroom
  CHECK_FALSE(has_text(bar_chart_svg(zero), "1.2"));
  zero.values.clear();
  CHECK(has_text(bar_chart_svg(zero), "no data"));

  spec.highlighted = {true};
  CHECK_THROWS_AS(bar_chart_svg(spec), halo::HaloError);
}

TEST_CASE("palette and heat colours are valid hex and distinct", "[report][svg]") {
  const std::regex hex("#[0-9a-fA-F]{6}");
  for (size_t i = 0; i < 8; ++i) {
    CHECK(std::regex_match(palette_colour(i), hex));
    for (size_t j = 0; j < i; ++j) CHECK(palette_colour(i) != palette_colour(j));
  }
  CHECK(palette_colour(8) == palette_colour(0));
  CHECK(heat_colour(0) == "#440154");
  CHECK(heat_colour(1) == "#fde725");
  CHECK(heat_colour(-3) == heat_colour(0));
  CHECK(std::regex_match(heat_colour(0.37), hex));
}

TEST_CASE("svg_to_png: false without a converter, a PNG with one", "[report][svg]") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("halo-svg-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  LineChartSpec spec;
  spec.title = "png";
  spec.series.push_back({"a", {1, 2}, {1, 2}});
  { std::ofstream(dir / "c.svg") << line_chart_svg(spec); }
  const char* old_path = std::getenv("PATH");
  const std::string saved = old_path ? old_path : "";
  ::setenv("PATH", dir.c_str(), 1);  // a PATH without rsvg-convert
  CHECK_FALSE(svg_to_png(dir / "c.svg", dir / "c.png"));
  ::setenv("PATH", saved.c_str(), 1);
  CHECK_FALSE(fs::exists(dir / "c.png"));
  if (svg_to_png(dir / "c.svg", dir / "c.png")) {
    std::ifstream in(dir / "c.png", std::ios::binary);
    std::string magic(8, '\0');
    in.read(magic.data(), 8);
    CHECK(magic == "\x89PNG\r\n\x1a\n");
  } else {
    WARN("rsvg-convert not on PATH: the conversion itself was not exercised");
  }
  for (const auto& e : fs::directory_iterator(dir)) fs::remove(e.path());
  fs::remove(dir);
}
