// Rotary embedding (hypenet/rotary): the dtype rules under autocast.
#include <catch2/catch.hpp>

#include "hypenet/rotary.h"
#include "tests/test_util.h"


using namespace halo;

TEST_CASE("apply_rotary keeps 16-bit q under autocast, float32 outside it", "[hypenet][rotary]") {
  // A float32 model under bfloat16 autocast has float32 tables and bfloat16 projections: the
  // rotation stays bfloat16 there (as in a bfloat16 model) and is close to the float32 one;
  // without autocast, type promotion gives float32 as before.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(31);
  auto tables = hypenet::rotary_tables(at::arange(40), 64, 1e6, at::kFloat);
  auto q = at::randn({2, 40, 3, 64}, gen).to(at::kBFloat16);
  auto exact = hypenet::apply_rotary(q.to(at::kFloat), tables);
  CHECK(hypenet::apply_rotary(q, tables).scalar_type() == at::kFloat);

  at::Tensor got;
  {
    test::Autocast autocast(at::kCPU);
    got = hypenet::apply_rotary(q, tables);
  }
  REQUIRE(got.scalar_type() == at::kBFloat16);
  // Rounded tables and products: a few bfloat16 ulps of the largest value.
  CHECK(test::max_rel_error(got, exact) <= 2e-2);
  CHECK(test::max_rel_error(got, exact) > 0);
}
