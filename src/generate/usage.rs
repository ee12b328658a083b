//! Hourly usage of the metered instances: what each instance meters ([`Meter`]), the shape of
//! its activity (a diurnal curve in its region's local time, a weekend factor, a trend over the
//! range, noise and rare spikes) and the rows it emits each hour.
//!
//! Invariants: each instance draws from its own ChaCha8 stream, so its rows do not depend on
//! which other instances exist in an hour; shapes are integer arithmetic only (per-mille
//! factors, no floats); hours are emitted in order and, within an hour, instances in creation
//! order, so the usage files are a function of the arguments.

use super::model::{DIURNAL, DIURNAL_MEAN, REGIONS};
use super::write::{Row, UsageSink};
use super::Range;
use crate::calendar::{local, Ts, HOUR};
use crate::error::Result;
use chrono::{Datelike, Weekday};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Context of one generated hour.
pub(super) struct HourCtx {
    start: Ts,
    /// Hour of day in UTC+8 (the range starts at a UTC+8 midnight).
    utc8_hour: u32,
    day: u32,
    days: u32,
    weekend: bool,
}

/// What an instance meters each hour.
pub(super) enum Meter {
    /// API gateway: calls at the daily peak, egress per call (thousandths of KB), egress unit.
    Api {
        calls: u64,
        kb_milli_per_call: u64,
        egress_mb: bool,
    },
    /// Pay-by-traffic public traffic.
    Traffic(Traffic),
    /// Mini-program gateway plan peaks; `load_pm` of the plan's limits at the daily peak;
    /// `surge_every`: every n-th day of the range peaks at 20:00 UTC+8 at about 5.5 ×
    /// `surge_qps` (the QPS of the plan the order is upgraded to, if it is), above the elastic
    /// cap of docs/rules.md §4.3 before and after an upgrade.
    Peaks {
        qps: u64,
        mbps: u64,
        load_pm: u64,
        surge_every: Option<u32>,
        surge_qps: u64,
    },
}

/// Pay-by-traffic public traffic of one instance.
#[derive(Debug, Clone, Copy)]
pub(super) struct Traffic {
    /// Thousandths of MB per hour at the daily peak.
    pub mb_milli: u64,
    pub in_gb: bool,
    /// Share (per mille) of outbound traffic to mainland China, on an accelerated instance.
    pub to_mainland_pm: Option<u64>,
    /// An extra free row: `inbound` or `internal`.
    pub extra: Option<&'static str>,
    pub explicit_outbound: bool,
}

pub(super) struct Instance {
    /// Index of the owning account.
    pub account: usize,
    pub product: &'static str,
    pub sub_product: &'static str,
    /// Index into [`REGIONS`].
    pub region: usize,
    pub id: String,
    /// The instance meters hours `first_hour..end_hour` of the range.
    pub first_hour: u32,
    pub end_hour: u32,
    /// Change over the whole range, per mille.
    pub trend_pm: i64,
    pub weekend_pm: u64,
    pub rng: ChaCha8Rng,
    pub meter: Meter,
}

/// Pushes every hour of every instance into `sink`, hour by hour; `uins[i]` owns the instances
/// of account `i`.
pub(super) fn emit_hours(
    range: Range,
    instances: &mut [Instance],
    uins: &[String],
    sink: &mut UsageSink,
) -> Result<()> {
    for h in 0..range.hours() {
        let start = range.hour(h);
        let weekday = local(start).weekday();
        let hc = HourCtx {
            start,
            utc8_hour: h % 24,
            day: h / 24,
            days: range.days,
            weekend: matches!(weekday, Weekday::Sat | Weekday::Sun),
        };
        for inst in instances.iter_mut() {
            if inst.first_hour <= h && h < inst.end_hour {
                inst.emit(&hc, &uins[inst.account], sink)?;
            }
        }
    }
    Ok(())
}

/// `x` in thousandths of a unit → scale-9 mantissa, optionally divided by 1024 (next unit up).
fn mantissa(milli: u64, up: bool) -> i128 {
    let m = milli as i128 * 1_000_000;
    if up {
        m / 1024
    } else {
        m
    }
}

impl Instance {
    /// Pushes the instance's rows of one hour.
    fn emit(&mut self, hc: &HourCtx, owner: &str, sink: &mut UsageSink) -> Result<()> {
        let region = &REGIONS[self.region];
        let f = self.activity(hc, region.utc_offset);
        let jitter = self.rng.gen_range(950..1050u64);
        let out = HourRows {
            row: Row {
                id: None,
                owner,
                region: region.id,
                product: self.product,
                sub_product: self.sub_product,
                instance_id: &self.id,
                billing_item: "",
                start: hc.start,
                end: hc.start + HOUR,
                quantity: 0,
                unit: "",
                direction: None,
                accelerated: false,
            },
            f,
            jitter,
            surge: false,
            sink,
        };
        match self.meter {
            Meter::Api {
                calls,
                kb_milli_per_call,
                egress_mb,
            } => out.api(calls, kb_milli_per_call, egress_mb),
            Meter::Traffic(t) => out.traffic(t),
            Meter::Peaks {
                qps,
                mbps,
                load_pm,
                surge_every,
                surge_qps,
            } => {
                let surge =
                    surge_every.is_some_and(|n| n > 0 && hc.day % n == n - 1 && hc.utc8_hour == 20);
                HourRows { surge, ..out }.peaks(qps, mbps, load_pm, surge_qps)
            }
        }
    }

    /// The hour's activity: four per-mille factors multiplied (diurnal in local time, trend,
    /// weekend, noise with rare spikes), so 10^12 is the daily peak's level.
    fn activity(&mut self, hc: &HourCtx, utc_offset: i32) -> u128 {
        let lh = (hc.utc8_hour as i32 + utc_offset - 8).rem_euclid(24) as usize;
        let trend = (1000 + self.trend_pm * hc.day as i64 / hc.days.max(1) as i64).max(100) as u128;
        let weekend = if hc.weekend { self.weekend_pm } else { 1000 } as u128;
        let mut noise = self.rng.gen_range(800..1200u64) as u128;
        if self.rng.gen_range(0..1000u32) < 3 {
            noise *= self.rng.gen_range(2..6u64) as u128;
        }
        DIURNAL[lh] as u128 * trend * weekend * noise
    }

    /// Rough pay-as-you-go spend of the instance over its life, in micro-CNY.
    pub(super) fn spend_estimate(&self) -> i128 {
        let hours = (self.end_hour - self.first_hour) as i128;
        let mean = DIURNAL_MEAN as i128;
        let per_hour = match self.meter {
            // 0.06 CNY per 10,000 calls = 6 µCNY per call; 0.80 CNY per GB ≈ 0.763 µCNY per KB.
            Meter::Api {
                calls,
                kb_milli_per_call,
                ..
            } => {
                let c = calls as i128 * mean / 1000;
                c * 6 + c * kb_milli_per_call as i128 * 763 / 1_000_000
            }
            // ≈ 781 µCNY per MB.
            Meter::Traffic(t) => t.mb_milli as i128 * mean / 1000 * 781 / 1000,
            // Elastic fee (0.999 CNY per QPS above the plan, per day), if the peak exceeds it.
            // A surge day bills the capped 4 × the plan's QPS.
            Meter::Peaks {
                qps,
                load_pm,
                surge_every,
                ..
            } => {
                let excess = (qps as i128 * (load_pm as i128 * 12 / 10 - 1000) / 1000).max(0);
                let surge = surge_every.map_or(0, |n| 4 * qps as i128 / (24 * n.max(1) as i128));
                (excess / 24 + surge) * 1_000_000
            }
        };
        per_hour * hours
    }

    /// Mean GB per 30 days (traffic instances), for sizing packages.
    pub(super) fn gb_per_month(&self) -> u64 {
        match self.meter {
            Meter::Traffic(t) => t.mb_milli * DIURNAL_MEAN / 1000 * 720 / 1000 / 1024,
            _ => 0,
        }
    }
}

/// The rows of one instance in one hour: a row template, the hour's activity `f` (see
/// [`Instance::activity`]) and a jitter per mille.
struct HourRows<'a, 's> {
    row: Row<'a>,
    f: u128,
    jitter: u64,
    /// A surge hour of a mini-program gateway plan (see [`Meter::Peaks`]).
    surge: bool,
    sink: &'s mut UsageSink,
}

impl HourRows<'_, '_> {
    /// `base` (its value at the daily peak) at this hour's activity.
    fn scale(&self, base: u64) -> u64 {
        (base as u128 * self.f / 1_000_000_000_000) as u64
    }

    /// API gateway: `calls`, then `egress_traffic` in KB or MB; nothing in an hour without calls.
    fn api(mut self, calls: u64, kb_milli_per_call: u64, egress_mb: bool) -> Result<()> {
        let calls = self.scale(calls);
        if calls == 0 {
            return Ok(());
        }
        let row = &mut self.row;
        row.billing_item = "calls";
        row.quantity = calls as i128 * 1_000_000_000;
        row.unit = "call";
        self.sink.push(row)?;
        let kb_milli = calls * kb_milli_per_call * self.jitter / 1000;
        row.billing_item = "egress_traffic";
        row.quantity = mantissa(kb_milli, egress_mb);
        row.unit = if egress_mb { "MB" } else { "KB" };
        self.sink.push(row)
    }

    /// Public traffic: the `to_mainland` share first (accelerated instances), then outbound,
    /// then the free `inbound` or `internal` row if the instance has one.
    fn traffic(mut self, t: Traffic) -> Result<()> {
        let mb = self.scale(t.mb_milli);
        if mb == 0 {
            return Ok(());
        }
        let row = &mut self.row;
        row.billing_item = "public_traffic";
        row.unit = if t.in_gb { "GB" } else { "MB" };
        let outbound = match t.to_mainland_pm {
            Some(pm) => {
                let tm = mb * pm / 1000;
                row.quantity = mantissa(tm, t.in_gb);
                row.direction = Some("to_mainland");
                row.accelerated = true;
                self.sink.push(row)?;
                mb - tm
            }
            None => mb,
        };
        row.quantity = mantissa(outbound, t.in_gb);
        row.direction = t.explicit_outbound.then_some("outbound");
        self.sink.push(row)?;
        if let Some(dir) = t.extra {
            row.quantity = mantissa(mb * 3 / 10 * self.jitter / 1000, t.in_gb);
            row.direction = Some(dir);
            self.sink.push(row)?;
        }
        Ok(())
    }

    /// Mini-program gateway: `peak_qps` and `peak_bandwidth`, every hour (`peak_qps` above
    /// 5 × the plan in a surge hour).
    fn peaks(mut self, qps: u64, mbps: u64, load_pm: u64, surge_qps: u64) -> Result<()> {
        let f = self.f;
        // Peaks rarely exceed the plan by more than 60 %.
        let load = |cap: u64| {
            (cap as u128 * load_pm as u128 * f / 1_000_000_000_000_000).min(cap as u128 * 16 / 10)
        };
        // A surge hour: 5.5 to 5.65 × `surge_qps`, so the elastic base (peak − plan) is above
        // the cap of 4 × the plan.
        let qps_peak = if self.surge {
            surge_qps as u128 * (5500 + self.jitter as u128 * 3 / 2 - 1425) / 1000
        } else {
            load(qps)
        };
        let row = &mut self.row;
        row.billing_item = "peak_qps";
        row.quantity = qps_peak as i128 * 1_000_000_000;
        row.unit = "QPS";
        self.sink.push(row)?;
        row.billing_item = "peak_bandwidth";
        row.quantity = load(mbps * 1000) as i128 * 1_000_000;
        row.unit = "Mbps";
        self.sink.push(row)
    }
}
