// `halo-distill report` through the real binary: a report of the hand-made run folder (default
// and --out paths), and bad input (missing folder, a folder without metrics, a malformed metrics
// line) refused with exit 1 and a message naming the folder or file:line.
#include <unistd.h>
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "tests/report_fixture.h"

using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

Result run_report(const std::string& args) {
  const char* env = std::getenv("HALO_BINARY");
  const std::string cmd = std::string(env ? env : HALO_BINARY_PATH) + " report " + args + " 2>&1";
  Result r;
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace

TEST_CASE("report writes RUN/report.html or --out, and refuses bad run folders", "[report][cli]") {
  halo::test::ScratchDir scratch("cli");
  const fs::path dir = scratch.path;
  const fs::path run = dir / "run";
  halo::test::write_sample_run(run);

  auto ok = run_report(run.string());
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
  CHECK_THAT(ok.output, Contains("report: " + (run / "report.html").string()));
  CHECK(fs::file_size(run / "report.html") > 10000);

  auto other = run_report(run.string() + " --out " + (dir / "sub" / "r.html").string());
  INFO(other.output);
  CHECK(other.exit_code == 0);
  CHECK(fs::exists(dir / "sub" / "r.html"));

  struct Case {
    std::string args, expect;
  };
  fs::create_directories(dir / "empty");
  halo::test::write_file(dir / "bad" / "stage1" / "metrics.jsonl",
                         "{\"step\":1,\"loss\":0.5}\n{\"step\":2,\"loss\":\n");
  const std::vector<Case> cases = {
      {(dir / "nowhere").string(), (dir / "nowhere").string() + ": no such run folder"},
      {(dir / "empty").string(), "no stage folder holds training metrics"},
      {(dir / "bad").string(),
       (dir / "bad" / "stage1" / "metrics.jsonl").string() + ":2: not a JSON object"},
  };
  for (const auto& c : cases) {
    auto r = run_report(c.args + " --out " + (dir / "never.html").string());
    INFO("halo-distill report " << c.args << "\n" << r.output);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Contains("error") && Contains(c.expect));
    CHECK_FALSE(fs::exists(dir / "never.html"));
  }
  auto usage = run_report("");
  CHECK(usage.exit_code == 2);
  auto help = run_report("--help");
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.output, Contains("RUN_DIR") && Contains("--out"));
}
