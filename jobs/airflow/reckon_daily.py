"""reckon on one worker, daily: wait for the last landed day, stage, audit, publish.

Schedule: 02:00 Asia/Shanghai. The as-of date is the END of the run's data interval in
Asia/Shanghai (for a manual run on Airflow 3, which has none: the moment it was asked for), so
the run at 2024-06-21 02:00 bills through 2024-06-20, the last day that has landed, on Airflow 3
(whose cron runs are points in time) and on Airflow 2.10 (whose run at that moment has the
logical date 2024-06-20 and the interval ending at 2024-06-21). `{{ ds }}` is neither.

Tasks, each safe to retry or to clear and rerun (write-audit-publish, keyed by the run id):

1. `wait_for_inputs` — a sensor (reschedule mode: no worker slot held while waiting): the usage
   partition of the last day before the as-of date has landed (`usage/date=YYYY-MM-DD/` with a
   Parquet file whose name does not start with `_` or `.`) and the catalog is readable.
2. `reckon_stage` — `reckon run --stage <run id>`: the output is written beside the published
   one (`.<name>.reckon/runs/<run id>/output/`); a retry replaces it.
3. `reckon_audit` — `reckon audit --run-id <run id>`: conservation and, compared with the output
   published before this run (never with this run's own, however often the task is rerun), no
   restated closed month. Each attempt writes a new `runs/<run id>/audit-N/` (diff table,
   `summary.txt`). A failed audit fails the task without retries, unless the param
   `allow_restatement` is set: trigger the DAG with `{"allow_restatement": true}` (a person's
   approval after reading the summary) and a restatement alone no longer blocks.
4. `reckon_publish` — `reckon publish --run-id <run id>` (with `--allow-restatement` when the
   param is set): an atomic swap, refused unless the latest audit covers this staged output
   and the current published one; a retry after a publish does nothing. Its outlet, the Asset
   `reckon_billing_output`, triggers the DAGs that consume the output.
5. `reckon_reconcile` — `reckon reconcile <issued> <output>`: the bill lines the billing
   platform issued (the Variable `reckon_issued`, a directory of Parquet files laid out as the
   input tables are, e.g. `issued/date=YYYY-MM-DD/`) against the output just published,
   written to `<output>.reconciliation/<as-of>/` (`summary.txt`, the `reconciliation` and
   `reconciliation_summary` tables; a rerun of the day replaces it atomically). Skipped when
   `reckon_issued` is unset or empty. Mismatches (exit 1) fail the task without retries, and
   so the run, for a person to read the summary; the publish stays: the output is correct and
   the mismatch is the platform's to fix.

Settings (Airflow Variables, read by templates when a task runs, never when the file is
parsed): reckon_bin, reckon_input, reckon_output, reckon_catalog, reckon_issued (optional).
Imports: Airflow 3's task SDK and standard provider, or Airflow 2.10's modules.
"""

from __future__ import annotations

import json
import os
import subprocess

import pendulum
from airflow.exceptions import AirflowException, AirflowFailException, AirflowSkipException

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.providers.standard.sensors.python import PythonSensor
    from airflow.sdk import DAG, Asset, Param
except ImportError:  # Airflow 2.10
    from airflow import DAG
    from airflow.datasets import Dataset as Asset
    from airflow.models.param import Param
    from airflow.operators.bash import BashOperator
    from airflow.operators.python import PythonOperator
    from airflow.sensors.python import PythonSensor

TZ = "Asia/Shanghai"
DEFAULTS = {
    "reckon_bin": "/srv/reckon/reckon",
    "reckon_input": "/data/billing/input",
    "reckon_output": "/data/billing/out",
    "reckon_catalog": "/data/billing/catalog.toml",
    # Unset or empty: no issued export is configured and the reconciliation is skipped.
    "reckon_issued": "",
}
# The published output, for the DAGs it triggers.
OUTPUT_ASSET = Asset("reckon_billing_output")
# The as-of date: the data interval's end in UTC+8, or the moment a manual run was asked for.
AS_OF = (
    "{{ (data_interval_end or dag_run.run_after).in_timezone('"
    + TZ
    + "').strftime('%Y-%m-%d') }}"
)


def var(name: str) -> str:
    """The Jinja expression of an Airflow Variable, for templated fields: read at run time."""
    return "{{ var.value.get('" + name + "', '" + DEFAULTS[name] + "') }}"


def last_day(as_of: str) -> str:
    """The last day a run of `as_of` bills: the day before it."""
    return pendulum.parse(as_of).subtract(days=1).to_date_string()


def usage_landed(input_dir: str, catalog: str, as_of: str) -> bool:
    """The usage partition of the day before the as-of date holds a data file reckon reads."""
    part = os.path.join(input_dir, "usage", f"date={last_day(as_of)}")
    names = os.listdir(part) if os.path.isdir(part) else []
    data = [n for n in names if n.lower().endswith((".parquet", ".parq")) and n[0] not in "_."]
    print(f"as-of {as_of}: {part}: {len(data)} data files; catalog {catalog}")
    return bool(data) and os.path.isfile(catalog)


def audit(reckon: str, output: str, run_id: str, params=None, **_) -> None:
    """Audits the staged run; fails on a failed check unless restatements are approved."""
    cmd = [reckon, "--quiet", "audit", "--output", output, "--run-id", run_id]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    print(proc.stdout)
    print(proc.stderr)
    if proc.returncode == 0:
        return
    if proc.returncode == 1:
        if (params or {}).get("allow_restatement"):
            print("audit failed; publishing is approved by the param allow_restatement")
            return
        raise AirflowFailException(
            "the audit failed (a restated closed month, or a threshold): nothing published; "
            "read the summary.txt of the report named above; to publish restatements after "
            'review, trigger the DAG with {"allow_restatement": true}'
        )
    raise AirflowException(f"reckon audit failed with exit code {proc.returncode}")


def reconciliation_dir(output: str, as_of: str) -> str:
    """Where the reconciliation of a day goes: beside the output, one directory per as-of date
    (inside the output, the next publish would remove it)."""
    return f"{output.rstrip('/')}.reconciliation/{as_of}"


def reconcile(reckon: str, issued: str, output: str, as_of: str, **_) -> None:
    """Reconciles the issued bill lines with the published output; skipped without an issued
    export; fails without retries on mismatches (the publish stands: the output is right)."""
    if not issued.strip():
        raise AirflowSkipException("no issued export configured (Variable reckon_issued)")
    published = published_as_of(output)
    if published != as_of:
        # A cleared past run: the output holds another day's run, whose reconciliation would
        # be filed under this day.
        raise AirflowFailException(
            f"the published output is as of {published}, not {as_of}: nothing reconciled "
            f"(reconcile that day's run, or rerun the whole DAG run to publish this day again)"
        )
    target = reconciliation_dir(output, as_of)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    cmd = [reckon, "--quiet", "reconcile", issued.strip(), output, "--output", target]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    print(proc.stdout)
    print(proc.stderr)
    if proc.returncode == 0:
        print(f"reconciliation: every key matches; {target}/summary.txt")
        return
    if proc.returncode == 1:
        raise AirflowFailException(
            f"the reconciliation found mismatches between the issued bills and the published "
            f"output (published and correct; nothing is undone): read {target}/summary.txt"
        )
    if proc.returncode == 2:
        raise AirflowFailException(
            f"reckon reconcile refused its input (exit 2: the issued export {issued.strip()} or "
            "the output is invalid); a retry would fail the same way: fix the input, then clear"
        )
    raise AirflowException(f"reckon reconcile failed with exit code {proc.returncode}")


def published_as_of(output: str) -> str | None:
    """The as-of date of the output published at `output`, from its manifest."""
    try:
        with open(os.path.join(output, "_manifest.json"), encoding="utf-8") as f:
            return json.load(f).get("as_of_date")
    except FileNotFoundError:
        return None


with DAG(
    dag_id="reckon_daily",
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
    tags=["billing", "reckon"],
) as dag:
    wait_for_inputs = PythonSensor(
        task_id="wait_for_inputs",
        python_callable=usage_landed,
        op_kwargs={
            "input_dir": var("reckon_input"),
            "catalog": var("reckon_catalog"),
            "as_of": AS_OF,
        },
        mode="reschedule",
        poke_interval=300,
        timeout=6 * 3600,
    )
    reckon_stage = BashOperator(
        task_id="reckon_stage",
        bash_command=(
            f"'{var('reckon_bin')}' --quiet run --stage '{{{{ run_id }}}}' --as-of {AS_OF} "
            f"--input '{var('reckon_input')}' --catalog '{var('reckon_catalog')}' "
            f"--output '{var('reckon_output')}'"
        ),
    )
    reckon_audit = PythonOperator(
        task_id="reckon_audit",
        python_callable=audit,
        op_kwargs={
            "reckon": var("reckon_bin"),
            "output": var("reckon_output"),
            "run_id": "{{ run_id }}",
        },
    )
    reckon_publish = BashOperator(
        task_id="reckon_publish",
        bash_command=(
            f"'{var('reckon_bin')}' --quiet publish --output '{var('reckon_output')}' "
            "--run-id '{{ run_id }}'"
            "{% if params.allow_restatement %} --allow-restatement{% endif %}"
        ),
        outlets=[OUTPUT_ASSET],
    )
    reckon_reconcile = PythonOperator(
        task_id="reckon_reconcile",
        python_callable=reconcile,
        op_kwargs={
            "reckon": var("reckon_bin"),
            "issued": var("reckon_issued"),
            "output": var("reckon_output"),
            "as_of": AS_OF,
        },
    )
    wait_for_inputs >> reckon_stage >> reckon_audit >> reckon_publish >> reckon_reconcile
