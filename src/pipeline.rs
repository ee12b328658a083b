//! The one place where stages are ordered.
//!
//! load catalog → load and validate inputs → cut at the as-of moment → deduction (pools in
//! parallel, package refunds decided in the sweep) → pricing of the PAYG remainder → purchases →
//! subscriptions (terms, hours, upgrades, refunds) → elastic fees → package refund amounts →
//! package status → monthly bills →
//! filter detail tables to the window → write every table → write the manifest last.

use crate::calendar::{format_local, local_date, Month, Window, DAY};
use crate::catalog::Catalog;
use crate::cli::RunConfig;
use crate::error::Result;
use crate::input::{self, Violation};
use crate::output::manifest::{self, Manifest, UsageAccounting};
use crate::output::tables::AccountEvent;
use crate::output::{write_table, Written};
use crate::rules::{
    bills, deduction, elastic, packages, pricing, purchases, refunds, subscriptions,
};
use std::collections::BTreeMap;
use std::time::Instant;

/// Figures of one run, also written to the manifest.
#[derive(Debug, Clone)]
pub struct RunMetrics {
    pub usage: UsageAccounting,
    pub outputs: BTreeMap<String, Written>,
    pub duration_ms: u128,
}

/// Events whose target is neither a package nor a subscription.
fn unknown_targets(inputs: &input::Inputs) -> Vec<Violation> {
    let known: std::collections::HashSet<&str> = inputs
        .packages
        .iter()
        .map(|p| &*p.package_id)
        .chain(inputs.subscriptions.iter().map(|s| &*s.subscription_id))
        .collect();
    let packages: std::collections::HashSet<&str> =
        inputs.packages.iter().map(|p| &*p.package_id).collect();
    let mut out = Vec::new();
    for e in &inputs.events {
        if !known.contains(&*e.target_id) {
            out.push(Violation::new(
                "events",
                &*e.event_id,
                "unknown_target",
                format!(
                    "{} of unknown package or subscription {}",
                    e.kind.as_str(),
                    e.target_id
                ),
                Some(e.at),
            ));
        } else if e.kind != input::EventKind::Refund && packages.contains(&*e.target_id) {
            out.push(Violation::new(
                "events",
                &*e.event_id,
                "invalid_event",
                format!(
                    "{} of package {}: packages are only refunded",
                    e.kind.as_str(),
                    e.target_id
                ),
                Some(e.at),
            ));
        }
    }
    out
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
        &refunds::package_policy(&catalog),
    );
    let priced = pricing::price_usage(&inputs.usage, &ded.covered, &catalog);
    let mut lines = priced.lines;
    lines.extend(purchases::purchase_lines(&inputs.packages, w.as_of));
    let subs = subscriptions::replay(&inputs.subscriptions, &inputs.events, &catalog, w.as_of);
    let (elastic_lines, elastic_violations) = elastic::elastic_lines(
        &inputs.usage,
        &inputs.subscriptions,
        &subs.lives,
        &catalog,
        w.as_of,
    );
    let (package_refunds, refund_lines, refund_violations) = refunds::package_refunds(
        &ded.refund_requests,
        &inputs.packages,
        &inputs.events,
        &ded.details,
        &catalog,
    );
    lines.extend(subs.lines);
    lines.extend(elastic_lines);
    lines.extend(refund_lines);
    let mut refund_rows = subs.refunds;
    refund_rows.extend(package_refunds);
    refund_rows.retain(|r| w.contains(r.at));

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
    let event_violations = unknown_targets(&inputs);
    let mut exceptions: Vec<Violation> = inputs.violations;
    exceptions.extend(event_violations);
    exceptions.extend(ded.violations);
    exceptions.extend(priced.violations);
    exceptions.extend(subs.violations);
    exceptions.extend(elastic_violations);
    exceptions.extend(refund_violations);
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
        write_table(out, refund_rows, as_of_month)?,
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
