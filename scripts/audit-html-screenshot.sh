#!/usr/bin/env bash
# Renders the access matrix of the shipped Model Studio examples in headless
# Chromium (Debian's `chromium`) and writes a screenshot to look at:
#
#   scripts/audit-html-screenshot.sh [OUT.png] [FILTER]
#
# FILTER is the page's hash, e.g. 'p=user-01' (principals), 'r=project-a',
# 'a=page'. The page is written to target/audit-matrix.html.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/audit-matrix.png}
filter=${2:-}
html=target/audit-matrix.html
mkdir -p target
cargo run -q --release -- audit matrix --policies policies/model_studio \
    --entities policies/model_studio/examples/entities.json \
    --format html --out "$html"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size=1600,1000 --screenshot="$out" "file://$PWD/$html${filter:+#$filter}"
echo "wrote $out"
