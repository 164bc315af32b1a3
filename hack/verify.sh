#!/usr/bin/env bash
# verify.sh: the project's whole check, as CI runs it (through .ci/run).
# gofmt, go vet, staticcheck, a go.mod tidiness check, then every test with
# the race detector. Integration tests start their own servers (git, ZooKeeper,
# Chromium) on loopback and skip with a message when a binary is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step gofmt
unformatted=$(git ls-files -co --exclude-standard '*.go' | xargs -r gofmt -l)
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step staticcheck
go tool staticcheck ./...

step "go mod tidy"
if ! go mod tidy -diff; then
  echo "go.mod/go.sum are not tidy: run 'go mod tidy'"; exit 1
fi

step "go test -race"
go test -race -count=1 -timeout 75m ${VERIFY_TEST_FLAGS:-} ./...
