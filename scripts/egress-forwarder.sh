#!/usr/bin/env bash
# Builds the sandbox's egress forwarder (scripts/egress-forwarder/main.go) into
# .tools/egress/bin/, idempotently: a static binary (CGO off), rebuilt only when its source
# changes (the stamp holds the source's hash). The folder is mounted read-only into sandboxes
# whose repo configures sandbox.egress (see activities/egress/). Needs Go 1.19 or newer; without
# Go it says so and sandbox.egress stays unavailable on this machine.
# Called by scripts/bootstrap.sh; runs alone too. --quiet prints only changes.
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
src="$root/scripts/egress-forwarder"
out="$tools/egress"
hash="$(cat "$src/main.go" "$src/go.mod" | sha256sum | cut -c1-16)"

if [[ -x "$out/bin/egress-forwarder" && -f "$out/.stamp" && "$(cat "$out/.stamp")" == "$hash" ]]; then
  info "egress forwarder $hash: present"
  exit 0
fi
if ! command -v go >/dev/null; then
  say "egress forwarder: Go is not installed; repos with sandbox.egress cannot run setup here (install Go 1.19+ and run again)"
  exit 0
fi
say "egress forwarder $hash: building a static binary into ${out#"$root/"}/bin"
mkdir -p "$out/bin" "$state/logs"
# GOTOOLCHAIN=local: the build uses the Go installed here, never downloads another.
(cd "$src" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -trimpath -ldflags='-s -w' \
  -o "$out/bin/egress-forwarder.part" . >"$state/logs/egress-forwarder-build.log" 2>&1) ||
  die "building the egress forwarder failed; see $state/logs/egress-forwarder-build.log"
mv "$out/bin/egress-forwarder.part" "$out/bin/egress-forwarder"
echo "$hash" >"$out/.stamp"
