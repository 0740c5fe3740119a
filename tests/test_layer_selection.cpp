// Layer selection on tiny random models (halo/selection): the attention-entropy capture against
// a direct float64 computation and log(t + 1) for uniform attention, capture leaving outputs
// unchanged, single-swap models differing from the teacher in layer i only, the kl score,
// every method's choice, and the report listing every layer's scores.
#include <catch2/catch.hpp>

#include "common/error.h"
#include "halo/eval/language_model.h"
#include "halo/eval/retrieval_prompts.h"
#include "halo/selection/attention_entropy.h"
#include "halo/selection/choose_mixers.h"
#include "halo/selection/importance.h"
#include "halo/selection/layer_selection.h"
#include "halo/selection/selection_report.h"
#include "halo/selection/single_swap.h"
#include "tests/eval_fixtures.h"
#include "tests/test_util.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

using namespace halo;
using Catch::Matchers::Contains;
using hypenet::MixerType;

namespace {

// Makes every query of layer `layer` zero, so its attention is uniform over the causal keys.
void flatten_attention(hypenet::Qwen3ForCausalLM& t, int64_t layer) {
  torch::NoGradGuard no_grad;
  t->model->layers[layer]->as<hypenet::Qwen3DecoderLayerImpl>()->self_attn->q_proj->weight.zero_();
}

}  // namespace

TEST_CASE("causal attention entropy equals a direct float64 computation (GQA)", "[selection]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(21);
  const int64_t B = 2, Hq = 4, Hkv = 2, T = 7, d = 8;
  auto q = at::randn({B, Hq, T, d}, gen, at::kDouble) * 2;
  auto k = at::randn({B, Hkv, T, d}, gen, at::kDouble);
  const double scale = 1.0 / std::sqrt(8.0);
  auto e = hypenet::causal_attention_entropy(q.to(at::kFloat), k.to(at::kFloat), scale);
  REQUIRE(e.sizes() == at::IntArrayRef({B, Hq, T}));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < Hq; ++h) {
      for (int64_t t = 0; t < T; ++t) {
        auto s = at::mv(k[b][h / 2].narrow(0, 0, t + 1), q[b][h][t]) * scale;  // [t + 1]
        auto p = at::softmax(s, 0);
        const double ref = -(p * p.log()).sum().item<double>();
        CHECK(e[b][h][t].item<double>() == Approx(ref).epsilon(1e-5).margin(1e-6));
      }
    }
  }
}

TEST_CASE("uniform attention has entropy log(t + 1), and capturing leaves the logits unchanged",
          "[selection]") {
  auto teacher = test::tiny_teacher(31);
  auto ids = test::random_batches(1, 1, 2, 9)[0].input_ids;
  at::NoGradGuard no_grad;
  auto plain = teacher->forward(ids).logits;
  hypenet::ForwardOptions opt;
  opt.capture_attention_entropy = true;
  auto captured = teacher->forward(ids, opt);
  CHECK(at::equal(plain, captured.logits));
  REQUIRE(captured.attention_entropy.size() == 3);

  flatten_attention(teacher, 1);
  auto out = teacher->forward(ids, opt);
  auto log_t1 = at::log(at::arange(1, 10, at::kDouble));  // log(t + 1), t = 0..8
  auto e1 = out.attention_entropy[1].to(at::kDouble);     // [2, 4, 9]
  CHECK(at::allclose(e1, log_t1.expand_as(e1), 1e-5, 1e-6));
  // The other layers attend non-uniformly: strictly below the maximum somewhere.
  CHECK((out.attention_entropy[0].to(at::kDouble) < log_t1 - 1e-3).any().item<bool>());

  // The per-layer means over batches: layer 1 is the mean of log(t + 1).
  auto e = selection::teacher_attention_entropy(teacher, test::random_batches(1, 2, 2, 9));
  REQUIRE(e.per_layer.size() == 3);
  REQUIRE(e.per_head[1].size() == 4);
  CHECK(e.per_layer[1] == Approx(log_t1.mean().item<double>()).epsilon(1e-6));
  CHECK(e.per_layer[0] < e.per_layer[1]);
  CHECK(e.per_layer[2] < e.per_layer[1]);
}

TEST_CASE("a single-swap model differs from the teacher only in layer i", "[selection]") {
  auto teacher = test::tiny_teacher(41);
  auto stage1 = test::tiny_stage1(teacher, 42);
  auto ids = test::random_batches(2, 1, 2, 11)[0].input_ids;
  at::NoGradGuard no_grad;
  hypenet::ForwardOptions opt;
  opt.capture_mixers = true;
  auto ref = teacher->forward(ids, opt);
  auto tp = teacher->named_parameters();
  auto sp = stage1->named_parameters();
  for (int64_t i = 0; i < 3; ++i) {
    CAPTURE(i);
    auto swap = selection::build_single_swap(teacher, stage1, i);
    for (int64_t j = 0; j < 3; ++j) {
      CHECK(swap->config().mixer_types[j] ==
            (j == i ? MixerType::kLightning : MixerType::kAttention));
    }
    const std::string swapped = "model.layers." + std::to_string(i) + ".self_attn.";
    for (const auto& item : swap->named_parameters()) {
      const bool from_student = item.key().rfind(swapped, 0) == 0;
      const auto& src = from_student ? sp[item.key()] : tp[item.key()];
      CHECK(at::equal(item.value(), src));
    }
    CHECK(swap->named_parameters().contains(swapped + "z_proj.weight"));  // the Lightning gate
    auto out = swap->forward(ids, opt);
    for (int64_t j = 0; j < i; ++j) CHECK(at::equal(out.mixer_outputs[j], ref.mixer_outputs[j]));
    CHECK(at::equal(out.mixer_inputs[i], ref.mixer_inputs[i]));
    CHECK_FALSE(at::allclose(out.mixer_outputs[i], ref.mixer_outputs[i], 1e-3, 1e-4));
    CHECK_FALSE(at::allclose(out.logits, ref.logits, 1e-3, 1e-4));
  }
  CHECK_THROWS_WITH(selection::build_single_swap(teacher, stage1, 3), Contains("out of range"));
}

TEST_CASE("kl score: zero against itself, positive for every single-swap model", "[selection]") {
  auto teacher = test::tiny_teacher(51);
  auto stage1 = test::tiny_stage1(teacher, 52);
  auto batches = test::random_batches(6, 2, 2, 10);
  auto lm = eval::causal_lm_of(teacher);
  std::vector<at::Tensor> th;
  for (const auto& b : batches) th.push_back(eval::final_hidden(lm, b.input_ids));
  CHECK(std::abs(selection::mean_kl_against(lm, th, teacher->output_embedding(), batches, 7)) <
        1e-7);
  selection::LayerScores s;
  selection::SwapScoreOptions o;
  o.halo = false;
  o.chunk_tokens = 7;
  selection::score_single_swaps(s, teacher, stage1, batches, nullptr, o);
  REQUIRE(s.kl.size() == 3);
  CHECK(s.recall.empty());
  for (double kl : s.kl) CHECK(kl > 1e-6);
}

TEST_CASE("layer selection methods choose the right layers, and the report lists every layer",
          "[selection]") {
  test::use_one_thread();
  auto teacher = test::tiny_teacher(61);
  flatten_attention(teacher, 1);  // layer 1: uniform attention, the highest entropy
  auto stage1 = test::tiny_stage1(teacher, 62);
  test::ByteTokenizer tok;
  selection::SelectionInputs in;
  in.teacher = teacher;
  in.stage1 = stage1;
  in.validation = test::random_batches(7, 2, 2, 12);
  in.tokenizer = &tok;
  in.filler = eval::filler_from_texts(tok, {"a long time ago in a galaxy far, far away."});
  selection::SelectionOptions o;
  o.num_attention_layers = 2;
  o.signal.recall_tasks = {"niah", "passkey", "kv"};
  o.signal.recall_lengths = {400};
  o.signal.depths = {0.5};
  o.signal.trials = 1;
  o.swap.chunk_tokens = 9;

  o.method = selection::SelectionMethod::kEntropy;
  auto r = selection::select_layers(in, o);
  CHECK(test::mixer_letters(r.mixer_types) == "ALA");
  // Every score is there for the report, and importance follows from recall and commonsense.
  const auto& s = r.scores;
  REQUIRE(s.entropy.size() == 3);
  REQUIRE(s.recall.size() == 3);
  REQUIRE(s.commonsense.size() == 3);
  REQUIRE(s.kl.size() == 3);
  CHECK(s.importance == selection::halo_importance(s.recall, s.commonsense));
  for (double c : s.commonsense) CHECK((c >= 0.0 && c <= 1.0));

  const auto table = selection::format_selection_table(r);
  std::istringstream lines(table);
  std::string line;
  std::vector<std::string> rows;
  while (std::getline(lines, line)) rows.push_back(line);
  REQUIRE(rows.size() > 2 + 3);
  CHECK(rows[0] == "layer selection: method entropy, 2 of 3 layers kept as attention");
  for (const char* col :
       {"entropy", "recall", "recall_se", "commonsense", "c_se", "importance", "kl", "mixer"}) {
    CHECK_THAT(rows[1], Contains(col));
  }
  CHECK_THAT(table, Contains("recall R: niah, passkey, kv at 400 tokens"));
  CHECK_THAT(table, Contains("rankings side by side"));
  // Ties and degenerate scores are said, never silent: on these random models recall is the same
  // for every layer (none retrieves), so halo's importance is equal everywhere and reported.
  CHECK((table.find("no ties or degenerate scores") != std::string::npos) == r.findings.empty());
  const bool flat = std::all_of(s.importance.begin(), s.importance.end(),
                                [&](double v) { return v == s.importance[0]; });
  CHECK(flat);
  bool reported = false;
  for (const auto& f : r.findings) reported |= f.method == "halo" && f.kind == "all_equal";
  CHECK(reported);
  CHECK_THAT(table, Contains("halo: every layer has importance"));
  for (size_t i = 2; i < 2 + 3; ++i) {
    // Aligned: every row's mixer name starts under the header's "mixer".
    const auto column = rows[1].find("mixer");
    CHECK(
        (rows[i].compare(column, 4, "attn") == 0 || rows[i].compare(column, 9, "lightning") == 0));
    CHECK(rows[i].find(" - ") == std::string::npos);  // no score missing
  }
  auto j = selection::selection_report_json(r);
  CHECK(j["method"] == "entropy");
  CHECK(j["attention_layers"] == nlohmann::json::array({0, 2}));
  REQUIRE(j["layers"].size() == 3);
  for (const auto& layer : j["layers"]) {
    for (const char* key : {"entropy", "recall", "recall_std_error", "commonsense",
                            "commonsense_std_error", "importance", "kl"}) {
      CAPTURE(key);
      CHECK(layer[key].is_number());
    }
    CHECK(layer["entropy_per_head"].size() == 4);
  }
  test::TempDir dir;
  selection::write_selection_report(dir.path() / "selection", r);
  std::ifstream jf(dir.path() / "selection" / "selection_report.json");
  CHECK(nlohmann::json::parse(jf) == j);
  std::ifstream tf(dir.path() / "selection" / "selection_report.txt");
  CHECK(std::string(std::istreambuf_iterator<char>(tf), {}) == table);

  // kl and halo choose by their own scores (the same numbers as the report above: deterministic).
  o.report_all_scores = false;
  o.method = selection::SelectionMethod::kKl;
  auto rk = selection::select_layers(in, o);
  CHECK(rk.scores.entropy.empty());
  CHECK(rk.scores.recall.empty());
  CHECK(rk.scores.kl == s.kl);
  CHECK(test::mixer_letters(rk.mixer_types) ==
        test::mixer_letters(selection::choose_mixers(s.kl, 2)));
  o.method = selection::SelectionMethod::kHalo;
  auto rh = selection::select_layers(in, o);
  CHECK(rh.scores.importance == s.importance);
  CHECK(test::mixer_letters(rh.mixer_types) ==
        test::mixer_letters(selection::choose_mixers(s.importance, 2)));

  o.method = selection::SelectionMethod::kUniform;
  o.num_attention_layers = 1;
  CHECK(test::mixer_letters(selection::select_layers(in, o).mixer_types) == "LAL");
  o.method = selection::SelectionMethod::kManual;
  o.manual_layers = {2, 0};
  auto rm = selection::select_layers(in, o);
  CHECK(test::mixer_letters(rm.mixer_types) == "ALA");
  CHECK(rm.scores.kl.empty());  // uniform / manual compute nothing unless asked to

  CHECK(selection::parse_selection_method("kl", "selection.method") ==
        selection::SelectionMethod::kKl);
  CHECK_THROWS_WITH(
      selection::parse_selection_method("kll", "pipeline.yaml: selection.method"),
      Contains("pipeline.yaml: selection.method: unknown layer selection method \"kll\""));
  selection::SelectionInputs no_student = in;
  no_student.stage1 = nullptr;
  o.method = selection::SelectionMethod::kKl;
  o.num_attention_layers = 1;
  CHECK_THROWS_WITH(selection::select_layers(no_student, o), Contains("stage-1 student"));
}
