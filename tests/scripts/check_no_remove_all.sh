#!/usr/bin/env bash
# Fails when C++ sources call std::filesystem::remove_all: libtorch.so exports its own copy of
# std::filesystem, and on the GPU host (Ubuntu 24.04, g++ 13) such calls bound to it and crashed
# (common/remove_tree.h). Use halo::remove_tree / remove_tree_checked instead.
set -euo pipefail
root="${1:?usage: check_no_remove_all.sh REPO_ROOT}"
hits=$(grep -rnE '(fs|filesystem)::remove_all[[:space:]]*\(' \
  --include='*.cpp' --include='*.h' --include='*.cu' --include='*.cuh' \
  "$root/common" "$root/ops" "$root/hypenet" "$root/data" "$root/halo" "$root/tools" "$root/tests" || true)
if [ -n "$hits" ]; then
  echo "std::filesystem::remove_all is called here; use halo::remove_tree (common/remove_tree.h):"
  echo "$hits"
  exit 1
fi
echo "no std::filesystem::remove_all calls"
