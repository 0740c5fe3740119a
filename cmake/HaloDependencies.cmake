# Third-party dependencies. LibTorch comes from the PyTorch wheel (scripts/setup.sh puts its
# CMake prefix on CMAKE_PREFIX_PATH); everything else from Debian packages (or, on offline GPU
# hosts, from .deb files unpacked into a prefix by scripts/build-gpu.sh).
include_guard(GLOBAL)

if(NOT DEFINED Torch_DIR AND NOT DEFINED ENV{Torch_DIR})
  # Ask the Python that has torch for its CMake prefix when none was given.
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    execute_process(
      COMMAND "${Python3_EXECUTABLE}" -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
      OUTPUT_VARIABLE _halo_torch_prefix OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE _halo_torch_rc ERROR_QUIET)
    if(_halo_torch_rc EQUAL 0)
      list(APPEND CMAKE_PREFIX_PATH "${_halo_torch_prefix}")
    endif()
  endif()
endif()
# Torch's CUDA module reads its own architecture list; keep it to the cards we build for.
if(NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
  set(ENV{TORCH_CUDA_ARCH_LIST} "8.0;9.0")
endif()
find_package(Torch 2.11 REQUIRED)
if(NOT Torch_VERSION VERSION_EQUAL 2.11.0)
  message(WARNING "halo-distill is pinned to torch 2.11.0; found ${Torch_VERSION}")
endif()
# TORCH_CXX_FLAGS carries the C++ ABI define of the wheel.
set(CMAKE_CXX_FLAGS "${CMAKE_CXX_FLAGS} ${TORCH_CXX_FLAGS}")

find_package(nlohmann_json 3.10 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(ZLIB REQUIRED)  # gzip inputs of `prepare`
find_package(SentencePiece REQUIRED)
find_package(PCRE2 REQUIRED)
find_package(Utf8proc REQUIRED)
if(HALO_BUILD_TESTS)
  find_package(Catch2 2 REQUIRED)
endif()
if(HALO_WITH_CUDA)
  find_package(CUDAToolkit REQUIRED)
endif()

# Gloo headers (Debian libgloo-dev) for c10d's ProcessGroupGloo.hpp; headers only, the Gloo code
# is the copy inside libtorch_cpu (see halo/distributed/gloo_backend.cpp).
find_path(HALO_GLOO_INCLUDE_DIR gloo/config.h)
if(NOT HALO_GLOO_INCLUDE_DIR)
  message(FATAL_ERROR "gloo/config.h not found. HINT: apt-get install libgloo-dev "
                      "(scripts/setup.sh), or scripts/offline-deps.sh for offline hosts")
endif()
# nccl.h for ProcessGroupNCCL.hpp: the wheel's own nvidia-nccl package first (the NCCL version
# libtorch_cuda was built against), then the CUDA toolkit.
if(HALO_WITH_CUDA)
  set(_halo_nccl_hints)
  if(Python3_EXECUTABLE)
    execute_process(
      COMMAND "${Python3_EXECUTABLE}" -c
              "import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], 'include'))"
      OUTPUT_VARIABLE _halo_nccl_hints OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  endif()
  find_path(HALO_NCCL_INCLUDE_DIR nccl.h HINTS ${_halo_nccl_hints} ${CUDAToolkit_INCLUDE_DIRS})
  if(NOT HALO_NCCL_INCLUDE_DIR)
    message(FATAL_ERROR "nccl.h not found (wheel's nvidia-nccl package, CUDA toolkit). "
                        "HINT: pip install the nvidia-nccl package torch depends on")
  endif()
endif()
