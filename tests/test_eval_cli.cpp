// `halo-distill eval` run as a user runs it: a teacher and its converted student side by side on
// the tiny pipeline's prepared validation data (results.json with the documented keys,
// results.md, one model name per folder), --help, and the bad inputs of issue 17 (unknown task,
// malformed JSONL line, a length below the prompt overhead, a folder that is not a model, a
// tokenizer the data was not prepared with, a model whose vocabulary is smaller than the
// tokenizer's), each exiting 1 with a message naming what is wrong
// and writing no results.
#include <catch2/catch.hpp>

#include "tests/pipeline_fixture.h"
#include "tests/test_util.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace halo;
using Catch::Matchers::Contains;
using test::run_cli;
namespace fs = std::filesystem;

namespace {

struct EvalFolders {
  std::string teacher, student, manifest, mc;
};

EvalFolders make_eval_models(const std::string& dir) {
  auto t = test::make_tiny_pipeline(dir + "/tiny");
  const char* src = std::getenv("HALO_SOURCE_DIR");
  const auto root = src ? fs::path(src) : fs::path(__FILE__).parent_path().parent_path();
  EvalFolders f{dir + "/teacher", dir + "/student", t.manifest,
                (root / "configs/eval/mc_sample.jsonl").string()};
  auto init = run_cli("init-teacher --config " + t.model_config + " --out " + f.teacher +
                      " --seed 4 --dtype float32");
  INFO(init.output);
  REQUIRE(init.exit_code == 0);
  auto conv = run_cli("convert --teacher " + f.teacher + " --mixers L,A,L,A --out " + f.student);
  INFO(conv.output);
  REQUIRE(conv.exit_code == 0);
  return f;
}

}  // namespace

TEST_CASE("eval runs teacher and student side by side and writes results.json and results.md",
          "[cli][eval]") {
  test::TempDir dir;
  auto f = make_eval_models(dir.str());
  const std::string out = dir.str() + "/eval";
  const std::string common =
      " --model " + f.teacher + " --model " + f.student + " --data " + f.manifest +
      " --depths 0,0.5,1 --trials 2 --ppl-length 96 " +
      "--ppl-buckets 4 --ppl-sequences 2 --train-length 32 --prefill-chunk 64";
  auto r = run_cli("eval" + common + " --tasks niah,niah-multikey,passkey,kv,ppl-by-position,mc:" +
                   f.mc + " --lengths 400,600 --batch-size 3 --out " + out);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("[eval] teacher niah:") && Contains("[eval] student mc:mc_sample"));
  std::ifstream in(out + "/results.json");
  const auto j = nlohmann::json::parse(in);
  CHECK(j["format"] == "halo-eval/1");
  CHECK(j["seed"] == 0);
  REQUIRE(j["models"].size() == 2);
  CHECK(j["models"][0]["name"] == "teacher");
  CHECK(j["models"][1]["name"] == "student");
  CHECK(fs::path(j["models"][1]["path"].get<std::string>()).is_absolute());
  const auto& t = j["tasks"];
  for (const char* niah : {"niah", "niah-multikey"}) {
    CAPTURE(niah);
    CHECK(t[niah]["lengths"].get<std::vector<int64_t>>() == std::vector<int64_t>({400, 600}));
    CHECK(t[niah]["depths"].get<std::vector<double>>() == std::vector<double>({0, 0.5, 1}));
    CHECK(t[niah]["trials"] == 2);
    for (const char* m : {"teacher", "student"}) {
      REQUIRE(t[niah]["accuracy"][m].size() == 2);
      CHECK(t[niah]["accuracy"][m][1].size() == 3);
    }
  }
  CHECK(t["passkey"]["accuracy"]["student"].size() == 2);
  CHECK(t["kv"]["accuracy"]["teacher"].size() == 2);
  CHECK(t["ppl-by-position"]["bucket_edges"].get<std::vector<int64_t>>() ==
        std::vector<int64_t>({0, 24, 48, 72, 96}));
  CHECK(t["ppl-by-position"]["train_length"] == 32);
  CHECK(t["ppl-by-position"]["loss"]["student"].size() == 4);
  CHECK(t["ppl-by-position"]["tokens"]["teacher"][0] == 2 * 24);
  CHECK(t["mc:mc_sample"]["items"] == 24);
  const double acc = t["mc:mc_sample"]["acc"]["teacher"].get<double>();
  CHECK((acc >= 0.0 && acc <= 1.0));
  std::ifstream md_in(out + "/results.md");
  std::stringstream md;
  md << md_in.rdbuf();
  CHECK_THAT(md.str(), Contains("## niah-multikey") && Contains("| teacher | 400 |") &&
                           Contains("| student | 600 |") && Contains("## mc:mc_sample"));

  // The same seed and prefill chunk give the same losses, bit for bit, whichever other tasks
  // run (the validation text read from --data does not depend on the lengths).
  const std::string out2 = dir.str() + "/eval2";
  auto again = run_cli("eval" + common + " --tasks ppl-by-position --out " + out2);
  INFO(again.output);
  REQUIRE(again.exit_code == 0);
  std::ifstream in2(out2 + "/results.json");
  const auto j2 = nlohmann::json::parse(in2);
  CHECK(j2["tasks"]["ppl-by-position"]["loss"] == t["ppl-by-position"]["loss"]);
}

TEST_CASE("eval: --help explains every option, bad input exits 1 with a clear message",
          "[cli][eval]") {
  auto help = run_cli("eval --help");
  REQUIRE(help.exit_code == 0);
  for (const char* opt :
       {"--model", "--tasks", "--lengths", "--depths", "--trials", "--seed", "--out", "--text",
        "--data", "--tokenizer", "--device", "--ppl-length", "--train-length", "Example:"}) {
    CHECK_THAT(help.output, Contains(opt));
  }

  test::TempDir dir;
  auto f = make_eval_models(dir.str());
  const std::string out = dir.str() + "/out";
  const std::string base = "eval --model " + f.teacher + " --data " + f.manifest + " --out " + out;
  auto unknown = run_cli(base + " --tasks niah,needles --lengths 400");
  CHECK(unknown.exit_code == 1);
  CHECK_THAT(unknown.output, Contains("unknown task 'needles'") && Contains("niah-multivalue"));

  const std::string bad = dir.str() + "/bad.jsonl";
  std::ofstream(bad) << R"({"context": "a", "choices": [" b", " c"], "label": 0})"
                     << "\n"
                     << R"({"context": "a", "choices": [" b", " c"], "label": 0)"
                     << "\n";
  auto jsonl = run_cli(base + " --tasks mc:" + bad);
  CHECK(jsonl.exit_code == 1);
  CHECK_THAT(jsonl.output, Contains(bad + ":2") && Contains("not a JSON object"));

  auto too_short = run_cli(base + " --tasks passkey,niah --lengths 400,40");
  CHECK(too_short.exit_code == 1);
  CHECK_THAT(too_short.output, Contains("context length 40 is too short"));

  fs::create_directories(dir.str() + "/not-a-model");
  auto no_model =
      run_cli("eval --model " + dir.str() + "/not-a-model --tasks passkey --lengths 400 --data " +
              f.manifest + " --out " + out);
  CHECK(no_model.exit_code == 1);
  CHECK_THAT(no_model.output, Contains("not-a-model: not a model folder (no config.json)"));

  // A tokenizer other than the one the data was prepared with.
  {
    std::ofstream text(dir.str() + "/other.txt");
    for (int i = 0; i < 200; ++i) text << "the cat sat on the mat number " << i << ".\n";
  }
  auto trained = run_cli("train-tokenizer --input " + dir.str() + "/other.txt --model-prefix " +
                         dir.str() + "/other --vocab-size 100");
  REQUIRE(trained.exit_code == 0);
  auto other_tok =
      run_cli(base + " --tasks passkey --lengths 400 --tokenizer " + dir.str() + "/other.model");
  CHECK(other_tok.exit_code == 1);
  CHECK_THAT(other_tok.output,
             Contains("other.model: not the tokenizer") && Contains("was prepared with"));

  // A model whose vocabulary is smaller than the data's tokenizer (200 ids): the models do not
  // range-check ids, so eval refuses it before any forward, naming both sizes.
  {
    std::ifstream in(f.teacher + "/config.json");
    auto config = nlohmann::json::parse(in);
    config["vocab_size"] = 150;
    std::ofstream(dir.str() + "/small.json") << config.dump();
  }
  auto small_init = run_cli("init-teacher --config " + dir.str() + "/small.json --out " +
                            dir.str() + "/small --seed 4 --dtype float32");
  INFO(small_init.output);
  REQUIRE(small_init.exit_code == 0);
  auto small = run_cli("eval --model " + dir.str() + "/small --data " + f.manifest +
                       " --tasks ppl-by-position --lengths 400 --out " + out);
  CHECK(small.exit_code == 1);
  CHECK_THAT(small.output, Contains("the tokenizer has 200 ids") &&
                               Contains("small/config.json has vocab_size 150"));

  auto no_text = run_cli("eval --model " + f.teacher + " --tasks niah --lengths 400 --out " + out);
  CHECK(no_text.exit_code == 1);
  CHECK_THAT(no_text.output, Contains("give --text FILE"));
  CHECK_FALSE(fs::exists(out + "/results.json"));
}
