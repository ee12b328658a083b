"""reckon on Kubernetes, sharded: one pod per shard, a merge pod, an audit pod, a publish pod.

Schedule: 02:00 Asia/Shanghai. The as-of date is the one of the daily DAG (reckon_daily.py): the
END of the run's data interval in Asia/Shanghai (for a manual run on Airflow 3, which has none:
the moment it was asked for), so the run at 2024-06-21 02:00 bills through 2024-06-20 on Airflow
3 and on 2.10. `{{ ds }}` is neither.

Everything goes through object storage, and reckon reads and writes it itself (`s3://` URLs,
credentials from the pod's environment or service account; `reckon_s3_endpoint` for MinIO, Ceph
or another S3-compatible server). Write-audit-publish, keyed by the Airflow run id, each task
safe to retry or to clear and rerun:

1. `plan_shards` — the shard pods' command lines for `reckon_shards` shards (a Variable read
   when the task runs), handed to the mapped task below.
2. `reckon_shard` (mapped, one pod per shard) — `reckon run --stage <run id> --shard K/N
   --output <bucket>/reckon/shards/K`: the shard is staged below
   `…/shards/K/staged/<run id>/output/`, never published; a retry replaces it.
3. `reckon_merge` — `reckon merge --stage <run id> --output <bucket>/reckon/output` over the
   shard URLs: reads each shard's run staged as this run id and stages the merged output below
   `<output>/staged/<run id>/output/`, recording the run `LATEST` named (the base).
4. `reckon_audit` — `reckon audit --run-id <run id>`: conservation and, compared with the output
   published before this run (never with this run's own, however often a task is rerun), no
   restated closed month; each attempt uploads a new `staged/<run id>/audit-N/`. A failed
   audit fails the task (no retries: a retry would only repeat the verdict), unless the param
   `allow_restatement` is set: trigger the DAG with `{"allow_restatement": true}` (a person's
   approval after reading the summary) and a restatement alone no longer blocks.
5. `reckon_publish` — `reckon publish --run-id <run id>` (with `--allow-restatement` when the
   param is set): copies the staged run to a `runs/` prefix and moves `LATEST`, refused unless
   the latest audit covers this staged output and the current published one; a retry after a
   publish does nothing. Its outlet, the Asset `reckon_sharded_output`, triggers the DAGs that
   consume the output.

Settings (Airflow Variables, read by templates when a task runs, never when the file is
parsed): reckon_image, reckon_bucket, reckon_shards (default 8), reckon_s3_endpoint,
reckon_namespace. Shard prefixes are never published: expire `<bucket>/reckon/shards/` with a
lifecycle rule of the bucket (a few days).

Test hook: with the environment variable RECKON_K8S_LOCAL_PODS=1 when the file is parsed, each
pod task is a `LocalPod` that runs the pod's command line (the same `cmds` and `arguments`,
rendered from the same templates) as a local process instead of a pod
(jobs/test-airflow-k8s.sh, where there is no cluster).
"""

from __future__ import annotations

import os
import subprocess

import pendulum
from airflow.exceptions import AirflowException

try:  # Airflow 3
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG, Asset, BaseOperator, Param
except ImportError:  # Airflow 2.10
    from airflow import DAG
    from airflow.datasets import Dataset as Asset
    from airflow.models.baseoperator import BaseOperator
    from airflow.models.param import Param
    from airflow.operators.python import PythonOperator

TZ = "Asia/Shanghai"
DEFAULTS = {
    "reckon_image": "registry.example.com/reckon:latest",
    "reckon_bucket": "s3://billing",
    "reckon_shards": "8",
    "reckon_s3_endpoint": "",
    "reckon_namespace": "billing",
}
# The published output, for the DAGs it triggers.
OUTPUT_ASSET = Asset("reckon_sharded_output")
# The as-of date: the data interval's end in UTC+8, or the moment a manual run was asked for
# (the expression of reckon_daily.py).
AS_OF = (
    "{{ (data_interval_end or dag_run.run_after).in_timezone('"
    + TZ
    + "').strftime('%Y-%m-%d') }}"
)
# Test hook (module doc): pod tasks run their command line locally.
LOCAL_PODS = os.environ.get("RECKON_K8S_LOCAL_PODS") == "1"


def var(name: str) -> str:
    """The Jinja expression of an Airflow Variable, for templated fields: read at run time."""
    return "{{ var.value.get('" + name + "', '" + DEFAULTS[name] + "') }}"


INPUT = var("reckon_bucket") + "/reckon/input"
SHARDS = var("reckon_bucket") + "/reckon/shards"
OUTPUT = var("reckon_bucket") + "/reckon/output"


def prelude(endpoint: str) -> str:
    """Every pod script starts here: strict shell, and the S3-compatible endpoint when one is
    set (plain http allowed only for an http:// endpoint)."""
    return (
        f"set -euo pipefail; endpoint='{endpoint}'; "
        'if [ -n "$endpoint" ]; then export AWS_ENDPOINT_URL="$endpoint"; fi; '
        'case "$endpoint" in http://*) export AWS_ALLOW_HTTP=true ;; esac; '
    )


PRELUDE = prelude(var("reckon_s3_endpoint"))


def shard_scripts(shards, as_of, run_id, input_url, shard_root, endpoint):
    """The `arguments` of each shard pod (one script each), from the rendered settings: the
    values of an upstream task are not templates, so the script is built from rendered ones."""
    n = int(shards)
    if n < 1:
        raise AirflowException(f"reckon_shards = {shards}: at least 1")
    return [
        [
            f"{prelude(endpoint)}reckon --quiet run --stage '{run_id}' --as-of {as_of} "
            f"--input '{input_url}' --shard {k}/{n} --output '{shard_root}/{k}'"
        ]
        for k in range(n)
    ]


MERGE_SCRIPT = (
    PRELUDE
    + "reckon --quiet merge --stage '{{ run_id }}' --output '"
    + OUTPUT
    + "'{% for k in range(var.value.get('reckon_shards', '"
    + DEFAULTS["reckon_shards"]
    + "') | int) %} '"
    + SHARDS
    + "/{{ k }}'{% endfor %}"
)
# Exit 1 is a failed check; approved by the param, a failed audit lets the publish decide
# (reckon's gate publishes restatements alone, nothing else).
AUDIT_SCRIPT = (
    PRELUDE
    + "rc=0; reckon --quiet audit --output '"
    + OUTPUT
    + "' --run-id '{{ run_id }}' || rc=$?; "
    + "{% if params.allow_restatement %}"
    + 'if [ "$rc" -eq 1 ]; then echo "audit failed; publishing is approved by the param '
    + 'allow_restatement"; rc=0; fi; '
    + "{% else %}"
    + 'if [ "$rc" -eq 1 ]; then echo "the audit failed (a restated closed month, or a threshold): '
    + "nothing published; read the summary.txt of the report named above; to publish "
    + "restatements after review, trigger the DAG with {\\\"allow_restatement\\\": true}\"; fi; "
    + "{% endif %}"
    + 'exit "$rc"'
)
PUBLISH_SCRIPT = (
    PRELUDE
    + "reckon --quiet publish --output '"
    + OUTPUT
    + "' --run-id '{{ run_id }}'"
    + "{% if params.allow_restatement %} --allow-restatement{% endif %}"
)


class LocalPod(BaseOperator):
    """The test hook's stand-in for a pod: runs `cmds + arguments` (rendered like the pod
    operator's) as a local process with `env_vars` added to the worker's environment."""

    template_fields = ("image", "namespace", "cmds", "arguments", "env_vars")

    def __init__(self, *, image, namespace, cmds, arguments=None, env_vars=None, **kwargs):
        super().__init__(**kwargs)
        self.image, self.namespace, self.cmds = image, namespace, cmds
        self.arguments, self.env_vars = arguments or [], env_vars or {}

    def execute(self, context):
        env = {**os.environ, **self.env_vars}
        print(f"pod (local): image {self.image}, namespace {self.namespace}: {self.arguments}")
        proc = subprocess.run([*self.cmds, *self.arguments], env=env)
        if proc.returncode != 0:
            raise AirflowException(f"the pod's command exited with {proc.returncode}")


def pod_operator():
    """The operator class of every pod task and its shared arguments: the Kubernetes pod
    operator, or `LocalPod` under the test hook (the same command line either way)."""
    common = dict(
        image=var("reckon_image"),
        namespace=var("reckon_namespace"),
        cmds=["bash", "-c"],
        env_vars={"RUST_BACKTRACE": "1"},
    )
    if LOCAL_PODS:
        return LocalPod, common
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

    return KubernetesPodOperator, dict(
        common,
        get_logs=True,
        on_finish_action="delete_pod",
        container_resources={
            "requests": {"cpu": "2", "memory": "8Gi"},
            "limits": {"memory": "12Gi"},
        },
    )


Pod, POD = pod_operator()

with DAG(
    dag_id="reckon_sharded_k8s",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz=TZ),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=10)},
    params={
        "allow_restatement": Param(
            False,
            type="boolean",
            description="Publish although the audit found restated closed months "
            "(after a person has read its summary).",
        )
    },
    tags=["billing", "reckon", "kubernetes"],
) as dag:
    plan_shards = PythonOperator(
        task_id="plan_shards",
        python_callable=shard_scripts,
        op_kwargs={
            "shards": var("reckon_shards"),
            "as_of": AS_OF,
            "run_id": "{{ run_id }}",
            "input_url": INPUT,
            "shard_root": SHARDS,
            "endpoint": var("reckon_s3_endpoint"),
        },
    )
    reckon_shard = Pod.partial(task_id="reckon_shard", **POD).expand(
        arguments=plan_shards.output
    )
    reckon_merge = Pod(task_id="reckon_merge", arguments=[MERGE_SCRIPT], **POD)
    reckon_audit = Pod(task_id="reckon_audit", arguments=[AUDIT_SCRIPT], retries=0, **POD)
    reckon_publish = Pod(
        task_id="reckon_publish",
        arguments=[PUBLISH_SCRIPT],
        outlets=[OUTPUT_ASSET],
        **POD,
    )
    reckon_shard >> reckon_merge >> reckon_audit >> reckon_publish
