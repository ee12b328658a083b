//! Subscriptions billed by time (docs/rules.md §4.3): API gateway dedicated instances and
//! mini-program gateway plans, with their `renew`, `upgrade` and `refund` events.
//!
//! Each subscription's life is replayed from its events in the total order `(at, event_id)`
//! (all subscriptions together, because the 5-day refund rule is per customer):
//! - **monthly**: the first term `[started_at, expires_at)` is charged at `started_at`, at the
//!   monthly price in force then (instances: `instance_prices` by effective date; plans: `plans`)
//!   × `discount` × the term's whole months. Each `renew` adds `months` months after the current
//!   expiry (the 1mo step clamps to month end), charged at the renewal instant at the price in
//!   force then — so an instance bought before a price change keeps its price until renewed.
//! - **hourly** (revised): billed by the second, settled on every clock hour (UTC+8 HH:00): one
//!   line per clock hour for the part of it the instance existed (from `started_at` until the
//!   release, the refund or the as-of moment), at the hourly price in force at the part's start
//!   × `discount` × seconds / 3600, charged at the clock hour's end, or at release for the last
//!   part (docs/rules.md §4.3, example 11).
//! - **upgrade** (plans only go up): `(new − old) × remaining days / cycle days`, where the cycle
//!   is the paid term containing the upgrade, `old`/`new` are the term's prices of the old and new
//!   plan (new at the price in force at the upgrade), and days are UTC+8 calendar days with the
//!   upgrade day counting as used (**Decision**: the same day counting as plan refunds, so an
//!   upgrade on the last day costs 0). Terms already renewed ahead (paid before the upgrade,
//!   after that term) are topped up in full, `new` against the old plan's price when each was
//!   paid: the remaining days run to the expiry, which does not change. Later renewals and
//!   hours use the new plan. An hourly instance's upgrade changes the price from the next clock
//!   hour on (**Decision**: a clock hour is settled at one price, the one of its first second).
//! - **refund**: decided by `rules::refunds`; an eligible refund ends the subscription at its
//!   instant (no later hours, renewals, elastic fees or expiry steps).
//!
//! Prepaid lines (`charge_kind = subscription`/`upgrade`) have `charge_start` = the payment
//! instant (their bill month) and `charge_end` = the end of the paid term (for an upgrade, the
//! expiry: the end of the last term it tops up). A first term whose
//! recomputed price differs from `price_paid` by a cent or more is billed at the recomputed
//! price and reported (`price_mismatch`).
//!
//! Invariants: every charge is at scale 8 and `amount = unit_price × billable_quantity` up to the
//! scale-8 rounding (an hourly part: the amount is computed from the exact seconds, the quantity
//! is the hours at scale 9); terms of one subscription are contiguous and never overlap; hourly
//! parts of one instance are disjoint, each inside one clock hour; no time at or after the as-of
//! moment or after the subscription ended is charged (the last hour before the as-of moment is
//! settled at it, like a usage hour, and the ledger leaves it to the next run).

use crate::calendar::{add_months_clamped, from_local, local, Ts, HOUR};
use crate::catalog::Catalog;
use crate::input::{BillingMode, Event, EventKind, Subscription, Violation};
use crate::model::{BillLine, ChargeKind, RefundRow};
use crate::money::{m8, pay2, q9};
use crate::name::Name;
use crate::rules::refunds::{self, SubscriptionFacts};
use rust_decimal::Decimal;
use std::collections::{HashMap, HashSet};

/// One paid term of a monthly subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub start: Ts,
    pub end: Ts,
    pub months: i64,
    /// When it was paid (purchase or renewal instant).
    pub paid_at: Ts,
}

/// A subscription's replayed life.
#[derive(Debug, Clone, PartialEq)]
pub struct Life {
    /// Paid terms in time order (monthly only).
    pub terms: Vec<Term>,
    /// Plan in force from each instant, in time order (the first from `started_at`).
    pub plans: Vec<(Ts, Name)>,
    /// When it stopped existing: released, or refunded.
    pub ended_at: Option<Ts>,
    /// The instant of its eligible refund, if any (then also `ended_at`).
    pub refunded_at: Option<Ts>,
    /// Charges so far (terms, upgrades and hours), CNY.
    pub paid: Decimal,
}

impl Life {
    /// The plan in force at `t`.
    pub fn plan_at(&self, t: Ts) -> &Name {
        let i = self.plans.partition_point(|(from, _)| *from <= t);
        &self.plans[i.saturating_sub(1)].1
    }

    /// End of the last paid term (monthly), `None` for hourly.
    pub fn expires_at(&self) -> Option<Ts> {
        self.terms.last().map(|t| t.end)
    }

    /// The term containing `t`.
    pub fn term_at(&self, t: Ts) -> Option<&Term> {
        self.terms.iter().find(|x| x.start <= t && t < x.end)
    }
}

/// Everything the subscriptions produce.
#[derive(Debug, Default)]
pub struct Replayed {
    /// One per input subscription, same order.
    pub lives: Vec<Life>,
    pub lines: Vec<BillLine>,
    pub refunds: Vec<RefundRow>,
    pub violations: Vec<Violation>,
}

/// Whole months from `start` to `end` (1mo steps clamped to month end), if exact.
pub fn whole_months(start: Ts, end: Ts) -> Option<i64> {
    (1..=120).find(|&m| add_months(start, m) == end)
}

/// `t` plus `n` months in UTC+8, the day clamped to the month's end.
pub fn add_months(t: Ts, n: i64) -> Ts {
    from_local(add_months_clamped(local(t), n as i32))
}

/// `sub_product` of a subscription's lines.
fn sub_product(catalog: &Catalog, sub: &Subscription) -> &'static str {
    if is_instance(catalog, &sub.product) {
        "dedicated-instance"
    } else {
        "plan"
    }
}

fn is_instance(catalog: &Catalog, product: &str) -> bool {
    catalog.instance_prices.iter().any(|p| p.product == product)
}

/// Monthly list price of a plan at `at`: instance prices by effective date, else the plan table.
pub fn monthly_price(catalog: &Catalog, product: &str, plan: &str, at: Ts) -> Option<Decimal> {
    if is_instance(catalog, product) {
        catalog.instance_price(product, plan, at).map(|p| p.monthly)
    } else {
        catalog.plan(product, plan).map(|p| p.monthly)
    }
}

/// Replays every subscription and its events up to the as-of moment.
pub fn replay(subs: &[Subscription], events: &[Event], catalog: &Catalog, as_of: Ts) -> Replayed {
    replay_from(subs, events, catalog, as_of, |_| Ts::MIN)
}

/// [`replay`], with the hourly lines of each subscription charged before `history_from(s)`
/// left out: the earliest instant any consumer reads a line of its account (the ledger reads
/// from the account's opening, the bills from the first month the window touches). An hourly
/// instance may start long before its account opened — a placeholder start such as
/// 0001-01-01 — and its hours before then would be millions of lines no one reads.
pub fn replay_from(
    subs: &[Subscription],
    events: &[Event],
    catalog: &Catalog,
    as_of: Ts,
    history_from: impl Fn(&Subscription) -> Ts,
) -> Replayed {
    let mut out = Replayed::default();
    let index: HashMap<&str, usize> = subs
        .iter()
        .enumerate()
        .map(|(i, s)| (&*s.subscription_id, i))
        .collect();
    for s in subs {
        let life = first_term(s, catalog, as_of, &mut out);
        out.lives.push(life);
    }
    let mut evs: Vec<&Event> = events
        .iter()
        .filter(|e| e.at < as_of && index.contains_key(&*e.target_id))
        .collect();
    evs.sort_by(|a, b| (a.at, &a.event_id).cmp(&(b.at, &b.event_id)));
    let mut full_refund_used: HashSet<Name> = HashSet::new();
    for e in evs {
        let i = index[&*e.target_id];
        let s = &subs[i];
        if e.at < s.started_at {
            out.violations.push(event_before_start(s, e));
            continue;
        }
        match e.kind {
            EventKind::Renew => renew(s, &mut out, i, e, catalog),
            EventKind::Upgrade => upgrade(s, &mut out, i, e, catalog),
            EventKind::Refund => refund(s, &mut out, i, e, catalog, &mut full_refund_used),
        }
    }
    for (s, life) in subs.iter().zip(&out.lives) {
        if s.billing_mode == BillingMode::Hourly {
            let from = history_from(s);
            hourly_lines(
                s,
                life,
                catalog,
                (from, as_of),
                &mut out.lines,
                &mut out.violations,
            );
        }
    }
    out
}

fn event_before_start(s: &Subscription, e: &Event) -> Violation {
    Violation::new(
        "events",
        &*e.event_id,
        "event_before_start",
        format!(
            "{} of {} before it started",
            e.kind.as_str(),
            s.subscription_id
        ),
        Some(e.at),
    )
}

/// A refund request of subscription `i`, decided by `rules::refunds` on its life so far; an
/// eligible one ends the subscription and is a `refund` line. `full_refund_used` holds the
/// customers who already had their one full instance refund.
fn refund(
    s: &Subscription,
    out: &mut Replayed,
    i: usize,
    e: &Event,
    catalog: &Catalog,
    full_refund_used: &mut HashSet<Name>,
) {
    let life = &out.lives[i];
    let months: i64 = life.terms.iter().map(|t| t.months).sum();
    let first_months = life.terms.first().map_or(1, |t| t.months);
    let list_value = refunds::order_list_value(s, first_months, months);
    let facts = SubscriptionFacts {
        paid: life.paid,
        expires_at: life.expires_at(),
        list_value,
        ended: life.ended_at.is_some_and(|x| x <= e.at),
        full_refund_used: full_refund_used.contains(&s.owner_uin),
    };
    let r = refunds::subscription_refund(catalog, s, &facts, e);
    if r.used_full_refund {
        full_refund_used.insert(s.owner_uin);
    }
    if r.row.eligible {
        out.lives[i].ended_at = Some(e.at);
        out.lives[i].refunded_at = Some(e.at);
        let sp = Name::from(sub_product(catalog, s));
        out.lines.push(refunds::refund_line(
            &r.row,
            &s.owner_uin,
            &s.region,
            &s.product,
            &sp,
        ));
    }
    out.refunds.push(r.row);
}

/// The life before any event: the plan, the release, and for monthly subscriptions the first
/// term and its charge.
fn first_term(s: &Subscription, catalog: &Catalog, as_of: Ts, out: &mut Replayed) -> Life {
    let mut life = Life {
        terms: Vec::new(),
        plans: vec![(s.started_at, s.plan)],
        ended_at: s.released_at,
        refunded_at: None,
        paid: Decimal::ZERO,
    };
    if s.billing_mode == BillingMode::Hourly || s.started_at >= as_of {
        return life;
    }
    let Some(expires) = s.expires_at else {
        out.violations.push(Violation::new(
            "subscriptions",
            &*s.subscription_id,
            "missing_value",
            "a monthly subscription has no expires_at",
            Some(s.started_at),
        ));
        return life;
    };
    let Some(months) = whole_months(s.started_at, expires) else {
        out.violations.push(Violation::new(
            "subscriptions",
            &*s.subscription_id,
            "term_not_whole_months",
            "expires_at is not a whole number of months after started_at",
            Some(s.started_at),
        ));
        return life;
    };
    let term = Term {
        start: s.started_at,
        end: expires,
        months,
        paid_at: s.started_at,
    };
    if let Some(amount) = charge_term(s, &s.plan, &term, 0, catalog, out) {
        if (pay2(amount) - pay2(s.price_paid)).abs() >= Decimal::new(1, 2) {
            out.violations.push(Violation::new(
                "subscriptions",
                &*s.subscription_id,
                "price_mismatch",
                format!(
                    "price_paid {} but the catalog gives {amount} ({months} month(s) of {} at discount {})",
                    s.price_paid, s.plan, s.discount
                ),
                Some(s.started_at),
            ));
        }
        life.paid += amount;
    }
    life.terms.push(term);
    life
}

/// Charges one paid term; `None` (and an exception) when the plan has no price.
fn charge_term(
    s: &Subscription,
    plan: &str,
    term: &Term,
    k: usize,
    catalog: &Catalog,
    out: &mut Replayed,
) -> Option<Decimal> {
    let Some(monthly) = monthly_price(catalog, &s.product, plan, term.paid_at) else {
        out.violations.push(Violation::new(
            "subscriptions",
            &*s.subscription_id,
            "no_price",
            format!("no monthly price for {}/{plan}", s.product),
            Some(term.paid_at),
        ));
        return None;
    };
    let unit_price = monthly * s.discount;
    let amount = m8(unit_price * Decimal::from(term.months));
    out.lines.push(line(
        s,
        catalog,
        format!("s:{}:{k:04}", s.subscription_id),
        ChargeKind::Subscription,
        (term.paid_at, term.end, term.paid_at),
        Decimal::from(term.months),
        "month",
        m8(unit_price),
        amount,
    ));
    Some(amount)
}

fn renew(s: &Subscription, out: &mut Replayed, i: usize, e: &Event, catalog: &Catalog) {
    let refuse = |out: &mut Replayed, why: &str| {
        out.violations.push(Violation::new(
            "events",
            &*e.event_id,
            "invalid_event",
            format!("renew of {}: {why}", s.subscription_id),
            Some(e.at),
        ))
    };
    let life = &out.lives[i];
    if s.billing_mode == BillingMode::Hourly {
        return refuse(out, "hourly subscriptions are not renewed");
    }
    if life.ended_at.is_some_and(|x| x <= e.at) {
        return refuse(out, "the subscription already ended");
    }
    let (Some(months), Some(last)) = (e.months.filter(|m| *m > 0), life.terms.last()) else {
        return refuse(out, "no positive `months` or no paid term to extend");
    };
    // Months count from the anchor, like 1mo package cycles: 01-31 → 02-29 → 03-31.
    let total: i64 = life.terms.iter().map(|t| t.months).sum::<i64>() + months;
    // The calendar holds years 1 to 9999 (`calendar::MAX_TS`): renewals past that are refused.
    let last_year = i64::from(chrono::Datelike::year(&local(s.started_at))) + (total + 11) / 12;
    if last_year > 9999 {
        return refuse(out, "the renewal would end after the year 9999");
    }
    let term = Term {
        start: last.end,
        end: add_months(s.started_at, total),
        months,
        paid_at: e.at,
    };
    let k = life.terms.len();
    let plan = *life.plan_at(e.at);
    if let Some(amount) = charge_term(s, &plan, &term, k, catalog, out) {
        out.lives[i].paid += amount;
        out.lives[i].terms.push(term);
    }
}

/// An `upgrade` event (plans only go up): a monthly subscription pays the difference for the
/// rest of its paid time ([`upgrade_charge`]); an hourly instance's later hours use the new plan.
fn upgrade(s: &Subscription, out: &mut Replayed, i: usize, e: &Event, catalog: &Catalog) {
    let life = &out.lives[i];
    if life.ended_at.is_some_and(|x| x <= e.at) {
        return refuse_upgrade(s, out, e, "the subscription already ended".into());
    }
    let Some(new_plan) = e.new_plan else {
        return refuse_upgrade(s, out, e, "no new_plan".into());
    };
    let old_plan = *life.plan_at(e.at);
    let plans = (&old_plan, &new_plan);
    if s.billing_mode == BillingMode::Hourly {
        return upgrade_hourly(s, out, i, e, catalog, plans);
    }
    let Some(term) = life.term_at(e.at) else {
        return refuse_upgrade(s, out, e, "not inside a paid term".into());
    };
    let amount = match upgrade_charge(s, life, term, e.at, catalog, plans) {
        Ok(charge) => charge.this_term + charge.ahead,
        Err(why) => return refuse_upgrade(s, out, e, why),
    };
    let until = life.expires_at().unwrap_or(term.end);
    out.lines.push(line(
        s,
        catalog,
        format!("g:{}", e.event_id),
        ChargeKind::Upgrade,
        (e.at, until, e.at),
        Decimal::ONE,
        "each",
        amount,
        amount,
    ));
    out.lives[i].paid += amount;
    out.lives[i].plans.push((e.at, new_plan));
}

fn refuse_upgrade(s: &Subscription, out: &mut Replayed, e: &Event, why: String) {
    out.violations.push(Violation::new(
        "events",
        &*e.event_id,
        "invalid_event",
        format!("upgrade of {}: {why}", s.subscription_id),
        Some(e.at),
    ))
}

/// An hourly instance's upgrade: accepted when the new plan's hourly price is above the old
/// one's at the upgrade.
fn upgrade_hourly(
    s: &Subscription,
    out: &mut Replayed,
    i: usize,
    e: &Event,
    catalog: &Catalog,
    (old_plan, new_plan): (&Name, &Name),
) {
    let (old, new) = (
        catalog.instance_price(&s.product, old_plan, e.at),
        catalog.instance_price(&s.product, new_plan, e.at),
    );
    match (old, new) {
        (Some(o), Some(n)) if n.hourly > o.hourly => {
            out.lives[i].plans.push((e.at, *new_plan));
        }
        (_, None) => refuse_upgrade(s, out, e, format!("no price for plan {new_plan}")),
        _ => refuse_upgrade(s, out, e, format!("{new_plan} is not above {old_plan}")),
    }
}

/// The parts of a monthly upgrade's charge (its line carries their sum).
#[derive(Debug, Clone, Copy, PartialEq)]
struct UpgradeCharge {
    /// The term containing the upgrade: its remaining days at the difference of the plans'
    /// term prices.
    this_term: Decimal,
    /// Every term renewed ahead, topped up in full.
    ahead: Decimal,
}

/// The charge of a monthly upgrade at `at` inside `term` (docs/rules.md §4.3), or why it is
/// refused.
fn upgrade_charge(
    s: &Subscription,
    life: &Life,
    term: &Term,
    at: Ts,
    catalog: &Catalog,
    (old_plan, new_plan): (&Name, &Name),
) -> Result<UpgradeCharge, String> {
    // Old: the price the term was paid at; new: the price in force at the upgrade.
    let old = monthly_price(catalog, &s.product, old_plan, term.paid_at);
    let new = monthly_price(catalog, &s.product, new_plan, at);
    let (Some(old), Some(new)) = (old, new) else {
        return Err(format!("no price for {old_plan} or {new_plan}"));
    };
    if new <= old {
        return Err(format!(
            "{new_plan} is not above {old_plan}: plans only go up"
        ));
    }
    let (used, total) = refunds::plan_days(term.start, term.end, at);
    let months = Decimal::from(term.months);
    let this_term = upgrade_amount(
        old * s.discount * months,
        new * s.discount * months,
        total - used,
        total,
    );
    // Terms renewed ahead (paid before the upgrade, starting after this term): the new plan is
    // in force there too and the expiry does not change, so the remaining days run to the
    // expiry: each such term is topped up in full, from the price it was paid at.
    let ahead: Decimal = life
        .terms
        .iter()
        .filter(|t| t.start >= term.end)
        .filter_map(|t| {
            let paid = monthly_price(catalog, &s.product, old_plan, t.paid_at)?;
            Some(m8(
                ((new - paid) * s.discount * Decimal::from(t.months)).max(Decimal::ZERO)
            ))
        })
        .sum();
    Ok(UpgradeCharge { this_term, ahead })
}

/// docs/rules.md §4.3: `(new − old) × remaining days / cycle days`, at scale 8.
pub fn upgrade_amount(old: Decimal, new: Decimal, remaining_days: i64, cycle_days: i64) -> Decimal {
    if cycle_days <= 0 || remaining_days <= 0 {
        return Decimal::ZERO;
    }
    m8((new - old) * Decimal::from(remaining_days) / Decimal::from(cycle_days))
}

/// The part of one clock hour `[hour, hour + 1h)` (UTC+8) an hourly instance existed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourPart {
    /// The clock hour's number from the clock hour of `started_at` (its line id).
    pub k: i64,
    /// The part `[start, end)` of the hour the instance existed, up to the as-of moment.
    pub start: Ts,
    pub end: Ts,
    /// The settlement: the end of the clock hour, or the end of life inside it.
    pub charged_at: Ts,
}

/// The clock-hour parts of an existence `[started_at, ended_at)` cut at `as_of`, from the
/// first hour settled at or after `from` (an hour earlier, to be safe at the edge: the ids of
/// the parts kept do not depend on `from`). UTC+8 is a whole number of hours from UTC, so a
/// clock hour starts on a multiple of `HOUR`.
pub fn hour_parts(
    started_at: Ts,
    ended_at: Option<Ts>,
    (from, as_of): (Ts, Ts),
) -> impl Iterator<Item = HourPart> {
    let end = ended_at.unwrap_or(Ts::MAX).min(as_of);
    let first_hour = started_at.div_euclid(HOUR) * HOUR;
    let k0 = (from.saturating_sub(first_hour).div_euclid(HOUR) - 1).max(0);
    (k0..)
        .map(move |k| (k, first_hour + k * HOUR))
        .take_while(move |(_, hour)| *hour < end)
        .filter_map(move |(k, hour)| {
            let start = hour.max(started_at);
            (start < end).then(|| HourPart {
                k,
                start,
                end: (hour + HOUR).min(end),
                charged_at: (hour + HOUR).min(ended_at.unwrap_or(Ts::MAX)),
            })
        })
}

/// docs/rules.md §4.3 (revised): an hourly instance is billed by the second and settled on every
/// clock hour, one line per clock hour for the part of it the instance existed (until its
/// release, refund or the as-of moment): quantity = the part in hours (scale 9), unit price =
/// the hourly price in force at the part's start (the plan in force then) × `discount`,
/// amount = that price × the part's seconds / 3600, rounded once to scale 8. The as-of moment
/// is 00:00 UTC+8, a clock hour's end, so a run settles every hour before it and the next run
/// adds hours without changing these.
fn hourly_lines(
    s: &Subscription,
    life: &Life,
    catalog: &Catalog,
    window: (Ts, Ts),
    lines: &mut Vec<BillLine>,
    violations: &mut Vec<Violation>,
) {
    for part in hour_parts(s.started_at, life.ended_at, window) {
        let plan = life.plan_at(part.start);
        let Some(price) = catalog.instance_price(&s.product, plan, part.start) else {
            violations.push(Violation::new(
                "subscriptions",
                &*s.subscription_id,
                "no_price",
                format!("no hourly price for {}/{plan}", s.product),
                Some(part.start),
            ));
            break;
        };
        let hourly = price.hourly * s.discount;
        let micros = Decimal::from(part.end - part.start);
        let hour = Decimal::from(HOUR);
        lines.push(line(
            s,
            catalog,
            format!("h:{}:{:06}", s.subscription_id, part.k),
            ChargeKind::Subscription,
            (part.start, part.end, part.charged_at),
            q9(micros / hour),
            "hour",
            m8(hourly),
            m8(hourly * micros / hour),
        ));
    }
}

#[allow(clippy::too_many_arguments)]
fn line(
    s: &Subscription,
    catalog: &Catalog,
    line_id: String,
    kind: ChargeKind,
    (charge_start, charge_end, charged_at): (Ts, Ts, Ts),
    quantity: Decimal,
    unit: &str,
    unit_price: Decimal,
    amount: Decimal,
) -> BillLine {
    let fee = if unit == "hour" {
        "hourly_fee"
    } else {
        "monthly_fee"
    };
    BillLine {
        line_id: line_id.into(),
        owner_uin: s.owner_uin,
        region: s.region,
        product: s.product,
        sub_product: Name::from(sub_product(catalog, s)),
        instance_id: s.subscription_id,
        billing_item: Name::from(if kind == ChargeKind::Upgrade {
            "upgrade"
        } else {
            fee
        }),
        charge_kind: kind,
        charge_start,
        charge_end,
        usage_id: None,
        metered_quantity: quantity,
        deducted_quantity: Decimal::ZERO,
        billable_quantity: quantity,
        unit: Name::from(unit),
        tier: None,
        unit_price,
        price_unit: Name::from(unit),
        amount,
        charged_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Month;
    use crate::rules::deduction::tests::{catalog, t};
    use rust_decimal_macros::dec;

    fn sub(id: &str, product: &str, plan: &str, mode: BillingMode, start: &str) -> Subscription {
        Subscription {
            subscription_id: Name::from(id),
            owner_uin: Name::from("u1"),
            product: Name::from(product),
            plan: Name::from(plan),
            region: Name::from("ap-guangzhou"),
            billing_mode: mode,
            started_at: t(start),
            expires_at: (mode == BillingMode::Monthly).then(|| add_months(t(start), 1)),
            released_at: None,
            list_price: dec!(0),
            discount: dec!(1),
            price_paid: dec!(0),
            elastic_on_at: None,
            elastic_off_at: None,
            attached_apps: 0,
            elastic_unit_price: None,
        }
    }

    /// Plan `p1`: mini-program gateway `test` (4999 a month), monthly, bought at `start`.
    fn test_plan(start: &str) -> Subscription {
        let mut s = sub("p1", "mpgw", "test", BillingMode::Monthly, start);
        (s.list_price, s.price_paid) = (dec!(4999), dec!(4999));
        s
    }

    fn ev(id: &str, kind: EventKind, target: &str, at: &str) -> Event {
        Event {
            event_id: Name::from(id),
            kind,
            target_id: Name::from(target),
            at: t(at),
            new_plan: None,
            months: None,
            price_paid: None,
            auto: None,
        }
    }

    fn amounts(r: &Replayed) -> Vec<(String, Decimal)> {
        r.lines
            .iter()
            .map(|l| (l.line_id.to_string(), l.amount))
            .collect()
    }

    /// A monthly instance bought before the 2022-03-24 18:00 price change keeps the list price
    /// for its term; its renewal after the change pays the discounted price.
    #[test]
    fn monthly_instance_keeps_its_price_until_renewed() {
        let c = catalog();
        let mut s = sub(
            "i1",
            "apigw",
            "professional",
            BillingMode::Monthly,
            "2022-03-10 00:00:00",
        );
        s.price_paid = dec!(9980);
        let mut r = ev("e1", EventKind::Renew, "i1", "2022-04-05 00:00:00");
        r.months = Some(2);
        let out = replay(&[s], &[r], &c, t("2022-07-01 00:00:00"));
        assert_eq!(
            amounts(&out),
            vec![
                ("s:i1:0000".to_string(), dec!(9980.00)),
                ("s:i1:0001".to_string(), dec!(14570.80)),
            ]
        );
        let l = &out.lines[1];
        assert_eq!(
            (l.billable_quantity, l.unit_price),
            (dec!(2), dec!(7285.40))
        );
        assert_eq!(l.charged_at, t("2022-04-05 00:00:00"));
        assert_eq!(out.lives[0].expires_at(), Some(t("2022-06-10 00:00:00")));
        assert!(out.violations.is_empty(), "{:?}", out.violations);
    }

    #[test]
    fn price_paid_that_disagrees_with_the_catalog_is_reported() {
        let c = catalog();
        let mut s = sub(
            "p1",
            "mpgw",
            "test",
            BillingMode::Monthly,
            "2024-05-01 00:00:00",
        );
        s.price_paid = dec!(4000);
        let out = replay(&[s], &[], &c, t("2024-07-01 00:00:00"));
        assert_eq!(amounts(&out), vec![("s:p1:0000".to_string(), dec!(4999))]);
        assert_eq!(out.violations[0].rule, "price_mismatch");
    }

    /// Lines before `history_from` are left out; every line from it on is the one `replay`
    /// gives, with the same id (clock hours keep their number from the first one).
    #[test]
    fn hourly_lines_before_history_from_are_left_out() {
        let c = catalog();
        let s = sub(
            "h1",
            "apigw",
            "professional",
            BillingMode::Hourly,
            "2022-03-24 16:30:00",
        );
        let as_of = t("2022-04-01 00:00:00");
        let all = replay(std::slice::from_ref(&s), &[], &c, as_of);
        let from = t("2022-03-31 00:00:00");
        let cut = replay_from(std::slice::from_ref(&s), &[], &c, as_of, |_| from);
        let kept: Vec<&BillLine> = all.lines.iter().filter(|l| l.charged_at >= from).collect();
        assert_eq!(kept.len(), 25);
        assert_eq!(kept[0].line_id.as_str(), "h:h1:000151");
        let early: Vec<&BillLine> = cut.lines.iter().filter(|l| l.charged_at < from).collect();
        assert!(early.len() <= 1, "{early:?}");
        assert_eq!(
            cut.lines
                .iter()
                .filter(|l| l.charged_at >= from)
                .collect::<Vec<_>>(),
            kept
        );
        // 176 clock hours: 16:00 (from 16:30) to 23:00 on 03-24, then 7 whole days.
        assert_eq!(all.lines.len(), 176);
        assert_eq!(all.lines[0].charge_start, t("2022-03-24 16:30:00"));
        assert_eq!(all.lines[175].charged_at, as_of);
    }

    /// The lines of `out` as (id, charge_start, charge_end, charged_at, quantity, unit price,
    /// amount).
    fn hour_lines(out: &Replayed) -> Vec<(String, Ts, Ts, Ts, Decimal, Decimal, Decimal)> {
        out.lines
            .iter()
            .map(|l| {
                assert_eq!((&*l.unit, &*l.price_unit), ("hour", "hour"));
                assert_eq!(l.billing_item.as_str(), "hourly_fee");
                assert_eq!(l.charge_kind, ChargeKind::Subscription);
                assert_eq!(l.metered_quantity, l.billable_quantity);
                (
                    l.line_id.to_string(),
                    l.charge_start,
                    l.charge_end,
                    l.charged_at,
                    l.billable_quantity,
                    l.unit_price,
                    l.amount,
                )
            })
            .collect()
    }

    fn hourly(id: &str, plan: &str, start: &str, released: Option<&str>) -> Subscription {
        let mut s = sub(id, "apigw", plan, BillingMode::Hourly, start);
        s.released_at = released.map(t);
        s
    }

    /// docs/rules.md §9 example 11, first instance: basic (5.94 an hour) from 10:00:00 to 10:30:00
    /// → 2.97 at 10:30.
    #[test]
    fn example_11_basic_instance_30_minutes_costs_2_97() {
        let c = catalog();
        let s = hourly(
            "h1",
            "basic",
            "2024-05-10 10:00:00",
            Some("2024-05-10 10:30:00"),
        );
        let out = replay(&[s], &[], &c, t("2024-06-01 00:00:00"));
        assert_eq!(
            hour_lines(&out),
            [(
                "h:h1:000000".to_string(),
                t("2024-05-10 10:00:00"),
                t("2024-05-10 10:30:00"),
                t("2024-05-10 10:30:00"),
                dec!(0.500000000),
                dec!(5.94),
                dec!(2.97000000),
            )]
        );
        assert!(out.violations.is_empty(), "{:?}", out.violations);
    }

    /// docs/rules.md §9 example 11, second instance: 10:20:00 to 12:00:00 → 3.96 for 10:20–11:00
    /// (at 11:00), 5.94 for 11:00–12:00 (at 12:00).
    #[test]
    fn example_11_basic_instance_10_20_to_12_00_costs_3_96_then_5_94() {
        let c = catalog();
        let s = hourly(
            "h2",
            "basic",
            "2024-05-10 10:20:00",
            Some("2024-05-10 12:00:00"),
        );
        let out = replay(&[s], &[], &c, t("2024-06-01 00:00:00"));
        assert_eq!(
            hour_lines(&out),
            [
                (
                    "h:h2:000000".to_string(),
                    t("2024-05-10 10:20:00"),
                    t("2024-05-10 11:00:00"),
                    t("2024-05-10 11:00:00"),
                    dec!(0.666666667),
                    dec!(5.94),
                    dec!(3.96000000),
                ),
                (
                    "h:h2:000001".to_string(),
                    t("2024-05-10 11:00:00"),
                    t("2024-05-10 12:00:00"),
                    t("2024-05-10 12:00:00"),
                    dec!(1.000000000),
                    dec!(5.94),
                    dec!(5.94000000),
                ),
            ]
        );
    }

    /// docs/rules.md §4.3 (revised): by the second, one line per clock hour, each at the price in
    /// force in that hour: the 2022-03-24 18:00 change (professional 16.11 → 11.76) falls on a
    /// clock hour; the release at 19:10:30 ends the last part and is its settlement.
    #[test]
    fn revised_4_3_hourly_instance_billed_by_the_second() {
        let c = catalog();
        let s = hourly(
            "h1",
            "professional",
            "2022-03-24 16:30:00",
            Some("2022-03-24 19:10:30"),
        );
        let out = replay(&[s], &[], &c, t("2022-04-01 00:00:00"));
        assert_eq!(
            hour_lines(&out),
            [
                (
                    "h:h1:000000".to_string(),
                    t("2022-03-24 16:30:00"),
                    t("2022-03-24 17:00:00"),
                    t("2022-03-24 17:00:00"),
                    dec!(0.500000000),
                    dec!(16.11),
                    dec!(8.05500000),
                ),
                (
                    "h:h1:000001".to_string(),
                    t("2022-03-24 17:00:00"),
                    t("2022-03-24 18:00:00"),
                    t("2022-03-24 18:00:00"),
                    dec!(1.000000000),
                    dec!(16.11),
                    dec!(16.11000000),
                ),
                (
                    "h:h1:000002".to_string(),
                    t("2022-03-24 18:00:00"),
                    t("2022-03-24 19:00:00"),
                    t("2022-03-24 19:00:00"),
                    dec!(1.000000000),
                    dec!(11.76),
                    dec!(11.76000000),
                ),
                // 630 seconds: 11.76 × 630 / 3600 = 2.058.
                (
                    "h:h1:000003".to_string(),
                    t("2022-03-24 19:00:00"),
                    t("2022-03-24 19:10:30"),
                    t("2022-03-24 19:10:30"),
                    dec!(0.175000000),
                    dec!(11.76),
                    dec!(2.05800000),
                ),
            ]
        );
    }

    /// docs/rules.md §4.3 (revised): the amount comes from the seconds, not from the hours rounded
    /// to scale 9: one second of diamond at the list price 230.75 is 230.75 / 3600 = 0.06409722…
    #[test]
    fn revised_4_3_amount_from_the_seconds_rounded_once() {
        let c = catalog();
        let s = hourly(
            "h1",
            "diamond",
            "2022-03-01 10:59:59",
            Some("2022-03-01 11:00:00"),
        );
        let out = replay(&[s], &[], &c, t("2022-04-01 00:00:00"));
        let l = &out.lines[0];
        assert_eq!(
            (l.billable_quantity, l.unit_price, l.amount),
            (dec!(0.000277778), dec!(230.75), dec!(0.06409722))
        );
        assert_eq!(
            (l.charge_start, l.charged_at),
            (t("2022-03-01 10:59:59"), t("2022-03-01 11:00:00"))
        );
    }

    /// docs/rules.md §4.3 (revised): an instance still running at the as-of moment (00:00 UTC+8, a
    /// clock hour's end) is charged up to it: the last hour is settled at the as-of moment, and
    /// the next day's run adds hours without changing these (docs/rules.md §8: May's bill, complete
    /// as of 06-01, must not change in the 06-02 run).
    #[test]
    fn revised_4_3_running_instance_is_charged_until_the_as_of_moment() {
        let c = catalog();
        let s = hourly("h1", "basic", "2024-05-31 22:30:00", None);
        let day = |as_of| {
            let out = replay(std::slice::from_ref(&s), &[], &c, t(as_of));
            hour_lines(&out)
        };
        let may = day("2024-06-01 00:00:00");
        assert_eq!(
            may,
            [
                (
                    "h:h1:000000".to_string(),
                    t("2024-05-31 22:30:00"),
                    t("2024-05-31 23:00:00"),
                    t("2024-05-31 23:00:00"),
                    dec!(0.500000000),
                    dec!(5.94),
                    dec!(2.97000000),
                ),
                (
                    "h:h1:000001".to_string(),
                    t("2024-05-31 23:00:00"),
                    t("2024-06-01 00:00:00"),
                    t("2024-06-01 00:00:00"),
                    dec!(1.000000000),
                    dec!(5.94),
                    dec!(5.94000000),
                ),
            ]
        );
        let next = day("2024-06-02 00:00:00");
        assert_eq!(next.len(), 2 + 24);
        assert_eq!(next[..2], may[..]);
        assert!(next
            .iter()
            .all(|l| Month::of(l.1) == Month::of(l.2 - 1) && l.4 <= Decimal::ONE));
    }

    /// Clock-hour parts: a release on a clock hour ends the last whole part; an instance that
    /// starts and ends inside one hour has one part; nothing from the as-of moment on.
    #[test]
    fn revised_4_3_clock_hour_parts() {
        let parts = |start: &str, end: Option<&str>, as_of: &str| {
            hour_parts(t(start), end.map(t), (Ts::MIN, t(as_of)))
                .map(|p| (p.k, p.start, p.end, p.charged_at))
                .collect::<Vec<_>>()
        };
        let as_of = "2024-06-01 00:00:00";
        let (a, b) = ("2024-05-10 10:05:00", "2024-05-10 10:06:00");
        assert_eq!(parts(a, Some(b), as_of), [(0, t(a), t(b), t(b))]);
        let (a, b) = ("2024-05-10 10:00:00", "2024-05-10 11:00:00");
        assert_eq!(parts(a, Some(b), as_of), [(0, t(a), t(b), t(b))]);
        // Released at the start: no part; started at the as-of moment: none.
        assert!(parts(a, Some(a), as_of).is_empty());
        assert!(parts(as_of, None, as_of).is_empty());
        // Released after the as-of moment: cut at it, settled at the hour's end.
        let a = "2024-05-31 23:10:00";
        assert_eq!(
            parts(a, Some("2024-06-01 05:00:00"), as_of),
            [(0, t(a), t(as_of), t(as_of))]
        );
    }

    /// An hourly instance's upgrade applies from the next clock hour: the hour containing it is
    /// settled at the plan of its first second.
    #[test]
    fn hourly_upgrade_applies_from_the_next_clock_hour() {
        let c = catalog();
        let s = hourly(
            "h1",
            "basic",
            "2024-05-10 10:00:00",
            Some("2024-05-10 11:30:00"),
        );
        let mut up = ev("u1", EventKind::Upgrade, "h1", "2024-05-10 10:15:00");
        up.new_plan = Some(Name::from("professional"));
        let out = replay(&[s], &[up], &c, t("2024-06-01 00:00:00"));
        let got: Vec<_> = out.lines.iter().map(|l| (l.unit_price, l.amount)).collect();
        assert_eq!(got, [(dec!(5.94), dec!(5.94)), (dec!(11.76), dec!(5.88))]);
    }

    /// docs/rules.md §9 example 4: 4999 → 8999 with 20 of 30 days remaining → 2666.67 payable.
    #[test]
    fn example_4_upgrade_formula() {
        let a = upgrade_amount(dec!(4999), dec!(8999), 20, 30);
        assert_eq!(a, dec!(2666.66666667));
        assert_eq!(pay2(a), dec!(2666.67));
    }

    #[test]
    fn upgrade_through_events_and_on_the_last_day() {
        let c = catalog();
        // September has 30 days: bought 09-01 10:00, upgraded 09-10 (10 days used, 20 left).
        let s = test_plan("2024-09-01 10:00:00");
        let mut up = ev("u1", EventKind::Upgrade, "p1", "2024-09-10 12:00:00");
        up.new_plan = Some(Name::from("starter"));
        let mut last = ev("u2", EventKind::Upgrade, "p1", "2024-09-30 23:00:00");
        last.new_plan = Some(Name::from("basic"));
        let mut down = ev("u3", EventKind::Upgrade, "p1", "2024-09-30 23:30:00");
        down.new_plan = Some(Name::from("trial"));
        let out = replay(&[s], &[up, last, down], &c, t("2024-11-01 00:00:00"));
        assert_eq!(
            amounts(&out),
            vec![
                ("s:p1:0000".to_string(), dec!(4999)),
                ("g:u1".to_string(), dec!(2666.66666667)),
                // Upgrade on the last day of the term: nothing left to pay for.
                ("g:u2".to_string(), dec!(0)),
            ]
        );
        assert_eq!(out.lines[1].charge_kind, ChargeKind::Upgrade);
        let life = &out.lives[0];
        assert_eq!(&**life.plan_at(t("2024-09-10 11:00:00")), "test");
        assert_eq!(&**life.plan_at(t("2024-09-10 12:00:00")), "starter");
        assert_eq!(&**life.plan_at(t("2024-09-30 23:59:00")), "basic");
        assert_eq!(life.expires_at(), Some(t("2024-10-01 10:00:00")));
        // Plans only go up.
        assert_eq!(out.violations.len(), 1, "{:?}", out.violations);
        assert_eq!(out.violations[0].rule, "invalid_event");
    }

    /// A term renewed ahead is topped up in full: bought 09-01 10:00 (test, 4999), renewed on
    /// 09-05 for October, upgraded to starter (8999) on 09-10: 20/30 of September's difference
    /// and all of October's, on one line running to the expiry (unchanged).
    #[test]
    fn upgrade_tops_up_terms_renewed_ahead() {
        let c = catalog();
        let s = test_plan("2024-09-01 10:00:00");
        let mut renew = ev("r1", EventKind::Renew, "p1", "2024-09-05 09:00:00");
        renew.months = Some(1);
        let mut up = ev("u1", EventKind::Upgrade, "p1", "2024-09-10 12:00:00");
        up.new_plan = Some(Name::from("starter"));
        let out = replay(
            std::slice::from_ref(&s),
            &[renew.clone(), up],
            &c,
            t("2024-11-01 00:00:00"),
        );
        assert_eq!(out.violations, vec![]);
        let g = out.lines.iter().find(|l| &*l.line_id == "g:u1").unwrap();
        // 4000 × 20/30 = 2666.66666667, plus 4000 for October.
        assert_eq!(g.amount, dec!(6666.66666667));
        let renewed = replay(
            std::slice::from_ref(&s),
            &[renew],
            &c,
            t("2024-11-01 00:00:00"),
        );
        let life = &renewed.lives[0];
        let at = t("2024-09-10 12:00:00");
        let term = life.term_at(at).unwrap();
        let plans = (&Name::from("test"), &Name::from("starter"));
        assert_eq!(
            upgrade_charge(&s, life, term, at, &c, plans),
            Ok(UpgradeCharge {
                this_term: dec!(2666.66666667),
                ahead: dec!(4000),
            })
        );
        assert_eq!(
            (g.charge_start, g.charge_end),
            (t("2024-09-10 12:00:00"), t("2024-11-01 10:00:00"))
        );
        let life = &out.lives[0];
        assert_eq!(life.expires_at(), Some(t("2024-11-01 10:00:00")));
        assert_eq!(&**life.plan_at(t("2024-10-15 00:00:00")), "starter");
    }

    #[test]
    fn refund_ends_the_subscription_and_the_5_day_rule_is_per_customer() {
        let c = catalog();
        let a = sub(
            "a",
            "apigw",
            "basic",
            BillingMode::Monthly,
            "2024-05-01 00:00:00",
        );
        let b = sub(
            "b",
            "apigw",
            "basic",
            BillingMode::Monthly,
            "2024-05-02 00:00:00",
        );
        let mut a = a;
        a.price_paid = dec!(3680);
        let mut b = b;
        b.price_paid = dec!(3680);
        let ra = ev("ra", EventKind::Refund, "a", "2024-05-03 00:00:00");
        let rb = ev("rb", EventKind::Refund, "b", "2024-05-04 00:00:00");
        let mut renew_after = ev("rn", EventKind::Renew, "a", "2024-05-20 00:00:00");
        renew_after.months = Some(1);
        let out = replay(
            &[a, b],
            &[rb, ra, renew_after],
            &c,
            t("2024-07-01 00:00:00"),
        );
        assert_eq!(out.refunds[0].event_id.as_ref(), "ra");
        assert_eq!(out.refunds[0].amount, dec!(3680));
        // Second refund of the same customer within 5 days: prorated, 2 of 31 days used.
        assert_eq!(out.refunds[1].event_id.as_ref(), "rb");
        assert_eq!(
            out.refunds[1].used_value,
            m8(dec!(3680) * dec!(2) / dec!(31))
        );
        assert_eq!(out.lives[0].ended_at, Some(t("2024-05-03 00:00:00")));
        // No renewal of an ended subscription.
        assert_eq!(out.violations.len(), 1);
        let refund_lines: Vec<_> = out
            .lines
            .iter()
            .filter(|l| l.charge_kind == ChargeKind::Refund)
            .map(|l| (l.line_id.to_string(), l.amount))
            .collect();
        assert_eq!(refund_lines[0], ("r:ra".to_string(), dec!(-3680)));
    }

    #[test]
    fn renewals_count_months_from_the_anchor() {
        let c = catalog();
        let s = test_plan("2024-01-31 10:00:00");
        let mut r1 = ev("r1", EventKind::Renew, "p1", "2024-02-20 00:00:00");
        r1.months = Some(1);
        let mut r2 = ev("r2", EventKind::Renew, "p1", "2024-03-20 00:00:00");
        r2.months = Some(1);
        let out = replay(&[s], &[r1, r2], &c, t("2024-06-01 00:00:00"));
        let ends: Vec<Ts> = out.lives[0].terms.iter().map(|t| t.end).collect();
        assert_eq!(
            ends,
            vec![
                t("2024-02-29 10:00:00"),
                t("2024-03-31 10:00:00"),
                t("2024-04-30 10:00:00")
            ]
        );
    }

    /// Renewals that would end past the year 9999 are refused, not a panic in the calendar.
    #[test]
    fn renewals_past_the_year_9999_are_refused() {
        let c = catalog();
        let s = test_plan("2024-01-31 10:00:00");
        // 85 renewals of 1200 months (100 years each) after 2024.
        let renewals: Vec<Event> = (0..85)
            .map(|k| {
                let mut r = ev(
                    &format!("r{k}"),
                    EventKind::Renew,
                    "p1",
                    "2024-02-20 00:00:00",
                );
                r.at += k;
                r.months = Some(1200);
                r
            })
            .collect();
        let out = replay(&[s], &renewals, &c, t("2024-06-01 00:00:00"));
        let refused: Vec<&str> = out
            .violations
            .iter()
            .filter(|v| v.detail.contains("after the year 9999"))
            .map(|v| v.source_id.as_str())
            .collect();
        // The 79th renewal ends in 9924; the 80th would end in 10024, and so would the rest.
        assert_eq!(refused, ["r79", "r80", "r81", "r82", "r83", "r84"]);
        assert_eq!(out.lives[0].terms.len(), 1 + 79);
    }

    #[test]
    fn months_clamp_to_month_end() {
        assert_eq!(
            add_months(t("2024-01-31 10:00:00"), 1),
            t("2024-02-29 10:00:00")
        );
        assert_eq!(
            whole_months(t("2024-01-15 00:00:00"), t("2024-04-15 00:00:00")),
            Some(3)
        );
        assert_eq!(
            whole_months(t("2024-01-15 00:00:00"), t("2024-04-16 00:00:00")),
            None
        );
    }
}
