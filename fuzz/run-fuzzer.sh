#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# One test of the "fuzz" suite: replays every input in fuzz/regressions/TARGET/ (each must
# pass), then fuzzes TARGET for SECONDS from its seed corpus in fuzz/corpus/TARGET/.
# New inputs and any crash go to the build directory, never into the source tree. A crash
# exits 1: libFuzzer's own 77 would read as "skipped" to meson.
#
#   run-fuzzer.sh FUZZER SOURCE_DIR BUILD_DIR TARGET SECONDS MAX_LEN
set -eu

fuzzer=$1 source_dir=$2 build_dir=$3 target=$4 seconds=$5 max_len=$6
work="$build_dir/work-$target"
mkdir -p "$work/corpus"

regressions="$source_dir/regressions/$target"
if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions")" ]; then
  echo "# replaying $regressions"
  "$fuzzer" -error_exitcode=1 -runs=1 "$regressions"/*
fi

echo "# fuzzing $target for ${seconds}s"
exec "$fuzzer" \
  -error_exitcode=1 -timeout_exitcode=1 -timeout=10 -rss_limit_mb=2048 \
  -max_total_time="$seconds" -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$work/" \
  "$work/corpus" "$source_dir/corpus/$target"
