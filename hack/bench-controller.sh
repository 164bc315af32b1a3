#!/usr/bin/env bash
# bench-controller.sh: the reconcile loop's performance targets, measured.
#
#   1. the real binary as a separate process (`universe-operator run`)
#      against a simulated cluster and a loopback Git server holding
#      $UO_BENCH_RELEASES (default 2000) releases: wall time to converge
#      from empty, resident memory once converged (VmRSS, VmHWM), CPU per
#      poll pass with nothing to do (includes checking the Git sources);
#   2. in-process benchmarks (controller package):
#      - Converge2000: empty -> every release Synced (controller and
#        simulator in one process), Marathon requests made;
#      - NoOpPass2000: CPU per full pass with nothing to do, Marathon's
#        answers replayed from a capture so only the controller counts
#        (target < 100 ms; at most 2 Marathon requests: lists/pass);
#      - WebhookToWrite: Git push webhook -> first Marathon write
#        (target < 500 ms);
#      - HealthFlip: health change in Marathon -> visible in the status
#        API (target < 500 ms).
#
# Prints Go benchmark lines; the figures are the custom units.
set -euo pipefail
cd "$(dirname "$0")/.."
export UO_BENCH_RELEASES="${UO_BENCH_RELEASES:-2000}"

echo "== building bin/universe-operator"
mkdir -p bin
go build -o bin/universe-operator ./cmd/universe-operator

echo "== separate process: ${UO_BENCH_RELEASES} releases"
UO_BINARY="$PWD/bin/universe-operator" go test -run '^$' -bench '^BenchmarkProcess2000$' -benchtime 1x -timeout 30m \
  ./cmd/universe-operator/ | grep -E '^(Benchmark|ok|FAIL)'

echo "== in process: convergence and no-op pass (${UO_BENCH_RELEASES} releases)"
go test -run '^$' -bench '^BenchmarkConverge2000$' -benchtime 1x -timeout 30m ./controller/ | grep -E '^(Benchmark|ok|FAIL)'
go test -run '^$' -bench '^BenchmarkNoOpPass2000$' -benchtime 20x -timeout 30m ./controller/ | grep -E '^(Benchmark|ok|FAIL)'

echo "== in process: latencies"
go test -run '^$' -bench '^(BenchmarkWebhookToWrite|BenchmarkHealthFlip)$' -benchtime 30x -timeout 30m ./controller/ | grep -E '^(Benchmark|ok|FAIL)'
