#!/usr/bin/env bash
# Installs the reference material the OpenAPI diff is measured against (tests/contracts/
# oasdiff.test.ts, figures in docs/contracts.md), idempotently, into .tools/reference/:
#   oasdiff   a pinned version, built from the Go module proxy with CGO off (its go.mod has no
#             replace directives, so `go install module@version` works)
#   specs     GitHub's REST description (generated/api.github.com.json) from published versions of
#             the npm package @octokit/openapi, one gzipped file per version: only that file is
#             kept (a whole package unpacks to ~385 MB, the description is 13 MB, 1.3 MB gzipped)
# Each part has a stamp holding what it was installed from; a second run changes nothing.
# Called by scripts/bootstrap.sh; runs alone too. --quiet prints only changes.
set -euo pipefail

# shellcheck source=scripts/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
ref="$root/.tools/reference"
oasdiff_version="v1.39.0"
# Consecutive published versions: each neighbouring pair is one comparison of the test.
octokit_versions="${LOCKSTEP_OCTOKIT_OPENAPI_VERSIONS:-10.0.0 12.0.0 18.0.0 18.2.0 19.0.0 19.1.0 20.0.0 21.0.0 22.0.0}"

mkdir -p "$ref/bin" "$ref/octokit-openapi" "$state/logs"


# --- oasdiff, built from the Go module proxy -------------------------------------------------
if stamp_ok "$ref" oasdiff "$oasdiff_version" && [[ -x "$ref/bin/oasdiff" ]]; then
  info "oasdiff $oasdiff_version: present"
else
  say "oasdiff $oasdiff_version: building from the Go module proxy (log: $state/logs/reference-oasdiff.log)"
  go_install_tool oasdiff "github.com/oasdiff/oasdiff@$oasdiff_version" "$ref/bin/oasdiff" "$state/logs/reference-oasdiff.log"
  stamp "$ref" oasdiff "$oasdiff_version"
fi

# --- GitHub's description, from published versions of @octokit/openapi ----------------------
for version in $octokit_versions; do
  out="$ref/octokit-openapi/$version.json.gz"
  if [[ -s "$out" ]]; then
    info "@octokit/openapi $version: present"
    continue
  fi
  say "@octokit/openapi $version: fetching the package, keeping generated/api.github.com.json"
  dl="$(mktemp -d)"
  (cd "$dl" && npm pack --silent "@octokit/openapi@$version" >"$state/logs/reference-octokit.log" 2>&1) ||
    { rm -rf "$dl"; die "@octokit/openapi $version: npm pack failed; see $state/logs/reference-octokit.log"; }
  tar -xzOf "$dl"/octokit-openapi-*.tgz package/generated/api.github.com.json | gzip -6 >"$out.part" ||
    { rm -rf "$dl" "$out.part"; die "@octokit/openapi $version: the package has no generated/api.github.com.json"; }
  mv "$out.part" "$out"
  rm -rf "$dl"
done
