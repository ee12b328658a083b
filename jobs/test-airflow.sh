#!/usr/bin/env bash
# Runs the daily DAG (jobs/airflow/reckon_daily.py) with real Airflow, `airflow dags test`, on
# sample_data/ laid out as daily usage partitions (usage/date=YYYY-MM-DD/), each day landing
# before the run that bills it:
#   1. a DagBag import of the DAG folder that fails on any warning raised from the DAG file (a
#      deprecated import or call) or captured by the DagBag, and the sensor's decision on a
#      missing and a landed day; the as-of of the first scheduled run after 2024-06-20 03:00
#      (from the DAG's own timetable) is the day it runs on in UTC+8;
#   2. two consecutive daily runs: each bills through the last landed day (as-of = the end of
#      the data interval in Asia/Shanghai) and publishes; the second is audited against the
#      first's published output; the first, without the Variable reckon_issued, skips the
#      reconciliation; the second, with it set to sample_data/issued, reconciles after the
#      publish: the planted mismatches fail the task, the publish stands;
#   3. a planted restatement (a price of closed months raised): the audit fails and nothing is
#      published; running that day again (as a person clearing the run would) is blocked again,
#      audited again against the same published output in a new audit directory;
#   4. the same day with the param allow_restatement (a person's approval) publishes.
#
# Usage: jobs/test-airflow.sh [3|2]    (default 3: Airflow 3.1.8; 2: Airflow 2.10.5)
# Environment:
#   AIRFLOW_VENV   the virtual environment (default ~/.cache/airflow<3|2>-venv; created with
#                  pip and Airflow's constraints file when it has no `airflow`)
#   RECKON_BIN     the reckon binary (default: target/debug/reckon, built by cargo if absent)
#   PYARROW_PYTHON a Python with pyarrow, to lay out the partitions (default: the reader venv
#                  .ci/run creates, ~/.cache/reckon-ci-venv)
# Every airflow command runs under `timeout` (a task that can never run makes `dags test` wait
# forever); a failure prints the end of the command's log.
set -euo pipefail
major=${1:-3}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
case "$major" in
3) version=3.1.8 ;;
2) version=2.10.5 ;;
*) echo "usage: $0 [3|2]" >&2; exit 2 ;;
esac
venv=${AIRFLOW_VENV:-$HOME/.cache/airflow$major-venv}
pyarrow_python=${PYARROW_PYTHON:-$HOME/.cache/reckon-ci-venv/bin/python}
bin=${RECKON_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/reckon}
limit=${AIRFLOW_TEST_TIMEOUT:-300}

if [ ! -x "$venv/bin/airflow" ]; then
    py=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    echo "== installing apache-airflow==$version into $venv"
    python3 -m venv "$venv"
    # Airflow's constraints file pins a tested set of dependencies; where GitHub is out of
    # reach (a registry-only network), pip resolves the dependencies itself.
    url="https://raw.githubusercontent.com/apache/airflow/constraints-$version/constraints-$py.txt"
    constraint=()
    got=0
    curl -fsSL -m 20 -o "$venv/constraints.txt" "$url" 2>/dev/null || got=$?
    case $got in
    0) constraint=(--constraint "$venv/constraints.txt") ;;
    5 | 6 | 7 | 28) # no proxy, no host, no connection, timed out: out of reach, not missing
        echo "note: $url is out of reach: installing without Airflow's constraints" >&2
        echo "$url" >"$venv/UNCONSTRAINED" ;;
    *) echo "FAIL: $url: curl exit $got (no constraints for Python $py?)"; exit 1 ;;
    esac
    "$venv/bin/pip" install --quiet --disable-pip-version-check "apache-airflow==$version" \
        "${constraint[@]}"
fi
[ ! -f "$venv/UNCONSTRAINED" ] ||
    echo "note: $venv was installed without Airflow's constraints (GitHub out of reach)" >&2
[ -x "$bin" ] || (cd "$root" && cargo build --quiet)
"$pyarrow_python" -c 'import pyarrow' || { echo "FAIL: $pyarrow_python has no pyarrow"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export AIRFLOW_HOME=$work/airflow
export AIRFLOW__CORE__DAGS_FOLDER=$work/dags
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__UNIT_TEST_MODE=False
export AIRFLOW__LOGGING__LOGGING_LEVEL=INFO
mkdir -p "$AIRFLOW__CORE__DAGS_FOLDER" "$work/billing"
cp "$here/airflow/reckon_daily.py" "$AIRFLOW__CORE__DAGS_FOLDER/"
airflow=$venv/bin/airflow
py=$venv/bin/python

fail() {
    echo "FAIL: $*"
    for f in "$work"/*.log; do echo "--- $f"; tail -n 60 "$f"; done
    exit 1
}
# `airflow ...` under the time limit, its output in $work/<name>.log; gives its exit code.
af() {
    local name=$1 code=0
    shift
    timeout "$limit" "$airflow" "$@" >"$work/$name.log" 2>&1 || code=$?
    [ "$code" -ne 124 ] || fail "airflow $* timed out after ${limit}s"
    return "$code"
}

# The input as the DAG expects it: sample_data with usage split into daily partitions (UTC+8
# day of usage_start), each day written when it "lands".
cp -r "$root/sample_data" "$work/input"
rm -r "$work/input/usage"
land() { # FIRST LAST: writes the partitions of the days in [FIRST, LAST]
    "$pyarrow_python" - "$root/sample_data/usage" "$work/input/usage" "$1" "$2" <<'EOF'
import datetime as dt, os, sys
import pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq
src, dst, first, last = sys.argv[1:5]
t = pq.read_table(src)
t = t.cast(pa.schema([f.with_type(pa.string()) if f.type == pa.string_view() else f for f in t.schema]))
days = pc.strftime(pc.add(t["usage_start"], pa.scalar(dt.timedelta(hours=8))), format="%Y-%m-%d")
for day in sorted(set(d for d in days.to_pylist() if d and first <= d <= last)):
    os.makedirs(os.path.join(dst, f"date={day}"), exist_ok=True)
    pq.write_table(t.filter(pc.equal(days, day)), os.path.join(dst, f"date={day}", "part-00000.parquet"))
EOF
}
land 0000-00-00 2024-06-20

export AIRFLOW_VAR_RECKON_BIN=$bin
export AIRFLOW_VAR_RECKON_INPUT=$work/input
export AIRFLOW_VAR_RECKON_OUTPUT=$work/billing/out
export AIRFLOW_VAR_RECKON_CATALOG=$work/input/catalog.toml
af db-migrate db migrate || fail "airflow db migrate"

# 1. The DagBag imports the DAG and no warning comes from the DAG file (Airflow's own modules
# warn about each other on import, which no DAG can change); the sensor decides on the
# partition of the day before the as-of date.
"$py" - "$AIRFLOW__CORE__DAGS_FOLDER" "$work/input" >"$work/dagbag.log" 2>&1 <<'EOF' ||
import os, sys, warnings
folder, input_dir = sys.argv[1:3]
import airflow
try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:
    from airflow.models.dagbag import DagBag
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    bag = DagBag(dag_folder=folder, include_examples=False)
    sys.path.insert(0, folder)
    import reckon_daily
ours = [w for w in caught if os.path.realpath(w.filename).startswith(os.path.realpath(folder))]
assert not ours, [f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}" for w in ours]
assert not getattr(bag, "captured_warnings", {}), bag.captured_warnings
assert not bag.import_errors, bag.import_errors
dag = bag.get_dag("reckon_daily")
tasks = [t.task_id for t in dag.tasks]
assert tasks == [
    "wait_for_inputs", "reckon_stage", "reckon_audit", "reckon_publish", "reckon_reconcile"
], tasks
assert dag.get_task("reckon_reconcile").upstream_task_ids == {"reckon_publish"}
# No issued export: skipped before anything runs (an empty or blank Variable is unset).
from airflow.exceptions import AirflowSkipException
for blank in ("", "  "):
    try:
        reckon_daily.reconcile("/nonexistent/reckon", blank, "/data/out", "2024-06-21")
        raise AssertionError("not skipped")
    except AirflowSkipException:
        pass
assert reckon_daily.reconciliation_dir("/data/out/", "2024-06-21") == "/data/out.reconciliation/2024-06-21"
# A scheduled run bills through the day before the moment it runs at, on either timetable.
import jinja2, pendulum
from airflow.timetables.base import TimeRestriction
earliest = pendulum.datetime(2024, 6, 20, 3, tz="Asia/Shanghai")
info = dag.timetable.next_dagrun_info(
    last_automated_data_interval=None, restriction=TimeRestriction(earliest, None, True)
)
as_of = jinja2.Template(reckon_daily.AS_OF).render(data_interval_end=info.data_interval.end, dag_run=None)
assert as_of == info.run_after.in_timezone("Asia/Shanghai").to_date_string(), (as_of, info)
print("scheduled run:", type(dag.timetable).__name__, "runs at", info.run_after, "as-of", as_of)
cat = input_dir + "/catalog.toml"
assert reckon_daily.usage_landed(input_dir, cat, "2024-06-21")
assert not reckon_daily.usage_landed(input_dir, cat, "2024-06-22")
print("airflow", airflow.__version__, "dagbag ok:", tasks)
EOF
    fail "the DagBag import"
echo "ok: DagBag import, no warning from the DAG; sensor on the last landed day; $(grep '^scheduled run' "$work/dagbag.log")"

# Logical dates of the runs at 2024-06-21, 06-22 and 06-23 02:00 UTC+8. `dags test` makes a
# manual run, whose data interval ends at its logical date on Airflow 3 and on 2.10 alike (a
# scheduled run on 2.10 has the logical date a day earlier and the same interval end).
days=(20 21 22)
logical() { echo "2024-06-${days[$1]}T18:00:00+00:00"; }
manifest() { "$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/billing/out/_manifest.json" "$1"; }
runs=$work/billing/.out.reckon/runs
# The latest audit directory (each `dags test` is a run of its own id, `manual__<now>`).
latest_audit() { ls -td "$runs"/*/audit-* | head -n 1; }
# The state of task $1 in run $2, as Airflow recorded it.
task_state() {
    af "state-$1" tasks state reckon_daily "$1" "$2" || fail "airflow tasks state $1 $2"
    tail -n 1 "$work/state-$1.log"
}

# 2. Two consecutive days.
af run1 dags test reckon_daily "$(logical 0)" || fail "first run"
[ "$(manifest as_of_date)" = 2024-06-21 ] || fail "first run published as of $(manifest as_of_date)"
first_run=$(manifest run_id)
grep -q "first run" "$(latest_audit)/summary.txt" || fail "first audit"
echo "ok: run 1 ($first_run) billed through 2024-06-20 (as-of 2024-06-21), published"
reconciled=$work/billing/out.reconciliation
[ "$(task_state reckon_reconcile "$first_run")" = skipped ] || fail "run 1 did not skip reckon_reconcile"
grep -q "no issued export configured" "$work/run1.log" || fail "run 1 did not say why it skipped"
[ ! -e "$reconciled" ] || fail "run 1 reconciled without an issued export"
echo "ok: run 1 skipped reckon_reconcile (no Variable reckon_issued)"

# The second day with an issued export: the reconciliation runs after the publish and its
# planted mismatches fail the run (the task, without retries), not the publish.
land 2024-06-21 2024-06-21
AIRFLOW_VAR_RECKON_ISSUED=$work/input/issued af run2 dags test reckon_daily "$(logical 1)" || true
[ "$(manifest as_of_date)" = 2024-06-22 ] || fail "second run published as of $(manifest as_of_date)"
second=$(latest_audit)/summary.txt
grep -q "PASSED" "$second" || fail "second audit did not pass"
grep -q "base: .*(as of 2024-06-21, run $first_run)" "$second" || fail "second run did not audit against the first"
echo "ok: run 2 ($(manifest run_id)) billed through 2024-06-21, audited against run 1: $(grep '^base:' "$second")"
rec=$reconciled/2024-06-22
second_run=$(manifest run_id)
[ "$(task_state reckon_reconcile "$second_run")" = failed ] || fail "reckon_reconcile did not fail on the mismatches"
[ "$(task_state reckon_publish "$second_run")" = success ] || fail "the publish of run 2 did not stand"
grep -q "the reconciliation found mismatches" "$work/run2.log" || fail "the reconcile task did not say why it failed"
[ -f "$rec/_manifest.json" ] && [ -d "$rec/reconciliation" ] && [ -d "$rec/reconciliation_summary" ] ||
    fail "no reconciliation published in $rec"
# sample_data/issued is the platform's export for the window of 2024-07-01 ([04-01, 07-01)):
# as of 2024-06-22 its April keys hold the planted mistakes (a price not switched, a missed
# package draw, a duplicate, an hour never issued, a line rounded to cents), its March keys are
# not issued and its lines from 06-22 on are outside the window.
for want in "causes: unit_price 1, package_deduction 1, rounding 1, duplicate_issued 1" \
    "  month 2024-04: overcharged 4.42529994, undercharged 0.21686743, keys mismatched 4" \
    "  month 2024-05: overcharged 0, undercharged 0, keys mismatched 0"; do
    grep -qxF "$want" "$rec/summary.txt" || fail "the reconciliation summary has no line '$want'"
done
echo "ok: run 2 reconciled after the publish: $(grep '^keys:' "$rec/summary.txt")"

# 3. A planted restatement blocks the publish, also when the day is run again.
sed -i '0,/unit_price = "0.80"/s//unit_price = "0.90"/' "$work/input/catalog.toml"
land 2024-06-22 2024-06-22
af run3 dags test reckon_daily "$(logical 2)" || true
[ "$(manifest as_of_date)" = 2024-06-22 ] || fail "the restatement was published"
grep -q "the audit failed" "$work/run3.log" || fail "the audit task did not fail on the restatement"
blocked=$(latest_audit)
grep -q "FAILED" "$blocked/summary.txt" || fail "the third audit did not fail"
af run3-again dags test reckon_daily "$(logical 2)" || true
[ "$(manifest as_of_date)" = 2024-06-22 ] || fail "the restatement was published on the rerun"
again=$(latest_audit)
[ "$again" != "$blocked" ] || fail "the rerun did not write a new audit"
grep -q "base: .*(as of 2024-06-22" "$again/summary.txt" || fail "the rerun audited against another output"
echo "ok: restatement blocked twice (${blocked#"$runs"/}, ${again#"$runs"/}); published stays as of 2024-06-22"

# 4. Approved by the param, the same day publishes.
af run3-approved dags test reckon_daily "$(logical 2)" -c '{"allow_restatement": true}' ||
    fail "the approved run"
[ "$(manifest as_of_date)" = 2024-06-23 ] || fail "the approved run published as of $(manifest as_of_date)"
echo "ok: approved with allow_restatement: published as of 2024-06-23 ($(grep -o 'airflow [0-9.]*' "$work/dagbag.log"))"
"$here/test-airflow-k8s.sh" "$major"
