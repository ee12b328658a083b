//! Elastic fees of days that start while the account's elastic resources are unavailable
//! (docs/rules.md §4.3 and §5): no fee is charged for them, until a top-up restores the resources.
//!
//! Resources become unavailable by the arrears policy whose action is `elastic_unavailable`
//! (catalog `[[arrears_policies]]`, mini-program gateway: 1 day after arrears start), exactly as
//! `rules::arrears` dates that event: at `max(arrears start + grace, first instant the account
//! has the product)`, if the episode is still open then; they stay unavailable until the
//! episode clears (the balance back at ≥ 0). A day starting at or after that instant and before
//! the clear is not charged; a day starting at the clear instant is (inputs at an instant come
//! before the state they decide, as in `rules::arrears`).
//!
//! The balance includes the elastic fees, and the fees decide the arrears: the fees are settled
//! in one causal sweep over the account's ledger. A day's fee is charged at the day's end, so
//! whether the day starting at `d` is charged depends only on entries at or before `d`: every
//! other entry, and the fees of the earlier days already settled. The sweep walks the days in
//! time order, replays the balance up to each day's start with the fees kept so far, and drops
//! the day's fee when the resources are unavailable then.
//!
//! Invariants: a fee is dropped only if its day starts in an interval where `rules::arrears`,
//! run on the ledger of the kept lines, reports `elastic_unavailable` without a `restored`; the
//! lines other than these fees are all kept; the result does not depend on the order of `lines`.

use crate::calendar::{Ts, HOUR};
use crate::catalog::Catalog;
use crate::error::Result;
use crate::input::{Account, Payment, Violation};
use crate::model::{BillLine, ChargeKind};
use crate::name::Name;
use crate::rules::elastic::OVER_CAP;
use crate::rules::ledger::{keeps, Ledger};
use rust_decimal::Decimal;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

/// The policy action that makes elastic resources unavailable.
pub const ACTION: &str = "elastic_unavailable";

/// An elastic fee not charged: the plan's day starting at `day`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DroppedDay {
    pub subscription_id: Name,
    pub day: Ts,
}

/// One account's lines after settling: those the ledger keeps (borrowed as given when the
/// account has no fee to settle, the common case) and the days dropped.
#[derive(Debug, Clone)]
pub struct Settled<'a, 'r> {
    pub kept: Cow<'r, [&'a BillLine]>,
    pub dropped: Vec<DroppedDay>,
}

/// The account's rows the sweep reads.
pub struct AccountRows<'a, 'r> {
    pub owner: Name,
    pub account: Option<&'a Account>,
    pub payments: &'r [&'a Payment],
    /// Every bill line of the account, of all history.
    pub lines: &'r [&'a BillLine],
    /// The products the account has, each from its first instant (`arrears::products_held`).
    pub held: &'r BTreeMap<Name, Ts>,
}

/// Settles the account's elastic fees against its arrears (see the module doc).
pub fn settle<'a, 'r>(
    rows: &AccountRows<'a, 'r>,
    catalog: &Catalog,
    as_of: Ts,
) -> Result<Settled<'a, 'r>> {
    // The grace (in µs) of the products whose arrears make elastic resources unavailable.
    let grace = |l: &BillLine| {
        let p = catalog.arrears_policy(&l.product)?;
        (l.charge_kind == ChargeKind::Elastic && p.action == ACTION).then_some(p.grace_hours * HOUR)
    };
    if !rows.lines.iter().any(|l| grace(l).is_some()) {
        return Ok(Settled {
            kept: Cow::Borrowed(rows.lines),
            dropped: Vec::new(),
        });
    }
    let (mut fees, mut kept): (Vec<&'a BillLine>, Vec<&'a BillLine>) =
        rows.lines.iter().partition(|l| grace(l).is_some());
    fees.sort_by(|a, b| (a.charge_start, &a.line_id).cmp(&(b.charge_start, &b.line_id)));
    // Every balance of the sweep below is a partial sum of the account's entries: in range
    // when all of them are (the ledger of all the lines checks that, fees included).
    Ledger::try_new(rows.owner, rows.account, rows.payments, rows.lines, as_of)?;
    let others = Ledger::try_new(rows.owner, rows.account, rows.payments, &kept, as_of)?;
    let mut sweep = Sweep::new(others.instants());
    let mut dropped = Vec::new();
    for l in fees {
        let day = l.charge_start;
        sweep.advance_to(day);
        let first = rows.held.get(&l.product).copied().unwrap_or(Ts::MIN);
        let unavailable_from = sweep
            .open
            .map(|start| (start + grace(l).unwrap_or(0)).max(first));
        if unavailable_from.is_some_and(|from| from <= day) {
            dropped.push(DroppedDay {
                subscription_id: l.instance_id,
                day,
            });
            continue;
        }
        if keeps(rows.account, as_of, l.charged_at) {
            sweep.debit(l.charged_at, l.amount);
        }
        kept.push(l);
    }
    Ok(Settled {
        kept: Cow::Owned(kept),
        dropped,
    })
}

/// The balance replayed instant by instant: the ledger's other entries merged with the fees
/// kept so far, and the arrears episode open at the last instant replayed.
struct Sweep<'l> {
    /// Balance after each instant of the other entries.
    others: &'l [(Ts, Decimal)],
    next: usize,
    others_balance: Decimal,
    /// Fees kept and not yet replayed, by charge instant.
    pending: BTreeMap<Ts, Decimal>,
    fees: Decimal,
    /// The start of the open arrears episode.
    open: Option<Ts>,
}

impl<'l> Sweep<'l> {
    fn new(others: &'l [(Ts, Decimal)]) -> Sweep<'l> {
        Sweep {
            others,
            next: 0,
            others_balance: Decimal::ZERO,
            pending: BTreeMap::new(),
            fees: Decimal::ZERO,
            open: None,
        }
    }

    fn debit(&mut self, at: Ts, amount: Decimal) {
        *self.pending.entry(at).or_default() += amount;
    }

    /// Replays every instant at or before `t`; arrears are decided on the balance after all
    /// entries of an instant (`rules::ledger`).
    fn advance_to(&mut self, t: Ts) {
        loop {
            let other = self.others.get(self.next).map(|x| x.0);
            let fee = self.pending.first_key_value().map(|(at, _)| *at);
            let Some(at) = other.into_iter().chain(fee).min().filter(|at| *at <= t) else {
                return;
            };
            if other == Some(at) {
                self.others_balance = self.others[self.next].1;
                self.next += 1;
            }
            if fee == Some(at) {
                self.fees += self.pending.pop_first().map_or(Decimal::ZERO, |(_, a)| a);
            }
            let balance = self.others_balance - self.fees;
            match self.open {
                None if balance < Decimal::ZERO => self.open = Some(at),
                Some(_) if balance >= Decimal::ZERO => self.open = None,
                _ => {}
            }
        }
    }
}

/// Removes the dropped days' fee lines and their `elastic_over_cap` findings: a day not charged
/// is neither billed nor reported above the cap.
pub fn remove(lines: &mut Vec<BillLine>, findings: &mut Vec<Violation>, dropped: &[DroppedDay]) {
    if dropped.is_empty() {
        return;
    }
    let days: HashSet<(&str, Ts)> = dropped
        .iter()
        .map(|d| (d.subscription_id.as_str(), d.day))
        .collect();
    lines.retain(|l| {
        l.charge_kind != ChargeKind::Elastic
            || !days.contains(&(l.instance_id.as_str(), l.charge_start))
    });
    findings.retain(|v| {
        &*v.rule != OVER_CAP
            || v.at
                .is_none_or(|at| !days.contains(&(v.source_id.as_str(), at)))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::DAY;
    use crate::rules::arrears;
    use crate::rules::ledger::tests::{account, dec, line, payment, t};

    fn catalog() -> Catalog {
        crate::rules::deduction::tests::catalog()
    }

    /// The elastic fee of plan `mp-1` for the day starting at `day`, charged at its end.
    fn fee(day: &str, amount: &str) -> BillLine {
        let start = t(day);
        let mut l = line(
            &format!("e:mp-1:{day}"),
            ChargeKind::Elastic,
            "mpgw",
            start + DAY,
            amount,
        );
        l.instance_id = "mp-1".into();
        (l.charge_start, l.charge_end) = (start, start + DAY);
        l
    }

    /// (day, kept) of every fee of the settled account, and the `mpgw` events of the ledger of
    /// the kept lines.
    fn settle_days(
        opening: &str,
        pays: &[Payment],
        fees: &[BillLine],
    ) -> (Vec<Ts>, Vec<DroppedDay>, Vec<(&'static str, Ts)>) {
        let a = account(opening, "2024-08-01 00:00:00");
        let as_of = t("2024-10-01 00:00:00");
        let lines: Vec<&BillLine> = fees.iter().collect();
        let payments: Vec<&Payment> = pays.iter().collect();
        let held = BTreeMap::from([(Name::from("mpgw"), t("2024-09-01 10:00:00"))]);
        let rows = AccountRows {
            owner: "acct-1".into(),
            account: Some(&a),
            payments: &payments,
            lines: &lines,
            held: &held,
        };
        let s = settle(&rows, &catalog(), as_of).unwrap();
        let kept: Vec<Ts> = s.kept.iter().map(|l| l.charge_start).collect();
        let ledger = Ledger::new("acct-1".into(), Some(&a), &payments, &s.kept, as_of);
        let pt = arrears::product_events(&ledger, &ledger.episodes(), &held, &catalog(), as_of);
        let events = pt.events.iter().map(|e| (e.event, e.at)).collect();
        (kept, s.dropped, events)
    }

    fn days(from: u32, to: u32) -> Vec<BillLine> {
        (from..=to)
            .map(|d| fee(&format!("2024-09-{d:02}"), "599.4"))
            .collect()
    }

    /// docs/rules.md §9 example 13: plan 500 QPS / 10 Mbps with elastic on; the 09-05 fee (charged
    /// 09-06 00:00) puts the account in arrears; the 09-06 fee is still charged at 09-07 00:00;
    /// elastic resources are unavailable from 09-07 00:00; 09-07 and 09-08 are not charged.
    #[test]
    fn example_13_no_elastic_fee_while_unavailable_after_arrears() {
        // 3 × 599.4 = 1798.2 charged by 09-05 00:00 (→ 599.0); the 09-05 fee at 09-06 00:00
        // → −0.4.
        let (kept, dropped, events) = settle_days("2397.2", &[], &days(2, 8));
        let d = |s: &str| t(&format!("2024-09-{s} 00:00:00"));
        assert_eq!(kept, [d("02"), d("03"), d("04"), d("05"), d("06")]);
        let dropped: Vec<_> = dropped
            .iter()
            .map(|x| (x.subscription_id.as_str(), x.day))
            .collect();
        assert_eq!(dropped, [("mp-1", d("07")), ("mp-1", d("08"))]);
        // The ledger of the kept lines dates the state change the same way.
        assert_eq!(events, [("elastic_unavailable", d("07"))]);
    }

    /// §4.3 "until a top-up restores them": a top-up back to ≥ 0 restores; the day starting at
    /// the top-up instant is charged, the days before it that started unavailable are not.
    #[test]
    fn revised_4_3_elastic_fee_resumes_after_the_top_up_that_restores() {
        // −0.4 − 599.4 (the 09-06 fee) + 2000 = 1400.2 at 09-09 00:00.
        let pays = [payment("pay-1", "2024-09-09 00:00:00", "2000")];
        let (kept, dropped, events) = settle_days("2397.2", &pays, &days(2, 10));
        let d = |s: &str| t(&format!("2024-09-{s} 00:00:00"));
        assert_eq!(
            kept,
            [
                d("02"),
                d("03"),
                d("04"),
                d("05"),
                d("06"),
                d("09"),
                d("10")
            ]
        );
        assert_eq!(dropped.len(), 2);
        assert_eq!(
            events,
            [("elastic_unavailable", d("07")), ("restored", d("09"))]
        );
        // A top-up that leaves the balance below 0 restores nothing.
        let pays = [payment("pay-1", "2024-09-09 00:00:00", "0.1")];
        let (kept, _, _) = settle_days("2397.2", &pays, &days(2, 10));
        assert_eq!(kept.len(), 5);
    }

    /// Dropping a fee raises the balance that later days see: a causal replay, not one pass
    /// over the ledger of every fee. Without the dropped 09-07 fee the top-up of 09-08 12:00
    /// clears the arrears (with it, charged 09-08 00:00, the balance would stay at −599.2), so
    /// 09-09 is charged.
    #[test]
    fn revised_4_3_dropped_fees_do_not_count_toward_later_arrears() {
        let pays = [payment("pay-1", "2024-09-08 12:00:00", "600")];
        let (kept, dropped, _) = settle_days("2397.2", &pays, &days(2, 9));
        let d = |s: &str| t(&format!("2024-09-{s} 00:00:00"));
        assert_eq!(kept, [d("02"), d("03"), d("04"), d("05"), d("06"), d("09")]);
        let dropped: Vec<Ts> = dropped.iter().map(|x| x.day).collect();
        assert_eq!(dropped, [d("07"), d("08")]);
        // The balance after the top-up: 2397.2 − 5 × 599.4 + 600 = 0.2 ≥ 0.
        assert_eq!(
            dec("2397.2") - dec("5") * dec("599.4") + dec("600"),
            dec("0.2")
        );
    }

    /// Lines other than elastic fees, and accounts never unavailable, are left as they are;
    /// `remove` drops the dropped days' lines and over-cap findings only.
    #[test]
    fn remove_drops_only_the_dropped_days() {
        let (kept, dropped, events) = settle_days("100000", &[], &days(2, 8));
        assert_eq!((kept.len(), dropped.len(), events.len()), (7, 0, 0));
        let mut lines = days(6, 8);
        let usage = line(
            "u:1",
            ChargeKind::Usage,
            "mpgw",
            t("2024-09-07 01:00:00"),
            "1",
        );
        lines.push(usage);
        let day7 = t("2024-09-07 00:00:00");
        let finding =
            |day: Ts| Violation::new("subscriptions", "mp-1", OVER_CAP, String::new(), Some(day));
        let mut findings = vec![finding(day7), finding(t("2024-09-06 00:00:00"))];
        let dropped = [DroppedDay {
            subscription_id: "mp-1".into(),
            day: day7,
        }];
        remove(&mut lines, &mut findings, &dropped);
        let ids: Vec<&str> = lines.iter().map(|l| l.line_id.as_str()).collect();
        assert_eq!(ids, ["e:mp-1:2024-09-06", "e:mp-1:2024-09-08", "u:1"]);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].at, Some(t("2024-09-06 00:00:00")));
    }

    proptest::proptest! {
        /// The module's invariant: a fee is dropped exactly when its day starts in an interval
        /// `[elastic_unavailable, restored)` that `rules::arrears` reports on the ledger of the
        /// kept lines; every other line is kept.
        #[test]
        fn dropped_days_are_those_arrears_reports_unavailable(
            opening in 0i64..3000,
            fees in proptest::collection::vec(0i64..1500, 1..20),
            pays in proptest::collection::vec((0i64..480, 1i64..2000), 0..6),
            usage in proptest::collection::vec((0i64..480, 1i64..800), 0..6),
        ) {
            let base = t("2024-09-02 00:00:00");
            let fee_lines: Vec<BillLine> = fees.iter().enumerate().map(|(i, a)| {
                let day = crate::calendar::local_date(base + i as i64 * DAY).to_string();
                fee(&day, &a.to_string())
            }).collect();
            let others: Vec<BillLine> = usage.iter().enumerate().map(|(i, (h, a))| {
                line(&format!("u:{i}"), ChargeKind::Usage, "eip", base + h * HOUR, &a.to_string())
            }).collect();
            let payments: Vec<Payment> = pays.iter().enumerate().map(|(i, (h, a))| {
                let mut p = payment(&format!("pay-{i}"), "2024-09-02 00:00:00", &a.to_string());
                p.paid_at = base + h * HOUR;
                p
            }).collect();
            let a = account(&opening.to_string(), "2024-08-01 00:00:00");
            let as_of = t("2024-10-01 00:00:00");
            let lines: Vec<&BillLine> = fee_lines.iter().chain(&others).collect();
            let pr: Vec<&Payment> = payments.iter().collect();
            let held = BTreeMap::from([(Name::from("mpgw"), t("2024-09-01 10:00:00"))]);
            let rows = AccountRows { owner: "acct-1".into(), account: Some(&a), payments: &pr, lines: &lines, held: &held };
            let c = catalog();
            let s = settle(&rows, &c, as_of).unwrap();
            proptest::prop_assert_eq!(s.kept.len() + s.dropped.len(), lines.len());
            let ledger = Ledger::new("acct-1".into(), Some(&a), &pr, &s.kept, as_of);
            let pt = arrears::product_events(&ledger, &ledger.episodes(), &held, &c, as_of);
            let mut intervals: Vec<(Ts, Ts)> = Vec::new();
            for e in pt.events.iter().filter(|e| e.product.as_deref() == Some("mpgw")) {
                match e.event {
                    ACTION => intervals.push((e.at, Ts::MAX)),
                    "restored" => intervals.last_mut().unwrap().1 = e.at,
                    other => proptest::prop_assert!(false, "unexpected {other}"),
                }
            }
            for l in &fee_lines {
                let d = l.charge_start;
                let unavailable = intervals.iter().any(|(from, to)| *from <= d && d < *to);
                let dropped = s.dropped.iter().any(|x| x.day == d);
                proptest::prop_assert_eq!(unavailable, dropped, "day {}", crate::calendar::local_date(d));
            }
        }
    }
}
