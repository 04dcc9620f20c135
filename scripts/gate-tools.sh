#!/usr/bin/env bash
# Installs the tools of the contract gate and its guardrails into the tools folder's gate/
# (.tools/gate/ in a clone), idempotently.
# The folder is bind-mounted read-only into sandboxes (see activities/gate/tools.ts), so every
# tool in it must run on the sandbox image (Debian bookworm, python3 3.11) without a network:
#   buf       the static binary shipped in the npm package @bufbuild/buf (its platform package)
#   gitleaks  built from the Go module proxy with CGO off: one static binary
#   semgrep   the PyPI wheels for CPython 3.11 on manylinux, installed with pip --target, run by
#             the sandbox's own python3 through the launchers written below
# Each tool has a stamp holding what it was installed from; a second run changes nothing.
# Called by scripts/bootstrap.sh after npm ci; runs alone too. --quiet prints only changes.
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
gate="$tools/gate"
gitleaks_version="v8.30.1"
semgrep_version="1.185.0"
semgrep_python="3.11"

mkdir -p "$gate/bin" "$state/logs"

case "$(uname -m)" in
  x86_64 | amd64) arch_npm="x64" arch_py="x86_64" ;;
  aarch64 | arm64) arch_npm="arm64" arch_py="aarch64" ;;
  *) die "gate tools: unsupported machine $(uname -m)" ;;
esac

# --- buf, from the npm package's platform binary ---------------------------------------------
# Where npm put it: inside the clone, or beside an installed package (hoisted).
dir="$root"
buf_pkg="$root/node_modules/@bufbuild/buf-linux-$arch_npm"
while [[ ! -x "$buf_pkg/bin/buf" && "$dir" != / ]]; do
  dir="$(dirname "$dir")"
  buf_pkg="$dir/node_modules/@bufbuild/buf-linux-$arch_npm"
done
[[ -x "$buf_pkg/bin/buf" ]] ||
  die "buf: @bufbuild/buf-linux-$arch_npm is not installed with $root; run 'npm ci' (the package @bufbuild/buf brings it)"
buf_version="$(node -p "require('$buf_pkg/package.json').version")"
if stamp_ok "$gate" buf "$buf_version" && [[ -x "$gate/bin/buf" ]]; then
  info "buf $buf_version: present"
else
  say "buf $buf_version: copying the binary of @bufbuild/buf-linux-$arch_npm into ${gate#"$root/"}/bin"
  # A copy, not a link: the sandbox sees only the gate's folder, never node_modules.
  cp "$buf_pkg/bin/buf" "$gate/bin/buf.part"
  chmod 755 "$gate/bin/buf.part"
  mv "$gate/bin/buf.part" "$gate/bin/buf"
  stamp "$gate" buf "$buf_version"
fi

# --- gitleaks, built from the Go module proxy ------------------------------------------------
if stamp_ok "$gate" gitleaks "$gitleaks_version" && [[ -x "$gate/bin/gitleaks" ]]; then
  info "gitleaks $gitleaks_version: present"
else
  say "gitleaks $gitleaks_version: building from the Go module proxy (log: $state/logs/gate-gitleaks.log)"
  go_install_tool gitleaks "github.com/zricethezav/gitleaks/v8@$gitleaks_version" "$gate/bin/gitleaks" "$state/logs/gate-gitleaks.log" \
    "-s -w -X github.com/zricethezav/gitleaks/v8/version.Version=$gitleaks_version"
  stamp "$gate" gitleaks "$gitleaks_version"
fi

# --- semgrep, wheels from PyPI for the sandbox's python3 -------------------------------------
semgrep_key="$semgrep_version cp${semgrep_python/./} $arch_py"
if stamp_ok "$gate" semgrep "$semgrep_key" && [[ -x "$gate/bin/semgrep" && -d "$gate/semgrep/semgrep" ]]; then
  info "semgrep $semgrep_version: present"
else
  command -v python3 >/dev/null || die "semgrep: python3 with pip is required to fetch it from PyPI"
  say "semgrep $semgrep_version: installing the wheels for CPython $semgrep_python from PyPI (log: $state/logs/gate-semgrep.log)"
  rm -rf "$gate/semgrep.part"
  # Wheels for the sandbox's interpreter and libc, whatever python the host has.
  platforms=()
  for tag in manylinux_2_34 manylinux_2_28 manylinux_2_17 manylinux2014 manylinux_2_5 manylinux1; do
    platforms+=(--platform "${tag}_$arch_py")
  done
  PIP_CACHE_DIR="$tools/pip-cache" python3 -m pip install --quiet --disable-pip-version-check --no-input \
    --no-compile --target "$gate/semgrep.part" --only-binary=:all: "${platforms[@]}" \
    --implementation cp --python-version "$semgrep_python" "semgrep==$semgrep_version" \
    >"$state/logs/gate-semgrep.log" 2>&1 || die "semgrep: pip install failed; see $state/logs/gate-semgrep.log"
  rm -rf "$gate/semgrep"
  mv "$gate/semgrep.part" "$gate/semgrep"
  # pip's own launchers name the host's python; ours use whatever python3 runs them.
  for cmd in semgrep:entrypoint pysemgrep:pysemgrep; do
    name="${cmd%%:*}"
    cat >"$gate/bin/$name" <<EOF
#!/bin/sh
# Runs semgrep $semgrep_version from the folder beside this one with the system python3.
# semgrep-core calls back into pysemgrep through PATH, so this folder goes first on it.
here="\$(dirname "\$(readlink -f "\$0")")"
export PYTHONPATH="\$here/../semgrep"
export PATH="\$here:\$PATH"
exec python3 -c 'import sys; sys.argv[0] = "$name"; from semgrep.console_scripts.${cmd#*:} import main; sys.exit(main())' "\$@"
EOF
    chmod 755 "$gate/bin/$name"
  done
  stamp "$gate" semgrep "$semgrep_key"
fi
