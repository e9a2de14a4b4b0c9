#!/usr/bin/env bash
# Fetches the Bicep CLI from NuGet with `dotnet restore` (tools/bicep/bicep.csproj) and prints the path of the
# `bicep` binary inside the NuGet global packages folder. Needs the .NET SDK and a NuGet feed; no Azure CLI.
#
#   export BICEP_PATH="$(scripts/install-bicep.sh)"     # then: npm test runs the compile tests
#
# Without the .NET SDK, `az bicep install` gives the same CLI (then BICEP_PATH=~/.azure/bin/bicep).
set -euo pipefail
cd "$(dirname "$0")/.."

BICEP_VERSION="${BICEP_VERSION:-0.49.2}"
case "$(uname -m)" in
  x86_64 | amd64) rid=linux-x64 ;;
  aarch64 | arm64) rid=linux-arm64 ;;
  *) echo "install-bicep: no Bicep CLI package for $(uname -m)" >&2; exit 1 ;;
esac
command -v dotnet >/dev/null 2>&1 || { echo "install-bicep: the .NET SDK (dotnet) is missing" >&2; exit 1; }

# Restore output goes to stderr so stdout carries only the path.
DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 dotnet restore tools/bicep/bicep.csproj \
  -p:BicepVersion="$BICEP_VERSION" -p:BicepRid="$rid" --verbosity quiet >&2

packages="$(dotnet nuget locals global-packages --list | sed -n 's/^global-packages: //p')"
packages="${packages%/}"
bicep="$packages/azure.bicep.commandline.$rid/$BICEP_VERSION/tools/bicep"
[ -f "$bicep" ] || { echo "install-bicep: restore finished but $bicep is missing" >&2; exit 1; }
# The package stores the binary as rwxr--r--: make it runnable for whoever runs the tests.
[ -x "$bicep" ] || chmod +x "$bicep"
"$bicep" --version >&2
echo "$bicep"
