// Layer selection (halo/selection): HALO's importance formula against values worked out by
// hand, choose_mixers' top-k and ties, the uniform and manual lists and their errors.
#include <catch2/catch.hpp>

#include "halo/common/error.h"
#include "halo/selection/choose_mixers.h"
#include "halo/selection/importance.h"
#include "tests/eval_fixtures.h"

#include <vector>

using namespace halo;
using hypenet::MixerType;

TEST_CASE("HALO importance matches hand-computed values", "[selection]") {
  // Five layers. max R = 0.90 (layer 2), max C = 0.60 (layers 3 and 4).
  const std::vector<double> recall = {0.50, 0.80, 0.90, 0.30, 0.90};
  const std::vector<double> commonsense = {0.40, 0.55, 0.50, 0.60, 0.60};
  // layer 0: (0.90 - 0.50) / (0.60 - 0.40 + 1e-10) = 0.40 / 0.20 = 2.0
  // layer 1: (0.90 - 0.80) / (0.60 - 0.55 + 1e-10) = 0.10 / 0.05 = 2.0
  // layer 2: (0.90 - 0.90) / (0.60 - 0.50 + 1e-10) = 0.00 / 0.10 = 0.0
  // layer 3: (0.90 - 0.30) / (0.60 - 0.60 + 1e-10) = 0.60 / 1e-10 = 6e9 -> capped at 50
  // layer 4: (0.90 - 0.90) / (0.60 - 0.60 + 1e-10) = 0 / 1e-10 = 0.0
  const auto imp = selection::halo_importance(recall, commonsense);
  REQUIRE(imp.size() == 5);
  CHECK(imp[0] == Approx(2.0).epsilon(1e-8));
  CHECK(imp[1] == Approx(2.0).epsilon(1e-8));
  CHECK(imp[2] == 0.0);
  CHECK(imp[3] == 50.0);
  CHECK(imp[4] == 0.0);

  // A second set where the epsilon and the cap do not bind and the ratio is uneven:
  // R = {0.2, 0.7, 0.4}, C = {0.35, 0.5, 0.3}: max R = 0.7, max C = 0.5.
  // layer 0: (0.7 - 0.2) / (0.5 - 0.35) = 0.5 / 0.15 = 3.3333...
  // layer 1: 0 / (0 + 1e-10) = 0
  // layer 2: (0.7 - 0.4) / (0.5 - 0.3) = 0.3 / 0.2 = 1.5
  const auto imp2 = selection::halo_importance({0.2, 0.7, 0.4}, {0.35, 0.5, 0.3});
  CHECK(imp2[0] == Approx(10.0 / 3.0).epsilon(1e-8));
  CHECK(imp2[1] == 0.0);
  CHECK(imp2[2] == Approx(1.5).epsilon(1e-8));
  // Recall drop 0.01 with no commonsense drop at all: 0.01 / 1e-10 = 1e8, capped at 50.
  CHECK(selection::halo_importance({0.5, 0.49}, {0.5, 0.5})[1] == 50.0);

  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(selection::halo_importance({0.1, 0.2}, {0.1}),
                    Contains("2 recall scores but 1"));
  CHECK_THROWS_WITH(selection::halo_importance({0.1, NAN}, {0.1, 0.2}), Contains("layer 1"));
  CHECK_THROWS_AS(selection::halo_importance({}, {}), HaloError);
}

TEST_CASE("choose_mixers keeps the top-k scores as attention, ties to the lower layer",
          "[selection]") {
  CHECK(test::mixer_letters(selection::choose_mixers({0.1, 5.0, 2.0, 5.0, -1.0}, 2)) == "LALAL");
  CHECK(test::mixer_letters(selection::choose_mixers({3.0, 3.0, 3.0}, 1)) == "ALL");
  CHECK(test::mixer_letters(selection::choose_mixers({3.0, 1.0}, 0)) == "LL");
  CHECK(test::mixer_letters(selection::choose_mixers({3.0, 1.0}, 2)) == "AA");
  CHECK_THROWS_WITH(selection::choose_mixers({1.0, 2.0}, 3),
                    Catch::Matchers::Contains("num_attention_layers must lie in [0, 2]"));
  CHECK(selection::attention_layers_of({MixerType::kLightning, MixerType::kAttention,
                                        MixerType::kLightning, MixerType::kAttention}) ==
        std::vector<int64_t>{1, 3});
}

TEST_CASE("uniform and manual layer lists", "[selection]") {
  // floor((2k + 1) * L / (2n)): L = 28, n = 7 -> 2, 6, 10, 14, 18, 22, 26.
  CHECK(selection::uniform_attention_layers(28, 7) ==
        std::vector<int64_t>{2, 6, 10, 14, 18, 22, 26});
  // L = 4, n = 1 -> floor(4 / 2) = 2; L = 5, n = 2 -> floor(5/4) = 1, floor(15/4) = 3.
  CHECK(selection::uniform_attention_layers(4, 1) == std::vector<int64_t>{2});
  CHECK(selection::uniform_attention_layers(5, 2) == std::vector<int64_t>{1, 3});
  CHECK(selection::uniform_attention_layers(3, 3) == std::vector<int64_t>{0, 1, 2});
  CHECK(selection::uniform_attention_layers(3, 0).empty());
  CHECK_THROWS_AS(selection::uniform_attention_layers(3, 4), HaloError);

  CHECK(test::mixer_letters(selection::mixers_from_layers(4, {3, 0}, "selection.layers")) ==
        "ALLA");
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(selection::mixers_from_layers(4, {4}, "selection.layers"),
                    Contains("selection.layers: layer 4 is out of range; the model has 4 layers"));
  CHECK_THROWS_WITH(selection::mixers_from_layers(4, {1, 1}, "selection.layers"),
                    Contains("layer 1 is listed twice"));
}
