//! Packages and their scopes (`packages/`, `package_scope/`): the API gateway free quota, API
//! gateway call and traffic packs, and traffic packages of every kind — shared full-time (with
//! renewals, refunds, shares and a clb coefficient), idle-only, sliced hourly and daily,
//! periodic monthly and daily, promotional unlimited, and quality (`qtp`) packages for
//! accelerated traffic.
//!
//! Invariants: every package gets at least one scope row; package ids are `pkg-` + 7 digits in
//! creation order; capacities are ones people buy ([`nice`], [`nice_calls`]); validities are
//! drawn so that many packages start before the range and a good part expire inside it.

use super::add_months;
use super::draw::Draw;
use super::model::{cents, nice, nice_calls};
use super::tables::{PackageRow, ScopeRow};
use super::world::Gen;
use crate::calendar::{day_start, Ts, DAY, HOUR, MICROS_PER_SECOND};
use rand::Rng;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet};

/// The scopes of a shared traffic package: public traffic of every pay-by-traffic product.
const TP_SCOPES: [(&str, &str); 4] = [
    ("cvm", "public_traffic"),
    ("eip", "public_traffic"),
    ("clb", "public_traffic"),
    ("lighthouse", "public_traffic"),
];

/// A per-account summary of traffic in one region, for sizing packages.
#[derive(Default)]
pub(super) struct RegionTraffic {
    pub gb_month: u64,
    pub accelerated_gb_month: u64,
    pub accelerated_products: BTreeSet<&'static str>,
}

/// The two API gateway free-quota packages of an account activated at `at` (docs/rules.md §4.1):
/// periodic, cycle `30d`, 12 cycles, all regions, 1,000,000 calls and 1 GB of egress per cycle.
/// Free `30d` cycles count natural days (docs/rules.md §3.1): the first ends at 00:00 UTC+8 of the
/// day 30 days after activation's day, so the twelfth ends, and the package expires, at 00:00
/// of the day 360 days after it.
pub(super) fn free_quota(uin: &str, at: Ts, ids: [String; 2]) -> ([PackageRow; 2], [ScopeRow; 2]) {
    let [calls_id, egress_id] = ids;
    let pkg = |id: &str, name: &str, sub, cap: i64, unit| PackageRow {
        package_id: id.to_string(),
        package_name: name.to_string(),
        owner_uin: uin.to_string(),
        product: "apigw",
        sub_product: sub,
        kind: "periodic",
        source: "free",
        order_type: "new",
        region: "*",
        capacity: Some(Decimal::from(cap)),
        unit,
        cycle: Some("30d"),
        idle_only: false,
        purchased_at: None,
        effective_at: at,
        expires_at: day_start(at) + 12 * 30 * DAY,
        activated: true,
        refunded_at: None,
        price_paid: Decimal::ZERO,
        voucher_amount: Decimal::ZERO,
        share_uins: None,
    };
    let scope = |id: &str, item| ScopeRow {
        package_id: id.to_string(),
        product: "apigw",
        billing_item: item,
        coefficient: Decimal::ONE,
    };
    (
        [
            pkg(
                &calls_id,
                "API Gateway free quota: calls",
                "free-calls",
                1_000_000,
                "call",
            ),
            pkg(
                &egress_id,
                "API Gateway free quota: egress",
                "free-traffic",
                1,
                "GB",
            ),
        ],
        [
            scope(&calls_id, "calls"),
            scope(&egress_id, "egress_traffic"),
        ],
    )
}

/// What a package is, before the draws of [`Gen::package`] (source, purchase instant, voucher,
/// activation).
struct Spec {
    /// (product, sub_product).
    product: (&'static str, &'static str),
    kind: &'static str,
    region: &'static str,
    /// `None`: unlimited.
    capacity: Option<Decimal>,
    unit: &'static str,
    cycle: Option<&'static str>,
    /// (effective_at, expires_at).
    validity: (Ts, Ts),
    price_cents: i64,
}

/// The account and region traffic packages are drawn for.
struct TrafficTarget<'a> {
    uin: &'a str,
    region: &'static str,
    /// Mean GB per month of the account's traffic there (at least 1).
    gb: u64,
    /// Every kind of package, whatever the draws (account 0's home region).
    force: bool,
}

impl Gen {
    /// Shares the packages marked with an empty share list with the next one or two accounts
    /// (their uins are only known once every account exists).
    pub(super) fn finish_shares(&mut self) {
        let index: BTreeMap<&str, usize> = self
            .uins
            .iter()
            .enumerate()
            .map(|(i, u)| (u.as_str(), i))
            .collect();
        for p in &mut self.tables.packages {
            if p.share_uins.as_deref() != Some("") {
                continue;
            }
            let i = index[p.owner_uin.as_str()];
            let others: Vec<&str> = self.uins[i + 1..]
                .iter()
                .take(1 + i % 2)
                .map(String::as_str)
                .collect();
            p.share_uins = (!others.is_empty()).then(|| others.join(","));
        }
    }

    /// Pushes one package (and its scopes) and returns its index.
    fn push_package(&mut self, p: PackageRow, scopes: &[(&'static str, &'static str)]) -> usize {
        for (product, item) in scopes {
            self.tables.scopes.push(ScopeRow {
                package_id: p.package_id.clone(),
                product,
                billing_item: item,
                coefficient: Decimal::ONE,
            });
        }
        self.tables.packages.push(p);
        self.tables.packages.len() - 1
    }

    /// A new package: purchased at `effective` (sometimes a little earlier, sometimes with the
    /// purchase instant left null), or one time in ten (always for `unlimited`) a free promotion;
    /// one in fifty is not activated.
    fn package(&mut self, uin: &str, spec: Spec) -> PackageRow {
        let Spec {
            product: (product, sub),
            kind,
            region,
            capacity,
            unit,
            cycle,
            validity: (effective, expires),
            price_cents,
        } = spec;
        let id = self.pkg_id();
        let rng = &mut self.rng;
        let promotion = rng.chance(100) || kind == "unlimited";
        let purchased_at = match rng.gen_range(0..10u32) {
            0 => None,
            1 | 2 => Some(effective - rng.gen_range(1..72 * 3600) * MICROS_PER_SECOND),
            _ => Some(effective),
        };
        let price = if promotion { 0 } else { price_cents.max(1) };
        let voucher = if price > 0 && rng.chance(150) {
            price * rng.gen_range(10..50) / 100
        } else {
            0
        };
        let cap_text = match capacity {
            Some(c) => format!("{c} {unit}"),
            None => "unlimited".to_string(),
        };
        let cycle_text = cycle.map(|c| format!(" per {c}")).unwrap_or_default();
        PackageRow {
            package_id: id,
            package_name: format!("{product}/{sub} {cap_text}{cycle_text} ({region})"),
            owner_uin: uin.to_string(),
            product,
            sub_product: sub,
            kind,
            source: if promotion { "promotion" } else { "purchased" },
            order_type: "new",
            region,
            capacity,
            unit,
            cycle,
            idle_only: false,
            purchased_at,
            effective_at: effective,
            expires_at: expires,
            activated: !rng.chance(20),
            refunded_at: None,
            price_paid: cents(price),
            voucher_amount: cents(voucher),
            share_uins: None,
        }
    }

    /// A validity of `months` starting at a random instant, chosen so that many packages start
    /// before the range and a good part expire inside it.
    fn validity(&mut self, months: i32) -> (Ts, Ts) {
        let r = self.range;
        let span = add_months(r.start, months) - r.start;
        let eff = self.rng.instant(r.start - span + DAY, r.end - DAY);
        (eff, add_months(eff, months))
    }

    /// API gateway packs of account `i` (account 0 has the three call packs), sized from its
    /// calls per month; none takes effect before the gateway is activated at `activated`.
    pub(super) fn api_packages(&mut self, i: usize, uin: &str, calls_month: u64, activated: Ts) {
        if self.rng.chance(300) || i == 0 {
            self.calls_pack(uin, calls_month, activated);
        }
        if self.rng.chance(100) || i == 0 {
            self.calls_monthly(uin, calls_month);
        }
        if self.rng.chance(60) || i == 0 {
            self.calls_hourly(uin);
        }
        if self.rng.chance(120) {
            self.apigw_traffic_pack(uin);
        }
    }

    /// A total call pack valid 12 months, 0.5 to 3 months of calls.
    fn calls_pack(&mut self, uin: &str, calls_month: u64, activated: Ts) {
        let cap = nice_calls(calls_month * self.rng.gen_range(5..30) / 10);
        let (eff, exp) = self.validity(12);
        let eff = eff.max(activated);
        let exp = exp.max(eff + DAY);
        let spec = Spec {
            product: ("apigw", "calls-pack"),
            kind: "total",
            region: "*",
            capacity: Some(Decimal::from(cap)),
            unit: "call",
            cycle: None,
            validity: (eff, exp),
            price_cents: (cap / 10_000 * 5) as i64,
        };
        let p = self.package(uin, spec);
        self.push_package(p, &[("apigw", "calls")]);
    }

    /// A periodic call pack of half a month's calls per cycle (`1mo` or `30d`), for 6 months.
    fn calls_monthly(&mut self, uin: &str, calls_month: u64) {
        let cap = nice_calls(calls_month / 2);
        let cycle = if self.rng.chance(500) { "1mo" } else { "30d" };
        let (eff, exp) = self.validity(6);
        let spec = Spec {
            product: ("apigw", "calls-monthly"),
            kind: "periodic",
            region: "*",
            capacity: Some(Decimal::from(cap)),
            unit: "call",
            cycle: Some(cycle),
            validity: (eff, exp),
            price_cents: (cap / 10_000 * 4 * 6) as i64,
        };
        let p = self.package(uin, spec);
        self.push_package(p, &[("apigw", "calls")]);
    }

    /// A sliced call pack: 50,000 calls in every natural hour, for three days.
    fn calls_hourly(&mut self, uin: &str) {
        let range = self.range;
        let eff = self
            .rng
            .instant(range.start, range.end - DAY.min(range.len() / 2));
        let spec = Spec {
            product: ("apigw", "calls-hourly"),
            kind: "sliced",
            region: "*",
            capacity: Some(Decimal::from(50_000)),
            unit: "call",
            cycle: Some("1h"),
            validity: (eff, eff + 3 * DAY),
            price_cents: 900,
        };
        let p = self.package(uin, spec);
        self.push_package(p, &[("apigw", "calls")]);
    }

    /// A total API gateway egress pack valid 12 months.
    fn apigw_traffic_pack(&mut self, uin: &str) {
        let cap = nice(self.rng.gen_range(5..500));
        let (eff, exp) = self.validity(12);
        let spec = Spec {
            product: ("apigw", "traffic-pack"),
            kind: "total",
            region: "*",
            capacity: Some(Decimal::from(cap)),
            unit: "GB",
            cycle: None,
            validity: (eff, exp),
            price_cents: cap as i64 * 70,
        };
        let p = self.package(uin, spec);
        self.push_package(p, &[("apigw", "egress_traffic")]);
    }

    /// Traffic packages of account `i` in `region`, sized from its traffic there; `home`: its
    /// first region with traffic (account 0 has every kind there, account 2 a quality package).
    pub(super) fn traffic_packages(
        &mut self,
        i: usize,
        uin: &str,
        region: &'static str,
        rt: &RegionTraffic,
        home: bool,
    ) {
        let force = i == 0 && home;
        let to = TrafficTarget {
            uin,
            region,
            gb: rt.gb_month.max(1),
            force,
        };
        if self.rng.chance(600) || force {
            self.tp_full_time(&to);
        }
        if self.rng.chance(250) || force {
            self.tp_idle(&to);
        }
        if self.rng.chance(150) || force {
            self.tp_sliced(&to);
        }
        if self.rng.chance(150) || force {
            self.tp_periodic(&to);
        }
        if self.rng.chance(40) || force {
            self.tp_unlimited(&to);
        }
        if !rt.accelerated_products.is_empty() && (self.rng.chance(700) || i == 2) {
            self.qtp(&to, rt);
        }
    }

    /// A full-time total traffic package of 1 to 12 months (capacity sometimes in TB); a few
    /// are shared, refunded, count clb traffic at 1.5× or are renewed when they expire inside
    /// the range.
    fn tp_full_time(&mut self, to: &TrafficTarget<'_>) {
        let range = self.range;
        let months = self.rng.one_of(&[1, 1, 6, 12]);
        let cap = nice(to.gb * months as u64 * self.rng.gen_range(3..15) / 10);
        let (eff, exp) = self.validity(months);
        let price_per_gb = [75, 75, 70, 70, 65, 65, 65, 65, 65, 65, 65, 65, 60][months as usize];
        let (capacity, unit) = if cap >= 1000 && cap.is_multiple_of(1000) && self.rng.chance(500) {
            (Decimal::from(cap / 1000), "TB")
        } else {
            (Decimal::from(cap), "GB")
        };
        let spec = Spec {
            product: ("tp", "full-time"),
            kind: "total",
            region: to.region,
            capacity: Some(capacity),
            unit,
            cycle: None,
            validity: (eff, exp),
            price_cents: cap as i64 * price_per_gb,
        };
        let mut p = self.package(to.uin, spec);
        if to.force || self.rng.chance(40) {
            p.share_uins = Some(String::new()); // filled in by `finish_shares`
        }
        if self.rng.chance(20) && p.source == "purchased" {
            p.refunded_at = Some(self.rng.instant(eff.max(range.start), exp.min(range.end)));
        }
        let renew =
            (p.expires_at > range.start && p.expires_at < range.end && self.rng.chance(300))
                .then(|| p.clone());
        let coef_clb = self.rng.chance(100);
        let k = self.push_package(p, &TP_SCOPES);
        if coef_clb {
            let id = self.tables.packages[k].package_id.clone();
            if let Some(s) = self
                .tables
                .scopes
                .iter_mut()
                .rev()
                .find(|s| s.package_id == id && s.product == "clb")
            {
                s.coefficient = Decimal::new(15, 1);
            }
        }
        if let Some(r) = renew {
            self.renew_package(r, months);
        }
    }

    /// The renewal of `p` for `months`, bought in the five days before it expires and taking
    /// effect when it does.
    fn renew_package(&mut self, mut r: PackageRow, months: i32) {
        r.package_id = self.pkg_id();
        r.order_type = "renew";
        r.purchased_at =
            Some(r.expires_at - self.rng.gen_range(1..5 * 24 * 3600) * MICROS_PER_SECOND);
        r.effective_at = r.expires_at;
        r.expires_at = add_months(r.effective_at, months);
        r.share_uins = None;
        r.refunded_at = None;
        r.activated = true;
        self.push_package(r, &TP_SCOPES);
    }

    /// An idle-only package for cvm and eip: night traffic is about a third of the day's.
    fn tp_idle(&mut self, to: &TrafficTarget<'_>) {
        let cap = nice(to.gb / 3 * self.rng.gen_range(5..20) / 10);
        let (eff, exp) = self.validity(1);
        let spec = Spec {
            product: ("tp", "idle"),
            kind: "total",
            region: to.region,
            capacity: Some(Decimal::from(cap)),
            unit: "GB",
            cycle: None,
            validity: (eff, exp),
            price_cents: cap as i64 * 40,
        };
        let mut p = self.package(to.uin, spec);
        p.idle_only = true;
        self.push_package(p, &TP_SCOPES[..2]);
    }

    /// A sliced package: hourly for 7 days, or daily for 30 (forced: a daily and an hourly one).
    fn tp_sliced(&mut self, to: &TrafficTarget<'_>) {
        let range = self.range;
        let (daily, count) = if self.rng.chance(500) || to.force {
            (true, 1 + to.force as u32)
        } else {
            (false, 1)
        };
        for k in 0..count {
            let hourly = !daily || k == 1;
            let (cycle, cap, days) = if hourly {
                ("1h", nice(to.gb / 720 + 1), 7)
            } else {
                ("1d", nice(to.gb / 30 + 1), 30)
            };
            let eff = self
                .rng
                .instant(range.start - days * DAY / 2, range.end - HOUR);
            let spec = Spec {
                product: ("tp", if hourly { "hourly" } else { "daily" }),
                kind: "sliced",
                region: to.region,
                capacity: Some(Decimal::from(cap)),
                unit: "GB",
                cycle: Some(cycle),
                validity: (eff, eff + days * DAY),
                price_cents: cap as i64 * days * if hourly { 24 * 20 } else { 55 },
            };
            let p = self.package(to.uin, spec);
            let k = self.push_package(p, &TP_SCOPES);
            self.renew_events(k, false);
        }
    }

    /// A periodic package: `1mo` cycles for 3 months or `1d` cycles for a month (forced: both).
    fn tp_periodic(&mut self, to: &TrafficTarget<'_>) {
        let cycles = if to.force {
            vec!["1mo", "1d"]
        } else {
            vec![self.rng.one_of(&["1mo", "1d"])]
        };
        for cycle in cycles {
            let (cap, months) = if cycle == "1mo" {
                (nice(to.gb / 2 + 1), 3)
            } else {
                (nice(to.gb / 60 + 1), 1)
            };
            let (eff, exp) = self.validity(months);
            let per = if cycle == "1mo" { 3 * 60 } else { 30 * 60 };
            let spec = Spec {
                product: ("tp", "periodic"),
                kind: "periodic",
                region: to.region,
                capacity: Some(Decimal::from(cap)),
                unit: "GB",
                cycle: Some(cycle),
                validity: (eff, exp),
                price_cents: cap as i64 * per,
            };
            let p = self.package(to.uin, spec);
            let k = self.push_package(p, &TP_SCOPES);
            self.renew_events(k, to.force && cycle == "1mo");
        }
    }

    /// A `renew` event on the periodic or sliced package at index `k` (docs/rules.md §3.8): two in
    /// five purchased, activated, unrefunded packages valid inside the range is renewed
    /// (`force`: always) for 1 to 3 months at its price per 30 days; half of them (and the
    /// forced one) automatically in their last three days, the rest by hand at any instant
    /// before they expire.
    fn renew_events(&mut self, k: usize, force: bool) {
        let range = self.range;
        let p = &self.tables.packages[k];
        if p.source != "purchased" || !p.activated || p.refunded_at.is_some() {
            return;
        }
        let (id, price) = (p.package_id.clone(), p.price_paid);
        let days = ((p.expires_at - p.effective_at) / DAY).max(1);
        let lo = p.effective_at.max(range.start);
        let hi = p.expires_at.min(range.end);
        if lo >= hi || !(force || self.extra.chance(400)) {
            return;
        }
        let months = self.extra.one_of(&[1, 1, 2, 3]);
        let auto = force || self.extra.chance(500);
        let at = if auto {
            self.extra.instant((hi - 3 * DAY).max(lo), hi)
        } else {
            self.extra.instant(lo, hi)
        };
        let paid = (price * Decimal::from(30 * months as i64) / Decimal::from(days)).round_dp(2);
        self.package_renewal(&id, at, months, paid, auto);
    }

    /// A promotional unlimited weekend-style package of two or three days.
    fn tp_unlimited(&mut self, to: &TrafficTarget<'_>) {
        let range = self.range;
        let eff = self.rng.instant(range.start, range.end - HOUR);
        let exp = eff + self.rng.gen_range(2..4) * DAY;
        let spec = Spec {
            product: ("tp", "unlimited"),
            kind: "unlimited",
            region: to.region,
            capacity: None,
            unit: "GB",
            cycle: None,
            validity: (eff, exp),
            price_cents: 0,
        };
        let p = self.package(to.uin, spec);
        self.push_package(p, &TP_SCOPES);
    }

    /// A quality traffic package for the accelerated products of the region.
    fn qtp(&mut self, to: &TrafficTarget<'_>, rt: &RegionTraffic) {
        let cap = nice(rt.accelerated_gb_month.max(1) * self.rng.gen_range(5..20) / 10);
        let months = self.rng.one_of(&[1, 12]);
        let (eff, exp) = self.validity(months);
        let scopes: Vec<(&'static str, &'static str)> = rt
            .accelerated_products
            .iter()
            .map(|p| (*p, "public_traffic"))
            .collect();
        let spec = Spec {
            product: ("qtp", "quality"),
            kind: "total",
            region: to.region,
            capacity: Some(Decimal::from(cap)),
            unit: "GB",
            cycle: None,
            validity: (eff, exp),
            price_cents: cap as i64 * 195,
        };
        let p = self.package(to.uin, spec);
        self.push_package(p, &scopes);
    }
}
