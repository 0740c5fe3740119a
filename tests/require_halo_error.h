// REQUIRE_HALO_ERROR(expr, matcher): the tests' check that an expression throws halo::HaloError
// with a message that satisfies a Catch string matcher.
#pragma once

#include "common/error.h"

#include <catch2/catch.hpp>

// Requires that `expr` throws halo::HaloError and that its message satisfies `matcher`.
#define REQUIRE_HALO_ERROR(expr, matcher)     \
  do {                                        \
    REQUIRE_THROWS_AS(expr, halo::HaloError); \
    REQUIRE_THROWS_WITH(expr, matcher);       \
  } while (0)
