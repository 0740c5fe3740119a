# One precompiled header for every target that includes LibTorch: parsing <torch/torch.h>
# costs about 10 s per translation unit on the 2-core dev machine; the PCH is built once and
# reused (REUSE_FROM) by the libraries, the CLI and the tests. .cu files never see it.
include_guard(GLOBAL)

add_library(halo_pch OBJECT "${PROJECT_SOURCE_DIR}/cmake/halo_pch.cpp")
target_link_libraries(halo_pch PUBLIC torch)
target_compile_options(halo_pch PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${HALO_CXX_WARNINGS}>)
target_precompile_headers(halo_pch PRIVATE
  "$<$<COMPILE_LANGUAGE:CXX>:<torch/torch.h$<ANGLE-R>>"
  "$<$<COMPILE_LANGUAGE:CXX>:<nlohmann/json.hpp$<ANGLE-R>>"
  "$<$<COMPILE_LANGUAGE:CXX>:<vector$<ANGLE-R>>"
  "$<$<COMPILE_LANGUAGE:CXX>:<string$<ANGLE-R>>")
target_link_libraries(halo_pch PUBLIC nlohmann_json::nlohmann_json)

# halo_use_pch(TARGET): reuse the LibTorch PCH (the target must link torch with the same flags).
function(halo_use_pch target)
  target_precompile_headers(${target} REUSE_FROM halo_pch)
endfunction()
