#!/usr/bin/env bash
# Fails when a halo-distill subcommand or library code calls std::exit / exit(): a callback that
# exits skips the destructors on its way out (a DistContext's orderly leave of the process group,
# buffered files). Subcommands end with a code of their own by recording it with
# tools::set_exit_code (tools/cli_exit.h) and returning, which main returns; errors throw
# halo::HaloError. _exit in a forked child (halo/distributed/local_launcher.cpp) is what a
# child must do and is not matched.
set -euo pipefail
root="${1:?usage: check_no_exit_in_commands.sh REPO_ROOT}"
hits=$(grep -rnE '(^|[^_.>[:alnum:]])(std::)?(quick_)?exit[[:space:]]*\(' \
  --include='*.cpp' --include='*.h' \
  "$root/common" "$root/ops" "$root/hypenet" "$root/data" "$root/halo" "$root/tools" | grep -vE '^\S+:[0-9]+:\s*//' || true)
if [ -n "$hits" ]; then
  echo "exit() is called here; return after tools::set_exit_code(code) (tools/cli_exit.h), or throw halo::HaloError:"
  echo "$hits"
  exit 1
fi
echo "no exit() calls in the subcommands or libraries"
