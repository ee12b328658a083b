//! Hand-made accounts for `reckon generate --scenarios`: each reproduces a RULES.md worked
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
//!   free quota); in one hour 20 days before the last day, 5,000,000 calls and 15,000,000 KB + 5,000,000 KB of
//!   egress — its only usage, so its month's bill is 45.26.
//! - `scn-tier` (example 7): 3 × 3,330,000 calls = 9,990,000 billable calls by 11:00 on the last
//!   day, then 20,000 calls from 11:00 → 10,000 at tier 1 and 10,000 at tier 2.
//! - `scn-pkg` (example 8): `tp` total packages in ap-guangzhou for eip/public_traffic, A (3 GB,
//!   expires on the 1st two months after the usage month) and B (5 GB, one month earlier); one
//!   hour of 6 GB ten days before the last day takes 5 GB from B, then 1 GB from A.
//! - `scn-free` (example 9): the gateway activated at 17:13:14 UTC+8 40 days before the last day
//!   (at the latest the range's second day),
//!   with its two periodic free packages; hourly calls around the activation instant (the 17:00
//!   hour starts before it and is not covered) and around the first 30-day cycle boundary when
//!   the range reaches it.
//! - `scn-refund` (examples 1 and 2): a quality traffic package (10 GB in ap-hongkong for 19.50)
//!   with 5 GB of accelerated Hong Kong → mainland traffic, and a shared traffic package (10 GB
//!   in ap-guangzhou for 7.50) with 5 GB used; both refunded three days later → 8.75 and 3.50.
//! - `scn-plan` (examples 3 and 4): a mini-program `test` plan (500 QPS) with the elastic switch
//!   on, three days of peaks 1100 QPS/12 Mbps, 1200/30, 1250/10 → 599.4, 999.0, 799.2, the switch
//!   off on the third day (the fourth day's peak is not charged); then upgraded to `starter`.
//! - `scn-plan-2` (example 5): a `test` plan unsubscribed on its tenth day → 10 days used.
//! - `scn-inst`: two dedicated monthly instances refunded within 5 days of purchase: the first
//!   is refunded in full, the second pro rata (the 5-day rule is once per customer).
//! - `scn-bad`: five invalid usage rows on the last day, one per row rule — `duplicate_usage_id` (reuses
//!   `scn-eip-1`), `negative_quantity`, `unaligned_hour`, `bad_usage_end`, `unknown_unit`
//!   (`bytes`).

use super::{
    free_quota, AccountRow, EventRow, PackageRow, Range, ScopeRow, SubscriptionRow, Tables,
    UsageRow,
};
use crate::calendar::{day_start, Month, Ts, DAY, HOUR, MICROS_PER_SECOND};
use rust_decimal::Decimal;

const GZ: &str = "ap-guangzhou";

/// Planted invalid usage rows: (usage_id, rule the loader reports).
pub(crate) const INVALID_ROWS: [(&str, &str); 5] = [
    ("scn-eip-1", "duplicate_usage_id"),
    ("scn-bad-negative", "negative_quantity"),
    ("scn-bad-unaligned", "unaligned_hour"),
    ("scn-bad-end", "bad_usage_end"),
    ("scn-bad-unit", "unknown_unit"),
];

fn d(n: i64) -> Decimal {
    Decimal::from(n)
}

/// A valid one-hour row.
#[allow(clippy::too_many_arguments)]
fn row(
    id: impl Into<String>,
    owner: &'static str,
    region: &'static str,
    (product, sub_product, instance_id): (&'static str, &'static str, &'static str),
    item: &'static str,
    start: Ts,
    quantity: Decimal,
    unit: &'static str,
) -> UsageRow {
    UsageRow {
        usage_id: id.into(),
        owner_uin: owner,
        region,
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

/// Appends the scenario accounts, packages and usage rows (valid rows first, then the five
/// invalid ones, so the duplicate id is the later occurrence).
pub(crate) fn add(range: Range, t: &mut Tables, usage: &mut Vec<UsageRow>) {
    let first = range.start;
    let last = range.end - DAY;
    // `n` days before the last day, but not before the range.
    let before_last = |n: i64| (last - n * DAY).max(first);
    let opening_at = range.start - 30 * DAY;
    let long_ago = range.start - 400 * DAY - 5 * HOUR;
    let at = |day: Ts, h: i64| day + h * HOUR;

    // Example 10.
    let eip = ("eip", "eip", "eip-scn00010");
    t.accounts.push(account("scn-eip", 100, opening_at, None));
    usage.push(row(
        "scn-eip-1",
        "scn-eip",
        GZ,
        eip,
        "public_traffic",
        at(last, 7),
        d(10),
        "GB",
    ));

    // Example 6.
    let gw = ("apigw", "shared-instance", "service-scn00006");
    t.accounts
        .push(account("scn-apigw", 1000, opening_at, Some(long_ago)));
    let h = at(before_last(20), 10);
    usage.push(row(
        "scn-apigw-calls",
        "scn-apigw",
        GZ,
        gw,
        "calls",
        h,
        d(5_000_000),
        "call",
    ));
    usage.push(row(
        "scn-apigw-resp",
        "scn-apigw",
        GZ,
        gw,
        "egress_traffic",
        h,
        d(15_000_000),
        "KB",
    ));
    usage.push(row(
        "scn-apigw-back",
        "scn-apigw",
        GZ,
        gw,
        "egress_traffic",
        h,
        d(5_000_000),
        "KB",
    ));

    // Example 7: all on the last day, so in one month; the counter spans regions.
    let tier = ("apigw", "shared-instance", "service-scn00007");
    t.accounts
        .push(account("scn-tier", 10_000, opening_at, Some(long_ago)));
    for (k, hour) in [8, 9, 10].into_iter().enumerate() {
        let id = format!("scn-tier-{}", k + 1);
        usage.push(row(
            id,
            "scn-tier",
            GZ,
            tier,
            "calls",
            at(last, hour),
            d(3_330_000),
            "call",
        ));
    }
    let h = at(last, 11);
    usage.push(row(
        "scn-tier-4",
        "scn-tier",
        "ap-shanghai",
        tier,
        "calls",
        h,
        d(20_000),
        "call",
    ));

    // Example 8.
    let used = at(before_last(10), 10);
    let b_expires = Month::of(used).next().start();
    let a_expires = Month::of(used).next().next().start();
    let bought = range.start - 10 * DAY;
    t.accounts.push(account("scn-pkg", 100, opening_at, None));
    for p in [
        tp_total("scn-pkg-A", 3, 225, bought, a_expires),
        tp_total("scn-pkg-B", 5, 375, bought, b_expires),
    ] {
        t.scopes.push(ScopeRow {
            package_id: p.package_id.clone(),
            product: "eip",
            billing_item: "public_traffic",
            coefficient: Decimal::ONE,
        });
        t.packages.push(p);
    }
    let eip8 = ("eip", "eip", "eip-scn00008");
    usage.push(row(
        "scn-pkg-1",
        "scn-pkg",
        GZ,
        eip8,
        "public_traffic",
        used,
        d(6),
        "GB",
    ));

    // Example 9: activation with odd seconds inside the range.
    let act_day = (last - 40 * DAY).max(first + (range.days as i64 - 1).min(1) * DAY);
    let activated = act_day + 17 * HOUR + (13 * 60 + 14) * MICROS_PER_SECOND;
    t.accounts
        .push(account("scn-free", 1000, opening_at, Some(activated)));
    let (pkgs, scopes) = free_quota(
        "scn-free",
        activated,
        ["scn-free-calls".into(), "scn-free-egress".into()],
    );
    t.packages.extend(pkgs);
    t.scopes.extend(scopes);
    let free = ("apigw", "shared-instance", "service-scn00009");
    let boundary = activated + 30 * DAY;
    let hours = (15..23).map(|h| at(act_day, h)).chain([
        day_start(boundary) + 17 * HOUR,
        day_start(boundary) + 18 * HOUR,
    ]);
    for (k, h) in hours.enumerate() {
        if h < range.start || h + HOUR > range.end {
            continue;
        }
        let calls = row(
            format!("scn-free-{:02}c", k),
            "scn-free",
            GZ,
            free,
            "calls",
            h,
            d(300_000),
            "call",
        );
        usage.push(calls);
        let mb = row(
            format!("scn-free-{:02}e", k),
            "scn-free",
            GZ,
            free,
            "egress_traffic",
            h,
            d(100),
            "MB",
        );
        usage.push(mb);
    }

    // Examples 1 and 2: package refunds.
    t.accounts
        .push(account("scn-refund", 1000, opening_at, None));
    let used = at(before_last(15), 10);
    let refund_at = at(before_last(12), 10);
    let bought = range.start - 10 * DAY;
    let far = range.end + 180 * DAY;
    let mut q = tp_total("scn-refund-Q", 10, 1950, bought, far);
    q.owner_uin = "scn-refund".into();
    q.product = "qtp";
    q.sub_product = "quality";
    q.region = "ap-hongkong";
    q.package_name = "qtp/quality 10 GB (ap-hongkong)".into();
    let mut sh = tp_total("scn-refund-S", 10, 750, bought, far);
    sh.owner_uin = "scn-refund".into();
    for p in [q, sh] {
        t.scopes.push(ScopeRow {
            package_id: p.package_id.clone(),
            product: "eip",
            billing_item: "public_traffic",
            coefficient: Decimal::ONE,
        });
        t.events.push(EventRow {
            event_id: format!("scn-refund-{}", &p.package_id[11..]),
            kind: "refund",
            target_id: p.package_id.clone(),
            at: refund_at,
            new_plan: None,
            months: None,
        });
        t.packages.push(p);
    }
    let mut r = row(
        "scn-refund-q",
        "scn-refund",
        "ap-hongkong",
        ("eip", "eip", "eip-scn00001"),
        "public_traffic",
        used,
        d(5),
        "GB",
    );
    r.direction = Some("to_mainland");
    r.accelerated = true;
    usage.push(r);
    usage.push(row(
        "scn-refund-s",
        "scn-refund",
        GZ,
        ("eip", "eip", "eip-scn00002"),
        "public_traffic",
        used,
        d(5),
        "GB",
    ));

    // Examples 3, 4 and 5: mini-program plans; the 5-day rule twice for one customer.
    let plan = |id: &str, owner: &str, product: &'static str, name: &'static str, start: Ts| {
        let monthly = if product == "mpgw" { 4999 } else { 3680 };
        SubscriptionRow {
            subscription_id: id.to_string(),
            owner_uin: owner.to_string(),
            product,
            plan: name,
            region: GZ,
            billing_mode: "monthly",
            started_at: start,
            expires_at: Some(crate::rules::subscriptions::add_months(start, 1)),
            released_at: None,
            list_price: d(monthly),
            discount: Decimal::ONE,
            price_paid: d(monthly),
            elastic_on_at: None,
            elastic_off_at: None,
            attached_apps: 0,
        }
    };
    let event = |id: &str, kind: &'static str, target: &str, at: Ts, new_plan| EventRow {
        event_id: id.to_string(),
        kind,
        target_id: target.to_string(),
        at,
        new_plan,
        months: None,
    };
    t.accounts
        .push(account("scn-plan", 100_000, opening_at, None));
    let mut p3 = plan(
        "scn-plan-1",
        "scn-plan",
        "mpgw",
        "test",
        at(before_last(35), 10),
    );
    p3.elastic_on_at = Some(p3.started_at);
    p3.elastic_off_at = Some(at(before_last(28), 12));
    p3.attached_apps = 1;
    t.subscriptions.push(p3);
    let peaks = [
        (30, 1100, 12),
        (29, 1200, 30),
        (28, 1250, 10),
        (27, 5000, 10),
    ];
    for (k, (n, qps, mbps)) in peaks.into_iter().enumerate() {
        let h = at(before_last(n), 10);
        for (item, q, unit) in [("peak_qps", qps, "QPS"), ("peak_bandwidth", mbps, "Mbps")] {
            usage.push(row(
                format!("scn-plan-{k}{}", &item[5..6]),
                "scn-plan",
                GZ,
                ("mpgw", "elastic", "scn-plan-1"),
                item,
                h,
                d(q),
                unit,
            ));
        }
    }
    t.events.push(event(
        "scn-plan-up",
        "upgrade",
        "scn-plan-1",
        at(before_last(26), 15),
        Some("starter"),
    ));
    t.accounts
        .push(account("scn-plan-2", 100_000, opening_at, None));
    t.subscriptions.push(plan(
        "scn-plan-2",
        "scn-plan-2",
        "mpgw",
        "test",
        at(before_last(30), 10),
    ));
    t.events.push(event(
        "scn-plan-2-refund",
        "refund",
        "scn-plan-2",
        at(before_last(21), 10),
        None,
    ));
    t.accounts
        .push(account("scn-inst", 100_000, opening_at, None));
    for (k, n) in [(1, 20), (2, 19)] {
        let id = format!("scn-inst-{k}");
        t.subscriptions.push(plan(
            &id,
            "scn-inst",
            "apigw",
            "basic",
            at(before_last(n), 9),
        ));
        t.events.push(event(
            &format!("{id}-refund"),
            "refund",
            &id,
            at(before_last(17), 9),
            None,
        ));
    }

    // Invalid rows, one rule each.
    let bad = ("eip", "eip", "eip-scnbad01");
    t.accounts.push(account("scn-bad", 100, opening_at, None));
    let h = at(last, 12);
    let [dup, neg, unaligned, end, unit] = INVALID_ROWS.map(|(id, _)| id);
    usage.push(row(
        dup,
        "scn-bad",
        GZ,
        bad,
        "public_traffic",
        h,
        d(1),
        "GB",
    ));
    usage.push(row(
        neg,
        "scn-bad",
        GZ,
        bad,
        "public_traffic",
        h,
        d(-1),
        "GB",
    ));
    let mut r = row(
        unaligned,
        "scn-bad",
        GZ,
        bad,
        "public_traffic",
        h + HOUR / 2,
        d(1),
        "GB",
    );
    r.end = r.start + HOUR;
    usage.push(r);
    let mut r = row(
        end,
        "scn-bad",
        GZ,
        bad,
        "public_traffic",
        h + HOUR,
        d(1),
        "GB",
    );
    r.end = r.start + 2 * HOUR;
    usage.push(r);
    usage.push(row(
        unit,
        "scn-bad",
        GZ,
        bad,
        "public_traffic",
        h,
        d(1000),
        "bytes",
    ));
}
