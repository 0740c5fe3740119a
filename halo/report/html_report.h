// `halo-distill report`: one self-contained HTML page about a pipeline run (inline SVG and CSS,
// no script, no network): the stages at a glance, per stage training curves (loss with the
// validation loss, learning rate, gradient norm, tokens/s), the quality gate entries, the layer
// selection's scores with the chosen layers marked, evaluation results when RUN/eval/results.json
// exists, and the configuration as run. See docs/report.md.
#pragma once

#include <filesystem>
#include <string>

#include "halo/report/run_folder.h"

namespace halo::report {

// The page for `run`; `generated_at` is printed in its header (e.g. an ISO time).
std::string render_html_report(const RunFolder& run, const std::string& generated_at);

// Reads `run_dir`, renders it and writes `out` atomically (RUN/report.html when `out` is
// empty). Returns the path written. Errors: HaloError (see read_run_folder; an unwritable out).
std::filesystem::path write_html_report(const std::filesystem::path& run_dir,
                                        const std::filesystem::path& out = {});

// The current UTC time as "2026-12-07T05:09:27Z".
std::string utc_now_iso();

}  // namespace halo::report
