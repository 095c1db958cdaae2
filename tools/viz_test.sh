#!/usr/bin/env bash
# viz_test.sh: the VIZ page in a real browser (make test-viz; CI installs Debian's chromium).
#
#   tools/viz_test.sh               builds examples/viz.c, records a matmul and a softmax into build/viz.html, opens
#                                   it in headless Chromium with #selftest and fails unless the page says PASS: every
#                                   rewrite rebuilds its recorded result, the rule list and the graph render (boxes
#                                   with a size), clicking a step changes the graph, the timeline draws its launches.
#                                   Keeps the verdict in build/viz-selftest.txt and a screenshot of the page as the
#                                   self-test left it (step 1 selected) in build/viz-screenshot.png.
#   tools/viz_test.sh --readme      writes docs/viz.png instead, the README's screenshot (a matmul kernel, mid-way)
#
# The browser: $CHROMIUM, else chromium, chromium-browser or google-chrome on the PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

browser=${CHROMIUM:-}
if [ -z "$browser" ]; then
  for b in chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null 2>&1; then browser=$b; break; fi
  done
fi
if [ -z "$browser" ]; then
  echo "viz_test.sh: no Chromium found (apt-get install chromium, or set CHROMIUM=/path/to/chrome)" >&2
  exit 1
fi

make --no-print-directory -s build/viz
./build/viz build/viz.html
url="file://$PWD/build/viz.html"
# --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start; the page is our own file
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --virtual-time-budget=20000
       --window-size=1400,900)

if [ "${1:-}" = "--readme" ]; then
  mkdir -p docs
  "$browser" "${flags[@]}" --screenshot="$PWD/docs/viz.png" "$url#s=12" >/dev/null 2>&1
  echo "viz_test.sh: wrote docs/viz.png"
  exit 0
fi

"$browser" "${flags[@]}" --dump-dom "$url#selftest" 2>build/viz-chromium.log >build/viz-dom.html || {
  echo "viz_test.sh: $browser failed (build/viz-chromium.log):" >&2
  tail -5 build/viz-chromium.log >&2
  exit 1
}
# the verdict: the text of <pre id="selftest">, entities decoded
sed -n '/<pre id="selftest"/,/<\/pre>/{p;/<\/pre>/q}' build/viz-dom.html |
  sed -e 's/<[^>]*>//g' -e 's/&gt;/>/g' -e 's/&lt;/</g' -e "s/&amp;/\\&/g" >build/viz-selftest.txt
cat build/viz-selftest.txt
"$browser" "${flags[@]}" --screenshot="$PWD/build/viz-screenshot.png" "$url#selftest" >/dev/null 2>&1 || true
if grep -qx "VIZ SELFTEST PASS" build/viz-selftest.txt && ! grep -q "^FAIL" build/viz-selftest.txt; then
  echo "viz_test.sh: the page passed in $("$browser" --version 2>/dev/null | head -1)"
  echo "viz_test.sh: screenshot: build/viz-screenshot.png"
else
  echo "viz_test.sh: the page FAILED its self-test in $browser (build/viz-dom.html)" >&2
  exit 1
fi
