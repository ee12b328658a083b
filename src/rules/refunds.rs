//! Refunds (docs/rules.md §6): who may get money back for a package or a subscription,
//! and how much.
//!
//! | what | rule |
//! |---|---|
//! | quality traffic package (`refunds.quality_traffic_products`) | only while not expired; paid − price per GB × used GB; 0 once exhausted (§3.2) |
//! | shared traffic package (`refunds.shared_traffic_products`) | only while not expired; paid − Σ used GB × the standard pay-by-traffic price of the region it was used in, at the refund instant |
//! | API gateway package (`refunds.self_service_products`) | self-service only if not free quota, a `new` order, never used and still valid: everything paid; otherwise refused with the reason |
//! | dedicated monthly instance (`refunds.instance_products`) | the customer's first refund within `instance_full_refund_days` UTC+8 calendar days, the purchase day as day 1 (before 00:00 of the purchase day + 5 days; revised): everything paid; otherwise paid − used time / total time × paid |
//! | mini-program plan (`refunds.plan_products`) | only with no mini program attached; paid − used days / total days × the order's `list_price` × `discount` (revised: not the catalog's price), any started day counting whole |
//!
//! **Decisions:** `paid` is what the customer paid in cash — a package's `price_paid` minus its
//! `voucher_amount` (vouchers are never refunded), a subscription's charges so far (terms and
//! upgrades). Every amount is floored at 0, kept at scale 8, and `payable` is rounded once to
//! 0.01. A package refund is decided inside the deduction sweep (`package_policy`), so usage up
//! to the refund instant counts as used and nothing after it is covered. Requests for products
//! with no rule, for refunded, expired or ended targets, for packages not bought yet, and for
//! hourly instances (billed by the second: release instead) are refused with the reason. A refused
//! request is still written, with `eligible = false` and amount 0.
//!
//! Invariants: `0 ≤ amount ≤ paid`; `payable = round2(amount)`; an eligible refund yields one
//! `refund` bill line of `−amount` at its instant.

use crate::calendar::{day_start_of_date, local_date, Ts};
use crate::catalog::{Catalog, Pricing};
use crate::input::{Event, Package, PackageSource, Subscription, Violation};
use crate::model::{BillLine, ChargeKind, DeductionDetail, RefundRow};
use crate::money::{convert, m8, pay2, Unit};
use crate::name::Name;
use crate::rules::deduction::{PackageState, RefundRequest};
use chrono::Days;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;

/// Which refund rule of §6 applies to a package product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageRule {
    QualityTraffic,
    SharedTraffic,
    SelfService,
    None,
}

impl PackageRule {
    pub fn of(catalog: &Catalog, product: &str) -> PackageRule {
        let r = &catalog.refunds;
        let has = |v: &[String]| v.iter().any(|p| p == product);
        if has(&r.quality_traffic_products) {
            PackageRule::QualityTraffic
        } else if has(&r.shared_traffic_products) {
            PackageRule::SharedTraffic
        } else if has(&r.self_service_products) {
            PackageRule::SelfService
        } else {
            PackageRule::None
        }
    }

    /// The `kind` written to `refunds`.
    pub fn kind(self) -> &'static str {
        match self {
            PackageRule::QualityTraffic => "quality_traffic_package",
            PackageRule::SharedTraffic => "shared_traffic_package",
            PackageRule::SelfService => "api_gateway_package",
            PackageRule::None => "package",
        }
    }
}

/// Eligibility of a package refund request at `at`, given the package state the sweep saw.
pub fn package_eligibility(
    catalog: &Catalog,
    p: &Package,
    st: &PackageState,
    at: Ts,
) -> (bool, String) {
    if st.refund_at.is_some_and(|r| r <= at) {
        return (false, "package already refunded".into());
    }
    // Nothing paid yet to give back: granted, it would refund the price before it is charged
    // and cut off every draw the package is bought for.
    if at < p.purchased_at.min(p.effective_at) {
        return (
            false,
            "refund requested before the package was bought".into(),
        );
    }
    let expired = p.expires_at <= at;
    match PackageRule::of(catalog, &p.product) {
        PackageRule::QualityTraffic | PackageRule::SharedTraffic => {
            if expired {
                (false, "package already expired".into())
            } else {
                (
                    true,
                    "refund while not expired: paid − value of used traffic".into(),
                )
            }
        }
        PackageRule::SelfService => {
            let why_not = if p.source == PackageSource::Free {
                Some("free-quota package")
            } else if !p.order_is_new {
                Some("renewal order")
            } else if st.used > Decimal::ZERO {
                Some("package already used")
            } else if expired {
                Some("package already expired")
            } else if !p.activated || p.effective_at > at {
                Some("package not valid yet")
            } else if st.exhausted_at.is_some_and(|x| x <= at) {
                Some("package exhausted")
            } else {
                None
            };
            match why_not {
                Some(w) => (false, format!("not self-service refundable: {w}")),
                None => (true, "self-service refund of an unused package".into()),
            }
        }
        PackageRule::None => (false, format!("no refund rule for product {}", p.product)),
    }
}

/// The refund policy the deduction sweep calls for each package refund request.
pub fn package_policy(
    catalog: &Catalog,
) -> impl Fn(&Package, &PackageState, Ts) -> (bool, String) + Sync + '_ {
    move |p, st, at| package_eligibility(catalog, p, st, at)
}

/// Amount of an eligible refund: `paid − used_value`, floored at 0, scale 8.
pub fn refund_amount(paid: Decimal, used_value: Decimal) -> Decimal {
    m8((paid - used_value).max(Decimal::ZERO))
}

/// Cash part of a package's price (vouchers are never refunded).
pub fn cash_paid(p: &Package) -> Decimal {
    (p.price_paid - p.voucher_amount).max(Decimal::ZERO)
}

/// Prices the package refund requests of the sweep: rows for `refunds/`, `refund` bill lines for
/// the eligible ones, and exceptions where the value of used traffic cannot be priced.
pub fn package_refunds(
    requests: &[RefundRequest],
    packages: &[Package],
    events: &[Event],
    details: &[DeductionDetail],
    catalog: &Catalog,
) -> (Vec<RefundRow>, Vec<BillLine>, Vec<Violation>) {
    let draws = shared_draws(requests, packages, details, catalog);
    let (mut rows, mut lines, mut violations) = (Vec::new(), Vec::new(), Vec::new());
    for r in requests {
        let p = &packages[r.package_index];
        let e = &events[r.event_index];
        let rule = PackageRule::of(catalog, &p.product);
        let paid = cash_paid(p);
        let used_value = match rule {
            PackageRule::QualityTraffic => {
                let gb = convert(r.used, p.unit, Unit::GB);
                m8(gb * catalog.refunds.quality_traffic_price_per_gb)
            }
            PackageRule::SharedTraffic => {
                let drawn = draws.get(&p.package_id.addr()).map_or(&[][..], |v| v);
                let (mut value, priced) = shared_used_value(drawn, e.at, catalog);
                if !priced {
                    // Used traffic that cannot be valued: refund nothing and ask a person.
                    violations.push(unpriced_shared_refund(p, e, catalog));
                    value = value.max(paid);
                }
                m8(value)
            }
            PackageRule::SelfService | PackageRule::None => Decimal::ZERO,
        };
        let row = package_refund_row(r, p, e, rule, used_value);
        if row.eligible {
            lines.push(refund_line(
                &row,
                &p.owner_uin,
                &p.region,
                &p.product,
                &p.sub_product,
            ));
        }
        rows.push(row);
    }
    (rows, lines, violations)
}

/// Draws of shared traffic packages with a refund request, by package id (valued per region).
/// The map is only looked up, so it is keyed by the interned id's address: one integer hashed
/// per draw of the chunk, not the id's string.
fn shared_draws<'d>(
    requests: &[RefundRequest],
    packages: &[Package],
    details: &'d [DeductionDetail],
    catalog: &Catalog,
) -> FxHashMap<usize, Vec<&'d DeductionDetail>> {
    let mut draws: FxHashMap<usize, Vec<&DeductionDetail>> = requests
        .iter()
        .filter(|r| {
            PackageRule::of(catalog, &packages[r.package_index].product)
                == PackageRule::SharedTraffic
        })
        .map(|r| (packages[r.package_index].package_id.addr(), Vec::new()))
        .collect();
    if !draws.is_empty() {
        for d in details {
            if let Some(v) = draws.get_mut(&d.package_id.addr()) {
                v.push(d);
            }
        }
    }
    draws
}

/// §6, shared traffic package: Σ used GB × the standard price of the region each draw was used
/// in, at the refund instant `at` (draws up to `at`), unrounded; and whether every region had a
/// price.
fn shared_used_value(draws: &[&DeductionDetail], at: Ts, catalog: &Catalog) -> (Decimal, bool) {
    let mut value = Decimal::ZERO;
    let mut priced = true;
    for d in draws.iter().filter(|d| d.deducted_at <= at) {
        let gb = convert(d.deducted, d.package_unit, Unit::GB);
        match standard_traffic_price(catalog, &d.region, at) {
            Some(price) => value += gb * price,
            None => priced = false,
        }
    }
    (value, priced)
}

fn unpriced_shared_refund(p: &Package, e: &Event, catalog: &Catalog) -> Violation {
    Violation::new(
        "events",
        &*e.event_id,
        "no_price",
        format!(
            "refund of {}: a region it was used in has no standard {}/{} price; used value taken as the whole price",
            p.package_id,
            catalog.refunds.shared_traffic_price_product,
            catalog.refunds.shared_traffic_price_item,
        ),
        Some(e.at),
    )
}

/// The `refunds/` row of a package refund request whose used traffic is worth `used_value`.
fn package_refund_row(
    r: &RefundRequest,
    p: &Package,
    e: &Event,
    rule: PackageRule,
    used_value: Decimal,
) -> RefundRow {
    let paid = cash_paid(p);
    let mut reason = r.reason.clone();
    if p.voucher_amount > Decimal::ZERO {
        reason.push_str(&format!("; voucher {} not refunded", p.voucher_amount));
    }
    // §6: "an exhausted but unexpired package refunds 0", also when it cost more per GB
    // than the price used traffic is valued at (the formula alone would refund the rest).
    let exhausted_quality = rule == PackageRule::QualityTraffic && r.exhausted;
    if r.eligible && exhausted_quality {
        reason.push_str("; exhausted: refunds 0");
    }
    let amount = if r.eligible && !exhausted_quality {
        refund_amount(paid, used_value)
    } else {
        Decimal::ZERO
    };
    RefundRow {
        event_id: e.event_id,
        target_id: p.package_id,
        kind: rule.kind().to_string(),
        at: e.at,
        eligible: r.eligible,
        reason,
        paid,
        used_value,
        amount,
        payable: pay2(amount),
    }
}

/// The standard pay-by-traffic price per GB of a region at `at` (shared-package refunds).
fn standard_traffic_price(catalog: &Catalog, region: &str, at: Ts) -> Option<Decimal> {
    let r = &catalog.refunds;
    let e = catalog.price(
        &r.shared_traffic_price_product,
        &r.shared_traffic_price_item,
        region,
        at,
    )?;
    match (&e.pricing, &*e.price_unit) {
        (Pricing::Flat { unit_price }, "GB") => Some(*unit_price),
        _ => None,
    }
}

/// What a subscription refund request needs to know about the subscription's life so far.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionFacts {
    /// Charges so far (terms and upgrades), CNY.
    pub paid: Decimal,
    /// Current expiry (end of the last paid term); `None` for hourly instances.
    pub expires_at: Option<Ts>,
    /// The order's list price × discount for the whole paid time ([`order_list_value`]).
    pub list_value: Decimal,
    /// Whether the subscription already ended (released or refunded) before the request.
    pub ended: bool,
    /// Whether the customer already used the full-refund-within-days rule on an instance.
    pub full_refund_used: bool,
}

/// Which refund rule of §6 applies to a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionRule {
    Instance,
    Plan,
    None,
}

impl SubscriptionRule {
    pub fn of(catalog: &Catalog, product: &str) -> SubscriptionRule {
        let r = &catalog.refunds;
        if r.instance_products.iter().any(|p| p == product) {
            SubscriptionRule::Instance
        } else if r.plan_products.iter().any(|p| p == product) {
            SubscriptionRule::Plan
        } else {
            SubscriptionRule::None
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            SubscriptionRule::Instance => "dedicated_instance",
            SubscriptionRule::Plan => "mini_program_plan",
            SubscriptionRule::None => "subscription",
        }
    }
}

/// The decision on one subscription refund request.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionRefund {
    pub row: RefundRow,
    /// This refund used the customer's one full refund within the first days.
    pub used_full_refund: bool,
}

/// Decides and prices a subscription refund request at `at`.
pub fn subscription_refund(
    catalog: &Catalog,
    sub: &Subscription,
    facts: &SubscriptionFacts,
    e: &Event,
) -> SubscriptionRefund {
    let rule = SubscriptionRule::of(catalog, &sub.product);
    let d = match facts.expires_at {
        _ if facts.ended => Decision::refused("subscription already ended".into()),
        None => {
            Decision::refused("hourly instances are billed by the second: release instead".into())
        }
        Some(expires) if expires <= e.at => {
            Decision::refused("subscription already expired".into())
        }
        Some(expires) => match rule {
            SubscriptionRule::Instance => instance_refund(catalog, sub, facts, expires, e.at),
            SubscriptionRule::Plan => plan_refund(sub, facts, expires, e.at),
            SubscriptionRule::None => {
                Decision::refused(format!("no refund rule for product {}", sub.product))
            }
        },
    };
    let amount = if d.eligible {
        refund_amount(facts.paid, d.used_value)
    } else {
        Decimal::ZERO
    };
    SubscriptionRefund {
        row: RefundRow {
            event_id: e.event_id,
            target_id: sub.subscription_id,
            kind: rule.kind().to_string(),
            at: e.at,
            eligible: d.eligible,
            reason: d.reason,
            paid: facts.paid,
            used_value: d.used_value,
            amount,
            payable: pay2(amount),
        },
        used_full_refund: d.used_full_refund,
    }
}

/// The decision on a subscription refund request, before the amount.
struct Decision {
    eligible: bool,
    reason: String,
    used_value: Decimal,
    used_full_refund: bool,
}

impl Decision {
    fn refused(reason: String) -> Decision {
        Decision {
            eligible: false,
            reason,
            used_value: Decimal::ZERO,
            used_full_refund: false,
        }
    }

    fn granted(reason: String, used_value: Decimal) -> Decision {
        Decision {
            eligible: true,
            reason,
            used_value,
            used_full_refund: false,
        }
    }
}

/// §6, dedicated monthly instance (valid until `expires`): the customer's first refund within
/// `instance_full_refund_days` of purchase ([`full_refund_until`]) is full; otherwise used
/// time / total time × paid is kept.
fn instance_refund(
    catalog: &Catalog,
    sub: &Subscription,
    facts: &SubscriptionFacts,
    expires: Ts,
    at: Ts,
) -> Decision {
    let days = catalog.refunds.instance_full_refund_days;
    if !facts.full_refund_used && at < full_refund_until(sub.started_at, days) {
        let reason = format!("first instance refund within {days} days of purchase: full");
        return Decision {
            used_full_refund: true,
            ..Decision::granted(reason, Decimal::ZERO)
        };
    }
    let used = Decimal::from(at - sub.started_at);
    let total = Decimal::from(expires - sub.started_at);
    let why = if facts.full_refund_used {
        "full refund already used by this customer"
    } else {
        "more than the full-refund days after purchase"
    };
    Decision::granted(
        format!("{why}: paid − used time / total time × paid"),
        m8(used / total * facts.paid),
    )
}

/// §6 (revised): "within 5 days, the 5th included" counts UTC+8 calendar days with the
/// purchase day as day 1, so the full refund holds before 00:00 of the purchase day + `days`
/// (0 days: never; the catalog refuses negative days).
pub fn full_refund_until(purchased_at: Ts, days: i64) -> Ts {
    let Ok(days) = u64::try_from(days) else {
        return Ts::MIN;
    };
    let day = local_date(purchased_at);
    day.checked_add_days(Days::new(days))
        .map_or(Ts::MAX, day_start_of_date)
}

/// §6 (revised): the list price × discount of a plan's whole paid time (`months`), from the
/// order, not from the catalog. `list_price` is the order's price of its first term
/// (`first_months`); renewals extend the paid time at the order's monthly list price.
/// **Decision:** an upgrade does not change it (the order's columns are all the rule names).
pub fn order_list_value(sub: &Subscription, first_months: i64, months: i64) -> Decimal {
    sub.list_price * sub.discount * Decimal::from(months) / Decimal::from(first_months.max(1))
}

/// §6, mini-program plan (valid until `expires`): only with no mini program attached; used
/// days / total days × list price × discount is kept.
fn plan_refund(sub: &Subscription, facts: &SubscriptionFacts, expires: Ts, at: Ts) -> Decision {
    if sub.attached_apps > 0 {
        return Decision::refused(format!(
            "{} mini program(s) still attached",
            sub.attached_apps
        ));
    }
    let (used, total) = plan_days(sub.started_at, expires, at);
    Decision::granted(
        format!("{used} of {total} days used: paid − used/total × list × discount"),
        m8(Decimal::from(used) / Decimal::from(total) * facts.list_value),
    )
}

/// Days of a plan `[start, expires)` used at `at`, counted in UTC+8 calendar days with any
/// started day counting whole (the purchase day through the day of `at`), and its total days.
pub fn plan_days(start: Ts, expires: Ts, at: Ts) -> (i64, i64) {
    let total = (local_date(expires) - local_date(start)).num_days().max(1);
    let used = ((local_date(at) - local_date(start)).num_days() + 1).clamp(0, total);
    (used, total)
}

/// The `refund` bill line of an eligible refund: quantity 1 at a negative unit price.
pub fn refund_line(
    row: &RefundRow,
    owner: &Name,
    region: &Name,
    product: &Name,
    sub_product: &Name,
) -> BillLine {
    BillLine::one_off(
        format!("r:{}", row.event_id),
        (owner, region, product, sub_product, &row.target_id),
        "refund",
        ChargeKind::Refund,
        row.at,
        -row.amount,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::DAY;
    use crate::input::EventKind;
    use crate::input::PackageKind;
    use crate::rules::deduction::tests::{catalog, t};
    use rust_decimal_macros::dec;

    fn package(id: &str, owner: &str, region: &str, cap: Decimal, unit: Unit) -> Package {
        let mut p = crate::rules::deduction::tests::package(
            id,
            PackageKind::Total,
            Some(cap),
            unit,
            "2024-01-01 00:00:00",
            "2024-12-01 00:00:00",
        );
        p.owner_uin = Name::from(owner);
        p.region = Name::from(region);
        p
    }

    fn state(used: Decimal) -> PackageState {
        PackageState {
            used,
            ..Default::default()
        }
    }

    fn qtp(paid: Decimal) -> Package {
        let mut p = package("Q", "u1", "ap-hongkong", dec!(10), Unit::GB);
        p.product = Name::from("qtp");
        p.price_paid = paid;
        p
    }

    fn request(used: Decimal, eligible: bool) -> RefundRequest {
        RefundRequest {
            event_index: 0,
            package_index: 0,
            used,
            ever_used: used > Decimal::ZERO,
            remaining: None,
            exhausted: false,
            eligible,
            reason: "r".into(),
        }
    }

    fn refund_event(target: &str, at: &str) -> Event {
        Event {
            event_id: Name::from("e1"),
            kind: EventKind::Refund,
            target_id: Name::from(target),
            at: t(at),
            new_plan: None,
            months: None,
            price_paid: None,
            auto: None,
        }
    }

    /// docs/rules.md §9 example 1: 10 GB bought for 19.50, 5 GB used → 19.50 − 2.15 × 5 = 8.75.
    #[test]
    fn example_1_quality_traffic_package() {
        let c = catalog();
        let p = qtp(dec!(19.50));
        let e = refund_event("Q", "2024-05-10 00:00:00");
        let (rows, lines, v) = package_refunds(&[request(dec!(5), true)], &[p], &[e], &[], &c);
        assert!(v.is_empty());
        assert_eq!(rows[0].kind, "quality_traffic_package");
        assert_eq!(rows[0].paid, dec!(19.50));
        assert_eq!(rows[0].used_value, dec!(10.75));
        assert_eq!(rows[0].amount, dec!(8.75));
        assert_eq!(rows[0].payable, dec!(8.75));
        assert_eq!(lines[0].amount, dec!(-8.75));
        assert_eq!(lines[0].charge_kind, ChargeKind::Refund);
    }

    /// §6: an exhausted, unexpired quality traffic package refunds 0 even where paid − 2.15 ×
    /// used GB is positive (10 GB bought for 30.00: 30.00 − 21.50 = 8.50); not exhausted (9 of
    /// the 10 GB used), the formula applies.
    #[test]
    fn exhausted_quality_package_refunds_zero_whatever_it_cost() {
        let c = catalog();
        let p = qtp(dec!(30.00));
        let e = refund_event("Q", "2024-05-10 00:00:00");
        let exhausted = RefundRequest {
            exhausted: true,
            ..request(dec!(10), true)
        };
        let (rows, lines, _) = package_refunds(
            &[exhausted],
            std::slice::from_ref(&p),
            std::slice::from_ref(&e),
            &[],
            &c,
        );
        assert!(rows[0].eligible);
        assert_eq!(rows[0].used_value, dec!(21.50));
        assert_eq!(rows[0].amount, dec!(0));
        assert_eq!(rows[0].payable, dec!(0));
        assert!(
            rows[0].reason.ends_with("; exhausted: refunds 0"),
            "{}",
            rows[0].reason
        );
        assert_eq!(lines[0].amount, dec!(0));

        let (rows, lines, _) = package_refunds(&[request(dec!(9), true)], &[p], &[e], &[], &c);
        assert_eq!(rows[0].used_value, dec!(19.35));
        assert_eq!(rows[0].amount, dec!(10.65));
        assert_eq!(lines[0].amount, dec!(-10.65));
    }

    #[test]
    fn exhausted_but_valid_quality_package_refunds_zero() {
        let c = catalog();
        let p = qtp(dec!(19.50));
        let e = refund_event("Q", "2024-05-10 00:00:00");
        let (ok, _) = package_eligibility(&c, &p, &state(dec!(10)), e.at);
        assert!(ok);
        let (rows, _, _) = package_refunds(&[request(dec!(10), true)], &[p], &[e], &[], &c);
        assert_eq!(rows[0].used_value, dec!(21.50));
        assert_eq!(rows[0].amount, dec!(0));
        assert!(rows[0].eligible);
    }

    #[test]
    fn a_refund_before_the_purchase_is_refused() {
        let c = catalog();
        let mut p = qtp(dec!(13.00));
        p.purchased_at = t("2024-04-05 10:00:00");
        p.effective_at = t("2024-04-05 10:00:00");
        let (ok, reason) = package_eligibility(&c, &p, &state(dec!(0)), t("2024-04-04 10:00:00"));
        assert!(!ok);
        assert_eq!(reason, "refund requested before the package was bought");
        let (ok, _) = package_eligibility(&c, &p, &state(dec!(0)), t("2024-04-05 10:00:00"));
        assert!(ok);
    }

    #[test]
    fn expired_package_is_not_refunded() {
        let c = catalog();
        let p = qtp(dec!(19.50));
        let (ok, reason) = package_eligibility(&c, &p, &state(dec!(1)), p.expires_at);
        assert!(!ok);
        assert_eq!(reason, "package already expired");
        let (rows, lines, _) = package_refunds(
            &[request(dec!(1), false)],
            std::slice::from_ref(&p),
            &[refund_event("Q", "2030-01-01 00:00:00")],
            &[],
            &c,
        );
        assert!(!rows[0].eligible);
        assert_eq!(rows[0].amount, dec!(0));
        assert!(lines.is_empty());
    }

    fn draw(region: &str, gb: Decimal, at: &str) -> DeductionDetail {
        DeductionDetail {
            package_owner_uin: Name::from("u1"),
            package_id: Name::from("S"),
            package_name: Name::from("S"),
            product: Name::from("tp"),
            sub_product: Name::from("full-time"),
            package_kind: PackageKind::Total,
            cycle_start: None,
            cycle_end: None,
            deducted_at: t(at),
            remaining_before: None,
            deducted: gb,
            remaining_after: None,
            package_unit: Unit::GB,
            resource_owner_uin: Name::from("u1"),
            resource_product: Name::from("eip"),
            resource_sub_product: Name::from("eip"),
            resource_billing_item: Name::from("public_traffic"),
            region: Name::from(region),
            instance_id: Name::from("i"),
            usage_id: std::sync::Arc::from("u"),
            original_usage: gb,
            original_usage_unit: Unit::GB,
            coefficient: Decimal::ONE,
            usage_start: t(at) - crate::calendar::HOUR,
            usage_end: t(at),
            draw_seq: 0,
        }
    }

    /// docs/rules.md §9 example 2: 7.50 paid, 5 GB used, region price 0.80 → 3.50. Draws after the
    /// refund instant do not count; an all-region package values each draw at its region's price.
    #[test]
    fn example_2_shared_traffic_package() {
        let c = catalog();
        let mut p = package("S", "u1", "*", dec!(10), Unit::GB);
        p.product = Name::from("tp");
        p.price_paid = dec!(7.50);
        let e = refund_event("S", "2024-05-10 00:00:00");
        let refund = |details: &[DeductionDetail]| {
            let (rows, _, _) = package_refunds(
                &[request(dec!(5), true)],
                std::slice::from_ref(&p),
                std::slice::from_ref(&e),
                details,
                &c,
            );
            rows[0].clone()
        };
        let row = refund(&[
            draw("ap-guangzhou", dec!(3), "2024-05-01 01:00:00"),
            draw("ap-guangzhou", dec!(2), "2024-05-02 01:00:00"),
            draw("ap-guangzhou", dec!(4), "2024-05-11 01:00:00"),
        ]);
        assert_eq!(row.used_value, dec!(4.00));
        assert_eq!(row.amount, dec!(3.50));
        // 1 GB in Hong Kong (1.00) + 4 GB in Guangzhou (0.80) = 4.20 → 3.30.
        let mut details = vec![
            draw("ap-hongkong", dec!(1), "2024-05-01 01:00:00"),
            draw("ap-guangzhou", dec!(4), "2024-05-02 01:00:00"),
        ];
        let price = |region| standard_traffic_price(&c, region, e.at);
        assert_eq!(
            (price("ap-hongkong"), price("ap-guangzhou")),
            (Some(dec!(1.00)), Some(dec!(0.80)))
        );
        let drawn: Vec<&DeductionDetail> = details.iter().collect();
        assert_eq!(shared_used_value(&drawn[..1], e.at, &c), (dec!(1.00), true));
        assert_eq!(shared_used_value(&drawn[1..], e.at, &c), (dec!(3.20), true));
        let row = refund(&details);
        assert_eq!(row.used_value, dec!(4.20));
        assert_eq!(row.amount, dec!(3.30));
        // Draws of another package of the same account are not this package's use.
        let mut other = draw("ap-hongkong", dec!(3), "2024-05-01 01:00:00");
        other.package_id = Name::from("T");
        details.push(other);
        assert_eq!(refund(&details).used_value, dec!(4.20));
    }

    #[test]
    fn api_gateway_package_self_service_rules() {
        let c = catalog();
        let mut p = package("A", "u1", "*", dec!(1000000), Unit::Call);
        p.product = Name::from("apigw");
        p.price_paid = dec!(9);
        p.voucher_amount = dec!(2);
        let at = t("2024-05-10 00:00:00");
        let (ok, _) = package_eligibility(&c, &p, &state(dec!(0)), at);
        assert!(ok);
        let (rows, _, _) = package_refunds(
            &[request(dec!(0), true)],
            &[p.clone()],
            &[refund_event("A", "2024-05-10 00:00:00")],
            &[],
            &c,
        );
        // Vouchers are never refunded: 9 paid, 2 of it by voucher → 7.
        assert_eq!(rows[0].paid, dec!(7));
        assert_eq!(rows[0].amount, dec!(7));
        let (ok, why) = package_eligibility(&c, &p, &state(dec!(1)), at);
        assert!(!ok);
        assert_eq!(why, "not self-service refundable: package already used");
        let mut free = p.clone();
        free.source = PackageSource::Free;
        assert_eq!(
            package_eligibility(&c, &free, &state(dec!(0)), at).1,
            "not self-service refundable: free-quota package"
        );
        let mut renew = p.clone();
        renew.order_is_new = false;
        assert_eq!(
            package_eligibility(&c, &renew, &state(dec!(0)), at).1,
            "not self-service refundable: renewal order"
        );
        let mut refunded = state(dec!(0));
        refunded.refund_at = Some(at - DAY);
        assert_eq!(
            package_eligibility(&c, &p, &refunded, at).1,
            "package already refunded"
        );
        // "Still valid": not expired, activated and in effect, not exhausted.
        assert_eq!(
            package_eligibility(&c, &p, &state(dec!(0)), p.expires_at).1,
            "not self-service refundable: package already expired"
        );
        let mut later = p.clone();
        later.effective_at = at + DAY;
        assert_eq!(
            package_eligibility(&c, &later, &state(dec!(0)), at).1,
            "not self-service refundable: package not valid yet"
        );
        let mut inactive = p.clone();
        inactive.activated = false;
        assert_eq!(
            package_eligibility(&c, &inactive, &state(dec!(0)), at).1,
            "not self-service refundable: package not valid yet"
        );
        // Capacity 0: exhausted from its start without a draw.
        let mut empty = state(dec!(0));
        empty.exhausted_at = Some(p.effective_at);
        assert_eq!(
            package_eligibility(&c, &p, &empty, at).1,
            "not self-service refundable: package exhausted"
        );
    }

    fn sub(product: &str, started: &str, expires: &str) -> Subscription {
        Subscription {
            subscription_id: Name::from("s1"),
            owner_uin: Name::from("u1"),
            product: Name::from(product),
            plan: Name::from("test"),
            region: Name::from("ap-guangzhou"),
            billing_mode: crate::input::BillingMode::Monthly,
            started_at: t(started),
            expires_at: Some(t(expires)),
            released_at: None,
            list_price: dec!(4999),
            discount: dec!(1),
            price_paid: dec!(4999),
            elastic_on_at: None,
            elastic_off_at: None,
            attached_apps: 0,
            elastic_unit_price: None,
        }
    }

    fn facts(paid: Decimal, expires: &str, full_used: bool) -> SubscriptionFacts {
        SubscriptionFacts {
            paid,
            expires_at: Some(t(expires)),
            list_value: paid,
            ended: false,
            full_refund_used: full_used,
        }
    }

    /// docs/rules.md §9 example 5: bought 09-01 10:00, unsubscribed 09-10 10:00 → 10 of 30 days;
    /// 4999 − 10/30 × 4999 = 3332.67 payable.
    #[test]
    fn example_5_mini_program_plan() {
        let c = catalog();
        let s = sub("mpgw", "2024-09-01 10:00:00", "2024-10-01 10:00:00");
        assert_eq!(
            plan_days(
                s.started_at,
                s.expires_at.unwrap(),
                t("2024-09-10 10:00:00")
            ),
            (10, 30)
        );
        let r = subscription_refund(
            &c,
            &s,
            &facts(dec!(4999), "2024-10-01 10:00:00", false),
            &refund_event("s1", "2024-09-10 10:00:00"),
        );
        assert!(r.row.eligible);
        assert_eq!(r.row.kind, "mini_program_plan");
        assert_eq!(r.row.used_value, dec!(1666.33333333));
        assert_eq!(r.row.amount, dec!(3332.66666667));
        assert_eq!(r.row.payable, dec!(3332.67));
        // A mini program still attached: refused.
        let mut attached = s.clone();
        attached.attached_apps = 1;
        let r = subscription_refund(
            &c,
            &attached,
            &facts(dec!(4999), "2024-10-01 10:00:00", false),
            &refund_event("s1", "2024-09-10 10:00:00"),
        );
        assert!(!r.row.eligible);
        assert_eq!(r.row.amount, dec!(0));
    }

    /// The 5-day rule: full refund for the customer's first instance refund within 5 days;
    /// a second one (even within 5 days) is prorated by time.
    #[test]
    fn five_day_rule_once_per_customer() {
        let c = catalog();
        let s = sub("apigw", "2024-05-01 00:00:00", "2024-05-31 00:00:00");
        let e = refund_event("s1", "2024-05-04 00:00:00");
        let first =
            subscription_refund(&c, &s, &facts(dec!(3000), "2024-05-31 00:00:00", false), &e);
        assert!(first.used_full_refund);
        assert_eq!(first.row.amount, dec!(3000));
        let second =
            subscription_refund(&c, &s, &facts(dec!(3000), "2024-05-31 00:00:00", true), &e);
        assert!(!second.used_full_refund);
        // 3 of 30 days used → 3000 − 300 = 2700.
        assert_eq!(second.row.used_value, dec!(300));
        assert_eq!(second.row.amount, dec!(2700));
        // After 5 days: prorated even for a first refund.
        let late = refund_event("s1", "2024-05-07 00:00:00");
        let r = subscription_refund(
            &c,
            &s,
            &facts(dec!(3000), "2024-05-31 00:00:00", false),
            &late,
        );
        assert!(!r.used_full_refund);
        assert_eq!(r.row.amount, dec!(2400));
    }

    /// docs/rules.md §6 (revised): "within 5 days, the 5th included" counts UTC+8 calendar days,
    /// the purchase day as day 1: bought 05-01 10:00, a first refund is full until 05-05
    /// 23:59:59 and prorated from 05-06 00:00 (4 days 14 hours after the purchase, which the
    /// elapsed-time reading would have refunded in full).
    #[test]
    fn revised_6_instance_5_days_count_calendar_days_purchase_day_first() {
        let c = catalog();
        assert_eq!(c.refunds.instance_full_refund_days, 5);
        let s = sub("apigw", "2024-05-01 10:00:00", "2024-05-31 10:00:00");
        assert_eq!(full_refund_until(s.started_at, 5), t("2024-05-06 00:00:00"));
        let f = facts(dec!(3000), "2024-05-31 10:00:00", false);
        let day_5 = subscription_refund(&c, &s, &f, &refund_event("s1", "2024-05-05 23:59:59"));
        assert!(day_5.used_full_refund);
        assert_eq!(
            (day_5.row.eligible, day_5.row.used_value, day_5.row.amount),
            (true, dec!(0), dec!(3000))
        );
        assert_eq!(
            day_5.row.reason,
            "first instance refund within 5 days of purchase: full"
        );
        let day_6 = subscription_refund(&c, &s, &f, &refund_event("s1", "2024-05-06 00:00:00"));
        assert!(!day_6.used_full_refund);
        // 4 days 14 hours of 30 days used: 3000 × 110 / 720 = 458.33333333.
        assert_eq!(
            (day_6.row.eligible, day_6.row.used_value, day_6.row.amount),
            (true, dec!(458.33333333), dec!(2541.66666667))
        );
        assert_eq!(day_6.row.payable, dec!(2541.67));
        // 0 days: no full refund at all (a refund comes after the purchase).
        assert_eq!(full_refund_until(s.started_at, 0), t("2024-05-01 00:00:00"));
        assert_eq!(full_refund_until(s.started_at, -1), Ts::MIN);
        // Bought at 23:59:59: the purchase day still counts whole as day 1.
        let late = sub("apigw", "2024-05-01 23:59:59", "2024-05-31 23:59:59");
        assert_eq!(
            full_refund_until(late.started_at, 5),
            t("2024-05-06 00:00:00")
        );
    }

    /// docs/rules.md §6 (revised): a plan refund keeps used days / total days × the order's
    /// `list_price` × `discount`, not the catalog's price (test plan 4999 in the catalog, the
    /// order 5999 at 0.8 = 4799.20 paid); a renewal extends the order's value month by month.
    #[test]
    fn revised_6_plan_refund_uses_the_orders_list_price_and_discount() {
        let c = catalog();
        let mut s = sub("mpgw", "2024-09-01 10:00:00", "2024-10-01 10:00:00");
        (s.list_price, s.discount, s.price_paid) = (dec!(5999), dec!(0.8), dec!(4799.2));
        let mut f = facts(dec!(4799.2), "2024-10-01 10:00:00", false);
        f.list_value = order_list_value(&s, 1, 1);
        assert_eq!(f.list_value, dec!(4799.2));
        let r = subscription_refund(&c, &s, &f, &refund_event("s1", "2024-09-10 10:00:00"));
        assert_eq!(r.row.kind, "mini_program_plan");
        assert_eq!(
            r.row.reason,
            "10 of 30 days used: paid − used/total × list × discount"
        );
        // 10/30 × 5999 × 0.8 = 1599.73333333 (the catalog's 4999 would give 1333.07).
        assert_eq!(
            (r.row.paid, r.row.used_value, r.row.amount, r.row.payable),
            (
                dec!(4799.2),
                dec!(1599.73333333),
                dec!(3199.46666667),
                dec!(3199.47)
            )
        );
        // A 3-month order renewed for 2 months: 5 months at the order's monthly list.
        s.list_price = dec!(17997);
        assert_eq!(order_list_value(&s, 3, 5), dec!(23996));
    }

    #[test]
    fn expired_ended_and_hourly_subscriptions_are_refused() {
        let c = catalog();
        let s = sub("apigw", "2024-05-01 00:00:00", "2024-05-31 00:00:00");
        let late = refund_event("s1", "2024-06-01 00:00:00");
        let r = subscription_refund(
            &c,
            &s,
            &facts(dec!(3000), "2024-05-31 00:00:00", false),
            &late,
        );
        assert_eq!(
            (r.row.eligible, r.row.reason.as_str()),
            (false, "subscription already expired")
        );
        let mut f = facts(dec!(3000), "2024-05-31 00:00:00", false);
        f.ended = true;
        let r = subscription_refund(&c, &s, &f, &refund_event("s1", "2024-05-02 00:00:00"));
        assert!(!r.row.eligible);
        f.ended = false;
        f.expires_at = None;
        let r = subscription_refund(&c, &s, &f, &refund_event("s1", "2024-05-02 00:00:00"));
        assert!(!r.row.eligible);
        assert!(r.row.reason.contains("hourly"));
    }

    #[test]
    fn refund_is_never_negative() {
        assert_eq!(refund_amount(dec!(5), dec!(7)), dec!(0));
        assert_eq!(refund_amount(dec!(5), dec!(1.123456789)), dec!(3.87654321));
    }
}
