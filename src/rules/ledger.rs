//! The account ledger (docs/rules.md §5): per account, every movement of the balance in time order,
//! the running balance, and the arrears episodes it implies.
//!
//! Movements: the opening balance at `opening_at` (`accounts`), top-ups at `paid_at`
//! (`payments`), and every bill line at its `charged_at`, whatever its kind — usage at
//! `usage_end`, purchases at `purchased_at`, subscription, elastic and upgrade fees, refunds
//! (negative amounts, so they raise the balance). A line's `amount` is subtracted from the balance.
//! The ledger reads all lines, before the pipeline cuts them to the window, and nothing at or
//! after the as-of moment.
//!
//! **Decision (tie order):** entries are listed (`Ledger::in_tie_order`, with the running
//! balance after each) in the total order `(at, rank, source, id)` where
//! rank 0 is the opening balance, rank 1 a credit (top-up, or a line with a negative amount),
//! rank 2 a debit (a line with amount ≥ 0); `source` orders opening < top-up < line kind
//! (`usage`, `purchase`, `subscription`, `elastic`, `refund`, `upgrade`), `id` is the payment id or
//! line id. The running balance follows that order.
//!
//! **Decision (state per instant):** arrears are decided on the balance after *all* entries of an
//! instant, never between two entries of the same instant; so the tie order changes intermediate
//! running balances only, never an event, and the balance of an event at instant `t` is always
//! opening + credits − debits of the entries at or before `t`. An account is in arrears from the
//! first instant its balance is below 0 (exactly 0 is not arrears) until an instant where it is
//! ≥ 0 again (only a credit can do that: a top-up or a refund).
//!
//! **Decision:** entries before `opening_at` are not in the ledger (the opening balance already
//! holds them). An account with charges but no `accounts` row starts from 0 with no opening entry.
//!
//! Invariants: a ledger exists only when the magnitudes of its entries add up inside the range
//! of `Decimal`, so no running balance can overflow (`Ledger::try_new`, else `Error::Overflow`);
//! the balance at `t` is opening + credits − debits of the entries at or before `t`,
//! exactly, whatever the tie order; `arrears_started` and `arrears_cleared` alternate, each at a
//! distinct instant, the first being a start.

use crate::calendar::{format_local, Ts};
use crate::error::{Error, Result};
use crate::input::{Account, Payment};
use crate::model::{AccountEvent, BillLine, ChargeKind};
use crate::name::Name;
use rust_decimal::Decimal;

/// Where a ledger entry comes from; the order is part of the tie order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    Opening,
    TopUp,
    Line(ChargeKind),
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Opening => "opening",
            Source::TopUp => "top_up",
            Source::Line(k) => k.as_str(),
        }
    }
}

/// One movement of the balance; `amount` is signed (positive raises the balance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub at: Ts,
    pub amount: Decimal,
    pub source: Source,
    pub id: &'a str,
    /// 0 opening, 1 credit, 2 debit (the tie order of the module doc).
    rank: u8,
}

impl<'a> Entry<'a> {
    pub fn new(at: Ts, amount: Decimal, source: Source, id: &'a str) -> Entry<'a> {
        let rank = match source {
            Source::Opening => 0,
            _ if amount > Decimal::ZERO => 1,
            _ => 2,
        };
        Entry {
            at,
            amount,
            source,
            id,
            rank,
        }
    }

    /// The total order of the module doc.
    fn cmp_key(&self, o: &Self) -> std::cmp::Ordering {
        self.at
            .cmp(&o.at)
            .then(self.rank.cmp(&o.rank))
            .then_with(|| self.source.cmp(&o.source))
            .then_with(|| self.id.cmp(o.id))
    }
}

/// A run of instants with a negative balance: `[start, cleared)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Episode {
    pub start: Ts,
    /// The instant the balance was back at ≥ 0; `None` while still in arrears at the as-of moment.
    pub cleared: Option<Ts>,
}

/// One account's ledger.
#[derive(Debug, Clone)]
pub struct Ledger<'a> {
    pub owner_uin: Name,
    /// Entries by instant; inside an instant in the order given (see [`Ledger::in_tie_order`]
    /// for the total order).
    entries: Vec<Entry<'a>>,
    /// Balance after the last entry of each distinct instant, ascending.
    instants: Vec<(Ts, Decimal)>,
}

/// The sum of the entries' magnitudes fits in `Decimal`, so that every partial sum in any order
/// (the running balances of [`Ledger::try_new`] and [`Ledger::in_tie_order`]) is exact and
/// cannot overflow; otherwise [`Error::Overflow`] names the account and its largest entry.
fn check_range(owner: &Name, entries: &[Entry]) -> Result<()> {
    let mut total = Decimal::ZERO;
    for e in entries {
        if let Some(t) = total.checked_add(e.amount.abs()) {
            total = t;
            continue;
        }
        let big = (entries.iter()).max_by_key(|e| e.amount.abs()).unwrap_or(e);
        return Err(Error::Overflow {
            what: format!("the ledger of account {owner}"),
            message: format!(
                "its amounts add up past the decimal range (about 7.9e28); the largest is \
                 {} {} at {}",
                big.id,
                big.amount,
                format_local(big.at)
            ),
        });
    }
    Ok(())
}

impl<'a> Ledger<'a> {
    /// [`Ledger::try_new`], for tests whose amounts are small.
    #[cfg(test)]
    pub fn new(
        owner_uin: Name,
        account: Option<&'a Account>,
        payments: &[&'a Payment],
        lines: &[&'a BillLine],
        as_of: Ts,
    ) -> Ledger<'a> {
        Ledger::try_new(owner_uin, account, payments, lines, as_of).expect("ledger in range")
    }

    /// Builds the ledger of one account from its rows (any order); entries at or after `as_of`
    /// are left out. Refused with [`Error::Overflow`] when the amounts' magnitudes add up past
    /// the range of `Decimal`: then no running balance, in any order, can be computed exactly.
    pub fn try_new(
        owner_uin: Name,
        account: Option<&'a Account>,
        payments: &[&'a Payment],
        lines: &[&'a BillLine],
        as_of: Ts,
    ) -> Result<Ledger<'a>> {
        let keep = |at: Ts| keeps(account, as_of, at);
        let mut entries: Vec<Entry<'a>> = Vec::with_capacity(lines.len() + payments.len() + 1);
        if let Some(a) = account {
            entries.push(Entry::new(
                a.opening_at,
                a.opening_balance,
                Source::Opening,
                &a.owner_uin,
            ));
        }
        entries.extend(
            payments
                .iter()
                .filter(|p| keep(p.paid_at))
                .map(|p| Entry::new(p.paid_at, p.amount, Source::TopUp, &p.payment_id)),
        );
        entries.extend(lines.iter().filter(|l| keep(l.charged_at)).map(|l| {
            Entry::new(
                l.charged_at,
                -l.amount,
                Source::Line(l.charge_kind),
                &l.line_id,
            )
        }));
        entries.retain(|e| keep(e.at));
        check_range(&owner_uin, &entries)?;
        // By instant only: the balance after an instant is the same sum in any order (amounts
        // have at most 8 decimals, so every sum is exact), and no decision looks inside an
        // instant. A stable sort on the integer instant exploits that lines mostly arrive in
        // time order; the full tie order compares line ids and is kept for `in_tie_order`.
        entries.sort_by_key(|e| e.at);
        let mut instants: Vec<(Ts, Decimal)> = Vec::new();
        let mut bal = Decimal::ZERO;
        for e in &entries {
            bal += e.amount;
            match instants.last_mut() {
                Some((t, b)) if *t == e.at => *b = bal,
                _ => instants.push((e.at, bal)),
            }
        }
        Ok(Ledger {
            owner_uin,
            entries,
            instants,
        })
    }

    /// The entries in the total order of the module doc, each with the running balance after
    /// it.
    pub fn in_tie_order(&self) -> Vec<(Entry<'a>, Decimal)> {
        let mut entries = self.entries.clone();
        entries.sort_by(Entry::cmp_key);
        let mut bal = Decimal::ZERO;
        entries
            .into_iter()
            .map(|e| {
                bal += e.amount;
                (e, bal)
            })
            .collect()
    }

    /// The balance after the last entry of each distinct instant, in time order.
    pub fn instants(&self) -> &[(Ts, Decimal)] {
        &self.instants
    }

    /// Balance after every entry at or before `t` (0 before the first entry).
    pub fn balance_at(&self, t: Ts) -> Decimal {
        let n = self.instants.partition_point(|(at, _)| *at <= t);
        if n == 0 {
            Decimal::ZERO
        } else {
            self.instants[n - 1].1
        }
    }

    /// The arrears episodes, oldest first; only the last may be uncleared.
    pub fn episodes(&self) -> Vec<Episode> {
        let mut out = Vec::new();
        let mut open: Option<Ts> = None;
        for &(t, bal) in &self.instants {
            match open {
                None if bal < Decimal::ZERO => open = Some(t),
                Some(start) if bal >= Decimal::ZERO => {
                    out.push(Episode {
                        start,
                        cleared: Some(t),
                    });
                    open = None;
                }
                _ => {}
            }
        }
        if let Some(start) = open {
            out.push(Episode {
                start,
                cleared: None,
            });
        }
        out
    }

    /// An account-level (or product-level) event with the balance at its instant.
    pub fn event(
        &self,
        product: Option<Name>,
        event: &'static str,
        at: Ts,
        subscription_id: Option<Name>,
        detail: String,
    ) -> AccountEvent {
        AccountEvent {
            owner_uin: self.owner_uin,
            product,
            event,
            at,
            balance: self.balance_at(at),
            subscription_id,
            detail,
        }
    }

    /// `arrears_started` / `arrears_cleared` for every episode (all history; the caller cuts to
    /// the window).
    pub fn arrears_events(&self, episodes: &[Episode]) -> Vec<AccountEvent> {
        let mut out = Vec::new();
        for ep in episodes {
            out.push(self.event(
                None,
                "arrears_started",
                ep.start,
                None,
                "balance below 0".into(),
            ));
            if let Some(c) = ep.cleared {
                out.push(self.event(
                    None,
                    "arrears_cleared",
                    c,
                    None,
                    format!(
                        "balance back to ≥ 0; in arrears since {}",
                        format_local(ep.start)
                    ),
                ));
            }
        }
        out
    }
}

/// Whether an entry at `at` is in the ledger of `account` built for `as_of`: not before the
/// opening (the opening balance holds it) and before the as-of moment.
pub fn keeps(account: Option<&Account>, as_of: Ts, at: Ts) -> bool {
    account.is_none_or(|a| at >= a.opening_at) && at < as_of
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::calendar::{parse_local, HOUR};
    use proptest::prelude::*;
    use std::str::FromStr;

    pub fn t(s: &str) -> Ts {
        parse_local(s).unwrap()
    }

    pub fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    pub fn account(balance: &str, at: &str) -> Account {
        Account {
            owner_uin: "acct-1".into(),
            opening_balance: dec(balance),
            opening_at: t(at),
            apigw_activated_at: None,
        }
    }

    pub fn payment(id: &str, at: &str, amount: &str) -> Payment {
        Payment {
            payment_id: id.into(),
            owner_uin: "acct-1".into(),
            paid_at: t(at),
            amount: dec(amount),
        }
    }

    /// A bill line of `product` charged at `at` (the kind decides nothing but the tie order).
    pub fn line(id: &str, kind: ChargeKind, product: &str, at: Ts, amount: &str) -> BillLine {
        BillLine {
            line_id: id.into(),
            owner_uin: "acct-1".into(),
            region: "ap-guangzhou".into(),
            product: product.into(),
            sub_product: product.into(),
            instance_id: "i-1".into(),
            billing_item: "x".into(),
            charge_kind: kind,
            charge_start: at - HOUR,
            charge_end: at,
            usage_id: None,
            metered_quantity: Decimal::ONE,
            deducted_quantity: Decimal::ZERO,
            billable_quantity: Decimal::ONE,
            unit: "each".into(),
            tier: None,
            unit_price: dec(amount),
            price_unit: "each".into(),
            amount: dec(amount),
            charged_at: at,
        }
    }

    fn summary(evs: &[AccountEvent]) -> Vec<(&'static str, Ts, Decimal)> {
        evs.iter().map(|e| (e.event, e.at, e.balance)).collect()
    }

    /// Two payments near the decimal maximum: the ledger is refused naming the account and its
    /// largest entry, instead of panicking on "Addition overflowed" (issue #37, defect 6).
    #[test]
    fn amounts_past_the_decimal_range_are_an_error_not_a_panic() {
        let a = account("0", "2024-05-01 00:00:00");
        let big = "50000000000000000000000000000";
        let pays = [
            payment("pay-1", "2024-05-02 12:00:00", big),
            payment("pay-2", "2024-05-02 13:00:00", big),
        ];
        let pr: Vec<&Payment> = pays.iter().collect();
        let e = Ledger::try_new("acct-1".into(), Some(&a), &pr, &[], t("2024-06-01"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("acct-1") && e.contains("pay-") && e.contains(big),
            "{e}"
        );
        // One of them alone is in range, and so are its running balances.
        let l = Ledger::try_new("acct-1".into(), Some(&a), &pr[..1], &[], t("2024-06-01"));
        assert_eq!(l.unwrap().balance_at(t("2024-05-31")), dec(big));
    }

    #[test]
    fn running_balance_in_tie_order_and_events_per_instant() {
        let a = account("10", "2024-05-01 00:00:00");
        let noon = t("2024-05-02 12:00:00");
        // At noon: a usage debit of 15, a purchase debit of 5, a refund credit of 2 and a
        // top-up of 1 — credits first (top-up, then refund), then debits by kind.
        let lines = [
            line("u:1", ChargeKind::Usage, "eip", noon, "15"),
            line("p:1", ChargeKind::Purchase, "tp", noon, "5"),
            line("r:1", ChargeKind::Refund, "tp", noon, "-2"),
        ];
        let pays = [payment("pay-1", "2024-05-02 12:00:00", "1")];
        let lr: Vec<&BillLine> = lines.iter().collect();
        let pr: Vec<&Payment> = pays.iter().collect();
        let l = Ledger::new("acct-1".into(), Some(&a), &pr, &lr, t("2024-06-01"));
        let ordered = l.in_tie_order();
        let order: Vec<(&str, Decimal)> = ordered.iter().map(|(e, _)| (e.id, e.amount)).collect();
        assert_eq!(
            order,
            [
                ("acct-1", dec("10")),
                ("pay-1", dec("1")),
                ("r:1", dec("2")),
                ("u:1", dec("-15")),
                ("p:1", dec("-5")),
            ]
        );
        let running: Vec<Decimal> = ordered.iter().map(|(_, b)| *b).collect();
        assert_eq!(
            running,
            [dec("10"), dec("11"), dec("13"), dec("-2"), dec("-7")]
        );
        assert_eq!(l.balance_at(noon - 1), dec("10"));
        assert_eq!(l.balance_at(noon), dec("-7"));
        let ev = l.arrears_events(&l.episodes());
        assert_eq!(summary(&ev), [("arrears_started", noon, dec("-7"))]);
        assert_eq!(ev[0].product, None);
    }

    #[test]
    fn balance_exactly_zero_is_not_arrears() {
        let a = account("10", "2024-05-01 00:00:00");
        let lines = [line(
            "u:1",
            ChargeKind::Usage,
            "eip",
            t("2024-05-02 08:00:00"),
            "10",
        )];
        let lr: Vec<&BillLine> = lines.iter().collect();
        let l = Ledger::new("acct-1".into(), Some(&a), &[], &lr, t("2024-06-01"));
        assert_eq!(l.balance_at(t("2024-05-31")), Decimal::ZERO);
        assert!(l.episodes().is_empty());
    }

    #[test]
    fn several_episodes_in_a_month_each_start_and_clear() {
        let a = account("1", "2024-05-01 00:00:00");
        let lines = [
            line(
                "u:1",
                ChargeKind::Usage,
                "eip",
                t("2024-05-03 10:00:00"),
                "3",
            ),
            line(
                "u:2",
                ChargeKind::Usage,
                "eip",
                t("2024-05-10 10:00:00"),
                "4",
            ),
            line(
                "u:3",
                ChargeKind::Usage,
                "eip",
                t("2024-05-20 10:00:00"),
                "1",
            ),
        ];
        let pays = [
            payment("pay-1", "2024-05-05 09:00:00", "2"), // back to exactly 0: cleared
            payment("pay-2", "2024-05-12 09:00:00", "3"), // -4 → -1: still in arrears
            payment("pay-3", "2024-05-13 09:00:00", "5"), // → 4
        ];
        let lr: Vec<&BillLine> = lines.iter().collect();
        let pr: Vec<&Payment> = pays.iter().collect();
        let l = Ledger::new("acct-1".into(), Some(&a), &pr, &lr, t("2024-06-01"));
        let ev = l.arrears_events(&l.episodes());
        assert_eq!(
            summary(&ev),
            [
                ("arrears_started", t("2024-05-03 10:00:00"), dec("-2")),
                ("arrears_cleared", t("2024-05-05 09:00:00"), dec("0")),
                ("arrears_started", t("2024-05-10 10:00:00"), dec("-4")),
                ("arrears_cleared", t("2024-05-13 09:00:00"), dec("4")),
            ]
        );
    }

    #[test]
    fn before_opening_and_at_as_of_are_left_out_and_no_account_starts_at_zero() {
        let a = account("5", "2024-05-01 00:00:00");
        let lines = [
            line(
                "u:0",
                ChargeKind::Usage,
                "eip",
                t("2024-04-30 10:00:00"),
                "100",
            ),
            line(
                "u:1",
                ChargeKind::Usage,
                "eip",
                t("2024-06-01 00:00:00"),
                "100",
            ),
        ];
        let lr: Vec<&BillLine> = lines.iter().collect();
        let l = Ledger::new("acct-1".into(), Some(&a), &[], &lr, t("2024-06-01"));
        assert_eq!(l.in_tie_order().len(), 1);
        assert!(l.episodes().is_empty());
        let l = Ledger::new("acct-1".into(), None, &[], &lr, t("2024-06-01"));
        assert_eq!(
            l.episodes(),
            [Episode {
                start: t("2024-04-30 10:00:00"),
                cleared: None
            }]
        );
    }

    proptest! {
        /// The balance of every arrears event is opening + credits − debits up to its instant;
        /// started/cleared alternate, started below 0, cleared at ≥ 0.
        #[test]
        fn event_balances_and_alternation(
            opening in -50i64..50,
            moves in proptest::collection::vec((0i64..48, -30i64..30, 0u8..3), 0..40),
        ) {
            let base = t("2024-05-01 00:00:00");
            let a = Account {
                owner_uin: "acct-1".into(),
                opening_balance: Decimal::from(opening),
                opening_at: base,
                apigw_activated_at: None,
            };
            let mut pays = Vec::new();
            let mut lines = Vec::new();
            for (i, (h, amt, kind)) in moves.iter().enumerate() {
                let at = base + h * HOUR;
                if *kind == 0 && *amt > 0 {
                    pays.push(Payment {
                        payment_id: format!("pay-{i}").into(),
                        owner_uin: "acct-1".into(),
                        paid_at: at,
                        amount: Decimal::from(*amt),
                    });
                } else {
                    let k = if *kind == 2 { ChargeKind::Refund } else { ChargeKind::Usage };
                    lines.push(line(&format!("l-{i}"), k, "eip", at, &amt.to_string()));
                }
            }
            let lr: Vec<&BillLine> = lines.iter().collect();
            let pr: Vec<&Payment> = pays.iter().collect();
            let l = Ledger::new("acct-1".into(), Some(&a), &pr, &lr, base + 100 * HOUR);
            let ev = l.arrears_events(&l.episodes());
            for (i, e) in ev.iter().enumerate() {
                let credits: Decimal = pays.iter().filter(|p| p.paid_at <= e.at).map(|p| p.amount).sum();
                let debits: Decimal = lines.iter().filter(|x| x.charged_at <= e.at).map(|x| x.amount).sum();
                prop_assert_eq!(e.balance, Decimal::from(opening) + credits - debits);
                let want = if i % 2 == 0 { "arrears_started" } else { "arrears_cleared" };
                prop_assert_eq!(e.event, want);
                if i % 2 == 0 {
                    prop_assert!(e.balance < Decimal::ZERO);
                } else {
                    prop_assert!(e.balance >= Decimal::ZERO);
                    prop_assert!(e.at > ev[i - 1].at);
                }
            }
            // The running balance in tie order ends at the total, and agrees with the balance
            // per instant after each instant's last entry.
            let total = Decimal::from(opening) + pays.iter().map(|p| p.amount).sum::<Decimal>()
                - lines.iter().map(|x| x.amount).sum::<Decimal>();
            let ordered = l.in_tie_order();
            prop_assert_eq!(ordered.last().map_or(Decimal::ZERO, |(_, b)| *b), total);
            for (k, (e, bal)) in ordered.iter().enumerate() {
                if ordered.get(k + 1).is_none_or(|(next, _)| next.at != e.at) {
                    prop_assert_eq!(*bal, l.balance_at(e.at));
                }
            }
        }
    }
}
