// `halo-distill report RUN_DIR [--out FILE]`: one self-contained HTML page about a pipeline run
// (halo/report/html_report.h; docs/report.md), written to RUN_DIR/report.html by default.
#include "halo/report/html_report.h"
#include "tools/commands.h"

#include <cstdio>
#include <memory>
#include <string>

namespace halo::tools {

namespace {

struct ReportArgs {
  std::string run_dir, out;
};

}  // namespace

void add_report_command(CLI::App& app) {
  auto a = std::make_shared<ReportArgs>();
  auto* cmd = app.add_subcommand(
      "report",
      "an HTML report of a pipeline run: training curves, quality gate, layer selection, eval "
      "results, config (one file, no network)");
  // A missing folder is an input error (exit 1, from the reader), not a usage error.
  cmd->add_option("RUN_DIR", a->run_dir, "the run folder (run.out_dir)")->required();
  cmd->add_option("--out", a->out, "the HTML file to write (default: RUN_DIR/report.html)");
  cmd->callback([a] {
    const auto path = report::write_html_report(a->run_dir, a->out);
    std::printf("report: %s\n", path.c_str());
  });
}

}  // namespace halo::tools
