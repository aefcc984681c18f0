#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for a bounded time and fails on any crash, panic,
# hang (one input over FUZZ_TIMEOUT seconds) or out-of-memory.
#
#   ./scripts/fuzz.sh              # each target for FUZZ_SECONDS (default 60)
#   FUZZ_SECONDS=600 ./scripts/fuzz.sh authres
#
# Starts from the kept corpus, fuzz/seeds/TARGET (read only); what a run finds goes to a
# scratch directory. To keep new coverage, merge it in: `cargo fuzz cmin --sanitizer none -O
# TARGET fuzz/seeds/TARGET` after copying the finds there.
#
# Stable Rust is enough: `--sanitizer none` needs no -Z flags. libFuzzer's coverage guidance
# and crash detection still work; a Rust panic aborts and counts as a crash. The library is
# built without its AWS edge (fuzz/Cargo.toml), which keeps the build short.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-60}"
timeout="${FUZZ_TIMEOUT:-10}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked --quiet cargo-fuzz --version 0.13.2
fi
flags=(--sanitizer none -O)
cargo fuzz build "${flags[@]}"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in "${targets[@]}"; do
  test -d "seeds/$target" || { echo "fuzz/seeds/$target is missing" >&2; exit 1; }
  mkdir -p "$scratch/$target"
  echo "== fuzz $target for ${seconds}s from $(ls "seeds/$target" | wc -l) kept inputs"
  if ! cargo fuzz run "${flags[@]}" "$target" "$scratch/$target" "seeds/$target" -- \
      -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2048 \
      -print_final_stats=1 2>"$scratch/$target.log"; then
    tail -n 60 "$scratch/$target.log" >&2
    echo "fuzz $target FAILED; the input is under fuzz/artifacts/$target/" >&2
    exit 1
  fi
  grep -E "^(stat::number_of_executed_units|stat::new_units_added|Done)" "$scratch/$target.log" || true
done
