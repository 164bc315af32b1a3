#!/usr/bin/env bash
# screenshots.sh: regenerate the README's screenshots (docs/screenshots/*.png)
# from `universe-operator dev`: the real controller on the simulated cluster,
# driven by headless Chromium (TestDevBrowser in cmd/universe-operator). The
# test publishes hello-web 1.1.0 and upgrades greeter with the commands `dev`
# prints (git must be installed), then takes:
#
#   docs/screenshots/overview-desktop.png   the overview, 1280 px wide (full page)
#   docs/screenshots/release-desktop.png    the hello-web release page (full page)
#   docs/screenshots/overview-phone.png     the overview on a 375 px phone (viewport)
#   docs/screenshots/release-phone.png      the release page on the phone (viewport)
#
# Needs chromium and git. The same pictures, and a few more, are always left
# in cmd/universe-operator/testdata/artifacts/dev-*.png (gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
UNIVERSE_OPERATOR_SCREENSHOTS=1 UNIVERSE_OPERATOR_REQUIRE_INTEGRATION=1 \
  go test -count=1 -timeout 10m -run '^TestDevBrowser$' -v ./cmd/universe-operator/ >"$log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  cat "$log"
  exit "$status"
fi
grep -E 'screenshot|health flip|^--- |^ok' "$log"
ls -l docs/screenshots/
