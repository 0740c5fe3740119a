// The pictures of `halo-distill eval` drawn from results.json (eval_results.h) with the SVG chart
// module (halo/report/svg_chart.h): a heatmap per model per NIAH task (rows: lengths, columns:
// depths, colour: accuracy), one loss-by-position chart with every model (the training length
// marked), and passkey / kv accuracy against length with every model. Each as SVG, and as PNG
// beside it when rsvg-convert is on PATH.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <vector>

namespace halo::eval {

// Writes the charts into `out_dir` (existing); returns the files written, SVG and PNG.
std::vector<std::filesystem::path> write_eval_charts(const nlohmann::json& results,
                                                     const std::filesystem::path& out_dir);

// A length as a tick label: 2048 -> "2K", 1048576 -> "1M", 1000 -> "1000".
std::string length_label(int64_t tokens);

}  // namespace halo::eval
