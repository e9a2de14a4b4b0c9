#!/usr/bin/env bash
# Builds the Flex Consumption deployment zip: host.json, package.json, package-lock.json and sync.yaml at the root,
# dist/ without tests and benchmarks, and production node_modules only (npm ci --omit=dev --omit=optional in a staging folder: the CLI's optional local store, Azurite, stays out, so
# the checkout's own node_modules stay as they are). Prints the zip's path.
#
#   scripts/package.sh [out.zip] [sync-config]      defaults: app.zip, examples/deploy/sync.yaml
#
# SKIP_BUILD=1 reuses an existing dist/ instead of running `npm run build` first.
set -euo pipefail
cd "$(dirname "$0")/.."

out="$(realpath -m "${1:-app.zip}")"
config="${2:-examples/deploy/sync.yaml}"
[ -f "$config" ] || { echo "package: no sync config at $config" >&2; exit 1; }
command -v zip >/dev/null 2>&1 || { echo "package: the zip command is missing (apt-get install zip)" >&2; exit 1; }

if [ "${SKIP_BUILD:-0}" != "1" ] || [ ! -f dist/functions/index.js ]; then npm run build >&2; fi

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp package.json package-lock.json host.json "$stage/"
cp "$config" "$stage/sync.yaml"
mkdir -p "$stage/dist"
# What the functions load at run time (package.json main is dist/functions/index.js; the CLI is the package's bin).
for part in functions shared cli; do cp -R "dist/$part" "$stage/dist/"; done
(cd "$stage" && npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error >&2)

rm -f "$out"
(cd "$stage" && zip -qrX "$out" .)
echo "$out"
