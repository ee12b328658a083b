"""reckon on Kubernetes, sharded: one pod per shard (Airflow dynamic task mapping), then a merge.

Daily at 02:00 (UTC+8) for the previous day's data: `{{ ds }}` is the as-of date. Each shard
pod runs `reckon run --shard K/N` over the same inputs; the merge pod runs `reckon merge` and
publishes one output. Inputs and outputs live in object storage and reckon reads and writes
them itself (`s3://` URLs, credentials from the pod's environment or service account): each
shard publishes its output under `<run>/shards/K` (a run prefix and a `LATEST` pointer), the
merge reads the run each `LATEST` names, so a retried shard never leaves files of its earlier
attempt visible to the merge.

Settings (Airflow Variables): reckon_image, reckon_bucket, reckon_shards (default 8),
reckon_s3_endpoint (optional, for MinIO/Ceph), reckon_namespace.
"""

from __future__ import annotations

import pendulum
from airflow import DAG
from airflow.models import Variable
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

SHARDS = int(Variable.get("reckon_shards", default_var="8"))
BUCKET = Variable.get("reckon_bucket", default_var="s3://billing")
IMAGE = Variable.get("reckon_image", default_var="registry.example.com/reckon:latest")
NAMESPACE = Variable.get("reckon_namespace", default_var="billing")
ENDPOINT = Variable.get("reckon_s3_endpoint", default_var="")

INPUT = f"{BUCKET}/reckon/input"
RUN = f"{BUCKET}/reckon/runs/{{{{ ds }}}}"
OUTPUT = f"{BUCKET}/reckon/output"


def shard_script(k: int) -> str:
    """Shell for shard k: run the shard from and to the bucket."""
    return (
        "set -euo pipefail; "
        f"reckon run --as-of {{{{ ds }}}} --input {INPUT} --shard {k}/{SHARDS} "
        f"--output {RUN}/shards/{k}"
    )


MERGE_SCRIPT = (
    "set -euo pipefail; "
    + f"reckon merge --output {OUTPUT} "
    + " ".join(f"{RUN}/shards/{k}" for k in range(SHARDS))
)

with DAG(
    dag_id="reckon_sharded_k8s",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=10)},
    tags=["billing", "reckon"],
) as dag:
    pod = dict(
        namespace=NAMESPACE,
        image=IMAGE,
        cmds=["bash", "-c"],
        # An S3-compatible server (MinIO, Ceph): reckon's object_store client reads these.
        env_vars={"AWS_ENDPOINT_URL": ENDPOINT} if ENDPOINT else {},
        get_logs=True,
        on_finish_action="delete_pod",
        container_resources={"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"memory": "12Gi"}},
    )
    shards = KubernetesPodOperator.partial(task_id="reckon_shard", **pod).expand(
        arguments=[[shard_script(k)] for k in range(SHARDS)]
    )
    merge = KubernetesPodOperator(task_id="reckon_merge", arguments=[MERGE_SCRIPT], **pod)
    shards >> merge
