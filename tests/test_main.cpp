// Catch2 entry point of the CPU test binary (halo_tests).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
