"""Writes the Parquet fixtures of tests/it/reliability.rs that polars cannot write.

Run with any Python that has pyarrow (14 or later): `python tests/data/make_fixtures.py` (from the repository
root). Each file is a five-row usage file in row groups of two rows.
"""
import datetime as dt
import decimal
import pathlib

import pyarrow as pa
import pyarrow.parquet as pq

HERE = pathlib.Path(__file__).parent
N = 5


def usage(quantity, owner):
    start = [dt.datetime(2024, 4, 30, 23, 0, tzinfo=dt.timezone.utc)] * N
    end = [dt.datetime(2024, 5, 1, 0, 0, tzinfo=dt.timezone.utc)] * N
    return pa.table({
        "usage_id": [f"u-{i}" for i in range(N)],
        "owner_uin": owner,
        "region": ["ap-guangzhou"] * N,
        "product": ["eip"] * N,
        "sub_product": ["eip"] * N,
        "instance_id": ["eip-1"] * N,
        "billing_item": ["public_traffic"] * N,
        "usage_start": pa.array(start, type=pa.timestamp("us", tz="UTC")),
        "usage_end": pa.array(end, type=pa.timestamp("us", tz="UTC")),
        "quantity": quantity,
        "unit": ["GB"] * N,
        "direction": pa.array([None] * N, type=pa.string()),
        "accelerated": [False] * N,
    })


def decimals(t):
    return pa.array([decimal.Decimal("1.5")] * N, type=t)


# `owner_uin` of row 3 (row group 1) holds the byte 0xff: a string column that is not UTF-8.
bad = [b"acct-1", b"acct-1", b"acct-1", b"acct-\xff", b"acct-1"]
owner = pa.array(bad, type=pa.binary()).view(pa.string())
pq.write_table(usage(decimals(pa.decimal128(18, 9)), owner), HERE / "invalid_utf8.parquet",
               use_dictionary=False, compression="none", row_group_size=2)
# `quantity` as decimal256 (precision 40): wider than the 128-bit decimals of the contract.
pq.write_table(usage(decimals(pa.decimal256(40, 9)), pa.array(["acct-1"] * N)),
               HERE / "decimal256.parquet", row_group_size=2)
# Every page with a CRC-32 in its header (as parquet-mr and Spark write them by default), plain
# and uncompressed, so that a test can flip a bit of a `quantity` value that still decodes.
pq.write_table(usage(decimals(pa.decimal128(18, 9)), pa.array(["acct-1"] * N)),
               HERE / "page_checksums.parquet", use_dictionary=False, compression="none",
               row_group_size=2, write_page_checksum=True)
