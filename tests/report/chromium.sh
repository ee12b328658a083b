#!/usr/bin/env bash
# Opens a `reckon report` page in headless Chromium as a person's browser would, and fails
# (exit 1) on any console message, on any reference to a resource outside the page, or on a
# page that did not render its sections; on success saves a screenshot.
#
#   tests/report/chromium.sh PAGE.html SCREENSHOT.png [CHROMIUM]
#
# CHROMIUM defaults to `chromium` on PATH (Debian's package). The page has no script, so any
# console line is an error. First a canary page with a console.error must be caught, so a
# Chromium whose logging changed cannot pass the page silently.
set -euo pipefail
page="$(realpath "$1")"
shot="$2"
browser="${3:-$(command -v chromium || command -v chromium-browser || true)}"
[ -n "$browser" ] || { echo "chromium.sh: no chromium on PATH" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Headless, no GPU, no network (every host name resolves to nothing), a fresh profile; the
# sandbox needs user namespaces that a root CI container may not have.
run_chromium() {
  "$browser" --headless --disable-gpu --no-sandbox --no-first-run \
    --user-data-dir="$work/profile" --host-resolver-rules="MAP * ~NOTFOUND" \
    --enable-logging=stderr --v=0 "$@"
}

# Chromium logs a page's console as `INFO:CONSOLE:<line>] "<message>", source: <url>`.
console_lines() { grep -E ':CONSOLE(:[0-9]+)?\]|CONSOLE\(' "$1" || true; }

canary="$work/canary.html"
printf '<!DOCTYPE html><html><head><meta charset="utf-8"><title>c</title></head><body><script>console.error("reckon-canary");</script></body></html>\n' >"$canary"
run_chromium --dump-dom "file://$canary" >"$work/canary.dom" 2>"$work/canary.err" || true
if ! console_lines "$work/canary.err" | grep -q reckon-canary; then
  echo "chromium.sh: this Chromium's log does not show a console.error of a canary page;" \
       "the console check cannot be trusted" >&2
  exit 1
fi

run_chromium --dump-dom "file://$page" >"$work/page.dom" 2>"$work/page.err"
errors="$(console_lines "$work/page.err")"
if [ -n "$errors" ]; then
  echo "chromium.sh: console messages while loading $page:" >&2
  echo "$errors" >&2
  exit 1
fi
# The sections every page has, and every other one the page's source holds (changes,
# reconciliation).
sections="totals coverage accounts exceptions $(grep -oE '<section id="[a-z_]+"' "$page" | cut -d'"' -f2)"
for id in $(printf '%s\n' $sections | sort -u); do
  grep -q "<section id=\"$id\"" "$work/page.dom" \
    || { echo "chromium.sh: the rendered page has no section #$id" >&2; exit 1; }
done
# Only in-page anchors and data: URLs; nothing to fetch.
external="$(grep -oE '(src|href)="[^"]*"' "$work/page.dom" | grep -vE '="(#|data:)' || true)"
if [ -n "$external" ]; then
  echo "chromium.sh: the page references resources outside itself:" >&2
  echo "$external" >&2
  exit 1
fi

run_chromium --hide-scrollbars --window-size=1280,3400 --screenshot="$work/shot.png" \
  "file://$page" >/dev/null 2>"$work/shot.err"
errors="$(console_lines "$work/shot.err")"
if [ -n "$errors" ]; then
  echo "chromium.sh: console messages while taking the screenshot:" >&2
  echo "$errors" >&2
  exit 1
fi
cp "$work/shot.png" "$shot"
echo "chromium.sh: $page rendered with no console message; screenshot $shot"
