#!/usr/bin/env bash
# Builds what the tests' real Temporal cluster runs (tests/helpers/cluster.ts), idempotently:
#   - the Temporal server and its SQL tool, from the Go module go.temporal.io/server at a pinned
#     version, into .tools/temporal-server-<version>/ (temporal-server, temporal-sql-tool, and the
#     PostgreSQL schema folder copied out of the module), stripped;
#   - PostgreSQL 15 (initdb, pg_ctl, postgres): Debian's postgresql-15 when it is not there;
#   - `ip` and `nsenter`, with which the two-host test gives each worker a network namespace:
#     Debian's iproute2 and util-linux when they are not there.
# The server needs a newer Go than Debian's: GOTOOLCHAIN makes the go command take that toolchain
# from the module proxy (as a module, vouched for by the checksum database). Module and build
# caches (about 1.6 GB) live in a scratch folder under .tools and go once the binaries are in
# place. Cold: a few minutes on two cores; warm: a no-op. Called by scripts/bootstrap.sh --tests.
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
version="1.32.2"
toolchain="go1.27.3"
module="go.temporal.io/server"
out="$root/.tools/temporal-server-$version"
stamp_value="$module@v$version $toolchain"

mkdir -p "$root/.tools" "$state/logs"

# --- PostgreSQL 15 ---------------------------------------------------------------------------
pg_bin=""
for dir in "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")" /usr/lib/postgresql/15/bin; do
  if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" && -x "$dir/postgres" ]]; then
    pg_bin="$dir"
    break
  fi
done
if [[ -n "$pg_bin" ]]; then
  info "PostgreSQL: present ($pg_bin)"
else
  [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null ||
    die "PostgreSQL 15 is required by the cluster tests (initdb, pg_ctl). Install it (Debian: apt-get install postgresql-15) and run again."
  say "PostgreSQL: installing Debian's postgresql-15 (log: $state/logs/apt-postgresql.log)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15) \
    >"$state/logs/apt-postgresql.log" 2>&1 || die "apt-get install postgresql-15 failed; see $state/logs/apt-postgresql.log"
  [[ -x /usr/lib/postgresql/15/bin/initdb ]] || die "postgresql-15 installed, but /usr/lib/postgresql/15/bin/initdb is missing"
fi

# --- Network namespaces (tests/helpers/hosts.ts) ----------------------------------------------
missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v nsenter >/dev/null && command -v unshare >/dev/null || missing+=(util-linux)
if [[ ${#missing[@]} -eq 0 ]]; then
  info "ip, nsenter, unshare: present"
else
  [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null ||
    die "the two-host test needs ip and nsenter. Install them (Debian: apt-get install ${missing[*]}) and run again."
  say "Network namespaces: installing Debian's ${missing[*]} (log: $state/logs/apt-netns.log)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") \
    >"$state/logs/apt-netns.log" 2>&1 || die "apt-get install ${missing[*]} failed; see $state/logs/apt-netns.log"
fi

# --- Temporal server and SQL tool ------------------------------------------------------------
if [[ -x "$out/temporal-server" && -x "$out/temporal-sql-tool" && -d "$out/schema/postgresql/v12" ]] &&
  stamp_ok "$out" server "$stamp_value"; then
  info "Temporal server $version (built from $module): present"
  exit 0
fi
command -v go >/dev/null || die "Temporal server $version: the go command is required to build it from the module proxy"
say "Temporal server $version: building $module with $toolchain (a few minutes, once; log: $state/logs/temporal-server-build.log)"
scratch="$root/.tools/go-temporal-server"
log="$state/logs/temporal-server-build.log"
rm -rf "$scratch" "$out.part"
trap 'rm -rf "$scratch" "$out.part"' EXIT
mkdir -p "$scratch/bin" "$out.part"
gobuild() {
  env GOBIN="$scratch/bin" GOPATH="$scratch/path" GOCACHE="$scratch/cache" GOMODCACHE="$scratch/mod" \
    GOFLAGS=-modcacherw GOTOOLCHAIN="$toolchain" CGO_ENABLED=0 \
    go install -trimpath -ldflags "-s -w" "$@"
}
gobuild "$module/cmd/server@v$version" "$module/cmd/tools/sql@v$version" >"$log" 2>&1 ||
  die "Temporal server $version: go install failed; see $log"
src="$scratch/mod/$module@v$version"
[[ -d "$src/schema/postgresql/v12" ]] || die "Temporal server $version: the module has no schema/postgresql/v12 folder"
cp "$scratch/bin/server" "$out.part/temporal-server"
cp "$scratch/bin/sql" "$out.part/temporal-sql-tool"
mkdir -p "$out.part/schema/postgresql"
cp -r "$src/schema/postgresql/v12" "$out.part/schema/postgresql/"
chmod -R u+w,go-w "$out.part"
stamp "$out.part" server "$stamp_value"
rm -rf "$out"
mv "$out.part" "$out"
say "Temporal server $version: built into .tools/temporal-server-$version"
