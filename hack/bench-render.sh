#!/usr/bin/env bash
# bench-render.sh: the speed and memory figures of Universe loading and
# rendering, measured on the real public Universe in ../shared.
#
#   hack/bench-render.sh            # BENCHTIME=5x RUNS=7 by default
#
# Targets (the 2-core reference machine): loading the whole Universe under
# 0.5 s; `render --all` of the whole Universe (validation and labels
# included) under 1 s wall. Figures depend on what else runs: wall time on a
# shared machine is only meaningful with the load average next to it, so
# every figure comes with it, and CPU time (user+sys, from getrusage) is
# given too: it hardly depends on the other load.
set -euo pipefail
cd "$(dirname "$0")/.."

shared=${UNIVERSE_OPERATOR_SHARED:-../shared}
packages="$shared/universe/repo/packages"
if [ ! -d "$packages" ]; then
  echo "bench-render: $packages is missing (set UNIVERSE_OPERATOR_SHARED)" >&2
  exit 1
fi
benchtime=${BENCHTIME:-5x}
runs=${RUNS:-7}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

echo "== machine: $(nproc) CPUs, $(go version | cut -d' ' -f3), load average $(loadavg)"

echo
echo "== go test benchmarks (ns/op is wall per whole operation, cpu-ms/op the process's user+sys CPU per operation)"
go test ./universe -run '^$' -bench 'BenchmarkLoad' -benchtime "$benchtime" -benchmem | grep -E '^Benchmark|^ok'
echo "   (load average $(loadavg))"
go test ./render -run '^$' -bench 'BenchmarkRender' -benchtime "$benchtime" -benchmem | grep -E '^Benchmark|^ok'
echo "   (load average $(loadavg))"

echo
echo "== universe-operator render --all (a fresh process each run: load, render, write $(find "$packages" -name marathon.json.mustache | wc -l) results)"
go build -o "$tmp/universe-operator" ./cmd/universe-operator
if ! command -v /usr/bin/time >/dev/null; then
  echo "bench-render: /usr/bin/time is missing (Debian package time): no CPU figures" >&2
fi
for mode in pretty compact; do
  flag=""; [ "$mode" = compact ] && flag=--compact
  : >"$tmp/runs"
  # One run writes the results the next ones overwrite, as a user rerunning
  # it does.
  "$tmp/universe-operator" render --universe "$packages" --all --out "$tmp/out" $flag >/dev/null 2>&1 || true
  for i in $(seq "$runs"); do
    before=$(loadavg)
    start=$(date +%s.%N)
    if command -v /usr/bin/time >/dev/null; then
      /usr/bin/time -o "$tmp/time" -f "%U %S %M" \
        "$tmp/universe-operator" render --universe "$packages" --all --out "$tmp/out" $flag >"$tmp/summary" 2>/dev/null || true
    else
      "$tmp/universe-operator" render --universe "$packages" --all --out "$tmp/out" $flag >"$tmp/summary" 2>/dev/null || true
      echo "0 0 0" >"$tmp/time"
    fi
    end=$(date +%s.%N)
    read -r user sys rss < <(grep -v '^Command' "$tmp/time")
    wall=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }')
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    echo "$wall $cpu" >>"$tmp/runs"
    echo "$mode run $i: $wall s wall, $cpu s CPU ($user user + $sys sys), max RSS $((rss / 1024)) MB, load average before $before; $(cat "$tmp/summary")"
  done
  sort -n -k1 "$tmp/runs" | awk -v mode="$mode" -v flag="$flag" -v load="$(loadavg)" '
    { w[NR] = $1; c[NR] = $2 }
    END {
      n = NR; m = int((n + 1) / 2)
      # CPU: sort separately.
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (c[j] < c[i]) { t = c[i]; c[i] = c[j]; c[j] = t }
      cmd = "render --all"; if (flag != "") cmd = cmd " " flag
      printf "%s (%s output, %d runs): wall min %.3f s, median %.3f s (target < 1 s); CPU min %.2f s, median %.2f s; load average now %s\n", cmd, mode, n, w[1], w[m], c[1], c[m], load
    }'
done
