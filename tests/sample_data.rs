//! The recipe for `sample_data/`: hand-made accounts that reproduce RULES.md worked examples 6, 7,
//! 8 and 10 (one account each). Regenerate with
//! `cargo test --test sample_data -- --ignored` and review the diff.

mod common;

use common::*;
use reckon::output::{dec_col, str_col, ts_col};
use std::path::Path;

#[test]
#[ignore = "rewrites sample_data/; run on purpose"]
fn write_sample_data() {
    let mut ds = Dataset::valid();
    ds.tables.insert(
        "usage",
        usage_cols(&[
            // Example 6: 5,000,000 calls, 15,000,000 KB and 5,000,000 KB egress in one hour.
            (
                "ex6-calls",
                "scn-apigw",
                "ap-guangzhou",
                "apigw",
                "calls",
                "2024-05-10 10:00:00",
                "5000000",
                "call",
            ),
            (
                "ex6-resp",
                "scn-apigw",
                "ap-guangzhou",
                "apigw",
                "egress_traffic",
                "2024-05-10 10:00:00",
                "15000000",
                "KB",
            ),
            (
                "ex6-back",
                "scn-apigw",
                "ap-guangzhou",
                "apigw",
                "egress_traffic",
                "2024-05-10 10:00:00",
                "5000000",
                "KB",
            ),
            // Example 7: 9,990,000 calls month-to-date, then an hour of 20,000.
            (
                "ex7-a",
                "scn-tier",
                "ap-guangzhou",
                "apigw",
                "calls",
                "2024-06-01 10:00:00",
                "9990000",
                "call",
            ),
            (
                "ex7-b",
                "scn-tier",
                "ap-shanghai",
                "apigw",
                "calls",
                "2024-06-01 11:00:00",
                "20000",
                "call",
            ),
            // Example 8: 6 GB against packages A (3 GB, expires 07-01) and B (5 GB, expires 06-01).
            (
                "ex8-u",
                "scn-pkg",
                "ap-guangzhou",
                "eip",
                "public_traffic",
                "2024-05-20 10:00:00",
                "6",
                "GB",
            ),
            // Example 10: EIP in Guangzhou, 10 GB between 07:00 and 08:00.
            (
                "ex10-e",
                "scn-eip",
                "ap-guangzhou",
                "eip",
                "public_traffic",
                "2024-06-15 07:00:00",
                "10",
                "GB",
            ),
            // No price in Mumbai: an exception, not a bill.
            (
                "np-1",
                "scn-eip",
                "ap-mumbai",
                "eip",
                "public_traffic",
                "2024-06-15 08:00:00",
                "1",
                "GB",
            ),
        ]),
    );
    total_packages(
        &mut ds,
        &[
            ("A", "scn-pkg", "3", "2024-01-01", "2024-07-01"),
            ("B", "scn-pkg", "5", "2024-01-01", "2024-06-01"),
        ],
    );
    let uins = ["scn-apigw", "scn-tier", "scn-pkg", "scn-eip"];
    let opening = Some(t("2024-01-01"));
    ds.tables.insert(
        "accounts",
        vec![
            str_col("owner_uin", uins.iter().map(|u| Some(*u))),
            dec_col("opening_balance", 8, uins.iter().map(|_| d("500"))),
            ts_col("opening_at", uins.iter().map(|_| opening)),
            ts_col(
                "apigw_activated_at",
                uins.iter().map(|_| Some(t("2022-01-01"))),
            ),
        ],
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data");
    for table in ds.tables.keys() {
        let _ = std::fs::remove_dir_all(root.join(table));
    }
    let tmp = tempfile::tempdir().unwrap();
    ds.write(tmp.path());
    for table in ds.tables.keys() {
        std::fs::create_dir_all(root.join(table)).unwrap();
        std::fs::copy(
            tmp.path().join(table).join("part-0.parquet"),
            root.join(table).join("part-0.parquet"),
        )
        .unwrap();
    }
}
