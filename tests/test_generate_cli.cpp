// `halo-distill generate` run as a user runs it, on a student converted from a teacher folder that
// carries a SentencePiece tokenizer and a generation config (convert copies both): streaming one
// prompt, a JSONL file in and out with per-line sampling fields, the same tokens as the library,
// `inspect --context`, and the bad inputs of issue 15, each with its message and exit code 1 and
// no output file left behind.
#include <catch2/catch.hpp>

#include "halo/inference/generation_engine.h"
#include "hypenet/causal_lm.h"
#include "tests/pipeline_fixture.h"
#include "tests/test_util.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace halo;
using Catch::Matchers::Contains;
using test::run_cli;
namespace fs = std::filesystem;

namespace {

// dir/teacher (random Qwen3 of the tiny pipeline's config, with tok.model as tokenizer.model and
// a generation_config.json) and dir/student (convert: layers L, A, L, A).
struct GenerateFolders {
  std::string teacher, student, tokenizer;
};

GenerateFolders make_models(const std::string& dir) {
  auto t = test::make_tiny_pipeline(dir + "/tiny");
  GenerateFolders f{dir + "/teacher", dir + "/student", dir + "/tiny/tok.model"};
  auto init = run_cli("init-teacher --config " + t.model_config + " --out " + f.teacher +
                      " --seed 3 --dtype float32");
  INFO(init.output);
  REQUIRE(init.exit_code == 0);
  fs::copy_file(f.tokenizer, f.teacher + "/tokenizer.model");
  std::ofstream(f.teacher + "/generation_config.json") << R"({"eos_token_id": [2, 3]})";
  // float32 storage (convert writes bfloat16 by default): inspect --context below counts a
  // float32 config's cache bytes.
  auto conv = run_cli("convert --teacher " + f.teacher + " --mixers L,A,L,A --out " + f.student +
                      " --dtype float32");
  INFO(conv.output);
  REQUIRE(conv.exit_code == 0);
  CHECK_THAT(conv.output, Contains("tokenizer.model") && Contains("generation_config.json"));
  return f;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("generate streams a prompt, answers a JSONL file, matches the library",
          "[cli][generate]") {
  test::TempDir dir;
  auto f = make_models(dir.str());
  CHECK(fs::exists(f.student + "/tokenizer.model"));

  auto one = run_cli("generate --model " + f.student +
                     " --prompt \"The model learns\" --max-new-tokens 6 --ignore-eos");
  INFO(one.output);
  REQUIRE(one.exit_code == 0);
  CHECK_THAT(one.output, Contains("[generate] 6 tokens (length)"));

  const std::string prompts = dir.str() + "/prompts.jsonl", out = dir.str() + "/out.jsonl";
  std::ofstream(prompts) << R"({"text": "The model learns"}
{"ids": [5, 6, 7, 8, 9, 10, 11], "max_new_tokens": 3}

{"text": "Green light runs", "temperature": 0.8, "top_k": 20, "top_p": 0.9, "seed": 4}
)";
  auto file =
      run_cli("generate --model " + f.student + " --prompts " + prompts +
              " --max-new-tokens 5 --ignore-eos --batch-size 2 --prefill-chunk 3 --out " + out);
  INFO(file.output);
  REQUIRE(file.exit_code == 0);
  CHECK_THAT(file.output, Contains("3/3 prompts") && Contains("tokens/s"));
  std::vector<nlohmann::json> results;
  std::istringstream lines(read_all(out));
  for (std::string line; std::getline(lines, line);) results.push_back(nlohmann::json::parse(line));
  REQUIRE(results.size() == 3);
  CHECK(results[0]["new_tokens"] == 5);
  CHECK(results[1]["new_tokens"] == 3);
  CHECK(results[1]["prompt_tokens"] == 7);
  for (const auto& r : results) {
    CHECK(r["finish_reason"] == "length");
    CHECK(r.contains("text"));
    CHECK(r["decode_ms"].get<double>() >= 0.0);
  }
  // The sampled line is reproducible.
  auto again = run_cli("generate --model " + f.student + " --prompts " + prompts +
                           " --max-new-tokens 5 --ignore-eos",
                       /*merge_stderr=*/false);
  REQUIRE(again.exit_code == 0);
  std::istringstream again_lines(again.output);
  std::string last;
  for (std::string line; std::getline(again_lines, line);) {
    if (!line.empty()) last = line;
  }
  CHECK(nlohmann::json::parse(last)["ids"] == results[2]["ids"]);

  // The same greedy tokens as the engine in-process (ids of line 2).
  auto lm = hypenet::load_causal_lm(f.student, at::kFloat, at::kCPU);
  inference::GenerationRequest req;
  req.prompt = {5, 6, 7, 8, 9, 10, 11};
  req.max_new_tokens = 3;
  auto lib = inference::GenerationEngine(lm, {}).generate({req});
  CHECK(results[1]["ids"].get<std::vector<int64_t>>() == lib[0].tokens);

  // EOS ids come from the copied generation_config.json: a prompt whose greedy continuation
  // meets id 2 or 3 stops there (not asserted: a random model rarely does); the JSON says why.
  auto json = run_cli("generate --model " + f.student + " --prompt \"Birds sing\" --json",
                      /*merge_stderr=*/false);
  REQUIRE(json.exit_code == 0);
  auto j = nlohmann::json::parse(json.output);
  CHECK((j["finish_reason"] == "length" || j["finish_reason"] == "eos"));

  // A stop string from the middle of the free-running text: the streamed text ends before it.
  auto free_run = run_cli("generate --model " + f.student +
                              " --prompt \"Birds sing\" --json --ignore-eos --max-new-tokens 24",
                          /*merge_stderr=*/false);
  const auto text = nlohmann::json::parse(free_run.output)["text"].get<std::string>();
  REQUIRE(text.size() >= 8);
  std::string stop;  // three letters or digits from the second half (shell-safe)
  for (size_t p = text.size() / 2; p + 3 <= text.size() && stop.empty(); ++p) {
    if (std::all_of(text.begin() + p, text.begin() + p + 3,
                    [](unsigned char c) { return std::isalnum(c); })) {
      stop = text.substr(p, 3);
    }
  }
  REQUIRE(!stop.empty());
  auto stopped = run_cli("generate --model " + f.student + " --prompt \"Birds sing\" --stop \"" +
                             stop + "\" --ignore-eos --max-new-tokens 24",
                         /*merge_stderr=*/false);
  INFO("stop \"" << stop << "\" in \"" << text << "\"");
  REQUIRE(stopped.exit_code == 0);
  CHECK(stopped.output == text.substr(0, text.find(stop)) + "\n");
}

TEST_CASE("generate refuses bad input with the value and the limit", "[cli][generate]") {
  test::TempDir dir;
  auto f = make_models(dir.str());
  const std::string out = dir.str() + "/never.jsonl";
  auto jsonl = [&](const std::string& name, const std::string& text) {
    const std::string p = dir.str() + "/" + name;
    std::ofstream(p) << text;
    return p;
  };
  // A model whose vocabulary (150) is smaller than the tokenizer's (200).
  std::ofstream(dir.str() + "/small.json")
      << R"({"vocab_size": 150, "hidden_size": 32, "intermediate_size": 64,
  "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8})";
  REQUIRE(
      run_cli("init-teacher --config " + dir.str() + "/small.json --out " + dir.str() + "/small")
          .exit_code == 0);
  const std::string g = "generate --model " + f.student + " ";
  struct Case {
    std::string args, expect;
  };
  const std::vector<Case> cases = {
      {g + "--prompt \"\"", "--prompt: the prompt is empty"},
      {g + "--prompts " + jsonl("ids.jsonl", "{\"ids\": [1, 2]}\n{\"ids\": [4, 200]}\n"),
       "ids.jsonl:2: prompt token 1 is id 200; the model's vocabulary has ids 0..199"},
      {g + "--prompt \"The model learns from text\" --max-new-tokens 10 --capacity 8",
       "exceeds the cache capacity of 8 tokens"},
      {g + "--prompt hi --temperature -1", "temperature is -1; expected a number >= 0"},
      {g + "--prompt hi --top-p 0", "top_p is 0; expected a number in (0, 1]"},
      {g + "--prompt hi --top-p 1.5", "top_p is 1.5"},
      {g + "--prompts " + jsonl("t.jsonl", "{\"ids\": [1], \"top_p\": 2}\n"),
       "t.jsonl:1: top_p is 2"},
      {"generate --model " + dir.str() + "/small --prompt hi --tokenizer " + f.tokenizer,
       "the tokenizer has 200 ids but " + dir.str() + "/small/config.json has vocab_size 150"},
      {g + "--prompts " + jsonl("bad.jsonl", "{\"ids\": [1]}\n{\"ids\": [1,}\n"),
       "bad.jsonl:2: not a JSON object"},
      {g + "--prompts " + jsonl("key.jsonl", "{\"prompt\": \"x\"}\n"),
       "key.jsonl:1: unknown key 'prompt'"},
      {g + "--prompts " + jsonl("both.jsonl", "{\"text\": \"x\", \"ids\": [1]}\n"),
       "both.jsonl:1: give exactly one of 'text' and 'ids'"},
      {g + "--prompts " + jsonl("empty.jsonl", "\n\n"), "empty.jsonl: no prompts"},
      {g + "--max-new-tokens 4", "exactly one of --prompt TEXT or --prompts FILE.jsonl"},
      {g + "--prompt hi --capacity 1099511627776", "out of memory"},
      {g + "--prompt hi --max-new-tokens 0", "--max-new-tokens is 0; expected >= 1"},
  };
  for (const auto& c : cases) {
    auto r = run_cli(c.args + " --out " + out);
    INFO("halo-distill " << c.args << "\n" << r.output);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Contains("error") && Contains(c.expect));
    CHECK_FALSE(fs::exists(out));
  }
  auto help = run_cli("generate --help");
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.output,
             Contains("--prompts") && Contains("finish_reason") && Contains("--prefill-chunk"));
}

TEST_CASE("inspect --context gives the inference cache's bytes", "[cli][generate]") {
  test::TempDir dir;
  auto f = make_models(dir.str());
  auto r = run_cli("inspect --json --context 1000 --batch 2 " + f.student, /*merge_stderr=*/false);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto c = nlohmann::json::parse(r.output)["cache"];
  // 2 attention layers x (k, v) x 2 kv heads x head dim 8 x 4 bytes (a float32 config).
  CHECK(c["kv_bytes_per_token"] == 2 * 2 * 2 * 8 * 4);
  CHECK(c["kv_bytes"] == 2 * 2 * 2 * 8 * 4 * 1000 * 2);
  // 2 Lightning layers x 2 sequences x 4 heads x 8 x 8 float32.
  CHECK(c["state_bytes"] == 2 * 2 * 4 * 8 * 8 * 4);
  auto table = run_cli("inspect --context 1000 " + f.student);
  CHECK_THAT(table.output,
             Contains("inference cache") && Contains("at 1000 x 1") && Contains("tokenizer.model"));
}

TEST_CASE("bench decode runs on the CPU with both fills and reports what does not fit",
          "[cli][generate]") {
  test::TempDir dir;
  auto f = make_models(dir.str());
  auto r = run_cli("bench decode --model " + f.teacher + " --model " + f.student +
                       " --device cpu --dtype float32 --context 64,1048576M --batch 1,2 "
                       "--new-tokens 3 --warmup 1 --peak-gbps 100 --json",
                   /*merge_stderr=*/false);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.output);
  REQUIRE(j["models"].size() == 2);
  for (const auto& m : j["models"]) {
    REQUIRE(m["results"].size() == 4);    // 2 contexts x 2 batches
    const auto& small = m["results"][1];  // context 64, batch 2
    CHECK(small["fill"] == "synthetic");
    CHECK(small["ms_per_token"].get<double>() > 0);
    CHECK(small["tokens_per_s"].get<double>() ==
          Approx(2 / (small["ms_per_token"].get<double>() * 1e-3)));
    CHECK(small["ratio_to_floor"].get<double>() > 0);
    CHECK_THAT(m["results"][3]["out_of_memory"].get<std::string>(), Contains("out of memory"));
  }
  // The student's step reads less cache than the teacher's: half its layers keep no KV.
  CHECK(j["models"][1]["results"][0]["cache_bytes"].get<int64_t>() <
        j["models"][0]["results"][0]["cache_bytes"].get<int64_t>());
  // The second model against the first, per row: a ratio of the two times, none without one.
  REQUIRE(j["speedup_over_first"].size() == 4);
  const auto& s0 = j["speedup_over_first"][0];
  CHECK(s0["speedup"].get<double>() ==
        Approx(j["models"][0]["results"][0]["ms_per_token"].get<double>() /
               j["models"][1]["results"][0]["ms_per_token"].get<double>()));
  CHECK(j["speedup_over_first"][3]["speedup"].is_null());
  CHECK(j["graph"] == "on");  // asked for; a CPU model runs eagerly
  CHECK(j["models"][0]["results"][0]["graph"] == false);
  auto prefill = run_cli("bench decode --model " + f.student +
                         " --device cpu --dtype float32 --context 40 --fill prefill "
                         "--prefill-chunk 16 --new-tokens 2 --warmup 0");
  INFO(prefill.output);
  REQUIRE(prefill.exit_code == 0);
  CHECK_THAT(prefill.output, Contains("prefill") && Contains("ms/token"));
  auto bad = run_cli("bench decode --model " + f.student + " --device cpu --context 4Q");
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.output, Contains("--context: \"4Q\" is not a positive count"));
}
