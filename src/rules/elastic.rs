//! The elastic resource fee of mini-program gateway plans (docs/rules.md §4.3), one line per plan
//! and UTC+8 day.
//!
//! `base = max(peak QPS, peak Mbps × qps_per_mbps)` of the day (the largest hourly peak row of
//! the plan's instance, `instance_id = subscription_id`), rounded **up** to a multiple of
//! `round_up_to`, minus the plan's QPS, floored at 0. Plans of at most `cap_max_plan_qps` QPS
//! bill at most `cap_factor` × the plan's QPS of it (catalog `[elastic]`), and a day whose base
//! is above that cap gets one `elastic_over_cap` finding; larger plans have no cap.
//! `fee = billed base × unit price`, the unit price being the order's
//! (`subscriptions.elastic_unit_price`) or, when it has none, the catalog's elastic price in
//! force at `elastic_on_at` (`[[elastic_prices]]`). Charged at the end of the day.
//!
//! A day is charged when the elastic switch was on at some moment of it: `elastic_on_at` before
//! the day's end, and `elastic_off_at` absent or on that day or later (switching off takes
//! effect the next day). **Decisions:** the plan QPS is the plan in force at the end of the day
//! (an upgrade counts for the whole day it happens on); days after the subscription ended
//! (released or refunded) or outside its paid terms are not charged; a day is only charged once
//! it has ended before the as-of moment; days with no peak rows get no line. A plan the catalog
//! lacks, or a switch-on instant with no catalog price for an order without its own, is
//! `no_price`, reported once per subscription. Days that start while the account's elastic
//! resources are unavailable after arrears (§5) are dropped later, by the account timeline
//! (`rules::elastic_unavailable`), which alone knows the balance.
//!
//! Invariants: one line per (subscription, day); `billable_quantity ≤ cap` when there is a cap;
//! `amount = billable_quantity × unit_price` exactly (both exact decimals) and never negative;
//! at most one `elastic_over_cap` finding per (subscription, day).

use crate::calendar::{day_start, local_date, Ts, DAY};
use crate::catalog::{Catalog, Elastic};
use crate::input::{Subscription, Usage, Violation};
use crate::model::{BillLine, ChargeKind};
use crate::money::m8;
use crate::name::Name;
use crate::rules::subscriptions::Life;
use rust_decimal::Decimal;
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, HashSet};

/// The finding of a day whose base is above the plan's cap.
pub const OVER_CAP: &str = "elastic_over_cap";

/// The elastic base of one day: QPS above the plan, rounded up first.
pub fn base(peak_qps: Decimal, peak_mbps: Decimal, plan_qps: u32, cfg: &Elastic) -> Decimal {
    let step = Decimal::from(cfg.round_up_to);
    let rounded = (metered(peak_qps, peak_mbps, cfg) / step).ceil() * step;
    (rounded - Decimal::from(plan_qps)).max(Decimal::ZERO)
}

/// The day's peak in QPS: `max(peak QPS, peak Mbps × qps_per_mbps)`.
fn metered(peak_qps: Decimal, peak_mbps: Decimal, cfg: &Elastic) -> Decimal {
    peak_qps.max(peak_mbps * Decimal::from(cfg.qps_per_mbps))
}

/// One day's elastic quantities, in QPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayFee {
    /// The day's peak, before rounding.
    pub metered: Decimal,
    /// Rounded up, minus the plan's QPS, floored at 0.
    pub base: Decimal,
    /// `cap_factor` × the plan's QPS for plans up to `cap_max_plan_qps`; `None`: no cap.
    pub cap: Option<Decimal>,
    /// The base, capped: what is charged.
    pub billed: Decimal,
}

impl DayFee {
    pub fn of(peak_qps: Decimal, peak_mbps: Decimal, plan_qps: u32, cfg: &Elastic) -> DayFee {
        let base = base(peak_qps, peak_mbps, plan_qps, cfg);
        let cap = cfg.cap(plan_qps);
        DayFee {
            metered: metered(peak_qps, peak_mbps, cfg),
            base,
            cap,
            billed: cap.map_or(base, |c| base.min(c)),
        }
    }

    pub fn over_cap(&self) -> bool {
        self.cap.is_some_and(|c| self.base > c)
    }
}

/// The unit price of plan `s`'s elastic fee: the order's, or the catalog's in force when the
/// switch was turned on.
pub fn unit_price(s: &Subscription, cfg: &Elastic) -> Option<Decimal> {
    s.elastic_unit_price
        .or_else(|| s.elastic_on_at.and_then(|on| cfg.price_at(on)))
}

/// Whether the switch was on at some moment of the day starting at `day`.
fn switched_on(s: &Subscription, day: Ts) -> bool {
    let Some(on) = s.elastic_on_at else {
        return false;
    };
    on < day + DAY && s.elastic_off_at.is_none_or(|off| day_start(off) >= day)
}

/// Daily elastic fee lines of every plan with the switch on, up to the as-of moment, with their
/// findings (`no_price`, `elastic_over_cap`).
pub fn elastic_lines(
    usage: &[Usage],
    subs: &[Subscription],
    lives: &[Life],
    catalog: &Catalog,
    as_of: Ts,
) -> (Vec<BillLine>, Vec<Violation>) {
    let cfg = &catalog.elastic;
    let (mut lines, mut violations) = (Vec::new(), Vec::new());
    // A missing plan or price is reported once per subscription, on its first day: a property
    // of the subscription, which every run reports (not a finding per day).
    let mut unpriced: HashSet<usize> = HashSet::new();
    let mut no_price = |i: usize, day: Ts, detail: String| {
        if unpriced.insert(i) {
            let id = &*subs[i].subscription_id;
            Some(Violation::new(
                "subscriptions",
                id,
                "no_price",
                detail,
                Some(day),
            ))
        } else {
            None
        }
    };
    for ((i, day), peak) in daily_peaks(usage, subs, cfg) {
        let (s, life) = (&subs[i], &lives[i]);
        let end = day + DAY;
        let alive = life.ended_at.is_none_or(|x| x > day)
            && life.terms.iter().any(|t| t.start < end && day < t.end);
        if end > as_of || !alive || !switched_on(s, day) {
            continue;
        }
        let plan = life.plan_at(end - 1);
        let Some(p) = catalog.plan(&s.product, plan) else {
            let detail = format!("no plan {}/{plan} for the elastic fee", s.product);
            violations.extend(no_price(i, day, detail));
            continue;
        };
        let Some(price) = unit_price(s, cfg) else {
            let detail = "no elastic_unit_price on the order and no catalog elastic price in                           force when the switch was turned on"
                .to_string();
            violations.extend(no_price(i, day, detail));
            continue;
        };
        let fee = DayFee::of(peak.qps, peak.mbps, p.max_qps, cfg);
        if fee.over_cap() {
            violations.push(over_cap(s, day, &fee, p.max_qps, cfg));
        }
        lines.push(fee_line(s, day, &fee, price));
    }
    (lines, violations)
}

/// The `elastic_over_cap` finding of plan `s` for the day starting at `day`.
fn over_cap(s: &Subscription, day: Ts, fee: &DayFee, plan_qps: u32, cfg: &Elastic) -> Violation {
    let cap = fee.cap.unwrap_or_default();
    Violation::new(
        "subscriptions",
        &*s.subscription_id,
        OVER_CAP,
        format!(
            "{}: elastic base {} QPS above the plan exceeds the cap of {} × {plan_qps} = {cap} \
             QPS; {cap} billed",
            local_date(day),
            fee.base,
            cfg.cap_factor,
        ),
        Some(day),
    )
}

/// The day's peaks of a plan: the largest hourly peak QPS and peak Mbps rows.
#[derive(Debug, Clone, Copy)]
struct Peak {
    qps: Decimal,
    mbps: Decimal,
}

/// The peaks of every plan with the switch ever on, by (subscription index, UTC+8 day start).
fn daily_peaks(
    usage: &[Usage],
    subs: &[Subscription],
    cfg: &Elastic,
) -> BTreeMap<(usize, Ts), Peak> {
    let by_instance: FxHashMap<(&str, &str), usize> = subs
        .iter()
        .enumerate()
        .filter(|(_, s)| s.product.as_ref() == cfg.product && s.elastic_on_at.is_some())
        .map(|(i, s)| ((&*s.owner_uin, &*s.subscription_id), i))
        .collect();
    let mut peaks: BTreeMap<(usize, Ts), Peak> = BTreeMap::new();
    if by_instance.is_empty() {
        return peaks;
    }
    for u in usage {
        if u.product.as_ref() != cfg.product {
            continue;
        }
        let Some(&i) = by_instance.get(&(&*u.owner_uin, &*u.instance_id)) else {
            continue;
        };
        let e = peaks.entry((i, day_start(u.usage_start))).or_insert(Peak {
            qps: Decimal::ZERO,
            mbps: Decimal::ZERO,
        });
        if u.billing_item.as_ref() == cfg.peak_qps_item {
            e.qps = e.qps.max(u.quantity);
        } else if u.billing_item.as_ref() == cfg.peak_bandwidth_item {
            e.mbps = e.mbps.max(u.quantity);
        }
    }
    peaks
}

/// The elastic fee line of plan `s` for the day starting at `day`.
fn fee_line(s: &Subscription, day: Ts, fee: &DayFee, price: Decimal) -> BillLine {
    let end = day + DAY;
    BillLine {
        line_id: format!("e:{}:{}", s.subscription_id, local_date(day)).into(),
        owner_uin: s.owner_uin,
        region: s.region,
        product: s.product,
        sub_product: Name::from("elastic"),
        instance_id: s.subscription_id,
        billing_item: Name::from("elastic_qps"),
        charge_kind: ChargeKind::Elastic,
        charge_start: day,
        charge_end: end,
        usage_id: None,
        metered_quantity: fee.metered,
        deducted_quantity: Decimal::ZERO,
        billable_quantity: fee.billed,
        unit: Name::from("QPS"),
        tier: None,
        unit_price: price,
        price_unit: Name::from("QPS-day"),
        amount: m8(fee.billed * price),
        charged_at: end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::HOUR;
    use crate::input::{BillingMode, Direction};
    use crate::money::Unit;
    use crate::rules::deduction::tests::{catalog, t};
    use crate::rules::subscriptions::replay;
    use rust_decimal_macros::dec;

    /// docs/rules.md §9 example 3: plan 500 QPS / 10 Mbps, price 0.999.
    #[test]
    fn example_3_three_days() {
        let c = catalog();
        let cfg = &c.elastic;
        let price = cfg.price_at(t("2024-05-01 00:00:00")).unwrap();
        assert_eq!(price, dec!(0.999));
        let day1 = base(dec!(1100), dec!(12), 500, cfg);
        let day2 = base(dec!(1200), dec!(30), 500, cfg);
        let day3 = base(dec!(1250), dec!(10), 500, cfg);
        assert_eq!((day1, day2, day3), (dec!(600), dec!(1000), dec!(800)));
        assert_eq!(day1 * price, dec!(599.4));
        assert_eq!(day2 * price, dec!(999.0));
        // The source says 700 / 699.3 for day 3; its own rule gives 800 / 799.2.
        assert_eq!(day3 * price, dec!(799.2));
        assert_eq!(base(dec!(400), dec!(2), 500, cfg), dec!(0));
    }

    fn plan(on: &str, off: Option<&str>) -> Subscription {
        Subscription {
            subscription_id: Name::from("mp1"),
            owner_uin: Name::from("u1"),
            product: Name::from("mpgw"),
            plan: Name::from("test"),
            region: Name::from("ap-guangzhou"),
            billing_mode: BillingMode::Monthly,
            started_at: t("2024-05-01 00:00:00"),
            expires_at: Some(t("2024-06-01 00:00:00")),
            released_at: None,
            list_price: dec!(4999),
            discount: dec!(1),
            price_paid: dec!(4999),
            elastic_on_at: Some(t(on)),
            elastic_off_at: off.map(t),
            attached_apps: 1,
            elastic_unit_price: None,
        }
    }

    fn peak(id: &str, start: &str, item: &str, q: Decimal) -> Usage {
        let s = t(start);
        Usage {
            usage_id: std::sync::Arc::from(id),
            owner_uin: Name::from("u1"),
            region: Name::from("ap-guangzhou"),
            product: Name::from("mpgw"),
            sub_product: Name::from("elastic"),
            instance_id: Name::from("mp1"),
            billing_item: Name::from(item),
            usage_start: s,
            usage_end: s + HOUR,
            quantity: q,
            unit: if item == "peak_qps" {
                Unit::Qps
            } else {
                Unit::Mbps
            },
            direction: Direction::Outbound,
            accelerated: false,
        }
    }

    /// Example 3 through the usage rows: the day's largest peaks; switching off on day 3 still
    /// charges day 3, not day 4; days after the as-of moment are not charged.
    #[test]
    fn daily_lines_from_peak_rows_and_the_switch() {
        let c = catalog();
        let s = plan("2024-05-10 12:00:00", Some("2024-05-12 09:00:00"));
        let usage = vec![
            peak("a", "2024-05-10 08:00:00", "peak_qps", dec!(900)),
            peak("b", "2024-05-10 20:00:00", "peak_qps", dec!(1100)),
            peak("c", "2024-05-10 20:00:00", "peak_bandwidth", dec!(12)),
            peak("d", "2024-05-11 03:00:00", "peak_qps", dec!(1200)),
            peak("e", "2024-05-11 04:00:00", "peak_bandwidth", dec!(30)),
            peak("f", "2024-05-12 03:00:00", "peak_qps", dec!(1250)),
            peak("g", "2024-05-12 03:00:00", "peak_bandwidth", dec!(10)),
            peak("h", "2024-05-13 03:00:00", "peak_qps", dec!(5000)),
            peak("i", "2024-05-09 03:00:00", "peak_qps", dec!(5000)),
        ];
        let r = replay(std::slice::from_ref(&s), &[], &c, t("2024-06-01 00:00:00"));
        let (lines, v) = elastic_lines(
            &usage,
            std::slice::from_ref(&s),
            &r.lives,
            &c,
            t("2024-06-01 00:00:00"),
        );
        assert!(v.is_empty());
        let got: Vec<_> = lines
            .iter()
            .map(|l| (l.line_id.as_str(), l.billable_quantity, l.amount))
            .collect();
        assert_eq!(
            got,
            vec![
                ("e:mp1:2024-05-10", dec!(600), dec!(599.4)),
                ("e:mp1:2024-05-11", dec!(1000), dec!(999.0)),
                ("e:mp1:2024-05-12", dec!(800), dec!(799.2)),
            ]
        );
        assert_eq!(lines[0].charged_at, t("2024-05-11 00:00:00"));
        assert_eq!(lines[0].price_unit.as_ref(), "QPS-day");
        // As of 2024-05-12: only the two finished days.
        let (lines, _) = elastic_lines(
            &usage,
            std::slice::from_ref(&s),
            &r.lives,
            &c,
            t("2024-05-12 00:00:00"),
        );
        assert_eq!(lines.len(), 2);

        // A plan the catalog lacks: no fee, reported once (its first day), not once a day.
        let mut unknown = s;
        unknown.plan = "platinum".into();
        let r = replay(
            std::slice::from_ref(&unknown),
            &[],
            &c,
            t("2024-06-01 00:00:00"),
        );
        let (lines, v) = elastic_lines(&usage, &[unknown], &r.lives, &c, t("2024-06-01 00:00:00"));
        assert!(lines.is_empty());
        let found: Vec<_> = v.iter().map(|v| (&*v.rule, v.at)).collect();
        assert_eq!(found, [("no_price", Some(t("2024-05-10 00:00:00")))]);
    }

    /// One day of plan `s` peaking at `qps`: its line (or none) and findings.
    fn one_day(s: &Subscription, c: &Catalog, qps: Decimal) -> (Vec<BillLine>, Vec<Violation>) {
        let usage = [peak("a", "2024-05-10 20:00:00", "peak_qps", qps)];
        let subs = std::slice::from_ref(s);
        let r = replay(subs, &[], c, t("2024-06-01 00:00:00"));
        elastic_lines(&usage, subs, &r.lives, c, t("2024-06-01 00:00:00"))
    }

    /// (metered, billable, unit price, amount) of a line.
    fn parts(l: &BillLine) -> (Decimal, Decimal, Decimal, Decimal) {
        (
            l.metered_quantity,
            l.billable_quantity,
            l.unit_price,
            l.amount,
        )
    }

    /// docs/rules.md §9 example 14: plan 10000 QPS / 200 Mbps, a day peaking at 60,000 QPS: base
    /// 60000 − 10000 = 50000, capped at 4 × 10000 = 40000 → 39,960.00 at 0.999, and one
    /// `elastic_over_cap` finding.
    #[test]
    fn example_14_elastic_base_capped_at_4_times_the_plan() {
        let c = catalog();
        let fee = DayFee::of(dec!(60000), dec!(0), 10000, &c.elastic);
        assert_eq!(
            fee,
            DayFee {
                metered: dec!(60000),
                base: dec!(50000),
                cap: Some(dec!(40000)),
                billed: dec!(40000),
            }
        );
        let mut s = plan("2024-05-10 00:00:00", None);
        s.plan = "preferred".into();
        let (lines, v) = one_day(&s, &c, dec!(60000));
        let got: Vec<_> = lines.iter().map(parts).collect();
        assert_eq!(
            got,
            [(dec!(60000), dec!(40000), dec!(0.999), dec!(39960.00))]
        );
        let found: Vec<_> = v
            .iter()
            .map(|v| (&*v.rule, v.source_id.as_str(), v.at))
            .collect();
        assert_eq!(found, [(OVER_CAP, "mp1", Some(t("2024-05-10 00:00:00")))]);
        assert!(
            v[0].detail.contains("cap of 4 × 10000 = 40000 QPS"),
            "{}",
            v[0].detail
        );
    }

    /// docs/rules.md §4.3 (revised): a base exactly at the cap is billed whole, without a finding;
    /// plans above 50,000 QPS (catalog `cap_max_plan_qps`) have no cap; the 50,000 QPS plan
    /// itself has one.
    #[test]
    fn revised_4_3_elastic_cap_applies_to_plans_up_to_50000_qps() {
        let c = catalog();
        let cfg = &c.elastic;
        let at_cap = DayFee::of(dec!(50000), dec!(0), 10000, cfg);
        assert_eq!((at_cap.billed, at_cap.over_cap()), (dec!(40000), false));
        let pro = DayFee::of(dec!(900000), dec!(0), 100000, cfg);
        assert_eq!(
            (pro.cap, pro.billed, pro.over_cap()),
            (None, dec!(800000), false)
        );
        let advanced = DayFee::of(dec!(300000), dec!(0), 50000, cfg);
        assert_eq!(
            (advanced.cap, advanced.billed),
            (Some(dec!(200000)), dec!(200000))
        );
        // Mbps count through × 50: 200 Mbps plan, 1100 Mbps = 55000 QPS → base 45000 → 40000.
        let mbps = DayFee::of(dec!(0), dec!(1100), 10000, cfg);
        assert_eq!((mbps.base, mbps.billed), (dec!(45000), dec!(40000)));
        let mut s = plan("2024-05-10 00:00:00", None);
        s.plan = "pro".into();
        let (lines, v) = one_day(&s, &c, dec!(900000));
        let got: Vec<_> = lines.iter().map(parts).collect();
        assert_eq!(
            got,
            [(dec!(900000), dec!(800000), dec!(0.999), dec!(799200.0))]
        );
        assert!(v.is_empty());
    }

    /// docs/rules.md §4.3 (revised): the order's `elastic_unit_price` when it has one; otherwise
    /// the catalog's price in force at `elastic_on_at` (not at the day charged); none in force is
    /// `no_price`, once per subscription, and no line.
    #[test]
    fn revised_4_3_elastic_unit_price_from_the_order_else_the_catalog_at_switch_on() {
        let mut c = catalog();
        let change = t("2024-05-10 12:00:00");
        c.elastic.prices = vec![
            crate::catalog::ElasticPrice {
                unit_price: dec!(0.999),
                from: Ts::MIN,
                to: change,
            },
            crate::catalog::ElasticPrice {
                unit_price: dec!(1.2),
                from: change,
                to: Ts::MAX,
            },
        ];
        // Switched on before the change: 0.999 for a day after it.
        let s = plan("2024-05-10 00:00:00", None);
        let (lines, _) = one_day(&s, &c, dec!(1100));
        assert_eq!(
            lines.iter().map(parts).collect::<Vec<_>>(),
            [(dec!(1100), dec!(600), dec!(0.999), dec!(599.4))]
        );
        // Switched on at the change: 1.2.
        let s = plan("2024-05-10 12:00:00", None);
        let (lines, _) = one_day(&s, &c, dec!(1100));
        assert_eq!(
            lines.iter().map(parts).collect::<Vec<_>>(),
            [(dec!(1100), dec!(600), dec!(1.2), dec!(720.0))]
        );
        // The order's own price wins.
        let mut s = plan("2024-05-10 12:00:00", None);
        s.elastic_unit_price = Some(dec!(0.5));
        let (lines, _) = one_day(&s, &c, dec!(1100));
        assert_eq!(
            lines.iter().map(parts).collect::<Vec<_>>(),
            [(dec!(1100), dec!(600), dec!(0.5), dec!(300.0))]
        );
        // No catalog price at the switch-on instant, none on the order.
        c.elastic.prices.remove(0);
        let s = plan("2024-05-10 00:00:00", None);
        let (lines, v) = one_day(&s, &c, dec!(1100));
        assert!(lines.is_empty());
        let found: Vec<_> = v.iter().map(|v| (&*v.rule, v.at)).collect();
        assert_eq!(found, [("no_price", Some(t("2024-05-10 00:00:00")))]);
    }
}
