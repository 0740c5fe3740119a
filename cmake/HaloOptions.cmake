# Build options and compiler settings shared by every target: C++ standard, warnings (errors
# under HALO_WERROR, which CI sets), the CUDA switch and its target architectures, ccache.
include_guard(GLOBAL)

set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_EXPORT_COMPILE_COMMANDS ON)
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()

option(HALO_BUILD_TESTS "Build the Catch2 tests" ON)
option(HALO_WERROR "Treat warnings in project code as errors" OFF)

# CUDA kernels: built whenever nvcc is found, also on machines without a GPU (they then only
# compile and link; [cuda] tests skip at run time).
include(CheckLanguage)
check_language(CUDA)
if(CMAKE_CUDA_COMPILER)
  set(_halo_cuda_default ON)
else()
  set(_halo_cuda_default OFF)
endif()
option(HALO_WITH_CUDA "Build the CUDA kernels (needs nvcc)" ${_halo_cuda_default})
if(HALO_WITH_CUDA)
  if(NOT CMAKE_CUDA_ARCHITECTURES)
    # sm_90 (H100/H200) is the target the kernels are tuned for; sm_80 keeps A100s working.
    set(CMAKE_CUDA_ARCHITECTURES 80 90 CACHE STRING "CUDA architectures")
  endif()
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
endif()

# ccache, when present, for both compilers (scripts/build.sh sets its sloppiness for PCH).
find_program(HALO_CCACHE ccache)
if(HALO_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER "${HALO_CCACHE}")
  set(CMAKE_CUDA_COMPILER_LAUNCHER "${HALO_CCACHE}")
endif()

# Warnings for project code; third-party headers come in as SYSTEM includes.
set(HALO_CXX_WARNINGS -Wall -Wextra -Wno-unused-parameter)
if(HALO_WERROR)
  list(APPEND HALO_CXX_WARNINGS -Werror)
endif()

# The torch wheel's libtorch exports its own copy of some std::filesystem functions
# (pytorch/pytorch#133437); when libtorch comes first in the link, std::filesystem::remove_all
# binds to it and crashes. Naming libstdc++ first makes the dynamic linker resolve to it.
add_link_options(LINKER:--no-as-needed -lstdc++ LINKER:--as-needed)

# halo_target_defaults(TARGET): warnings and include root for a project target.
function(halo_target_defaults target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${HALO_CXX_WARNINGS}>)
  target_include_directories(${target} PUBLIC "${PROJECT_SOURCE_DIR}")
endfunction()
