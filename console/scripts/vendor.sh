#!/usr/bin/env bash
# Reproduces console/vendor/ from the npm registry: the exact uPlot release the console uses,
# its ES module build, its stylesheet and its licence. Run it to upgrade (change the version)
# or to check that the committed files are what the registry ships:
#   console/scripts/vendor.sh && git diff --exit-code console/vendor
set -euo pipefail
UPLOT_VERSION=1.6.32

console_dir="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "uplot@${UPLOT_VERSION}" >/dev/null)
tar -xzf "$work"/uplot-"${UPLOT_VERSION}".tgz -C "$work"

dest="$console_dir/vendor/uplot"
rm -rf "$dest"
mkdir -p "$dest"
cp "$work/package/dist/uPlot.esm.js" "$work/package/dist/uPlot.min.css" "$work/package/LICENSE" "$dest/"
echo "$UPLOT_VERSION" >"$dest/VERSION"
echo "vendored uPlot $UPLOT_VERSION into ${dest#"$console_dir"/}"
