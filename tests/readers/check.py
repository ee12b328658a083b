#!/usr/bin/env python3
"""Reader conformance: every output table of a reckon run, and its FOCUS export, opens in the
readers analysts use, with the manifest's row counts and exact types.

Usage: check.py [--spark] [--reconciliation REC] [OUT] [FOCUS_OUT] [README]
       (defaults: out, focus-out, none)

OUT is a `reckon run` output, FOCUS_OUT a `reckon export focus` output (FOCUS_OUT/focus/), REC a
`reckon reconcile` output (its `reconciliation` and `reconciliation_summary` tables, with the
row counts of its manifest). Each table is read with pyarrow (`pq.read_table(dir)` and `pyarrow.dataset` with Hive partitioning),
pandas, polars and DuckDB (both with Hive partitioning), and with --spark Apache Spark too
(`spark.read.parquet(dir)`, pyspark and a JRE: tests/readers/requirements-spark.txt). Every
reader must give the row count of the manifest, the partition key (`month`; the FOCUS export's
`x_month`) of a partitioned table as a column, decimals as
decimals (the columns the files store as Parquet decimals) and instants as UTC timestamps.
With README, the Python and SQL blocks of its "Reading the output" section run too, from the
current directory (they name `out/` and `focus-out/`). Any failure exits 1 naming the table,
the reader and what differed; nothing is skipped.
"""

import decimal
import glob
import json
import os
import re
import sys

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

FAILURES = []


def fail(table, reader, message):
    FAILURES.append(f"{table}: {reader}: {message}")


def file_types(files):
    """The decimal and timestamp columns, as the files store them (their Parquet schemas)."""
    decimals, instants = set(), set()
    for f in files:
        for field in pq.read_schema(f):
            if pa.types.is_decimal(field.type):
                decimals.add(field.name)
            elif pa.types.is_timestamp(field.type):
                instants.add(field.name)
    return decimals, instants


def check_arrow(table, reader, t, decimals, instants):
    for name in decimals:
        if not pa.types.is_decimal(t.schema.field(name).type):
            fail(table, reader, f"{name} is {t.schema.field(name).type}, not a decimal")
    for name in instants:
        typ = t.schema.field(name).type
        if not (pa.types.is_timestamp(typ) and typ.tz in ("UTC", "+00:00")):
            fail(table, reader, f"{name} is {typ}, not a UTC timestamp")
    return t.num_rows, set(t.column_names)


def check_pandas(table, df, decimals, instants):
    for name in decimals:
        values = df[name].dropna()
        dtype = df[name].dtype
        arrow_decimal = isinstance(dtype, pd.ArrowDtype) and pa.types.is_decimal(dtype.pyarrow_dtype)
        if not arrow_decimal and len(values) and not isinstance(values.iloc[0], decimal.Decimal):
            fail(table, "pandas", f"{name} is {dtype} ({type(values.iloc[0]).__name__}), not decimals")
    for name in instants:
        tz = getattr(df[name].dtype, "tz", None)
        if str(tz) != "UTC":
            fail(table, "pandas", f"{name} is {df[name].dtype}, not a UTC timestamp")
    return len(df), set(df.columns)


def check_polars(table, df, decimals, instants):
    for name in decimals:
        if not isinstance(df.schema[name], pl.Decimal):
            fail(table, "polars", f"{name} is {df.schema[name]}, not a decimal")
    for name in instants:
        dtype = df.schema[name]
        if not (isinstance(dtype, pl.Datetime) and dtype.time_zone == "UTC"):
            fail(table, "polars", f"{name} is {dtype}, not a UTC timestamp")
    return df.height, set(df.columns)


def check_spark(spark, table, directory, decimals, instants):
    """Spark's `spark.read.parquet(dir)`: decimals as DecimalType; instants as TimestampType
    (Spark's instants are UTC internally, shown in the session zone, set to UTC)."""
    from pyspark.sql import types as T

    df = spark.read.parquet(directory)
    fields = {f.name: f.dataType for f in df.schema.fields}
    for name in decimals:
        if not isinstance(fields[name], T.DecimalType):
            fail(table, "spark", f"{name} is {fields[name]}, not a decimal")
    for name in instants:
        if not isinstance(fields[name], T.TimestampType):
            fail(table, "spark", f"{name} is {fields[name]}, not a timestamp")
    SPARK_TYPES[table] = sorted({str(fields[n]) for n in decimals | instants})
    return df.count(), set(fields)


SPARK_TYPES = {}


def spark_session():
    from pyspark.sql import SparkSession

    return (SparkSession.builder.master("local[2]").appName("reckon-readers")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate())


def check_duckdb(table, pattern, hive, decimals, instants):
    source = f"read_parquet('{pattern}', hive_partitioning = {str(hive).lower()})"
    con = duckdb.connect()
    types = {row[0]: row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    for name in decimals:
        if not types[name].startswith("DECIMAL"):
            fail(table, "duckdb", f"{name} is {types[name]}, not a decimal")
    for name in instants:
        if types[name] != "TIMESTAMP WITH TIME ZONE":
            fail(table, "duckdb", f"{name} is {types[name]}, not a UTC timestamp")
    rows = con.execute(f"SELECT count(*) FROM {source}").fetchall()[0][0]
    return rows, set(types)


def partition_key(files):
    """The Hive key of a table's partitions (`month`, or the FOCUS export's `x_month`), if any."""
    for f in files:
        for part in f.split(os.sep):
            if part.endswith(tuple("0123456789")) and "=" in part:
                return part.split("=", 1)[0]
    return None


def check_table(table, directory, want_rows, spark=None):
    files = sorted(glob.glob(f"{directory}/**/*.parquet", recursive=True))
    key = partition_key(files)
    hive = key is not None
    pattern = f"{directory}/**/*.parquet" if hive else f"{directory}/*.parquet"
    decimals, instants = file_types(files)
    failed_before = len(FAILURES)
    readers = {
        "pyarrow pq.read_table": lambda: check_arrow(
            table, "pyarrow pq.read_table", pq.read_table(directory), decimals, instants),
        "pyarrow.dataset hive": lambda: check_arrow(
            table, "pyarrow.dataset hive",
            ds.dataset(directory, partitioning="hive").to_table(), decimals, instants),
        "pandas": lambda: check_pandas(table, pd.read_parquet(directory), decimals, instants),
        "polars": lambda: check_polars(
            table, pl.read_parquet(pattern, hive_partitioning=hive), decimals, instants),
        "duckdb": lambda: check_duckdb(table, pattern, hive, decimals, instants),
    }
    if spark is not None:
        readers["spark"] = lambda: check_spark(spark, table, directory, decimals, instants)
    for reader, read in readers.items():
        try:
            rows, columns = read()
        except Exception as e:  # any reader error is a failure, with its message
            fail(table, reader, f"{type(e).__name__}: {e}")
            continue
        if rows != want_rows:
            fail(table, reader, f"{rows} rows, the manifest says {want_rows}")
        if hive and key not in columns:
            fail(table, reader, f"no `{key}` column from the partition key")
        # A partitioned table's key is read from the path once; an unpartitioned table may hold
        # a `month` column of its own (reconciliation_summary).
        duplicated = [c for c in columns if hive and c.startswith(key) and c != key]
        if duplicated:
            fail(table, reader, f"partition key read twice: {duplicated}")
    status = "ok  " if len(FAILURES) == failed_before else "BAD "
    print(f"{status}{table}: {want_rows} rows, {len(decimals)} decimal and "
          f"{len(instants)} timestamp columns, {len(readers)} readers", flush=True)


def readme_blocks(readme):
    """The ```python and ```sql blocks of the README's "Reading the output" section."""
    text = open(readme, encoding="utf-8").read()
    section = re.search(r"^## Reading the output\n(.*?)(?=^## )", text, re.S | re.M).group(1)
    return re.findall(r"^```(python|sql)\n(.*?)^```", section, re.S | re.M)


def run_readme(readme):
    blocks = readme_blocks(readme)
    if not blocks:
        fail("README", "snippets", "no python or sql block in 'Reading the output'")
    for k, (lang, code) in enumerate(blocks, 1):
        try:
            if lang == "python":
                exec(compile(code, f"README block {k}", "exec"), {})
            else:
                rows = duckdb.connect().execute(code).fetchall()
                if not rows:
                    fail("README", f"sql block {k}", "returned no rows")
        except Exception as e:
            fail("README", f"{lang} block {k}", f"{type(e).__name__}: {e}")
    print(f"ok  README: {len(blocks)} snippets ran", flush=True)


def main(out="out", focus_out="focus-out", readme=None, spark=False, reconciliation=None):
    print(f"pyarrow {pa.__version__}, pandas {pd.__version__}, polars {pl.__version__}, "
          f"duckdb {duckdb.__version__}", flush=True)
    session = None
    if spark:
        session = spark_session()
        print(f"spark {session.version}", flush=True)
    manifest = json.load(open(os.path.join(out, "_manifest.json")))
    for table, entry in sorted(manifest["outputs"].items()):
        check_table(table, os.path.join(out, table), entry["rows"], session)
    focus = json.load(open(os.path.join(focus_out, "_manifest.json")))
    check_table("focus", os.path.join(focus_out, "focus"), focus["rows"], session)
    if reconciliation:
        rec = json.load(open(os.path.join(reconciliation, "_manifest.json")))
        for table, entry in sorted(rec["outputs"].items()):
            check_table(table, os.path.join(reconciliation, table), entry["rows"], session)
    for table, types in sorted(SPARK_TYPES.items()):
        print(f"    spark {table}: {', '.join(types)}", flush=True)
    if session is not None:
        session.stop()
    if readme:
        run_readme(readme)
    for f in FAILURES:
        print(f"FAIL {f}", flush=True)
    return 1 if FAILURES else 0


if __name__ == "__main__":
    args, options = sys.argv[1:], {}
    if "--spark" in args:
        args.remove("--spark")
        options["spark"] = True
    if "--reconciliation" in args:
        at = args.index("--reconciliation")
        options["reconciliation"] = args[at + 1]
        del args[at:at + 2]
    sys.exit(main(*args, **options))
