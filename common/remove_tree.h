// Recursive removal of a file or folder (what `rm -rf` does), through POSIX nftw(3) rather than
// std::filesystem::remove_all. Why: the PyTorch wheel's libtorch.so exports its own copy of
// std::filesystem (remove_all among its 64 symbols; pytorch/pytorch#133437); on the GPU host
// (Ubuntu 24.04, g++ 13, torch 2.11.0+cu130) our remove_all calls bound to that copy, which jumped
// to address 0 (cuda-gdb, 2026-11-28), while the CI machine's build bound to libstdc++ and worked.
#pragma once

#include <string>
#include <system_error>

namespace halo {

// Removes `path` and everything under it (symbolic links are removed, never followed). A missing
// path is no error. Returns the first system error met (and stops there), or an empty code.
std::error_code remove_tree(const std::string& path);

// remove_tree that throws HaloError naming the path and the system error.
void remove_tree_checked(const std::string& path);

}  // namespace halo
