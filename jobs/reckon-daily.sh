#!/usr/bin/env bash
# reckon's daily job for cron: bill through yesterday (UTC+8), publish atomically, then audit
# what changed since the previous published output.
#
# The as-of date is today's date in Asia/Shanghai, whatever the host's time zone (a UTC host's
# `date +%F` is a day behind between 00:00 and 08:00 UTC+8), so the job bills every day that has
# ended in UTC+8. Everything the job prints goes to the log; on failure the end of the log is
# also written to stderr and the exit code is non-zero, so cron mails it (cron mails any output:
# a successful run prints nothing).
#
# Exit codes: 0 published (and, from the second run on, no closed month restated); 1 a closed
# month was restated (the output is published; a person reads the diff summary); otherwise the
# code of the `reckon` command that failed (2 bad input or usage, 1 internal or the machine's).
#
# Settings (environment; the paths have no defaults):
#   RECKON_BIN      the reckon binary                       (default: reckon on PATH)
#   RECKON_INPUT    input directory
#   RECKON_CATALOG  catalog.toml
#   RECKON_OUTPUT   output directory (published atomically; the previous one is kept beside it)
#   RECKON_DIFFS    directory of the daily diffs, one per as-of date
#   RECKON_LOG      log file                                 (default: $RECKON_OUTPUT.log)
#   RECKON_AS_OF    YYYY-MM-DD instead of today in UTC+8 (reruns of a given day, tests)
#   RECKON_METRICS  a `*.prom` file for node_exporter's textfile collector (optional)
set -euo pipefail

bin=${RECKON_BIN:-reckon}
input=${RECKON_INPUT:?RECKON_INPUT is not set}
catalog=${RECKON_CATALOG:?RECKON_CATALOG is not set}
output=${RECKON_OUTPUT:?RECKON_OUTPUT is not set}
diffs=${RECKON_DIFFS:?RECKON_DIFFS is not set}
log=${RECKON_LOG:-$output.log}
as_of=${RECKON_AS_OF:-$(TZ=Asia/Shanghai date +%F)}

mkdir -p "$(dirname "$log")" "$diffs"
# The previous output, kept by the atomic publish beside the new one.
previous="$(dirname "$output")/.$(basename "$output").reckon/previous"

say() { printf '%s reckon-daily as_of=%s %s\n' "$(date -u +%FT%TZ)" "$as_of" "$*" >>"$log"; }

# Runs `reckon --quiet <command> <args>` with its output in the log; on failure writes the log's
# end to stderr (for cron's mail) and exits with the command's code.
step() {
    local code=0
    "$bin" --quiet "$@" >>"$log" 2>&1 || code=$?
    if [ "$code" -ne 0 ]; then
        say "FAILED (exit $code): reckon $*"
        {
            echo "reckon-daily: as-of $as_of: \`reckon $1\` failed with exit code $code; log $log:"
            tail -n 20 "$log"
        } >&2
        exit "$code"
    fi
}

say "run: input $input, output $output"
metrics=()
if [ -n "${RECKON_METRICS:-}" ]; then metrics=(--metrics "$RECKON_METRICS"); fi
step run --as-of "$as_of" --input "$input" --catalog "$catalog" --output "$output" \
    "${metrics[@]}"

if [ ! -f "$previous/_manifest.json" ]; then
    say "first run: no previous output to audit against; published"
    exit 0
fi

say "diff: $previous -> $output"
code=0
"$bin" --quiet diff --closed-only "$previous" "$output" --output "$diffs/$as_of" >>"$log" 2>&1 ||
    code=$?
case "$code" in
0)
    say "published; no closed month restated"
    ;;
1)
    say "RESTATED: a closed month changed; read $diffs/$as_of/summary.txt"
    echo "reckon-daily: as-of $as_of: a closed month was restated; read $diffs/$as_of/summary.txt" >&2
    exit 1
    ;;
*)
    say "FAILED (exit $code): reckon diff"
    {
        echo "reckon-daily: as-of $as_of: \`reckon diff\` failed with exit code $code; log $log:"
        tail -n 20 "$log"
    } >&2
    exit "$code"
    ;;
esac
