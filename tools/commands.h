// Registration of the halo-distill subcommands. Each add_*_command adds one subcommand with its
// options and callback to the CLI11 app; the callbacks throw halo::HaloError on bad input.
#pragma once

#include <CLI/CLI.hpp>

namespace halo::tools {

void add_inspect_command(CLI::App& app);
void add_init_teacher_command(CLI::App& app);
void add_forward_command(CLI::App& app);
// `generate`: prompts in, continuations out (halo/inference's engine).
void add_generate_command(CLI::App& app);
// `eval`: NIAH grids, retrieval, loss by position, multiple choice (halo/eval/eval_suite.h).
void add_eval_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_train_tokenizer_command(CLI::App& app);
void add_convert_command(CLI::App& app);
// `run`, `stage` and `pretrain` (pipeline YAML), and `export` (run folder -> HF folder).
void add_run_commands(CLI::App& app);
void add_export_command(CLI::App& app);
// `report`: a run folder as one self-contained HTML page (halo/report/html_report.h).
void add_report_command(CLI::App& app);
void add_prepare_command(CLI::App& app);
// `launch`: also part of the tests' halo-dist-selftest (tests/dist_selftest_main.cpp), whose
// workers are that binary.
void add_launch_command(CLI::App& app);
// Adds `lightning` under the `bench` subcommand.
void add_bench_lightning_command(CLI::App& bench);
// Adds `loader` under the `bench` subcommand.
void add_bench_loader_command(CLI::App& bench);
// Adds `kl` (the chunked stage-2 loss) under the `bench` subcommand.
void add_bench_kl_command(CLI::App& bench);
// Adds `decode` (time per output token on the inference cache) under the `bench` subcommand.
void add_bench_decode_command(CLI::App& bench);
// Adds `stage2` (timed stage-2 training steps) under the `bench` subcommand.
void add_bench_stage2_command(CLI::App& bench);

}  // namespace halo::tools
