// Greedy generation of the Qwen3 teacher against Hugging Face transformers: each fixture folder's
// generate.json (tests/fixtures/make_qwen3_fixtures.py) holds prompts of several lengths and the
// tokens of transformers' generate(do_sample=False), one prompt at a time and as a left-padded
// batch. The engine must give exactly those tokens, batched and one by one (float32, CPU).
#include <catch2/catch.hpp>

#include "halo/inference/generation_engine.h"
#include "hypenet/causal_lm.h"
#include "tests/test_util.h"

#include <nlohmann/json.hpp>

#include <fstream>

using namespace halo;

TEST_CASE("greedy generate gives transformers' tokens on every fixture", "[generate][hf]") {
  const std::string root = test::fixtures_dir() + "/qwen3";
  for (const std::string name : {"tied_mha", "untied_gqa2_sharded", "untied_gqa4_bias"}) {
    SECTION(name) {
      std::ifstream in(root + "/" + name + "/generate.json");
      REQUIRE(in.good());
      const auto ref = nlohmann::json::parse(in);
      auto lm = hypenet::load_causal_lm(root + "/" + name, at::kFloat, at::kCPU);
      std::vector<inference::GenerationRequest> requests;
      for (const auto& p : ref["prompts"]) {
        inference::GenerationRequest r;
        r.prompt = p.get<std::vector<int64_t>>();
        r.max_new_tokens = ref["max_new_tokens"].get<int64_t>();
        requests.push_back(r);
      }
      const auto single = ref["single"].get<std::vector<std::vector<int64_t>>>();
      const auto batched = ref["batched"].get<std::vector<std::vector<int64_t>>>();
      inference::EngineOptions o;
      o.prefill_chunk = 16;  // the longer prompts take two or three chunks
      o.batch_size = static_cast<int64_t>(requests.size());
      auto together = inference::GenerationEngine(lm, o).generate(requests);
      o.batch_size = 1;
      auto alone = inference::GenerationEngine(lm, o).generate(requests);
      for (size_t i = 0; i < requests.size(); ++i) {
        INFO(name << " prompt " << i << " (" << requests[i].prompt.size() << " tokens)");
        CHECK(alone[i].tokens == single[i]);
        CHECK(together[i].tokens == batched[i]);
        CHECK(together[i].tokens == single[i]);
      }
    }
  }
}
