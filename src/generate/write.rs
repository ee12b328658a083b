//! Writing the files: the six small tables, one `part-00000.parquet` each, and usage streamed
//! into `usage/part-NNNNN.parquet` files of at most `rows_per_file` rows.
//!
//! Invariants: a usage file is handed to a second thread to encode and write as soon as it is
//! full, through a channel of capacity 0, so at most one file is being built and one written
//! (memory stays bounded whatever the total); generated usage ids are `u` + 11 digits in row
//! order; a run with no usage still writes one empty usage file, so the table exists.

use super::tables::{Tables, UsageRow};
use crate::calendar::Ts;
use crate::error::{Error, Result};
use crate::money::to_mantissa;
use crate::output::{
    bool_col, dec_col, frame, i32_col, narrow_dec_col, str_col, ts_col, write_parquet,
};
use polars::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender};

const PART: &str = "part-00000.parquet";

/// Writes the six small tables under `out`.
pub(super) fn write_tables(out: &Path, t: &Tables) -> Result<()> {
    write_packages(out, t)?;
    write_scopes(out, t)?;
    write_accounts(out, t)?;
    write_payments(out, t)?;
    write_subscriptions(out, t)?;
    write_events(out, t)
}

/// Writes `out/<table>/part-00000.parquet`.
fn write(out: &Path, table: &str, height: usize, cols: Vec<Column>) -> Result<()> {
    let mut df = frame(height, cols)?;
    write_parquet(&out.join(table).join(PART), &mut df)?;
    Ok(())
}

fn write_packages(out: &Path, t: &Tables) -> Result<()> {
    let p = &t.packages;
    write(
        out,
        "packages",
        p.len(),
        vec![
            str_col("package_id", p.iter().map(|r| Some(r.package_id.as_str()))),
            str_col(
                "package_name",
                p.iter().map(|r| Some(r.package_name.as_str())),
            ),
            str_col("owner_uin", p.iter().map(|r| Some(r.owner_uin.as_str()))),
            str_col("product", p.iter().map(|r| Some(r.product))),
            str_col("sub_product", p.iter().map(|r| Some(r.sub_product))),
            str_col("kind", p.iter().map(|r| Some(r.kind))),
            str_col("source", p.iter().map(|r| Some(r.source))),
            str_col("order_type", p.iter().map(|r| Some(r.order_type))),
            str_col("region", p.iter().map(|r| Some(r.region))),
            dec_col("capacity", 9, p.iter().map(|r| r.capacity)),
            str_col("unit", p.iter().map(|r| Some(r.unit))),
            str_col("cycle", p.iter().map(|r| r.cycle)),
            bool_col("idle_only", p.iter().map(|r| Some(r.idle_only))),
            ts_col("purchased_at", p.iter().map(|r| r.purchased_at)),
            ts_col("effective_at", p.iter().map(|r| Some(r.effective_at))),
            ts_col("expires_at", p.iter().map(|r| Some(r.expires_at))),
            bool_col("activated", p.iter().map(|r| Some(r.activated))),
            ts_col("refunded_at", p.iter().map(|r| r.refunded_at)),
            dec_col("price_paid", 8, p.iter().map(|r| Some(r.price_paid))),
            dec_col(
                "voucher_amount",
                8,
                p.iter().map(|r| Some(r.voucher_amount)),
            ),
            str_col("share_uins", p.iter().map(|r| r.share_uins.as_deref())),
        ],
    )
}

fn write_scopes(out: &Path, t: &Tables) -> Result<()> {
    let s = &t.scopes;
    write(
        out,
        "package_scope",
        s.len(),
        vec![
            str_col("package_id", s.iter().map(|r| Some(r.package_id.as_str()))),
            str_col("product", s.iter().map(|r| Some(r.product))),
            str_col("billing_item", s.iter().map(|r| Some(r.billing_item))),
            narrow_dec_col("coefficient", 18, 9, s.iter().map(|r| Some(r.coefficient))),
        ],
    )
}

fn write_accounts(out: &Path, t: &Tables) -> Result<()> {
    let a = &t.accounts;
    write(
        out,
        "accounts",
        a.len(),
        vec![
            str_col("owner_uin", a.iter().map(|r| Some(r.owner_uin.as_str()))),
            dec_col(
                "opening_balance",
                8,
                a.iter().map(|r| Some(r.opening_balance)),
            ),
            ts_col("opening_at", a.iter().map(|r| Some(r.opening_at))),
            ts_col("apigw_activated_at", a.iter().map(|r| r.apigw_activated_at)),
        ],
    )
}

fn write_payments(out: &Path, t: &Tables) -> Result<()> {
    let p = &t.payments;
    write(
        out,
        "payments",
        p.len(),
        vec![
            str_col("payment_id", p.iter().map(|r| Some(r.payment_id.as_str()))),
            str_col("owner_uin", p.iter().map(|r| Some(r.owner_uin.as_str()))),
            ts_col("paid_at", p.iter().map(|r| Some(r.paid_at))),
            dec_col("amount", 8, p.iter().map(|r| Some(r.amount))),
        ],
    )
}

fn write_subscriptions(out: &Path, t: &Tables) -> Result<()> {
    let s = &t.subscriptions;
    write(
        out,
        "subscriptions",
        s.len(),
        vec![
            str_col(
                "subscription_id",
                s.iter().map(|r| Some(r.subscription_id.as_str())),
            ),
            str_col("owner_uin", s.iter().map(|r| Some(r.owner_uin.as_str()))),
            str_col("product", s.iter().map(|r| Some(r.product))),
            str_col("plan", s.iter().map(|r| Some(r.plan))),
            str_col("region", s.iter().map(|r| Some(r.region))),
            str_col("billing_mode", s.iter().map(|r| Some(r.billing_mode))),
            ts_col("started_at", s.iter().map(|r| Some(r.started_at))),
            ts_col("expires_at", s.iter().map(|r| r.expires_at)),
            ts_col("released_at", s.iter().map(|r| r.released_at)),
            dec_col("list_price", 8, s.iter().map(|r| Some(r.list_price))),
            narrow_dec_col("discount", 9, 6, s.iter().map(|r| Some(r.discount))),
            dec_col("price_paid", 8, s.iter().map(|r| Some(r.price_paid))),
            ts_col("elastic_on_at", s.iter().map(|r| r.elastic_on_at)),
            ts_col("elastic_off_at", s.iter().map(|r| r.elastic_off_at)),
            i32_col("attached_apps", s.iter().map(|r| Some(r.attached_apps))),
            dec_col(
                "elastic_unit_price",
                8,
                s.iter().map(|r| r.elastic_unit_price),
            ),
        ],
    )
}

fn write_events(out: &Path, t: &Tables) -> Result<()> {
    let e = &t.events;
    write(
        out,
        "events",
        e.len(),
        vec![
            str_col("event_id", e.iter().map(|r| Some(r.event_id.as_str()))),
            str_col("kind", e.iter().map(|r| Some(r.kind))),
            str_col("target_id", e.iter().map(|r| Some(r.target_id.as_str()))),
            ts_col("at", e.iter().map(|r| Some(r.at))),
            str_col("new_plan", e.iter().map(|r| r.new_plan)),
            i32_col("months", e.iter().map(|r| r.months)),
            dec_col("price_paid", 8, e.iter().map(|r| r.price_paid)),
            bool_col("auto", e.iter().map(|r| r.auto)),
        ],
    )
}

/// One usage row by reference; `id: None` takes the next generated id (`u` + 11 digits).
pub(super) struct Row<'a> {
    pub id: Option<&'a str>,
    pub owner: &'a str,
    pub region: &'a str,
    pub product: &'a str,
    pub sub_product: &'a str,
    pub instance_id: &'a str,
    pub billing_item: &'a str,
    pub start: Ts,
    pub end: Ts,
    /// Mantissa at scale 9.
    pub quantity: i128,
    pub unit: &'a str,
    pub direction: Option<&'a str>,
    pub accelerated: bool,
}

/// Column builders of one usage file.
struct UsageCols {
    len: usize,
    id: StringChunkedBuilder,
    owner: StringChunkedBuilder,
    region: StringChunkedBuilder,
    product: StringChunkedBuilder,
    sub_product: StringChunkedBuilder,
    instance_id: StringChunkedBuilder,
    billing_item: StringChunkedBuilder,
    start: Vec<i64>,
    end: Vec<i64>,
    quantity: Vec<i128>,
    unit: StringChunkedBuilder,
    direction: StringChunkedBuilder,
    accelerated: Vec<bool>,
}

impl UsageCols {
    fn new(cap: usize) -> UsageCols {
        let b = |name: &str| StringChunkedBuilder::new(name.into(), cap);
        UsageCols {
            len: 0,
            id: b("usage_id"),
            owner: b("owner_uin"),
            region: b("region"),
            product: b("product"),
            sub_product: b("sub_product"),
            instance_id: b("instance_id"),
            billing_item: b("billing_item"),
            start: Vec::with_capacity(cap),
            end: Vec::with_capacity(cap),
            quantity: Vec::with_capacity(cap),
            unit: b("unit"),
            direction: b("direction"),
            accelerated: Vec::with_capacity(cap),
        }
    }

    fn into_frame(self) -> Result<DataFrame> {
        let ts = |name: &str, v: Vec<i64>| {
            Int64Chunked::from_vec(name.into(), v)
                .into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
                .into_column()
        };
        frame(
            self.len,
            vec![
                self.id.finish().into_column(),
                self.owner.finish().into_column(),
                self.region.finish().into_column(),
                self.product.finish().into_column(),
                self.sub_product.finish().into_column(),
                self.instance_id.finish().into_column(),
                self.billing_item.finish().into_column(),
                ts("usage_start", self.start),
                ts("usage_end", self.end),
                Int128Chunked::from_vec("quantity".into(), self.quantity)
                    .into_decimal_unchecked(38, 9)
                    .into_column(),
                self.unit.finish().into_column(),
                self.direction.finish().into_column(),
                BooleanChunked::from_slice("accelerated".into(), &self.accelerated).into_column(),
            ],
        )
    }
}

/// Collects usage rows and hands each full file to the writer thread.
pub(super) struct UsageSink {
    dir: PathBuf,
    per_file: usize,
    tx: SyncSender<(PathBuf, DataFrame)>,
    cols: UsageCols,
    next_id: u64,
    rows: u64,
    files: usize,
}

impl UsageSink {
    fn capacity(&self) -> usize {
        self.per_file.min(1 << 22)
    }

    pub(super) fn push(&mut self, r: &Row<'_>) -> Result<()> {
        let c = &mut self.cols;
        match r.id {
            Some(id) => c.id.append_value(id),
            None => {
                self.next_id += 1;
                let mut buf = *b"u00000000000";
                let mut n = self.next_id;
                for b in buf[1..].iter_mut().rev() {
                    *b = b'0' + (n % 10) as u8;
                    n /= 10;
                }
                c.id.append_value(std::str::from_utf8(&buf).expect("ascii digits"));
            }
        }
        c.owner.append_value(r.owner);
        c.region.append_value(r.region);
        c.product.append_value(r.product);
        c.sub_product.append_value(r.sub_product);
        c.instance_id.append_value(r.instance_id);
        c.billing_item.append_value(r.billing_item);
        c.start.push(r.start);
        c.end.push(r.end);
        c.quantity.push(r.quantity);
        c.unit.append_value(r.unit);
        c.direction.append_option(r.direction);
        c.accelerated.push(r.accelerated);
        c.len += 1;
        if c.len >= self.per_file {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        let cap = self.capacity();
        let cols = std::mem::replace(&mut self.cols, UsageCols::new(cap));
        self.rows += cols.len as u64;
        let df = cols.into_frame()?;
        let path = self.dir.join(format!("part-{:05}.parquet", self.files));
        self.files += 1;
        self.tx.send((path, df)).map_err(|_| Error::Output {
            path: self.dir.clone(),
            message: "the usage writer stopped".into(),
        })
    }

    /// Writes the last partial file (or one empty file when there were no rows at all).
    fn finish(&mut self) -> Result<()> {
        if self.cols.len > 0 || self.files == 0 {
            self.flush()?;
        }
        Ok(())
    }
}

/// Runs `body` on a sink while a second thread encodes and writes the files; returns
/// (rows, files).
pub(super) fn stream_usage(
    out: &Path,
    per_file: usize,
    body: impl FnOnce(&mut UsageSink) -> Result<()>,
) -> Result<(u64, usize)> {
    let dir = out.join("usage");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    // Capacity 0: at most one file being built and one being written.
    let (tx, rx) = sync_channel::<(PathBuf, DataFrame)>(0);
    std::thread::scope(|s| {
        let writer = s.spawn(move || -> Result<()> {
            for (path, mut df) in rx {
                write_parquet(&path, &mut df)?;
            }
            Ok(())
        });
        let mut sink = UsageSink {
            dir: dir.clone(),
            per_file,
            tx,
            cols: UsageCols::new(per_file.min(1 << 22)),
            next_id: 0,
            rows: 0,
            files: 0,
        };
        let built = body(&mut sink).and_then(|()| sink.finish());
        let counts = (sink.rows, sink.files);
        drop(sink);
        let written = writer.join().map_err(|_| Error::Output {
            path: dir.clone(),
            message: "the usage writer panicked".into(),
        })?;
        written?;
        built?;
        Ok(counts)
    })
}

impl UsageRow {
    /// The row as the usage sink takes it.
    pub(super) fn as_row(&self) -> Row<'_> {
        Row {
            id: Some(&self.usage_id),
            owner: self.owner_uin,
            region: self.region,
            product: self.product,
            sub_product: self.sub_product,
            instance_id: self.instance_id,
            billing_item: self.billing_item,
            start: self.start,
            end: self.end,
            quantity: to_mantissa(self.quantity, 9),
            unit: self.unit,
            direction: self.direction,
            accelerated: self.accelerated,
        }
    }
}
