"""Comparison points of bench/run.sh's step (f): issued bill lines against a run's bill_lines.

`prepare` writes the issued table as a platform would issue it (the run's lines, renamed to the
columns of docs/contract.md's `issued/`), with a few lines changed so that some keys mismatch.

`join` is DuckDB doing what `reckon reconcile` does, minus unit conversion and causes: both
sides summed per key (owner_uin, charge_kind, product, sub_product, billing_item, region,
instance_id, charge_start) inside the window, a FULL OUTER JOIN, the contract's status of each
key, the ids of each side, written Hive-partitioned by the UTC+8 month of charge_start, and the
per month, account and product summary. Prints the status counts as JSON.

usage: duckdb_reconcile.py prepare RUN_OUTPUT ISSUED_DIR
       duckdb_reconcile.py join ISSUED_DIR RUN_OUTPUT OUT_DIR THREADS
"""

import json
import os
import sys
import time

import duckdb

KEY = "owner_uin, charge_kind, product, sub_product, billing_item, region, instance_id, charge_start"


def prepare(run_output, issued_dir):
    os.makedirs(issued_dir, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"""
COPY (
  SELECT 'iss:' || line_id AS issued_line_id, owner_uin, charge_kind, product, sub_product,
         billing_item, region, instance_id, charge_start, charge_end,
         billable_quantity AS quantity, unit,
         CASE WHEN hash(line_id) % 997 = 0 THEN amount + 1 ELSE amount END AS amount
  FROM read_parquet('{run_output}/bill_lines/**/*.parquet')
  WHERE hash(line_id) % 1009 <> 0
) TO '{issued_dir}' (FORMAT parquet, PER_THREAD_OUTPUT true)
""")


def join(issued_dir, run_output, out_dir, threads):
    manifest = json.load(open(os.path.join(run_output, "_manifest.json")))
    start, end = manifest["window_start"], manifest["window_end"]
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET preserve_insertion_order = false")
    t0 = time.time()
    window = f"charge_start >= '{start}'::TIMESTAMPTZ AND charge_start < '{end}'::TIMESTAMPTZ"
    con.execute(f"""
CREATE TEMP TABLE rec AS
WITH i AS (
  SELECT {KEY}, sum(quantity) AS iq, sum(amount) AS ia,
         string_agg(issued_line_id, ',' ORDER BY issued_line_id) AS issued_line_ids
  FROM read_parquet('{issued_dir}/**/*.parquet') WHERE {window} GROUP BY ALL
), r AS (
  SELECT {KEY}, sum(billable_quantity) AS rq, sum(amount) AS ra, min(unit) AS unit,
         string_agg(line_id, ',' ORDER BY line_id) AS recomputed_line_ids
  FROM read_parquet('{run_output}/bill_lines/**/*.parquet') WHERE {window} GROUP BY ALL
)
SELECT {KEY}, unit, iq AS issued_quantity, rq AS recomputed_quantity,
       coalesce(ia, 0) AS issued_amount, coalesce(ra, 0) AS recomputed_amount,
       coalesce(ia, 0) - coalesce(ra, 0) AS delta,
       CASE WHEN issued_line_ids IS NULL THEN
              CASE WHEN ra = 0 THEN 'match' ELSE 'missing_in_issued' END
            WHEN recomputed_line_ids IS NULL THEN 'missing_in_recomputed'
            WHEN iq <> rq THEN 'quantity_mismatch'
            WHEN ia = ra THEN 'match'
            WHEN abs(ia - ra) <= 0.01 THEN 'within_tolerance'
            ELSE 'amount_mismatch' END AS status,
       issued_line_ids, recomputed_line_ids,
       strftime(charge_start AT TIME ZONE 'Asia/Shanghai', '%Y-%m') AS month
FROM i FULL OUTER JOIN r USING ({KEY})
""")
    con.execute(f"""
COPY (SELECT * FROM rec ORDER BY {KEY})
TO '{out_dir}/reconciliation' (FORMAT parquet, PARTITION_BY (month))
""")
    con.execute(f"""
COPY (
  SELECT month, owner_uin, product, sum(issued_amount) AS issued_total,
         sum(recomputed_amount) AS recomputed_total, sum(delta) AS delta,
         sum(CASE WHEN delta > 0.01 THEN delta ELSE 0 END) AS overcharged,
         sum(CASE WHEN delta < -0.01 THEN -delta ELSE 0 END) AS undercharged,
         count(*) AS keys,
         count(*) FILTER (WHERE status NOT IN ('match', 'within_tolerance')) AS keys_mismatched
  FROM rec GROUP BY ALL ORDER BY ALL
) TO '{out_dir}/reconciliation_summary.parquet' (FORMAT parquet)
""")
    counts = dict(con.execute("SELECT status, count(*) FROM rec GROUP BY 1").fetchall())
    print(json.dumps({"statuses": counts, "ms": round((time.time() - t0) * 1000)}))


if __name__ == "__main__":
    if sys.argv[1] == "prepare":
        prepare(sys.argv[2], sys.argv[3])
    else:
        os.makedirs(sys.argv[4], exist_ok=True)
        join(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
