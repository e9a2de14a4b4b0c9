#!/usr/bin/env bash
# Builds the Flex Consumption deployment zip: host.json, package.json, package-lock.json and sync.yaml at the root,
# dist/ without tests and benchmarks, and production node_modules only, installed in a staging folder so the
# checkout's own node_modules stay as they are; Azurite, the CLI's local store that the functions never load, is
# left out. Prints the zip's path.
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
# Azurite (the CLI's local store; Node >= 22 per its engines, which is why it is not an optional dependency: npm
# skips an optional package whose engines do not match, silently) is dropped from the staged manifest and pruned.
node -e '
  const fs = require("fs");
  const pkg = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  delete pkg.dependencies.azurite;
  fs.writeFileSync(process.argv[1], JSON.stringify(pkg, null, 2) + "\n");
' "$stage/package.json"
(cd "$stage" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error >&2)

rm -f "$out"
(cd "$stage" && zip -qrX "$out" .)
echo "$out"
