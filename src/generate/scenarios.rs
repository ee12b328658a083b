//! Hand-made accounts for `reckon generate --scenarios`: each reproduces a docs/rules.md worked
//! example inside the generated range, appended to the generated tables. None of them uses the
//! random stream, so adding them changes no generated row.
//!
//! Dates derive from `--end` and `--days`: everything happens in the last 40 days of the range
//! (or the whole range when it is shorter), so a `reckon run` with the default as-of date (the
//! day after the last usage day, i.e. `--end`) has every scenario and the invalid rows inside
//! its three-month window.
//!
//! - `scn-eip` (example 10): an EIP in ap-guangzhou uses exactly 10 GB from 07:00 to 08:00 UTC+8
//!   on the last day → 8.00 at 08:00.
//! - `scn-apigw` (example 6): second year of the gateway (activated 400 days before the range, no
//!   free quota); in one hour 20 days before the last day, 5,000,000 calls and 15,000,000 KB +
//!   5,000,000 KB of egress — its only usage, so its month's bill is 45.26.
//! - `scn-tier` (example 7): 3 × 3,330,000 calls = 9,990,000 billable calls by 11:00 on the last
//!   day, then 20,000 calls from 11:00 → 10,000 at tier 1 and 10,000 at tier 2.
//! - `scn-pkg` (example 8): `tp` total packages in ap-guangzhou for eip/public_traffic, A (3 GB,
//!   expires on the 1st two months after the usage month) and B (5 GB, one month earlier); one
//!   hour of 6 GB ten days before the last day takes 5 GB from B, then 1 GB from A.
//! - `scn-free` (example 9): the gateway activated at 17:13:14 UTC+8 40 days before the last day
//!   (at the latest the range's second day), with its two periodic free packages; hourly calls
//!   around the activation instant (the 17:00 hour starts before it and is not covered) and
//!   around the first 30-day cycle boundary when the range reaches it.
//! - `scn-refund` (examples 1 and 2): a quality traffic package (10 GB in ap-hongkong for 19.50)
//!   with 5 GB of accelerated Hong Kong → mainland traffic, and a shared traffic package (10 GB
//!   in ap-guangzhou for 7.50) with 5 GB used; both refunded three days later → 8.75 and 3.50.
//! - `scn-plan` (examples 3 and 4): a mini-program `test` plan (500 QPS) with the elastic switch
//!   on, three days of peaks 1100 QPS/12 Mbps, 1200/30, 1250/10 → 599.4, 999.0, 799.2, the switch
//!   off on the third day (the fourth day's peak is not charged); then upgraded to `starter`.
//! - `scn-plan-2` (example 5): a `test` plan unsubscribed on its tenth day → 10 days used.
//! - `scn-inst`: two dedicated monthly instances refunded within 5 days of purchase: the first
//!   is refunded in full, the second pro rata (the 5-day rule is once per customer).
//! - `scn-bad`: five invalid usage rows on the last day, one per row rule —
//!   `duplicate_usage_id` (reuses `scn-eip-1`), `negative_quantity`, `unaligned_hour`,
//!   `bad_usage_end`, `unknown_unit` (`bytes`).

use super::packages::free_quota;
use super::tables::{
    AccountRow, EventRow, PackageRow, ScopeRow, SubscriptionRow, Tables, UsageRow,
};
use super::{add_months, Range};
use crate::calendar::{day_start, Month, Ts, DAY, HOUR, MICROS_PER_SECOND};
use rust_decimal::Decimal;

mod revised;

const GZ: &str = "ap-guangzhou";

/// Planted invalid usage rows: (usage_id, rule the loader reports).
pub(super) const INVALID_ROWS: [(&str, &str); 5] = [
    ("scn-eip-1", "duplicate_usage_id"),
    ("scn-bad-negative", "negative_quantity"),
    ("scn-bad-unaligned", "unaligned_hour"),
    ("scn-bad-end", "bad_usage_end"),
    ("scn-bad-unit", "unknown_unit"),
];

/// Appends the scenario accounts, packages, subscriptions, events and usage rows (valid rows
/// first, then the five invalid ones, so the duplicate id is the later occurrence).
pub(super) fn add(range: Range, t: &mut Tables, usage: &mut Vec<UsageRow>) {
    let days = Days::new(range);
    eip_hour(&days, t, usage);
    apigw_second_year(&days, t, usage);
    call_tiers(&days, t, usage);
    package_order(&days, t, usage);
    free_quota_cycles(&days, t, usage);
    package_refunds(&days, t, usage);
    elastic_plan(&days, t, usage);
    unsubscribed_plan(&days, t);
    instance_refunds(&days, t);
    revised::add(&days, t, usage);
    invalid_rows(&days, t, usage);
}

/// The instants the scenarios are placed at.
struct Days {
    range: Range,
    /// The range's first and last days (UTC+8 midnights).
    first: Ts,
    last: Ts,
    /// Every scenario account opens 30 days before the range.
    opening_at: Ts,
    /// The API gateway activation of the second-year accounts.
    long_ago: Ts,
}

impl Days {
    fn new(range: Range) -> Days {
        Days {
            range,
            first: range.start,
            last: range.end - DAY,
            opening_at: range.start - 30 * DAY,
            long_ago: range.start - 400 * DAY - 5 * HOUR,
        }
    }

    /// `n` days before the last day, but not before the range.
    fn before_last(&self, n: i64) -> Ts {
        (self.last - n * DAY).max(self.first)
    }
}

/// Hour `h` of `day`.
fn at(day: Ts, h: i64) -> Ts {
    day + h * HOUR
}

fn d(n: i64) -> Decimal {
    Decimal::from(n)
}

/// A metered instance of a scenario account.
#[derive(Clone, Copy)]
struct Inst {
    owner: &'static str,
    region: &'static str,
    /// (product, sub_product, instance_id).
    id: (&'static str, &'static str, &'static str),
}

impl Inst {
    /// A valid one-hour row.
    fn row(
        &self,
        id: impl Into<String>,
        item: &'static str,
        start: Ts,
        quantity: Decimal,
        unit: &'static str,
    ) -> UsageRow {
        let (product, sub_product, instance_id) = self.id;
        UsageRow {
            usage_id: id.into(),
            owner_uin: self.owner,
            region: self.region,
            product,
            sub_product,
            instance_id,
            billing_item: item,
            start,
            end: start + HOUR,
            quantity,
            unit,
            direction: None,
            accelerated: false,
        }
    }
}

fn account(uin: &str, balance: i64, opening_at: Ts, apigw: Option<Ts>) -> AccountRow {
    AccountRow {
        owner_uin: uin.to_string(),
        opening_balance: d(balance),
        opening_at,
        apigw_activated_at: apigw,
    }
}

fn tp_total(id: &str, cap_gb: i64, price_cents: i64, bought: Ts, expires: Ts) -> PackageRow {
    PackageRow {
        package_id: id.to_string(),
        package_name: format!("tp/full-time {cap_gb} GB ({GZ})"),
        owner_uin: "scn-pkg".to_string(),
        product: "tp",
        sub_product: "full-time",
        kind: "total",
        source: "purchased",
        order_type: "new",
        region: GZ,
        capacity: Some(d(cap_gb)),
        unit: "GB",
        cycle: None,
        idle_only: false,
        purchased_at: Some(bought),
        effective_at: bought,
        expires_at: expires,
        activated: true,
        refunded_at: None,
        price_paid: Decimal::new(price_cents, 2),
        voucher_amount: Decimal::ZERO,
        share_uins: None,
    }
}

/// The scope of a package on eip public traffic.
fn eip_scope(package_id: &str) -> ScopeRow {
    ScopeRow {
        package_id: package_id.to_string(),
        product: "eip",
        billing_item: "public_traffic",
        coefficient: Decimal::ONE,
    }
}

/// A one-month subscription at list price.
fn monthly(
    id: &str,
    owner: &str,
    product: &'static str,
    plan: &'static str,
    start: Ts,
) -> SubscriptionRow {
    let monthly = if product == "mpgw" { 4999 } else { 3680 };
    SubscriptionRow {
        subscription_id: id.to_string(),
        owner_uin: owner.to_string(),
        product,
        plan,
        region: GZ,
        billing_mode: "monthly",
        started_at: start,
        expires_at: Some(add_months(start, 1)),
        released_at: None,
        list_price: d(monthly),
        discount: Decimal::ONE,
        price_paid: d(monthly),
        elastic_on_at: None,
        elastic_off_at: None,
        attached_apps: 0,
        elastic_unit_price: None,
    }
}

fn event(
    id: &str,
    kind: &'static str,
    target: &str,
    at: Ts,
    new_plan: Option<&'static str>,
) -> EventRow {
    EventRow {
        event_id: id.to_string(),
        kind,
        target_id: target.to_string(),
        at,
        new_plan,
        months: None,
        price_paid: None,
        auto: None,
    }
}

/// Example 10: an EIP uses exactly 10 GB from 07:00 to 08:00 on the last day.
fn eip_hour(days: &Days, t: &mut Tables, usage: &mut Vec<UsageRow>) {
    let eip = Inst {
        owner: "scn-eip",
        region: GZ,
        id: ("eip", "eip", "eip-scn00010"),
    };
    t.accounts
        .push(account("scn-eip", 100, days.opening_at, None));
    usage.push(eip.row("scn-eip-1", "public_traffic", at(days.last, 7), d(10), "GB"));
}

/// Example 6: the gateway's second year; one hour of calls and egress, its only usage.
fn apigw_second_year(days: &Days, t: &mut Tables, usage: &mut Vec<UsageRow>) {
    let gw = Inst {
        owner: "scn-apigw",
        region: GZ,
        id: ("apigw", "shared-instance", "service-scn00006"),
    };
    let account = account("scn-apigw", 1000, days.opening_at, Some(days.long_ago));
    t.accounts.push(account);
    let h = at(days.before_last(20), 10);
    usage.push(gw.row("scn-apigw-calls", "calls", h, d(5_000_000), "call"));
    usage.push(gw.row("scn-apigw-resp", "egress_traffic", h, d(15_000_000), "KB"));
    usage.push(gw.row("scn-apigw-back", "egress_traffic", h, d(5_000_000), "KB"));
}

/// Example 7: all on the last day, so in one month; the counter spans regions.
fn call_tiers(days: &Days, t: &mut Tables, usage: &mut Vec<UsageRow>) {
    let mut tier = Inst {
        owner: "scn-tier",
        region: GZ,
        id: ("apigw", "shared-instance", "service-scn00007"),
    };
    let account = account("scn-tier", 10_000, days.opening_at, Some(days.long_ago));
    t.accounts.push(account);
    for (k, hour) in [8, 9, 10].into_iter().enumerate() {
        let id = format!("scn-tier-{}", k + 1);
        usage.push(tier.row(id, "calls", at(days.last, hour), d(3_330_000), "call"));
    }
    tier.region = "ap-shanghai";
    usage.push(tier.row("scn-tier-4", "calls", at(days.last, 11), d(20_000), "call"));
}

/// Example 8: two total packages, B expiring a month before A; one 6 GB hour uses B first.
fn package_order(days: &Days, t: &mut Tables, usage: &mut Vec<UsageRow>) {
    let used = at(days.before_last(10), 10);
    let b_expires = Month::of(used).next().start();
    let a_expires = Month::of(used).next().next().start();
    let bought = days.range.start - 10 * DAY;
    t.accounts
        .push(account("scn-pkg", 100, days.opening_at, None));
    for p in [
        tp_total("scn-pkg-A", 3, 225, bought, a_expires),
        tp_total("scn-pkg-B", 5, 375, bought, b_expires),
    ] {
        t.scopes.push(eip_scope(&p.package_id));
        t.packages.push(p);
    }
    let eip = Inst {
        owner: "scn-pkg",
        region: GZ,
        id: ("eip", "eip", "eip-scn00008"),
    };
    usage.push(eip.row("scn-pkg-1", "public_traffic", used, d(6), "GB"));
}

/// Example 9 (revised): activation with odd seconds inside the range, the free quota, and calls
/// around the activation and the first cycle boundary, 00:00 UTC+8 of the day 30 days after
/// activation's day. 300,000 calls and 100 MB an hour: on the activation day the 15:00–17:00
/// hours start before the activation (PAYG), 18:00–22:00 use the cycle's 1,000,000 calls and
/// leave 500,000 PAYG; 22:00 and 23:00 before the boundary are still in the exhausted first
/// cycle (600,000 PAYG); 00:00 and 01:00 are in the second (covered). When the range reaches
/// the boundary: 2,000,000 PAYG calls = 12.00 (tier 1), and 300 MB of egress PAYG
/// (0.29296875 GB × 0.80 = 0.234375); the old anchoring at 17:13:14 would bill 2,600,000.
fn free_quota_cycles(days: &Days, t: &mut Tables, usage: &mut Vec<UsageRow>) {
    let range = days.range;
    let act_day = (days.last - 40 * DAY).max(days.first + (range.days as i64 - 1).min(1) * DAY);
    let activated = act_day + 17 * HOUR + (13 * 60 + 14) * MICROS_PER_SECOND;
    let account = account("scn-free", 1000, days.opening_at, Some(activated));
    t.accounts.push(account);
    let ids = ["scn-free-calls".into(), "scn-free-egress".into()];
    let (pkgs, scopes) = free_quota("scn-free", activated, ids);
    t.packages.extend(pkgs);
    t.scopes.extend(scopes);
    let free = Inst {
        owner: "scn-free",
        region: GZ,
        id: ("apigw", "shared-instance", "service-scn00009"),
    };
    // Natural-day cycles (docs/rules.md §3.1, revised): the second cycle starts at 00:00 of the
    // day 30 days after activation's day.
    let boundary = day_start(activated) + 30 * DAY;
    let hours = (15..23)
        .map(|h| at(act_day, h))
        .chain([-2, -1, 0, 1].map(|h| boundary + h * HOUR));
    for (k, h) in hours.enumerate() {
        if h < range.start || h + HOUR > range.end {
            continue;
        }
        usage.push(free.row(format!("scn-free-{k:02}c"), "calls", h, d(300_000), "call"));
        usage.push(free.row(
            format!("scn-free-{k:02}e"),
            "egress_traffic",
            h,
            d(100),
            "MB",
        ));
    }
}

/// Examples 1 and 2: a quality and a shared traffic package, half used, then refunded.
fn package_refunds(days: &Days, t: &mut Tables, usage: &mut Vec<UsageRow>) {
    t.accounts
        .push(account("scn-refund", 1000, days.opening_at, None));
    let used = at(days.before_last(15), 10);
    let refund_at = at(days.before_last(12), 10);
    let bought = days.range.start - 10 * DAY;
    let far = days.range.end + 180 * DAY;
    let mut q = tp_total("scn-refund-Q", 10, 1950, bought, far);
    q.owner_uin = "scn-refund".into();
    q.product = "qtp";
    q.sub_product = "quality";
    q.region = "ap-hongkong";
    q.package_name = "qtp/quality 10 GB (ap-hongkong)".into();
    let mut sh = tp_total("scn-refund-S", 10, 750, bought, far);
    sh.owner_uin = "scn-refund".into();
    for p in [q, sh] {
        t.scopes.push(eip_scope(&p.package_id));
        let id = format!("scn-refund-{}", &p.package_id[11..]);
        t.events
            .push(event(&id, "refund", &p.package_id, refund_at, None));
        t.packages.push(p);
    }
    let accelerated = Inst {
        owner: "scn-refund",
        region: "ap-hongkong",
        id: ("eip", "eip", "eip-scn00001"),
    };
    let mut r = accelerated.row("scn-refund-q", "public_traffic", used, d(5), "GB");
    r.direction = Some("to_mainland");
    r.accelerated = true;
    usage.push(r);
    let shared = Inst {
        owner: "scn-refund",
        region: GZ,
        id: ("eip", "eip", "eip-scn00002"),
    };
    usage.push(shared.row("scn-refund-s", "public_traffic", used, d(5), "GB"));
}

/// Examples 3 and 4: a mini-program plan with the elastic switch on for three days of peaks
/// above it (the fourth day's peak is after the switch is off), then upgraded.
fn elastic_plan(days: &Days, t: &mut Tables, usage: &mut Vec<UsageRow>) {
    t.accounts
        .push(account("scn-plan", 100_000, days.opening_at, None));
    let start = at(days.before_last(35), 10);
    let mut plan = monthly("scn-plan-1", "scn-plan", "mpgw", "test", start);
    plan.elastic_on_at = Some(plan.started_at);
    plan.elastic_off_at = Some(at(days.before_last(28), 12));
    plan.attached_apps = 1;
    plan.elastic_unit_price = Some(Decimal::new(999, 3));
    t.subscriptions.push(plan);
    let gw = Inst {
        owner: "scn-plan",
        region: GZ,
        id: ("mpgw", "elastic", "scn-plan-1"),
    };
    let peaks = [
        (30, 1100, 12),
        (29, 1200, 30),
        (28, 1250, 10),
        (27, 5000, 10),
    ];
    for (k, (n, qps, mbps)) in peaks.into_iter().enumerate() {
        let h = at(days.before_last(n), 10);
        for (item, q, unit) in [("peak_qps", qps, "QPS"), ("peak_bandwidth", mbps, "Mbps")] {
            let id = format!("scn-plan-{k}{}", &item[5..6]);
            usage.push(gw.row(id, item, h, d(q), unit));
        }
    }
    let up_at = at(days.before_last(26), 15);
    t.events.push(event(
        "scn-plan-up",
        "upgrade",
        "scn-plan-1",
        up_at,
        Some("starter"),
    ));
}

/// Example 5: a plan unsubscribed on its tenth day.
fn unsubscribed_plan(days: &Days, t: &mut Tables) {
    t.accounts
        .push(account("scn-plan-2", 100_000, days.opening_at, None));
    let start = at(days.before_last(30), 10);
    t.subscriptions
        .push(monthly("scn-plan-2", "scn-plan-2", "mpgw", "test", start));
    let refund_at = at(days.before_last(21), 10);
    t.events.push(event(
        "scn-plan-2-refund",
        "refund",
        "scn-plan-2",
        refund_at,
        None,
    ));
}

/// Two dedicated instances refunded within 5 days of purchase: the 5-day rule is once per
/// customer.
fn instance_refunds(days: &Days, t: &mut Tables) {
    t.accounts
        .push(account("scn-inst", 100_000, days.opening_at, None));
    for (k, n) in [(1, 20), (2, 19)] {
        let id = format!("scn-inst-{k}");
        let start = at(days.before_last(n), 9);
        t.subscriptions
            .push(monthly(&id, "scn-inst", "apigw", "basic", start));
        let refund_at = at(days.before_last(17), 9);
        t.events.push(event(
            &format!("{id}-refund"),
            "refund",
            &id,
            refund_at,
            None,
        ));
    }
}

/// Invalid rows on the last day, one row rule each.
fn invalid_rows(days: &Days, t: &mut Tables, usage: &mut Vec<UsageRow>) {
    let bad = Inst {
        owner: "scn-bad",
        region: GZ,
        id: ("eip", "eip", "eip-scnbad01"),
    };
    t.accounts
        .push(account("scn-bad", 100, days.opening_at, None));
    let h = at(days.last, 12);
    let [dup, neg, unaligned, end, unit] = INVALID_ROWS.map(|(id, _)| id);
    let one_gb = |id: &str, start: Ts| bad.row(id, "public_traffic", start, d(1), "GB");
    usage.push(one_gb(dup, h));
    usage.push(bad.row(neg, "public_traffic", h, d(-1), "GB"));
    usage.push(one_gb(unaligned, h + HOUR / 2));
    let mut r = one_gb(end, h + HOUR);
    r.end = r.start + 2 * HOUR;
    usage.push(r);
    usage.push(bad.row(unit, "public_traffic", h, d(1000), "bytes"));
}

#[cfg(test)]
mod tests {
    use super::super::tests::{config, generated};
    use super::*;
    use crate::calendar::parse_date;
    use crate::input;
    use std::collections::BTreeSet;

    #[test]
    fn scenarios_plant_exactly_the_five_invalid_rows() {
        let (_dir, _s, inp) = generated(1, true);
        let got: BTreeSet<(&str, &str, &str)> = inp
            .violations
            .iter()
            .map(|v| (&*v.source_table, &*v.source_id, &*v.rule))
            .collect();
        let want: BTreeSet<(&str, &str, &str)> = INVALID_ROWS
            .iter()
            .map(|(id, rule)| ("usage", *id, *rule))
            .collect();
        let usage: BTreeSet<_> = got.iter().copied().filter(|v| v.0 == "usage").collect();
        assert_eq!(usage, want);
        assert_eq!(inp.usage_rows_read, inp.usage.len() + 5);
        // Loaders that check the revised clauses at read time may also report the planted bad
        // rows of the revised scenarios; nothing else.
        for v in got.iter().filter(|v| v.0 != "usage") {
            assert!(revised::PLANTED_ROWS.contains(v), "{v:?}");
        }
    }

    #[test]
    fn scenario_accounts_follow_the_worked_examples() {
        let (_dir, _s, inp) = generated(1, true);
        let t = |s: &str| crate::calendar::parse_local(s).unwrap();
        let rows = |owner: &str| -> Vec<&input::Usage> {
            inp.usage
                .iter()
                .filter(|u| &*u.owner_uin == owner)
                .collect()
        };
        // Example 10: 10 GB from 07:00 to 08:00 UTC+8.
        let eip = rows("scn-eip");
        assert_eq!(eip.len(), 1);
        assert_eq!(eip[0].usage_start, t("2024-06-30 07:00:00"));
        assert_eq!(
            (eip[0].quantity, eip[0].unit.as_str()),
            (Decimal::from(10), "GB")
        );
        // Example 6: one hour, its only usage.
        let gw = rows("scn-apigw");
        assert_eq!(gw.len(), 3);
        assert!(gw.iter().all(|u| u.usage_start == t("2024-06-21 10:00:00")));
        // Example 7: 9,990,000 calls, then 20,000, on one day.
        let tier = rows("scn-tier");
        let total: Decimal = tier.iter().map(|u| u.quantity).sum();
        assert_eq!(total, Decimal::from(10_010_000));
        let last = tier.iter().max_by_key(|u| u.usage_start).unwrap();
        assert_eq!(last.quantity, Decimal::from(20_000));
        // No free quota for the second-year accounts.
        for owner in ["scn-apigw", "scn-tier"] {
            assert!(inp.packages.iter().all(|p| &*p.owner_uin != owner));
        }
        // Example 8: B expires a month before A, both after the 6 GB hour.
        let pkg = |id: &str| inp.packages.iter().find(|p| &*p.package_id == id).unwrap();
        let (a, b) = (pkg("scn-pkg-A"), pkg("scn-pkg-B"));
        let used = rows("scn-pkg");
        assert_eq!((used.len(), used[0].quantity), (1, Decimal::from(6)));
        assert!(used[0].usage_end <= b.expires_at && b.expires_at < a.expires_at);
        assert_eq!(
            (b.expires_at, a.expires_at),
            (t("2024-07-01"), t("2024-08-01"))
        );
        // Example 9: activation with odd seconds inside the range, periodic free packages.
        let acct = inp
            .accounts
            .iter()
            .find(|a| &*a.owner_uin == "scn-free")
            .unwrap();
        assert_eq!(acct.apigw_activated_at, Some(t("2024-06-22 17:13:14")));
        assert_eq!(
            pkg("scn-free-calls").expires_at,
            t("2024-06-22") + 360 * DAY
        );
        assert!(rows("scn-free").len() >= 8);
    }

    #[test]
    fn on_a_long_range_scenarios_fall_in_the_default_three_month_window() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = config(dir.path(), 1, true);
        (a.accounts, a.days) = (0, 120);
        let s = super::super::generate(&a).unwrap();
        assert_eq!((s.accounts, s.usage_files), (18, 1));
        let inp = input::load(dir.path()).unwrap();
        let w = crate::calendar::Window::new(parse_date("2024-07-01").unwrap());
        let t = |s: &str| crate::calendar::parse_local(s).unwrap();
        assert!(inp.usage.iter().all(|u| w.contains(u.usage_start)));
        let usage_violations = inp
            .violations
            .iter()
            .filter(|v| &*v.source_table == "usage");
        assert_eq!(usage_violations.clone().count(), 5);
        assert!(usage_violations
            .into_iter()
            .all(|v| v.at.is_some_and(|at| w.contains(at))));
        // The free-quota account reaches its first cycle boundary (natural days): 23:00 is
        // still cycle 0, 00:00 is cycle 1.
        let act = t("2024-05-21 17:13:14");
        let acct = inp
            .accounts
            .iter()
            .find(|a| &*a.owner_uin == "scn-free")
            .unwrap();
        assert_eq!(acct.apigw_activated_at, Some(act));
        let starts: BTreeSet<Ts> = inp
            .usage
            .iter()
            .filter(|u| &*u.owner_uin == "scn-free")
            .map(|u| u.usage_start)
            .collect();
        assert!(
            starts.contains(&t("2024-06-19 23:00:00"))
                && starts.contains(&t("2024-06-20 00:00:00"))
        );
    }
}
