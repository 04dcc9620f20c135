#!/usr/bin/env bash
# Installs the real .proto sets the protobuf copy check is measured on, idempotently: two
# published versions of the npm package google-proto-files (Google's API protos), of which only
# the measured files and what they import are kept, in .tools/reference/google-proto-files/<v>/.
# tests/contracts/reference-protos.test.ts takes the old version as a consumer's copy and the new
# one as the provider's head. Called by scripts/bootstrap.sh; runs alone too. --quiet prints only changes.
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
dest="$root/.tools/reference/google-proto-files"
# Two releases a year apart whose protos changed, compatibly and not (see docs/contracts.md).
versions=(4.2.0 5.0.3)
# The measured files; the list is also read by the test.
list="$root/tests/contracts/fixtures/reference-protos.txt"
want="$(sha256sum <"$list" | cut -c1-16) ${versions[*]}"

mkdir -p "$dest" "$state/logs"
if [[ -f "$dest/.stamp" && "$(cat "$dest/.stamp")" == "$want" ]]; then
  info "google-proto-files ${versions[*]}: present"
  exit 0
fi
command -v python3 >/dev/null || die "python3 is required to extract the reference protos"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for v in "${versions[@]}"; do
  say "google-proto-files $v: npm pack, keeping the measured files and their imports"
  (cd "$work" && npm pack --silent "google-proto-files@$v" >"$state/logs/reference-protos.log" 2>&1) ||
    die "npm pack google-proto-files@$v failed; see $state/logs/reference-protos.log"
  mkdir -p "$work/$v"
  tar -xzf "$work/google-proto-files-$v.tgz" -C "$work/$v" package/google
  rm -rf "$dest/$v.part"
  # The closure over imports (well-known types aside: buf carries them).
  python3 - "$work/$v/package" "$dest/$v.part" "$list" <<'PY'
import os, re, shutil, sys
src, out, listing = sys.argv[1:4]
todo = [l.strip() for l in open(listing) if l.strip() and not l.startswith('#')]
seen = set()
while todo:
    f = todo.pop()
    if f in seen or f.startswith('google/protobuf/'):
        continue
    path = os.path.join(src, f)
    if not os.path.isfile(path):
        sys.exit(f'{f} is not in the package')
    seen.add(f)
    text = open(path, encoding='utf-8').read()
    todo += re.findall(r'^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"', text, re.M)
    os.makedirs(os.path.dirname(os.path.join(out, f)), exist_ok=True)
    shutil.copyfile(path, os.path.join(out, f))
PY
  rm -rf "${dest:?}/$v"
  mv "$dest/$v.part" "$dest/$v"
done
echo "$want" >"$dest/.stamp"
