// halo-distill: entry point. Parses the command line, runs the chosen subcommand, and turns
// errors into one clear message and a non-zero exit code.
#include "halo/common/error.h"
#include "tools/commands.h"

#include <c10/util/Exception.h>

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  CLI::App app{
      "halo-distill: convert a pretrained Qwen3-style Transformer into a HypeNet hybrid "
      "linear-attention model with the HALO distillation pipeline.\n"
      "Run `halo-distill SUBCOMMAND --help` for the options of each subcommand."};
  app.require_subcommand(1);
  halo::tools::add_inspect_command(app);
  halo::tools::add_init_teacher_command(app);
  halo::tools::add_forward_command(app);
  halo::tools::add_generate_command(app);
  halo::tools::add_convert_command(app);
  halo::tools::add_bench_command(app);
  halo::tools::add_tokenize_command(app);
  halo::tools::add_train_tokenizer_command(app);
  halo::tools::add_run_commands(app);
  halo::tools::add_export_command(app);
  halo::tools::add_prepare_command(app);
  halo::tools::add_launch_command(app);
  halo::tools::add_dist_selftest_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const halo::HaloError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "error (torch): %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
