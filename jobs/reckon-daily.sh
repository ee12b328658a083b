#!/usr/bin/env bash
# reckon's daily job for cron: bill through yesterday (UTC+8) with write-audit-publish — stage
# the run beside the published output, audit it against the output published before it, and
# publish it atomically only when the audit passes.
#
# The as-of date is today's date in Asia/Shanghai, whatever the host's time zone (a UTC host's
# `date +%F` is a day behind between 00:00 and 08:00 UTC+8), so the job bills every day that has
# ended in UTC+8. The run id is `daily-<as-of>`: running the job again for a day (cron's next
# attempt, a person rerunning it) restages and re-audits that day's run against the output
# published before it, each audit in a new `audit-N/` directory. Everything the job prints goes
# to the log; on failure the end of the log is also written to stderr and the exit code is
# non-zero, so cron mails it (cron mails any output: a successful run prints nothing).
#
# With RECKON_ISSUED set, the bill lines the platform issued are then reconciled with the output
# just published (`reckon reconcile`), into `$RECKON_OUTPUT.reconciliation/<as-of>/` (a rerun of
# the day replaces it atomically; the Airflow DAG writes to the same place). Mismatches leave
# the publish as it is (the output is right; the mismatch is the platform's) and exit 1, mailed,
# naming the reconciliation's summary.
#
# Exit codes: 0 published (and, with RECKON_ISSUED, every key reconciled); 1 the audit failed
# (a restated closed month, or a threshold): nothing is published, the message names the audit's
# summary and the command that publishes after a person's review; 1 the reconciliation found
# mismatches (published); otherwise the code of the `reckon` command that failed (2 bad input or
# usage; internal or the machine's: 1 from `run` and `publish`, 3 from `audit` and `reconcile`).
#
# Settings (environment; the paths have no defaults):
#   RECKON_BIN        the reckon binary                       (default: reckon on PATH)
#   RECKON_INPUT      input directory
#   RECKON_CATALOG    catalog.toml
#   RECKON_OUTPUT     output directory (published atomically; runs and audits are kept beside
#                     it, in .<name>.reckon/runs/<run-id>/)
#   RECKON_LOG        log file                                 (default: $RECKON_OUTPUT.log)
#   RECKON_AS_OF      YYYY-MM-DD instead of today in UTC+8 (reruns of a given day, tests)
#   RECKON_RUN_ID     the run id                               (default: daily-<as-of>)
#   RECKON_METRICS    a `*.prom` file for node_exporter's textfile collector (optional)
#   RECKON_MAX_EXCEPTIONS, RECKON_MAX_INVALID_USAGE   the audit's thresholds (optional)
#   RECKON_ALLOW_RESTATEMENT=1   publish although closed months were restated (after review)
#   RECKON_ISSUED     the issued bill lines to reconcile after publishing: a directory of
#                     Parquet files (docs/contract.md, `issued/`); unset or empty: no
#                     reconciliation
set -euo pipefail

bin=${RECKON_BIN:-reckon}
input=${RECKON_INPUT:?RECKON_INPUT is not set}
catalog=${RECKON_CATALOG:?RECKON_CATALOG is not set}
output=${RECKON_OUTPUT:?RECKON_OUTPUT is not set}
# Without a trailing slash: the runs and reconciliations beside it must not land inside it.
output=${output%/}
case $output in
*://*)
    # The log, the staged runs and the reconciliation live beside a local output.
    echo "reckon-daily: RECKON_OUTPUT=$output: a URL; this wrapper needs a local output (for object" \
        "storage, run the write-audit-publish commands on the URL, README: Operations)" >&2
    exit 2
    ;;
esac
log=${RECKON_LOG:-$output.log}
as_of=${RECKON_AS_OF:-$(TZ=Asia/Shanghai date +%F)}
run_id=${RECKON_RUN_ID:-daily-$as_of}

mkdir -p "$(dirname "$log")"

say() { printf '%s reckon-daily as_of=%s %s\n' "$(date -u +%FT%TZ)" "$as_of" "$*" >>"$log"; }

# Writes a message and the log's end to stderr (for cron's mail) and exits with `code`.
mail_and_exit() {
    local code=$1
    shift
    {
        echo "reckon-daily: as-of $as_of: $*; log $log:"
        tail -n 20 "$log"
    } >&2
    exit "$code"
}

# Runs `reckon --quiet <command> <args>` with its output in the log; on failure exits with the
# command's code, mailed.
step() {
    local code=0
    "$bin" --quiet "$@" >>"$log" 2>&1 || code=$?
    if [ "$code" -ne 0 ]; then
        say "FAILED (exit $code): reckon $*"
        mail_and_exit "$code" "\`reckon $1\` failed with exit code $code"
    fi
}

say "run $run_id: input $input, output $output (staged)"
metrics=()
if [ -n "${RECKON_METRICS:-}" ]; then metrics=(--metrics "$RECKON_METRICS"); fi
step run --as-of "$as_of" --input "$input" --catalog "$catalog" --output "$output" \
    --stage "$run_id" "${metrics[@]}"

thresholds=()
if [ -n "${RECKON_MAX_EXCEPTIONS:-}" ]; then thresholds+=(--max-exceptions "$RECKON_MAX_EXCEPTIONS"); fi
if [ -n "${RECKON_MAX_INVALID_USAGE:-}" ]; then thresholds+=(--max-invalid-usage "$RECKON_MAX_INVALID_USAGE"); fi
audit_out=$(mktemp)
trap 'rm -f "$audit_out"' EXIT
code=0
"$bin" --quiet audit --output "$output" --run-id "$run_id" "${thresholds[@]}" >"$audit_out" 2>>"$log" ||
    code=$?
cat "$audit_out" >>"$log"
report=$(sed -n 's/^report: //p' "$audit_out" | tail -n 1)
approve=()
case "$code" in
0)
    if grep -q '^first run' "$audit_out"; then
        say "first run: no published output to audit against"
    fi
    ;;
1)
    if [ "${RECKON_ALLOW_RESTATEMENT:-}" = 1 ]; then
        say "audit failed; publishing with RECKON_ALLOW_RESTATEMENT=1 (restatements approved)"
        approve=(--allow-restatement)
    else
        say "AUDIT FAILED: not published; read $report/summary.txt"
        # The whole wrapper again, so that the reconciliation follows the publish too.
        mail_and_exit 1 "the audit failed (a closed month was restated, or a threshold): \
nothing published; read $report/summary.txt; once reviewed, publish (and reconcile) by running \
this job again with RECKON_AS_OF=$as_of RECKON_ALLOW_RESTATEMENT=1, or publish alone with: \
$bin publish --output $output --run-id $run_id --allow-restatement"
    fi
    ;;
*)
    say "FAILED (exit $code): reckon audit"
    mail_and_exit "$code" "\`reckon audit\` failed with exit code $code"
    ;;
esac

step publish --output "$output" --run-id "$run_id" "${approve[@]}"
say "published run $run_id; audit $report"

[ -n "${RECKON_ISSUED:-}" ] || exit 0
reconciliation=$output.reconciliation/$as_of
mkdir -p "$(dirname "$reconciliation")"
code=0
"$bin" --quiet reconcile "$RECKON_ISSUED" "$output" --output "$reconciliation" >>"$log" 2>&1 ||
    code=$?
case "$code" in
0) say "reconciled $RECKON_ISSUED: every key matches; $reconciliation/summary.txt" ;;
1)
    say "RECONCILIATION MISMATCHES (published all the same): read $reconciliation/summary.txt"
    mail_and_exit 1 "the issued bills $RECKON_ISSUED do not match the published output \
(published, and left as it is): read $reconciliation/summary.txt"
    ;;
*)
    say "FAILED (exit $code): reckon reconcile"
    mail_and_exit "$code" "\`reckon reconcile\` failed with exit code $code (the output is published)"
    ;;
esac
