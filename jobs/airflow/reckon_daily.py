"""reckon on one worker, daily: wait for the inputs, run, audit against the previous run.

Schedule: 02:00 Asia/Shanghai; `{{ ds }}` is the as-of date (the run uses nothing at or after
its midnight, UTC+8). Tasks:

1. `wait_for_inputs` — a sensor: the usage partition of the day before the as-of date exists
   (`usage/date=YYYY-MM-DD/` with at least one Parquet file) and the catalog is readable.
2. `reckon_run` — `reckon run --as-of {{ ds }}`. The output is published atomically (staging
   tree + rename swap), so a retry after a failure or a killed worker starts clean, and a
   concurrent run on the same output is refused (exit 2) rather than interleaved.
3. `reckon_diff` — `reckon diff --closed-only PREVIOUS OUTPUT`: PREVIOUS is the output that this
   run's publish replaced (`<parent>/.<name>.reckon/previous`). Exit 0: no month that was
   closed in the previous output changed. Exit 1: a restatement of a closed month (late usage,
   a package or catalog change, …) — the task fails unless the run was triggered with
   `{"allow_restatement": true}` in its conf (after a person has checked the diff table).
   Exit 2/3: bad input / internal error — fails.

Settings (Airflow Variables): reckon_bin, reckon_input, reckon_output, reckon_catalog.
"""

from __future__ import annotations

import os

import pendulum
from airflow import DAG
from airflow.exceptions import AirflowFailException
from airflow.models import Variable
from airflow.operators.bash import BashOperator
from airflow.operators.python import PythonOperator
from airflow.sensors.python import PythonSensor

RECKON = Variable.get("reckon_bin", default_var="/srv/reckon/reckon")
INPUT = Variable.get("reckon_input", default_var="/data/billing/input")
OUTPUT = Variable.get("reckon_output", default_var="/data/billing/out")
CATALOG = Variable.get("reckon_catalog", default_var="/data/billing/catalog.toml")
PREVIOUS = os.path.join(os.path.dirname(OUTPUT), "." + os.path.basename(OUTPUT) + ".reckon", "previous")
DIFF_ROOT = os.path.join(os.path.dirname(OUTPUT), "diff")


def inputs_ready(ds: str, **_) -> bool:
    """The usage partition of the last day before the as-of date is complete enough to run."""
    day = pendulum.parse(ds).subtract(days=1).to_date_string()
    part = os.path.join(INPUT, "usage", f"date={day}")
    has_usage = os.path.isdir(part) and any(f.endswith(".parquet") for f in os.listdir(part))
    return has_usage and os.path.isfile(CATALOG)


def audit(ds: str, dag_run=None, **_) -> None:
    """Runs the diff against the previous output; fails on an unexpected restatement."""
    import subprocess

    if not os.path.isdir(PREVIOUS):
        print(f"no previous output at {PREVIOUS}: first run, nothing to compare")
        return
    out = os.path.join(DIFF_ROOT, ds)
    cmd = [RECKON, "--quiet", "diff", "--closed-only", PREVIOUS, OUTPUT, "--output", out]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    print(proc.stdout)
    print(proc.stderr)
    allowed = bool((dag_run.conf or {}).get("allow_restatement")) if dag_run else False
    if proc.returncode == 0:
        return
    if proc.returncode == 1:
        if allowed:
            print("restatement of a closed month accepted (allow_restatement)")
            return
        raise AirflowFailException(
            f"restatement of a closed month: see {out}/summary.txt and {out}/diff/; "
            'rerun with conf {"allow_restatement": true} once accepted'
        )
    raise AirflowFailException(f"reckon diff failed with exit code {proc.returncode}")


with DAG(
    dag_id="reckon_daily",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2024, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=10)},
    tags=["billing", "reckon"],
) as dag:
    wait_for_inputs = PythonSensor(
        task_id="wait_for_inputs",
        python_callable=inputs_ready,
        op_kwargs={"ds": "{{ ds }}"},
        mode="reschedule",
        poke_interval=300,
        timeout=6 * 3600,
    )
    reckon_run = BashOperator(
        task_id="reckon_run",
        bash_command=(
            f"{RECKON} run --as-of {{{{ ds }}}} --input {INPUT} --catalog {CATALOG} "
            f"--output {OUTPUT}"
        ),
    )
    reckon_diff = PythonOperator(
        task_id="reckon_diff",
        python_callable=audit,
        op_kwargs={"ds": "{{ ds }}"},
        retries=0,
    )
    wait_for_inputs >> reckon_run >> reckon_diff
