#!/usr/bin/env bash
# Runs the sharded Kubernetes DAG (jobs/airflow/reckon_sharded_k8s.py) with real Airflow,
# `airflow dags test`, against a moto S3 server started here. There is no Kubernetes cluster:
# the DAG's test hook (RECKON_K8S_LOCAL_PODS=1) makes each pod task run the pod's command line
# as a local process, with `reckon` on PATH as in the image.
#   1. a DagBag import of the DAG, with and without the hook, that fails on any warning raised
#      from the DAG file or captured by the DagBag; the pod tasks' command lines rendered with
#      and without the hook are identical, and the tasks are
#      plan_shards → reckon_shard (mapped) → reckon_merge → reckon_audit → reckon_publish;
#   2. one daily run on the bucket (2 shards): the shards and the merge are staged, audited,
#      published; LATEST names the merged run, of the as-of date of the daily DAG (the data
#      interval's end in Asia/Shanghai), keyed by the Airflow run id, and its rows per table,
#      usage accounting and totals equal a single unsharded `reckon run`;
#   3. the next day's run: audited against the first run's published output, then published;
#   4. a planted restatement (a price of closed months raised): the audit fails and nothing is
#      published; the same day with the param allow_restatement (a person's approval) publishes.
#
# Usage: jobs/test-airflow-k8s.sh [3|2]   (default 3: Airflow 3.1.8; 2: Airflow 2.10.5)
# Environment:
#   AIRFLOW_VENV       the virtual environment (default ~/.cache/airflow<3|2>-venv); the
#                      Kubernetes provider is installed into it when missing
#   RECKON_BIN         the reckon binary (default: target/debug/reckon, built by cargo if absent)
#   RECKON_MOTO_SERVER moto's server (default ~/.cache/reckon-moto-venv/bin/moto_server); its
#                      virtual environment's Python (with boto3) lays out the bucket
# Every airflow command runs under `timeout`; a failure prints the end of the command's log.
set -euo pipefail
major=${1:-3}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
case "$major" in
3 | 2) ;;
*) echo "usage: $0 [3|2]" >&2; exit 2 ;;
esac
venv=${AIRFLOW_VENV:-$HOME/.cache/airflow$major-venv}
moto_server=${RECKON_MOTO_SERVER:-$HOME/.cache/reckon-moto-venv/bin/moto_server}
s3py=$(dirname "$moto_server")/python
bin=${RECKON_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/reckon}
limit=${AIRFLOW_TEST_TIMEOUT:-600}
started=$SECONDS

[ -x "$venv/bin/airflow" ] || { echo "FAIL: no Airflow in $venv (jobs/test-airflow.sh $major installs it)"; exit 1; }
if ! "$venv/bin/python" -c 'import airflow.providers.cncf.kubernetes' 2>/dev/null; then
    echo "== installing the Kubernetes provider into $venv"
    version=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("apache-airflow"))')
    "$venv/bin/pip" install --quiet --disable-pip-version-check "apache-airflow==$version" \
        apache-airflow-providers-cncf-kubernetes
fi
[ -x "$bin" ] || (cd "$root" && cargo build --quiet)
"$s3py" -c 'import boto3' || { echo "FAIL: $s3py has no boto3"; exit 1; }

work=$(mktemp -d)
moto_pid=
cleanup() {
    [ -z "$moto_pid" ] || kill "$moto_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*"
    for f in "$work"/*.log; do echo "--- $f"; tail -n 60 "$f"; done
    exit 1
}
airflow=$venv/bin/airflow
py=$venv/bin/python
# `airflow ...` under the time limit, its output in $work/<name>.log; gives its exit code.
af() {
    local name=$1 code=0
    shift
    timeout "$limit" "$airflow" "$@" >"$work/$name.log" 2>&1 || code=$?
    [ "$code" -ne 124 ] || fail "airflow $* timed out after ${limit}s"
    return "$code"
}

# moto on a free port; the bucket with sample_data/ as the input.
port=$("$s3py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$moto_server" -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
export AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_ALLOW_HTTP=true AWS_ACCESS_KEY_ID=test \
    AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
# s3 OP ARGS: the bucket `billing` through boto3 (put-tree DIR PREFIX, get KEY, json KEY FIELD).
s3() {
    "$s3py" - "$@" <<'EOF'
import json, os, sys, time
import boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
op, args = sys.argv[1], sys.argv[2:]
if op == "wait":
    for _ in range(300):
        try:
            s3.list_buckets(); break
        except Exception:
            time.sleep(0.2)
    s3.create_bucket(Bucket="billing")
elif op == "put-tree":
    for d, _, files in os.walk(args[0]):
        for f in files:
            rel = os.path.relpath(os.path.join(d, f), args[0])
            s3.upload_file(os.path.join(d, f), "billing", f"{args[1]}/{rel}")
elif op == "get":
    try:
        print(s3.get_object(Bucket="billing", Key=args[0])["Body"].read().decode().strip())
    except s3.exceptions.NoSuchKey:
        print("")
elif op == "keys":
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="billing", Prefix=args[0])
    for page in pages:
        for o in page.get("Contents", []):
            print(o["Key"])
elif op == "json":
    value = json.loads(s3.get_object(Bucket="billing", Key=args[0])["Body"].read())
    for field in args[1].split("."):
        value = value[int(field)] if isinstance(value, list) else value[field]
    print(json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value)
EOF
}
s3 wait || fail "moto did not start"
s3 put-tree "$root/sample_data" reckon/input

export AIRFLOW_HOME=$work/airflow
export AIRFLOW__CORE__DAGS_FOLDER=$work/dags
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__UNIT_TEST_MODE=False
export AIRFLOW__LOGGING__LOGGING_LEVEL=INFO
export AIRFLOW_VAR_RECKON_BUCKET=s3://billing
export AIRFLOW_VAR_RECKON_SHARDS=2
export AIRFLOW_VAR_RECKON_S3_ENDPOINT=$AWS_ENDPOINT_URL
export RECKON_K8S_LOCAL_PODS=1
export PATH=$work/bin:$PATH
mkdir -p "$AIRFLOW__CORE__DAGS_FOLDER" "$work/bin"
ln -s "$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")" "$work/bin/reckon"
cp "$here/airflow/reckon_sharded_k8s.py" "$AIRFLOW__CORE__DAGS_FOLDER/"
af db-migrate db migrate || fail "airflow db migrate"
echo "ok: setup (moto on :$port, sample_data uploaded, airflow db) in $((SECONDS - started)) s"

# 1. The DagBag, with the hook and without: no warning from the DAG file, the same rendered
# command lines.
t=$SECONDS
"$py" - "$AIRFLOW__CORE__DAGS_FOLDER" >"$work/dagbag.log" 2>&1 <<'EOF' ||
import importlib, os, sys, warnings
folder = sys.argv[1]
import airflow, pendulum
try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:
    from airflow.models.dagbag import DagBag
sys.path.insert(0, folder)

def load(local):
    os.environ["RECKON_K8S_LOCAL_PODS"] = "1" if local else "0"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag = DagBag(dag_folder=folder, include_examples=False)
        module = importlib.reload(importlib.import_module("reckon_sharded_k8s"))
    ours = [w for w in caught if os.path.realpath(w.filename).startswith(os.path.realpath(folder))]
    assert not ours, [f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}" for w in ours]
    assert not getattr(bag, "captured_warnings", {}), bag.captured_warnings
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag("reckon_sharded_k8s"), module

local, module = load(True)
k8s, _ = load(False)
tasks = [t.task_id for t in local.tasks]
assert tasks == ["plan_shards", "reckon_shard", "reckon_merge", "reckon_audit", "reckon_publish"], tasks
assert [t.task_id for t in k8s.tasks] == tasks
kinds = {t.task_id: type(t).__name__ for t in k8s.tasks}
assert kinds["reckon_merge"] == "KubernetesPodOperator", kinds
assert {type(t).__name__ for t in local.tasks if t.task_id.startswith("reckon_")} <= {"LocalPod", "MappedOperator"}

class Var:
    def get(self, name, default=None):
        return {"reckon_bucket": "s3://billing", "reckon_shards": "2"}.get(name, default)

def rendered(task, params):
    context = {
        "run_id": "scheduled__2024-06-20T18:00:00+00:00",
        "params": params,
        "var": type("V", (), {"value": Var()})(),
        "data_interval_end": pendulum.datetime(2024, 6, 20, 18, tz="UTC"),
        "dag_run": None,
    }
    env = task.dag.get_template_env()
    out = {f: task.render_template(getattr(task, f), context, jinja_env=env)
           for f in ("image", "namespace", "cmds", "arguments", "env_vars")}
    if isinstance(out["env_vars"], list):  # the pod operator's V1EnvVar list
        out["env_vars"] = {e.name: e.value for e in out["env_vars"]}
    return out

for task_id in ("reckon_merge", "reckon_audit", "reckon_publish"):
    for params in ({"allow_restatement": False}, {"allow_restatement": True}):
        a, b = rendered(local.get_task(task_id), params), rendered(k8s.get_task(task_id), params)
        assert a == b, (task_id, a, b)
merge = rendered(k8s.get_task("reckon_merge"), {"allow_restatement": False})["arguments"][0]
assert merge.endswith("--output 's3://billing/reckon/output' 's3://billing/reckon/shards/0' 's3://billing/reckon/shards/1'"), merge
publish = rendered(k8s.get_task("reckon_publish"), {"allow_restatement": True})["arguments"][0]
assert publish.endswith("--allow-restatement"), publish
for t in (local, k8s):
    shard = t.get_task("reckon_shard")
    assert shard.partial_kwargs["cmds"] == ["bash", "-c"], shard.partial_kwargs
scripts = module.shard_scripts("2", "2024-06-21", "r", "s3://b/in", "s3://b/shards", "")
assert [s[0].split("reckon ", 1)[1] for s in scripts] == [
    f"--quiet run --stage 'r' --as-of 2024-06-21 --input 's3://b/in' --shard {k}/2 --output 's3://b/shards/{k}'"
    for k in (0, 1)
], scripts
print("airflow", airflow.__version__, "dagbag ok:", tasks)
EOF
    fail "the DagBag import"
echo "ok: DagBag import with and without the hook, no warning from the DAG, same command lines ($(grep -o 'airflow [0-9.]*' "$work/dagbag.log")) in $((SECONDS - t)) s"

# Logical dates of the runs at 2024-06-21 and 06-22 02:00 UTC+8 (`dags test` makes a manual
# run, whose data interval ends at its logical date on Airflow 3 and 2.10 alike).
latest_manifest() { s3 json "reckon/output/runs/$(s3 get reckon/output/LATEST)/_manifest.json" "$1"; }

# 2. The first day.
t=$SECONDS
af run1 dags test reckon_sharded_k8s 2024-06-20T18:00:00+00:00 || fail "first run"
[ "$(latest_manifest as_of_date)" = 2024-06-21 ] || fail "published as of $(latest_manifest as_of_date)"
first=$(latest_manifest run_id)
[ -n "$first" ] && [ "$first" != None ] || fail "the published run carries no run id"
[ "$(latest_manifest shard)" = 0/1 ] || fail "the published run is not merged"
for k in 0 1; do
    shard_latest=$(s3 get "reckon/shards/$k/LATEST") || fail "reading shard $k's LATEST"
    [ -z "$shard_latest" ] || fail "shard $k was published"
    [ "$(s3 json "reckon/shards/$k/staged/$first/output/_manifest.json" shard)" = "$k/2" ] ||
        fail "shard $k was not staged as $first"
done
[ "$(s3 json "reckon/output/staged/$first/audit-1/audit.json" passed)" = True ] || fail "the first audit"
first_secs=$((SECONDS - t))
"$bin" --quiet run --as-of 2024-06-21 --input s3://billing/reckon/input --output s3://billing/single ||
    fail "the unsharded run"
single() { s3 json "single/runs/$(s3 get single/LATEST)/_manifest.json" "$1"; }
for field in totals usage; do
    [ "$(latest_manifest "$field")" = "$(single "$field")" ] || fail "$field differ from the unsharded run's"
done
rows() { "$s3py" -c 'import json,sys; print({t: w["rows"] for t, w in json.loads(sys.argv[1]).items()})' "$1"; }
[ "$(rows "$(latest_manifest outputs)")" = "$(rows "$(single outputs)")" ] || fail "rows per table differ"
echo "ok: run 1 ($first, ${first_secs} s): 2 shards staged, merged, audited, published as of 2024-06-21;"
echo "    LATEST = $(s3 get reckon/output/LATEST); totals $(latest_manifest totals)"
echo "    equal to one unsharded run's, as are the usage accounting and rows per table"

# 3. The next day, audited against the first day's published output.
t=$SECONDS
af run2 dags test reckon_sharded_k8s 2024-06-21T18:00:00+00:00 || fail "second run"
[ "$(latest_manifest as_of_date)" = 2024-06-22 ] || fail "second run published as of $(latest_manifest as_of_date)"
second=$(latest_manifest run_id)
[ "$(s3 json "reckon/output/staged/$second/audit-1/audit.json" base.run_id)" = "$first" ] ||
    fail "the second run was not audited against the first"
echo "ok: run 2 ($second, $((SECONDS - t)) s) audited against run 1's output, published as of 2024-06-22"

# 4. A planted restatement (a price of closed months raised in the bucket's catalog) fails the
# audit and nothing is published; approved by the param, the same day publishes.
t=$SECONDS
sed '0,/unit_price = "0.80"/s//unit_price = "0.90"/' "$root/sample_data/catalog.toml" >"$work/catalog.toml"
cmp -s "$work/catalog.toml" "$root/sample_data/catalog.toml" && fail "no price to raise in the catalog"
mkdir -p "$work/planted" && cp "$work/catalog.toml" "$work/planted/"
s3 put-tree "$work/planted" reckon/input
published=$(s3 get reckon/output/LATEST)
af run3 dags test reckon_sharded_k8s 2024-06-22T18:00:00+00:00 || true # its state: the checks below
[ "$(s3 get reckon/output/LATEST)" = "$published" ] || fail "the restatement was published"
# The run's audit (the only audit-1 of a run id other than runs 1 and 2) found the restatement.
verdicts=$(s3 keys reckon/output/staged/ | grep '/audit-1/audit.json$' | grep -v -e "/$first/" -e "/$second/") ||
    fail "run 3 wrote no audit"
[ "$(echo "$verdicts" | wc -l)" = 1 ] || fail "run 3 wrote more than one first audit: $verdicts"
[ "$(s3 json "$verdicts" passed)" = False ] || fail "run 3's audit passed"
[ "$(s3 json "$verdicts" failures.0.check)" = restatement ] || fail "run 3's audit did not find the restatement"
echo "ok: restatement: the audit failed, LATEST stays $published ($((SECONDS - t)) s)"
t=$SECONDS
af run3-approved dags test reckon_sharded_k8s 2024-06-22T18:00:00+00:00 -c '{"allow_restatement": true}' ||
    fail "the approved run"
[ "$(latest_manifest as_of_date)" = 2024-06-23 ] || fail "the approved run published as of $(latest_manifest as_of_date)"
approved=$(latest_manifest run_id)
# Its own audit: the newest of its run id's (a run id `dags test` reuses keeps the earlier ones).
own=$(s3 keys "reckon/output/staged/$approved/" | sed -n 's|.*/audit-\([0-9]*\)/audit.json$|\1 &|p' |
    sort -n | tail -1 | cut -d' ' -f2)
[ -n "$own" ] || fail "the approved run has no audit"
[ "$(s3 json "$own" failures.0.check)" = restatement ] ||
    fail "the approved run's audit ($own) did not find the restatement"
echo "ok: approved with allow_restatement: published as of 2024-06-23 ($((SECONDS - t)) s)"
echo "ok: test-airflow-k8s in $((SECONDS - started)) s"
