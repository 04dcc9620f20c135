# Shared by scripts/bootstrap.sh and the install scripts it calls (sourced, never run): the
# project root, the tools and state folders, the flags (--quiet, --tests, --installed), and how
# the scripts speak. The clone keeps its tools in .tools/; `lockstep setup` runs these scripts
# from an installed package with --installed and LOCKSTEP_TOOLS_DIR set to a per-user folder.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${LOCKSTEP_TOOLS_DIR:-$root/.tools}"
state="${LOCKSTEP_STATE_DIR:-$root/.lockstep}"
quiet=0
for_tests=0
installed=0
for arg in "$@"; do
  case "$arg" in
    --quiet) quiet=1 ;;
    --tests) for_tests=1 ;;
    --installed) installed=1 ;;
  esac
done

say() { echo "[bootstrap] $*" >&2; }
info() { [[ $quiet == 1 ]] || say "$@"; }
die() {
  say "error: $*"
  exit 1
}

# A stamp says what a tool was installed from; the tool is present only when it matches.
#   stamp_ok <folder> <name> <value>     stamp <folder> <name> <value>
stamp_ok() { [[ -f "$1/.stamp-$2" && "$(cat "$1/.stamp-$2")" == "$3" ]]; }
stamp() { echo "$3" >"$1/.stamp-$2"; }

# Builds a Go tool from the module proxy as a static binary and installs it at <dest>:
#   go_install_tool <binary> <module@version> <dest> <log> [ldflags]
# Everything Go writes (module and build caches) stays in a scratch folder under the tools, and goes
# once the binary is in place: hundreds of MB of no further use. GOTOOLCHAIN=auto: an older Go
# fetches the toolchain the module asks for, as a module, from the proxy.
go_install_tool() {
  local label="$1" module="$2" dest="$3" log="$4" ldflags="${5:--s -w}"
  command -v go >/dev/null || die "$label: the Go toolchain is required to build it (install Go 1.23 or newer)"
  local gobuild="$tools/go-$label"
  mkdir -p "$gobuild/bin" "$(dirname "$dest")"
  env GOBIN="$gobuild/bin" GOPATH="$gobuild/path" GOCACHE="$gobuild/cache" GOMODCACHE="$gobuild/mod" \
    GOFLAGS=-modcacherw GOTOOLCHAIN=auto CGO_ENABLED=0 \
    go install -trimpath -ldflags "$ldflags" "$module" >"$log" 2>&1 ||
    die "$label: go install failed; see $log"
  cp "$gobuild/bin/$label" "$dest.part"
  chmod 755 "$dest.part"
  mv "$dest.part" "$dest"
  rm -rf "$gobuild"
}
