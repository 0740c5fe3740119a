// Qwen3 checkpoint I/O: random init + save + load round trip (single file and sharded), and
// config.json validation errors that name the file and key.
#include <catch2/catch.hpp>

#include "common/error.h"
#include "hypenet/checkpoint_files.h"
#include "hypenet/qwen3_checkpoint.h"
#include "tests/test_util.h"

#include <fstream>

using namespace halo;
using Catch::Matchers::Contains;

namespace {

hypenet::Qwen3Config tiny_config(bool tied) {
  hypenet::Qwen3Config c;
  c.vocab_size = 61;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 10;
  c.tie_word_embeddings = tied;
  return c;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

}  // namespace

TEST_CASE("Qwen3 save/load round trip is bit-exact", "[qwen3][checkpoint]") {
  for (bool tied : {true, false}) {
    for (uint64_t shard : {uint64_t(0), uint64_t(4000)}) {
      test::TempDir dir;
      hypenet::Qwen3ForCausalLM model(tiny_config(tied));
      hypenet::init_qwen3_random(model, 7);
      hypenet::save_qwen3(dir.str(), model, at::kFloat, shard);
      hypenet::CheckpointFiles files(dir.str());
      CHECK(files.sharded() == (shard != 0));
      CHECK(files.contains("lm_head.weight") == !tied);
      auto loaded = hypenet::load_qwen3(dir.str(), at::kFloat, at::kCPU);
      auto a = model->named_parameters();
      auto b = loaded->named_parameters();
      REQUIRE(a.size() == b.size());
      for (const auto& item : a) {
        INFO(item.key());
        CHECK(at::equal(item.value(), b[item.key()]));
      }
      CHECK(loaded->config().num_parameters() == tiny_config(tied).num_parameters());
    }
  }
}

TEST_CASE("init_qwen3_random is deterministic per seed", "[qwen3][checkpoint]") {
  hypenet::Qwen3ForCausalLM a(tiny_config(false)), b(tiny_config(false)), c(tiny_config(false));
  hypenet::init_qwen3_random(a, 1);
  hypenet::init_qwen3_random(b, 1);
  hypenet::init_qwen3_random(c, 2);
  auto pa = a->named_parameters(), pb = b->named_parameters(), pc = c->named_parameters();
  CHECK(at::equal(pa["model.embed_tokens.weight"], pb["model.embed_tokens.weight"]));
  CHECK_FALSE(at::equal(pa["model.embed_tokens.weight"], pc["model.embed_tokens.weight"]));
  CHECK(at::equal(pa["model.norm.weight"], at::ones({32})));
}

TEST_CASE("config.json errors name the file and the key", "[qwen3][config]") {
  test::TempDir dir;
  const std::string path = dir.str() + "/config.json";
  auto base = tiny_config(false).to_json();

  auto expect_error = [&](nlohmann::json j, const std::string& key) {
    write_text(path, j.dump());
    REQUIRE_THROWS_AS(hypenet::Qwen3Config::from_json_file(path), HaloError);
    REQUIRE_THROWS_WITH(hypenet::Qwen3Config::from_json_file(path),
                        Contains(path) && Contains(key));
  };
  SECTION("missing key") {
    auto j = base;
    j.erase("hidden_size");
    expect_error(j, "'hidden_size' is missing");
  }
  SECTION("wrong type") {
    auto j = base;
    j["num_attention_heads"] = "16";
    expect_error(j, "'num_attention_heads': expected an integer");
  }
  SECTION("heads not divisible") {
    auto j = base;
    j["num_key_value_heads"] = 3;
    expect_error(j, "num_key_value_heads");
  }
  SECTION("unsupported rope scaling") {
    auto j = base;
    j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
    expect_error(j, "rope_scaling.rope_type");
  }
  SECTION("non-positive size") {
    auto j = base;
    j["intermediate_size"] = 0;
    expect_error(j, "intermediate_size");
  }
  SECTION("sliding window") {
    auto j = base;
    j["use_sliding_window"] = true;
    expect_error(j, "use_sliding_window");
  }
  SECTION("invalid JSON") {
    write_text(path, "{\"vocab_size\": 10,");
    REQUIRE_THROWS_WITH(hypenet::Qwen3Config::from_json_file(path),
                        Contains(path) && Contains("invalid JSON"));
  }
}

TEST_CASE("loading rejects a checkpoint whose tensor shape disagrees with config", "[qwen3][checkpoint]") {
  test::TempDir dir;
  hypenet::Qwen3ForCausalLM model(tiny_config(false));
  hypenet::init_qwen3_random(model, 3);
  hypenet::save_qwen3(dir.str(), model, at::kBFloat16, 0);
  // Claim a larger MLP in the config than the weights have.
  auto j = tiny_config(false).to_json();
  j["intermediate_size"] = 64;
  write_text(dir.str() + "/config.json", j.dump());
  REQUIRE_THROWS_WITH(hypenet::load_qwen3(dir.str(), at::kFloat, at::kCPU),
                      Contains("model.safetensors") && Contains("mlp.gate_proj.weight"));
}

TEST_CASE("loading rejects a tied checkpoint with a different lm_head", "[qwen3][checkpoint]") {
  test::TempDir dir;
  auto config = tiny_config(false);
  hypenet::Qwen3ForCausalLM model(config);
  hypenet::init_qwen3_random(model, 3);
  hypenet::save_qwen3(dir.str(), model, at::kFloat, 0);
  auto j = config.to_json();
  j["tie_word_embeddings"] = true;
  write_text(dir.str() + "/config.json", j.dump());
  REQUIRE_THROWS_WITH(hypenet::load_qwen3(dir.str(), at::kFloat, at::kCPU),
                      Contains("lm_head.weight") && Contains("tie_word_embeddings"));
}
