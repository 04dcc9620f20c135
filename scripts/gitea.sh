#!/usr/bin/env bash
# Builds the Gitea server the forge tests run against (tests/helpers/gitea.ts), idempotently, into
# .tools/gitea-<version>/: the binary `gitea`, built from the Go module code.gitea.io/gitea at a
# pinned version (SQLite through its built-in pure-Go driver, CGO off), and the module's options/
# and templates/ folders beside it. The module holds no generated bindata, so the binary is built
# without the `bindata` tag and reads those folders at run time from its static root
# ([server] STATIC_ROOT_PATH, which the tests' app.ini points here); the API needs no web assets.
# The module's go.mod has replace directives (and names itself gitea.dev), so `go install
# module@version` refuses it: the module is downloaded and built in place with `go build`.
# Module and build caches (about 2.7 GB at their peak) live in a scratch folder under .tools and
# go once the binary is in place (124 MB with the folders). Cold: about 13 minutes on two shared
# cores; warm: a no-op. Called by scripts/bootstrap.sh
# --tests; runs alone too.
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
version="1.27.3"
module="code.gitea.io/gitea"
out="$root/.tools/gitea-$version"
stamp_value="$module@v$version"

mkdir -p "$root/.tools" "$state/logs"
if [[ -x "$out/gitea" && -d "$out/options/locale" && -d "$out/templates" ]] && stamp_ok "$out" gitea "$stamp_value"; then
  info "Gitea $version (built from $module): present"
  exit 0
fi
command -v go >/dev/null || die "Gitea $version: the go command is required to build it from the module proxy"
say "Gitea $version: building $module (10 to 15 minutes, once; log: $state/logs/gitea-build.log)"
scratch="$root/.tools/go-gitea"
log="$state/logs/gitea-build.log"
rm -rf "$scratch" "$out.part"
trap 'rm -rf "$scratch" "$out.part"' EXIT
mkdir -p "$scratch" "$out.part"
# GOTOOLCHAIN=auto: a Go older than the module's go line fetches that toolchain, as a module,
# from the proxy (vouched for by the checksum database).
goenv=(env GOPATH="$scratch/path" GOCACHE="$scratch/cache" GOMODCACHE="$scratch/mod"
  GOFLAGS=-modcacherw GOTOOLCHAIN=auto CGO_ENABLED=0)
(cd "$scratch" && "${goenv[@]}" go mod download -json "$module@v$version" >"$scratch/module.json" 2>"$log") ||
  die "Gitea $version: go mod download failed; see $log"
src="$scratch/mod/$module@v$version"
[[ -d "$src/options/locale" && -d "$src/templates" ]] || die "Gitea $version: the module has no options/locale or templates folder"
say "Gitea $version: module fetched; compiling (the long part)"
(cd "$src" && "${goenv[@]}" go build -trimpath -ldflags "-s -w -X main.Version=$version" -o "$out.part/gitea" . >>"$log" 2>&1) ||
  die "Gitea $version: go build failed; see $log"
cp -r "$src/options" "$src/templates" "$out.part/"
chmod -R u+w,go-w "$out.part"
stamp "$out.part" gitea "$stamp_value"
rm -rf "$out"
mv "$out.part" "$out"
say "Gitea $version: built into .tools/gitea-$version"
