"""reckon on Kubernetes, sharded: one pod per shard (Airflow dynamic task mapping), then a merge.

Daily at 02:00 (UTC+8) for the previous day's data: `{{ ds }}` is the as-of date. Each shard
pod runs `reckon run --shard K/N` over the same inputs; the merge pod runs `reckon merge` and
publishes one output. Inputs and outputs live in object storage (S3-compatible); each pod
syncs them to and from its local volume with the AWS CLI, because reckon publishes by atomic
rename on a local file system (object stores have no atomic rename).

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
S3 = f"aws s3 {'--endpoint-url ' + ENDPOINT if ENDPOINT else ''}".strip()

INPUT = f"{BUCKET}/reckon/input"
RUN = f"{BUCKET}/reckon/runs/{{{{ ds }}}}"


def shard_script(k: int) -> str:
    """Shell for shard k: fetch inputs, run the shard, upload its output."""
    return (
        "set -euo pipefail; "
        f"{S3} sync --only-show-errors {INPUT} /data/in; "
        f"reckon run --as-of {{{{ ds }}}} --input /data/in --shard {k}/{SHARDS} "
        "--output /data/out; "
        f"{S3} sync --only-show-errors /data/out {RUN}/shards/{k}"
    )


MERGE_SCRIPT = (
    "set -euo pipefail; "
    + " ".join(
        f"{S3} sync --only-show-errors {RUN}/shards/{k} /data/shards/{k};" for k in range(SHARDS)
    )
    + " reckon merge --output /data/out "
    + " ".join(f"/data/shards/{k}" for k in range(SHARDS))
    # _manifest.json last: its presence in the bucket means the merged output is complete.
    + f"; {S3} sync --only-show-errors --exclude _manifest.json /data/out {RUN}/output"
    + f"; {S3} cp /data/out/_manifest.json {RUN}/output/_manifest.json"
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
        get_logs=True,
        on_finish_action="delete_pod",
        container_resources={"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"memory": "12Gi"}},
    )
    shards = KubernetesPodOperator.partial(task_id="reckon_shard", **pod).expand(
        arguments=[[shard_script(k)] for k in range(SHARDS)]
    )
    merge = KubernetesPodOperator(task_id="reckon_merge", arguments=[MERGE_SCRIPT], **pod)
    shards >> merge
