//! The one place where stages are ordered.
//!
//! load catalog → load and validate inputs → cut at the as-of moment → deduction (pools in
//! parallel) → pricing of the PAYG remainder → purchases → package status → monthly bills →
//! filter detail tables to the window → write every table → write the manifest last.

use crate::calendar::{format_local, local_date, Month, Window, DAY};
use crate::catalog::Catalog;
use crate::cli::RunConfig;
use crate::error::Result;
use crate::input::{self, Package, Violation};
use crate::output::manifest::{self, Manifest, UsageAccounting};
use crate::output::tables::{AccountEvent, RefundRow};
use crate::output::{write_table, Written};
use crate::rules::{bills, deduction, packages, pricing, purchases};
use std::collections::BTreeMap;
use std::time::Instant;

/// Figures of one run, also written to the manifest.
#[derive(Debug, Clone)]
pub struct RunMetrics {
    pub usage: UsageAccounting,
    pub outputs: BTreeMap<String, Written>,
    pub duration_ms: u128,
}

/// Refund eligibility as the deduction sweep needs it (amounts come later, in `refunds`).
fn refund_policy(
    p: &Package,
    st: &deduction::PackageState,
    at: crate::calendar::Ts,
) -> (bool, String) {
    if !p.activated {
        return (false, "package not activated".into());
    }
    if p.expires_at <= at {
        return (false, "package already expired".into());
    }
    if st.refund_at.is_some_and(|r| r <= at) {
        return (false, "package already refunded".into());
    }
    (true, "refund accepted".into())
}

pub fn run(cfg: &RunConfig) -> Result<RunMetrics> {
    let started = Instant::now();
    let catalog = Catalog::load(&cfg.catalog)?;
    let mut inputs = input::load(&cfg.input)?;

    // The as-of date: given, or the day after the latest usage day.
    let as_of_date = match cfg.as_of {
        Some(d) => d,
        None => {
            let last = inputs.usage.iter().map(|u| u.usage_start).max();
            match last {
                Some(ts) => local_date(ts + DAY),
                None => {
                    return Err(crate::error::Error::Usage(
                        "no valid usage rows: give --as-of YYYY-MM-DD".into(),
                    ))
                }
            }
        }
    };
    let w = Window::new(as_of_date);

    // Nothing at or after the as-of moment is used.
    let valid = inputs.usage.len() as u64;
    inputs.usage.retain(|u| u.usage_end <= w.as_of);
    let after_as_of = valid - inputs.usage.len() as u64;
    inputs
        .usage
        .sort_by(|a, b| (a.usage_start, &a.usage_id).cmp(&(b.usage_start, &b.usage_id)));
    inputs.events.retain(|e| e.at < w.as_of);
    for p in &mut inputs.packages {
        if p.refunded_at.is_some_and(|r| r >= w.as_of) {
            p.refunded_at = None;
        }
    }

    let ded = deduction::run(
        &inputs.usage,
        &inputs.packages,
        &inputs.events,
        &catalog,
        &refund_policy,
    );
    let priced = pricing::price_usage(&inputs.usage, &ded.covered, &catalog);
    let mut lines = priced.lines;
    lines.extend(purchases::purchase_lines(&inputs.packages, w.as_of));

    let status = packages::snapshot(&inputs.packages, &ded.states, &w);
    let bills = bills::monthly_bills(&lines, &w);

    // Detail tables: the window only.
    let in_window_rows = inputs
        .usage
        .iter()
        .filter(|u| w.contains(u.usage_start))
        .count() as u64;
    let billed_in_window = inputs
        .usage
        .iter()
        .zip(&priced.billed)
        .filter(|(u, b)| **b && w.contains(u.usage_start))
        .count() as u64;
    let details: Vec<_> = ded
        .details
        .into_iter()
        .filter(|d| w.contains(d.usage_start))
        .collect();
    let lines: Vec<_> = lines
        .into_iter()
        .filter(|l| w.contains(l.charge_start))
        .collect();
    let mut exceptions: Vec<Violation> = inputs.violations;
    exceptions.extend(ded.violations);
    exceptions.extend(priced.violations);
    exceptions.extend(packages::limit_violations(&status, &catalog, &w));
    exceptions.retain(|v| v.at.is_none_or(|t| w.contains(t) || t == w.as_of));

    let as_of_month = Month::of(w.as_of - 1);
    let totals = totals(&lines, &bills);
    let mut outputs = BTreeMap::new();
    let out = &cfg.output;
    std::fs::create_dir_all(out).map_err(|e| crate::error::Error::io(out, e))?;
    outputs.insert(
        "deduction_details".into(),
        write_table(out, details, as_of_month)?,
    );
    outputs.insert("bill_lines".into(), write_table(out, lines, as_of_month)?);
    outputs.insert("bills".into(), write_table(out, bills, as_of_month)?);
    outputs.insert(
        "package_status".into(),
        write_table(out, status, as_of_month)?,
    );
    outputs.insert(
        "account_events".into(),
        write_table::<AccountEvent>(out, Vec::new(), as_of_month)?,
    );
    outputs.insert(
        "refunds".into(),
        write_table::<RefundRow>(out, Vec::new(), as_of_month)?,
    );
    outputs.insert(
        "exceptions".into(),
        write_table(out, exceptions, as_of_month)?,
    );

    let usage = UsageAccounting {
        read: inputs.usage_rows_read as u64,
        invalid: inputs.usage_rows_read as u64 - valid,
        after_as_of,
        history_only: inputs.usage.len() as u64 - in_window_rows,
        billed: billed_in_window,
        unpriced: in_window_rows - billed_in_window,
    };
    let duration_ms = started.elapsed().as_millis();
    let m = Manifest {
        tool: "reckon".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        as_of_date: as_of_date.to_string(),
        window_start: format_local(w.start),
        window_end: format_local(w.as_of),
        months: w.months().iter().map(|m| m.to_string()).collect(),
        catalog_path: cfg.catalog.display().to_string(),
        catalog_version: catalog.version.clone(),
        catalog_sha256: catalog.hash.clone(),
        inputs: inputs.files,
        usage: usage.clone(),
        outputs: outputs.clone(),
        totals,
        threads: rayon::current_num_threads(),
        duration_ms,
    };
    manifest::write(out, &m)?;
    Ok(RunMetrics {
        usage,
        outputs,
        duration_ms,
    })
}

fn totals(
    lines: &[crate::output::tables::BillLine],
    bills: &[crate::output::tables::Bill],
) -> BTreeMap<String, String> {
    let mut t = BTreeMap::new();
    let sum_lines: rust_decimal::Decimal = lines.iter().map(|l| l.amount).sum();
    let sum_total: rust_decimal::Decimal = bills.iter().map(|b| b.total_amount).sum();
    let sum_payable: rust_decimal::Decimal = bills.iter().map(|b| b.payable).sum();
    t.insert("bill_lines.amount".into(), sum_lines.to_string());
    t.insert("bills.total_amount".into(), sum_total.to_string());
    t.insert("bills.payable".into(), sum_payable.to_string());
    t
}
