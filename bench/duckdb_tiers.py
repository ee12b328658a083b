"""Comparison point (b) of bench/run.sh: DuckDB prices API gateway calls with graduated tiers.

Same rule as reckon's `rules::tiering`: per account and UTC+8 month, in the order
(usage_start, usage_id), the month-to-date sum before each row comes from a window SUM; each
tier (lo, hi] takes max(min(after, hi) - max(before, lo), 0); a zero hour is one zero part in
the current tier. Amount = round(part x price per call, 8) (0.06 per 10,000 = 0.000006). Writes one bill line per part (the
same columns as reckon's bill_lines) to a Parquet file, sorted.

usage: duckdb_tiers.py USAGE_DIR OUT_FILE THREADS
"""

import json
import sys
import time

import duckdb

usage_dir, out_file, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
con.execute("SET preserve_insertion_order = false")
query = f"""
COPY (
  WITH calls AS (
    SELECT *, quantity AS q,
           strftime(make_timestamp(epoch_us(usage_start) + 28800000000), '%Y-%m') AS month
    FROM read_parquet('{usage_dir}/**/*.parquet')
    WHERE product = 'apigw' AND billing_item = 'calls'
  ),
  cum AS (
    SELECT *, SUM(q) OVER (PARTITION BY owner_uin, month ORDER BY usage_start, usage_id
                           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS after
    FROM calls
  ),
  tiers(tier, lo, hi, price, per_call) AS (
    VALUES (1, 0::DECIMAL(38,9), 10000000::DECIMAL(38,9), 0.06::DECIMAL(10,2),
            0.000006::DECIMAL(18,9)),
           (2, 10000000::DECIMAL(38,9), 100000000::DECIMAL(38,9), 0.04::DECIMAL(10,2),
            0.000004::DECIMAL(18,9)),
           (3, 100000000::DECIMAL(38,9), NULL, 0.03::DECIMAL(10,2), 0.000003::DECIMAL(18,9))
  ),
  parts AS (
    SELECT c.*, t.tier, t.lo, t.hi, t.price, t.per_call, c.after - c.q AS before,
           GREATEST(LEAST(c.after, COALESCE(t.hi, c.after)) - GREATEST(c.after - c.q, t.lo),
                    0::DECIMAL(38,9)) AS part
    FROM cum c CROSS JOIN tiers t
  )
  SELECT 'u:' || usage_id || ':' || tier AS line_id, owner_uin, region, product, sub_product,
         instance_id, billing_item, 'usage' AS charge_kind, usage_start AS charge_start,
         usage_end AS charge_end, usage_id,
         CASE WHEN tier = min(tier) OVER (PARTITION BY usage_id) THEN quantity ELSE 0 END
           AS metered_quantity,
         0::DECIMAL(38,9) AS deducted_quantity, part AS billable_quantity, unit, tier,
         price AS unit_price, '10000 call' AS price_unit,
         ROUND(part * per_call, 8) AS amount, usage_end AS charged_at
  FROM parts
  WHERE part > 0 OR (q = 0 AND before >= lo AND (hi IS NULL OR before < hi))
  ORDER BY owner_uin, charge_start, usage_id, tier
) TO '{out_file}' (FORMAT parquet, COMPRESSION zstd)
"""
t = time.time()
rows = con.execute(query).fetchone()[0]
print(json.dumps({"stage": "duckdb", "rows_out": rows, "total_ms": int((time.time() - t) * 1000)}))
