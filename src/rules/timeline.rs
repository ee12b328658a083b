//! The account timeline (`account_events`, docs/rules.md §5): per account, the elastic fees settled
//! against arrears (`rules::elastic_unavailable`: the fees of days that start while elastic
//! resources are unavailable are dropped, and reported in [`Timeline::dropped_elastic`] for the
//! pipeline to remove from the bill lines), the ledger of the lines kept
//! (`rules::ledger`), its arrears episodes and the product steps they trigger (`rules::arrears`),
//! the expiry timeline of each prepaid plan (`rules::plan_expiry`, terms from the replayed
//! subscriptions of `rules::subscriptions`) and the teardown of each refunded dedicated instance
//! (`rules::refunded_instances`); plus the `usage_while_suspended` and
//! `renewal_after_reclaim` exceptions, `auto_renew_without_funds` for automatic package
//! renewals charged while the balance was below their price (`rules::renewals`,
//! docs/rules.md §3.8), and `unknown_account` for an account with rows (usage, payments,
//! subscriptions, bill lines) but no valid `accounts` row, replayed from a balance of 0. It runs
//! per chunk of accounts (`shard`): an account's rows are never split across chunks.
//!
//! Every run replays all history before the as-of moment, so state at the window start (balance,
//! open arrears, stopped plans) comes from history; only events and exceptions whose instant lies
//! in the window `[as-of − 3 months, as-of)` are returned, but `auto_renew_without_funds`, a
//! finding about an `events` row that every run reports up to the as-of moment
//! (`rules::findings::reported`).
//!
//! Invariants: accounts are independent and run in parallel (rayon); each account's result
//! depends only on its rows, and the writers sort every table totally, so the output does not
//! depend on the number of threads; no event or finding dated outside the window is returned.

use crate::calendar::Window;
use crate::catalog::Catalog;
use crate::error::Result;
use crate::input::{Account, Payment, Subscription, Usage, Violation};
use crate::model::{AccountEvent, BillLine};
use crate::name::Name;
use crate::rules::elastic_unavailable::{self, AccountRows, DroppedDay};
use crate::rules::renewals::{self, Renewal};
use crate::rules::subscriptions::Life;
use crate::rules::{arrears, ledger::Ledger, plan_expiry, refunded_instances};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// The timeline of every account, cut to the window.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub events: Vec<AccountEvent>,
    pub violations: Vec<Violation>,
    /// Accounts replayed (with an `accounts` row or any ledger, usage or subscription row).
    pub accounts: usize,
    /// Elastic fees not charged (docs/rules.md §4.3): days that start while the account's elastic
    /// resources are unavailable. Their lines are in no ledger; the caller removes them.
    pub dropped_elastic: Vec<DroppedDay>,
}

/// One account's part of the timeline.
struct AccountOut {
    events: Vec<AccountEvent>,
    violations: Vec<Violation>,
    dropped: Vec<DroppedDay>,
}

/// One account's input rows.
struct Group<'a> {
    owner: Name,
    account: Option<&'a Account>,
    payments: Vec<&'a Payment>,
    lines: Vec<&'a BillLine>,
    usage: Vec<&'a Usage>,
    subs: Vec<(&'a Subscription, &'a Life)>,
    renewals: Vec<&'a Renewal>,
}

/// The rows the timeline reads.
pub struct Rows<'a> {
    pub accounts: Vec<&'a Account>,
    pub payments: Vec<&'a Payment>,
    /// Valid usage cut at the as-of moment.
    pub usage: &'a [Usage],
    pub subscriptions: &'a [Subscription],
    /// The replayed life of `subscriptions[i]` is `lives[i]`.
    pub lives: &'a [Life],
    /// Every bill line of all history (before the window cut).
    pub lines: &'a [BillLine],
    /// The package renewals applied (their lines are among `lines`).
    pub renewals: &'a [Renewal],
}

pub fn run(rows: &Rows, catalog: &Catalog, w: &Window) -> Result<Timeline> {
    let mut grouper = Grouper::default();
    for a in &rows.accounts {
        grouper.get(&a.owner_uin).account = Some(a);
    }
    for p in &rows.payments {
        grouper.get(&p.owner_uin).payments.push(p);
    }
    for l in rows.lines {
        grouper.get(&l.owner_uin).lines.push(l);
    }
    for u in rows.usage {
        grouper.get(&u.owner_uin).usage.push(u);
    }
    for (s, l) in rows.subscriptions.iter().zip(rows.lives) {
        grouper.get(&s.owner_uin).subs.push((s, l));
    }
    for r in rows.renewals.iter().filter(|r| r.auto) {
        grouper.get(&r.owner_uin).renewals.push(r);
    }
    let mut groups = grouper.groups;
    groups.sort_unstable_by_key(|a| a.owner);
    let accounts = groups.len();
    let per_account: Vec<AccountOut> = groups
        .into_par_iter()
        .map(|grp| account(&grp, catalog, w))
        .collect::<Result<_>>()?;
    let mut out = Timeline {
        accounts,
        ..Timeline::default()
    };
    for a in per_account {
        out.events.extend(a.events);
        out.violations.extend(a.violations);
        out.dropped_elastic.extend(a.dropped);
    }
    Ok(out)
}

/// Rows grouped by owner. Rows of one owner often come in runs, and owners are interned `Arc`s,
/// so the previous row's group is tried first by pointer; the map by name decides otherwise.
#[derive(Default)]
struct Grouper<'a> {
    index: FxHashMap<&'a str, usize>,
    groups: Vec<Group<'a>>,
    last: Option<(*const u8, usize)>,
}

impl<'a> Grouper<'a> {
    fn get(&mut self, owner: &'a Name) -> &mut Group<'a> {
        let ptr = owner.as_ptr();
        let i = match self.last {
            Some((p, i)) if p == ptr => i,
            _ => {
                let next = self.groups.len();
                let i = *self.index.entry(owner).or_insert(next);
                if i == next {
                    self.groups.push(Group {
                        owner: *owner,
                        account: None,
                        payments: Vec::new(),
                        lines: Vec::new(),
                        usage: Vec::new(),
                        subs: Vec::new(),
                        renewals: Vec::new(),
                    });
                }
                self.last = Some((ptr, i));
                i
            }
        };
        &mut self.groups[i]
    }
}

fn account(g: &Group, catalog: &Catalog, w: &Window) -> Result<AccountOut> {
    let owner = g.owner;
    let mut violations = Vec::new();
    if g.account.is_none() {
        // Not time-bound: reported by every run until the accounts row is there.
        violations.push(Violation::new(
            "accounts",
            owner.as_str(),
            "unknown_account",
            // The same text every day (no counts): runs of consecutive days agree on it.
            "no valid row in accounts/ for an account with usage, payments, subscriptions or \
             bill lines: its balance is replayed from 0 without an opening balance, so its \
             arrears and service-state events may not hold",
            None,
        ));
    }
    let subs: Vec<&Subscription> = g.subs.iter().map(|(s, _)| *s).collect();
    let held = arrears::products_held(&g.usage, &subs);
    let rows = AccountRows {
        owner,
        account: g.account,
        payments: &g.payments,
        lines: &g.lines,
        held: &held,
    };
    let settled = elastic_unavailable::settle(&rows, catalog, w.as_of)?;
    let ledger = Ledger::try_new(owner, g.account, &g.payments, &settled.kept, w.as_of)?;
    let episodes = ledger.episodes();
    let mut events = ledger.arrears_events(&episodes);
    let pt = arrears::product_events(&ledger, &episodes, &held, catalog, w.as_of);
    events.extend(pt.events);
    let mut outages = pt.outages;
    let pe = &catalog.plan_expiry;
    for (sub, life) in g.subs.iter().filter(|(s, _)| plan_expiry::applies(pe, s)) {
        let p = plan_expiry::timeline(&ledger, sub, life, pe, w.as_of);
        events.extend(p.events);
        outages.extend(p.outages);
        violations.extend(p.violations);
    }
    for (sub, life) in g.subs.iter().filter(|(_, l)| l.refunded_at.is_some()) {
        let t = refunded_instances::teardown(&ledger, sub, life, catalog, w.as_of);
        events.extend(t.events);
        outages.extend(t.outage);
    }
    violations.extend(arrears::usage_while_suspended(&g.usage, &outages));
    events.retain(|e| w.contains(e.at));
    violations.retain(|v| v.at.is_none_or(|t| w.contains(t)));
    violations.extend(renewals::without_funds(&ledger, &g.renewals));
    Ok(AccountOut {
        events,
        violations,
        dropped: settled.dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{parse_date, HOUR};
    use crate::model::ChargeKind;
    use crate::rules::ledger::tests::{account, line, payment, t};

    fn catalog() -> Catalog {
        crate::rules::deduction::tests::catalog()
    }

    /// An account with rows but no accounts row is replayed from 0 and reported once, not
    /// time-bound (every run reports it until the row is there).
    #[test]
    fn accounts_without_an_accounts_row_are_reported() {
        let w = Window::new(parse_date("2024-06-01").unwrap());
        let accounts = [account("10", "2024-01-01 00:00:00")];
        let mut ghost = payment("pay-2", "2024-05-01 00:00:00", "10");
        ghost.owner_uin = "acct-9".into();
        let payments = [payment("pay-1", "2024-05-01 00:00:00", "10"), ghost];
        let rows = Rows {
            accounts: accounts.iter().collect(),
            payments: payments.iter().collect(),
            usage: &[],
            subscriptions: &[],
            lives: &[],
            lines: &[],
            renewals: &[],
        };
        let tl = run(&rows, &catalog(), &w).unwrap();
        assert_eq!(tl.accounts, 2);
        let found: Vec<_> = tl
            .violations
            .iter()
            .map(|v| (&*v.source_table, v.source_id.as_str(), &*v.rule, v.at))
            .collect();
        assert_eq!(found, [("accounts", "acct-9", "unknown_account", None)]);
    }

    #[test]
    fn history_shapes_state_but_only_window_events_are_returned() {
        // Window for as-of 2024-06-01: [2024-03-01, 2024-06-01).
        let w = Window::new(parse_date("2024-06-01").unwrap());
        let accounts = [account("10", "2024-01-01 00:00:00")];
        let payments = [payment("pay-1", "2024-05-31 23:00:00", "100")];
        // Arrears from 2024-02-28 22:00 (before the window): apigw suspended 02-29 22:00, destroyed
        // 03-07 22:00 (inside). A charge at the as-of moment is not in the ledger.
        let lines = vec![
            line(
                "u:1",
                ChargeKind::Usage,
                "apigw",
                t("2024-02-28 22:00:00"),
                "11",
            ),
            line(
                "u:2",
                ChargeKind::Usage,
                "apigw",
                t("2024-06-01 00:00:00"),
                "500",
            ),
        ];
        let mut u = crate::rules::deduction::tests::usage(
            "g-1",
            "2024-02-28 21:00:00",
            rust_decimal::Decimal::ONE,
            crate::money::Unit::Call,
        );
        u.product = "apigw".into();
        let mut late = u.clone();
        late.usage_id = "g-2".into();
        late.usage_start = t("2024-03-02 00:00:00");
        late.usage_end = late.usage_start + HOUR;
        let mut early = u.clone();
        early.usage_id = "g-0".into();
        early.usage_start = t("2024-02-29 23:00:00");
        early.usage_end = early.usage_start + HOUR;
        let usage = [u, early, late];
        let rows = Rows {
            accounts: accounts.iter().collect(),
            payments: payments.iter().collect(),
            usage: &usage,
            subscriptions: &[],
            lives: &[],
            lines: &lines,
            renewals: &[],
        };
        let tl = run(&rows, &catalog(), &w).unwrap();
        let ev: Vec<_> = tl
            .events
            .iter()
            .map(|e| (e.product.as_deref(), e.event, e.at, e.balance.to_string()))
            .collect();
        assert_eq!(
            ev,
            [
                (
                    None,
                    "arrears_cleared",
                    t("2024-05-31 23:00:00"),
                    "99".into()
                ),
                (
                    Some("apigw"),
                    "destroyed",
                    t("2024-03-07 22:00:00"),
                    "-1".into()
                ),
            ]
        );
        // Usage while suspended: 02-29 23:00 is before the window, 03-02 inside.
        let v: Vec<_> = tl.violations.iter().map(|v| v.source_id.as_str()).collect();
        assert_eq!(v, ["g-2"]);
        assert_eq!(tl.accounts, 1);
    }
}
