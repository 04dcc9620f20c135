# Shared by scripts/bootstrap.sh and scripts/gate-tools.sh (sourced, never run): the project
# root, the state folder, --quiet, and how the scripts speak.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${LOCKSTEP_STATE_DIR:-$root/.lockstep}"
quiet=0
[[ "${1:-}" == "--quiet" ]] && quiet=1

say() { echo "[bootstrap] $*" >&2; }
info() { [[ $quiet == 1 ]] || say "$@"; }
die() {
  say "error: $*"
  exit 1
}
