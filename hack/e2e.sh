#!/usr/bin/env bash
# e2e.sh: the reconcile loop's end-to-end tests, with the race detector:
# the controller against the simulated cluster (sim.NewServer) and loopback
# Git servers (git http-backend), and the `run`, `status` and `diff` commands
# against a simulated cluster with DC/OS auth on. They assert end states
# (Marathon's apps, the status API, the simulator's request log), never call
# sequences. Needs git (and git-http-backend); set
# UNIVERSE_OPERATOR_REQUIRE_INTEGRATION=1 to fail instead of skipping when
# it is missing.
#
#   hack/e2e.sh              all of them
#   hack/e2e.sh -run Drift   a subset (extra flags go to `go test`)
set -euo pipefail
cd "$(dirname "$0")/.."

go test -race -count=1 -timeout 30m "$@" \
  ./controller/ ./cmd/universe-operator/
