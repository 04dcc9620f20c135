#!/usr/bin/env bash
# Fetches the Go toolchain that the example recipe examples/images/go1.26 adds, idempotently,
# into .tools/go-toolchain/: the Go module proxy's module golang.org/toolchain@v0.0.1-go<version>.linux-amd64
# (version in examples/images/go1.26/toolchain.txt), fetched with this machine's go (its GOPROXY,
# GOSUMDB and CA settings apply; the checksum database vouches for the zip). Only the module's zip
# is kept, as toolchain-go<version>.linux-amd64.zip; the stamp holds the version and the module's
# hash. The tests copy the zip into the recipe's build context (tests/helpers/go-fleet.ts), so a
# test run never downloads it. Called by scripts/bootstrap.sh --tests; runs alone too.
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
out="$root/.tools/go-toolchain"
version="$(tr -d '[:space:]' <"$root/examples/images/go1.26/toolchain.txt")"
module="golang.org/toolchain@v0.0.1-go$version.linux-amd64"
zip="$out/toolchain-go$version.linux-amd64.zip"

mkdir -p "$out" "$state/logs"
if [[ -s "$zip" ]] && grep -q "^$module " "$out/.stamp-go$version" 2>/dev/null; then
  info "Go toolchain $version (module zip): present"
  exit 0
fi
command -v go >/dev/null || die "Go toolchain $version: the go command is required to fetch it from the module proxy"
say "Go toolchain $version: fetching $module from the Go module proxy"
scratch="$out/fetch-$$"
trap 'rm -rf "$scratch"' EXIT
# A module cache of its own, so the host's stays untouched; -modcacherw lets the scratch go.
(cd "$out" && env GOMODCACHE="$scratch" GOFLAGS=-modcacherw GOTOOLCHAIN=local \
  go mod download -json "$module" >"$scratch.json" 2>"$state/logs/go-toolchain.log") ||
  die "Go toolchain $version: go mod download failed; see $state/logs/go-toolchain.log"
sum="$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",$/\1/p' "$scratch.json")"
cp "$scratch/cache/download/golang.org/toolchain/@v/v0.0.1-go$version.linux-amd64.zip" "$zip.part"
mv "$zip.part" "$zip"
rm -f "$scratch.json"
stamp "$out" "go$version" "$module $sum"
