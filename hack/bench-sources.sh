#!/usr/bin/env bash
# bench-sources.sh: the speed figures of the source layer's loaders:
# release manifests (target: 2,000 manifests, cold, with inline options and
# an optionsFile each, under 300 ms) and the served JSON form of the whole
# real Universe (about 30 MB, one JSON document).
#
#   hack/bench-sources.sh           # BENCHTIME=20x COUNT=5 by default
#
# ns/op is wall time per load, cpu-ms/op the process's user+sys CPU time per
# load (steadier on a shared machine); the load average is printed with
# every set of figures.
set -euo pipefail
cd "$(dirname "$0")/.."

benchtime=${BENCHTIME:-20x}
count=${COUNT:-5}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

echo "== machine: $(nproc) CPUs, $(go version | cut -d' ' -f3), load average $(loadavg)"
echo
echo "== release manifests"
go test ./manifest -run '^$' -bench 'BenchmarkLoad2000|BenchmarkReload2000OneChanged|BenchmarkParse' \
  -benchtime "$benchtime" -count "$count" -benchmem | grep -E '^Benchmark|^ok'
echo "   (load average $(loadavg))"
echo
echo "== the served form of the whole Universe (skipped without ../shared)"
go test ./universe -run '^$' -bench 'BenchmarkLoadServed' -benchtime 10x -count "$count" -benchmem | grep -E '^Benchmark|^ok|SKIP'
echo "   (load average $(loadavg))"
