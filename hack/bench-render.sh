#!/usr/bin/env bash
# bench-render.sh: the speed and memory figures of Universe loading and
# rendering, measured on the real public Universe in ../shared.
#
#   hack/bench-render.sh            # BENCHTIME=5x RUNS=5 by default
#
# Targets (the 2-core reference machine): loading the whole Universe under
# 0.5 s; `render --all` of the whole Universe (validation and labels
# included) under 1 s wall. Figures depend on what else runs: the load
# average is printed with them.
set -euo pipefail
cd "$(dirname "$0")/.."

shared=${UNIVERSE_OPERATOR_SHARED:-../shared}
packages="$shared/universe/repo/packages"
if [ ! -d "$packages" ]; then
  echo "bench-render: $packages is missing (set UNIVERSE_OPERATOR_SHARED)" >&2
  exit 1
fi
benchtime=${BENCHTIME:-5x}
runs=${RUNS:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== machine: $(nproc) CPUs, $(go version | cut -d' ' -f3), load average:$(uptime | sed 's/.*load average://')"

echo
echo "== go test benchmarks (ns/op is per whole operation; allocs/op per operation)"
go test ./universe -run '^$' -bench 'BenchmarkLoad' -benchtime "$benchtime" -benchmem | grep -E '^Benchmark|^ok'
go test ./render -run '^$' -bench 'BenchmarkRender' -benchtime "$benchtime" -benchmem | grep -E '^Benchmark|^ok'

echo
echo "== universe-operator render --all (a fresh process each run: load, render, write $(find "$packages" -name marathon.json.mustache | wc -l) results)"
go build -o "$tmp/universe-operator" ./cmd/universe-operator
for mode in pretty compact; do
flag=""; [ "$mode" = compact ] && flag=--compact
best=""
for i in $(seq "$runs"); do
  start=$(date +%s.%N)
  if command -v /usr/bin/time >/dev/null; then
    /usr/bin/time -o "$tmp/time" -f "%U user, %S sys, max RSS %M KB" \
      "$tmp/universe-operator" render --universe "$packages" --all --out "$tmp/out" $flag >"$tmp/summary" 2>/dev/null || true
  else
    "$tmp/universe-operator" render --universe "$packages" --all --out "$tmp/out" $flag >"$tmp/summary" 2>/dev/null || true
    echo "" >"$tmp/time"
  fi
  end=$(date +%s.%N)
  wall=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }')
  echo "$mode run $i: $wall s wall, $(grep -v 'exited with' "$tmp/time"); $(cat "$tmp/summary")"
  best=$(awk -v b="${best:-$wall}" -v w="$wall" 'BEGIN { printf "%.3f", (w < b) ? w : b }')
done
echo "best render --all $flag wall time ($mode output): $best s (target < 1 s)"
done
