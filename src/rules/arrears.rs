//! Arrears policies per product (docs/rules.md §5, catalog `[[arrears_policies]]`): what happens to
//! an account's products while it is in arrears, and the usage metered while a product is out of
//! service (`usage_while_suspended`).
//!
//! For each arrears episode `[start, cleared)` of the ledger (`rules::ledger`) and each product
//! the account has that has a policy:
//! - the action (`suspended`, `stopped`, `elastic_unavailable`, …) at `start + grace_hours`;
//! - the final action (`destroyed`, `released`), if the policy has one, `final_after_hours` after
//!   the action (`final_from = "action"`) or after `start` (`final_from = "arrears_start"`), never
//!   before the action;
//! - `restored` at `cleared` when the action happened and the final action did not.
//!
//! A step happens only if the episode has not cleared by then. **Decision:** inputs at an instant
//! come before steps due at that instant, so a top-up exactly at the due instant prevents the step
//! (and a clear exactly at the final instant restores). Nothing at or after the as-of moment
//! happens. Several episodes each get their own steps.
//!
//! **Decision (which products an account has):** a product is the account's from the first
//! instant it has a usage row of it (`usage_start`) or a subscription of it (`started_at`). A
//! product that first appears after its grace has run out, while the episode is still open, takes
//! the action at that first instant (so its first usage is already out of service); its final
//! step counts from there too (or from the arrears start, never before the action). Products
//! without a policy (e.g. packages) get no steps.
//!
//! **Decision (out of service):** a product is out of service from a `suspended` or `stopped`
//! action until the episode clears (through `destroyed`/`released`, which keep it out). Once the
//! arrears clear, usage is not flagged again even after a final action: the account may have
//! created new resources, which product-level data cannot tell apart. `elastic_unavailable` does
//! not stop the plan itself, so it flags nothing. Usage rows whose `usage_start` falls in an
//! out-of-service interval stay billed and each gets one `exceptions` row (`usage`, usage_id,
//! `usage_while_suspended`, at = `usage_start`). Plan expiry (`rules::plan_expiry`) adds its own
//! out-of-service intervals for one subscription's instance.
//!
//! Invariants: per episode and product, the steps come in the order action → final action or
//! `restored`, never both, each at or after the one before and while the balance is below 0
//! (`restored` at the clear, when it is back at ≥ 0); no step at or after the as-of moment; a
//! usage row gets at most one `usage_while_suspended` finding.

use crate::calendar::{format_local, Ts, HOUR};
use crate::catalog::{ArrearsPolicy, Catalog};
use crate::input::{Subscription, Usage, Violation};
use crate::model::AccountEvent;
use crate::name::Name;
use crate::rules::ledger::{Episode, Ledger};
use std::collections::BTreeMap;

/// Policy actions that stop the product's service (usage during them is an exception).
pub const OUT_OF_SERVICE: [&str; 2] = ["suspended", "stopped"];

/// An interval `[from, until)` during which a product (or one instance of it) does not serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outage {
    pub product: Name,
    /// Only this instance (a subscription), or every instance of the product.
    pub instance_id: Option<Name>,
    /// Why: e.g. `suspended (arrears since …)`.
    pub cause: String,
    pub from: Ts,
    pub until: Option<Ts>,
}

impl Outage {
    fn covers(&self, u: &Usage) -> bool {
        self.product == u.product
            && self
                .instance_id
                .as_ref()
                .is_none_or(|i| *i == u.instance_id)
            && self.from <= u.usage_start
            && self.until.is_none_or(|t| u.usage_start < t)
    }
}

/// Product events of one account and the out-of-service intervals they imply.
#[derive(Debug, Clone, Default)]
pub struct ProductTimeline {
    pub events: Vec<AccountEvent>,
    pub outages: Vec<Outage>,
}

/// The products an account has, each with the first instant it had it.
pub fn products_held(usage: &[&Usage], subs: &[&Subscription]) -> BTreeMap<Name, Ts> {
    // Few products per account, long runs of one product: a short list with a pointer fast path.
    let mut held: Vec<(&Name, Ts)> = Vec::new();
    let mut last = usize::MAX;
    let seen = usage
        .iter()
        .map(|u| (&u.product, u.usage_start))
        .chain(subs.iter().map(|s| (&s.product, s.started_at)));
    for (p, at) in seen {
        if last >= held.len() || *held[last].0 != *p {
            last = match held.iter().position(|(q, _)| q == &p) {
                Some(i) => i,
                None => {
                    held.push((p, at));
                    held.len() - 1
                }
            };
        }
        held[last].1 = held[last].1.min(at);
    }
    held.into_iter().map(|(p, t)| (*p, t)).collect()
}

/// Applies the catalog's policies to every episode of `ledger` (all history before `as_of`).
pub fn product_events(
    ledger: &Ledger,
    episodes: &[Episode],
    held: &BTreeMap<Name, Ts>,
    catalog: &Catalog,
    as_of: Ts,
) -> ProductTimeline {
    let mut out = ProductTimeline::default();
    for ep in episodes {
        let steps = EpisodeSteps {
            ledger,
            ep,
            as_of,
            since: format_local(ep.start),
        };
        for (product, &first) in held {
            if let Some(p) = catalog.arrears_policy(product) {
                steps.apply(product, first, p, &mut out);
            }
        }
    }
    out
}

/// The policy steps of one arrears episode.
struct EpisodeSteps<'a> {
    ledger: &'a Ledger<'a>,
    ep: &'a Episode,
    as_of: Ts,
    /// The episode's start, as the events' details name it.
    since: String,
}

impl EpisodeSteps<'_> {
    /// Whether the episode is still open at `t` (a clear at `t` comes first).
    fn open_at(&self, t: Ts) -> bool {
        t < self.as_of && self.ep.cleared.is_none_or(|c| c > t)
    }

    /// Policy `p`'s steps for `product`, which the account has from `first`.
    fn apply(&self, product: &Name, first: Ts, p: &ArrearsPolicy, out: &mut ProductTimeline) {
        let due = self.ep.start + p.grace_hours * HOUR;
        let action_at = due.max(first);
        if !self.open_at(action_at) {
            return;
        }
        let detail = if action_at == due {
            format!("{} h after arrears started {}", p.grace_hours, self.since)
        } else {
            format!(
                "first {product} usage or subscription while in arrears since {}",
                self.since
            )
        };
        let prod = Some(*product);
        out.events.push(
            self.ledger
                .event(prod, event_name(&p.action), action_at, None, detail),
        );
        let final_done = self.final_action(product, p, action_at, out);
        if let (Some(c), false) = (self.ep.cleared, final_done) {
            let detail = format!(
                "arrears cleared; {} since {}",
                p.action,
                format_local(action_at)
            );
            out.events
                .push(self.ledger.event(prod, "restored", c, None, detail));
        }
        if OUT_OF_SERVICE.contains(&p.action.as_str()) {
            out.outages.push(Outage {
                product: *product,
                instance_id: None,
                cause: format!("{} (arrears since {})", p.action, self.since),
                from: action_at,
                until: self.ep.cleared,
            });
        }
    }

    /// The final action of policy `p` (if it has one), never before the action at `action_at`;
    /// whether it happened.
    fn final_action(
        &self,
        product: &Name,
        p: &ArrearsPolicy,
        action_at: Ts,
        out: &mut ProductTimeline,
    ) -> bool {
        let Some(f) = p.final_action.as_deref() else {
            return false;
        };
        let (base, from) = if p.final_from_arrears_start {
            (self.ep.start, "arrears started")
        } else {
            (action_at, p.action.as_str())
        };
        let at = (base + p.final_after_hours * HOUR).max(action_at);
        if !self.open_at(at) {
            return false;
        }
        let detail = format!(
            "{} h after {from}; arrears since {}",
            p.final_after_hours, self.since
        );
        out.events.push(
            self.ledger
                .event(Some(*product), event_name(f), at, None, detail),
        );
        true
    }
}

/// The contract's event names are static strings; policy actions are catalog data.
fn event_name(action: &str) -> &'static str {
    const KNOWN: [&str; 6] = [
        "suspended",
        "destroyed",
        "stopped",
        "released",
        "elastic_unavailable",
        "restored",
    ];
    KNOWN
        .iter()
        .find(|k| **k == action)
        .copied()
        .unwrap_or("unknown_action")
}

/// One `usage_while_suspended` exception per usage row metered inside an outage (the first
/// outage in `outages` order that covers it names the cause).
pub fn usage_while_suspended(usage: &[&Usage], outages: &[Outage]) -> Vec<Violation> {
    if outages.is_empty() {
        return Vec::new();
    }
    // An outage covers many hours of each instance: its text is made once per instance.
    let (table, rule) = (Name::new("usage"), Name::new("usage_while_suspended"));
    let froms: Vec<String> = outages.iter().map(|o| format_local(o.from)).collect();
    let mut details: rustc_hash::FxHashMap<(usize, Name, Name), String> = Default::default();
    usage
        .iter()
        .filter_map(|u| {
            let k = outages.iter().position(|o| o.covers(u))?;
            let detail = details
                .entry((k, u.product, u.instance_id))
                .or_insert_with(|| {
                    format!(
                        "{} {} metered while {} from {}; still billed",
                        u.product, u.instance_id, outages[k].cause, froms[k]
                    )
                })
                .clone();
            Some(Violation {
                source_table: table,
                source_id: u.usage_id.to_string(),
                rule,
                detail,
                at: Some(u.usage_start),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::DAY;
    use crate::input::Direction;
    use crate::model::{BillLine, ChargeKind};
    use crate::money::Unit;
    use crate::rules::ledger::tests::{account, dec, line, payment, t};
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    fn catalog() -> Catalog {
        crate::rules::deduction::tests::catalog()
    }

    fn usage(id: &str, product: &str, start: &str) -> Usage {
        let s = t(start);
        Usage {
            usage_id: id.into(),
            owner_uin: "acct-1".into(),
            region: "ap-guangzhou".into(),
            product: product.into(),
            sub_product: product.into(),
            instance_id: format!("{product}-1").into(),
            billing_item: "x".into(),
            usage_start: s,
            usage_end: s + HOUR,
            quantity: Decimal::ONE,
            unit: Unit::GB,
            direction: Direction::Outbound,
            accelerated: false,
        }
    }

    /// (product, event, at, balance) of one product event.
    type Step = (Option<String>, &'static str, Ts, Decimal);

    /// Opening 10 on 05-01; a 15 charge at 2024-05-10 10:00 puts the account at −5.
    fn run(products: &[&str], pays: &[(&str, &str, &str)]) -> (Vec<Step>, Vec<Outage>) {
        let a = account("10", "2024-05-01 00:00:00");
        let lines = [line(
            "u:1",
            ChargeKind::Usage,
            "eip",
            t("2024-05-10 10:00:00"),
            "15",
        )];
        let pays: Vec<_> = pays.iter().map(|p| payment(p.0, p.1, p.2)).collect();
        let lr: Vec<&BillLine> = lines.iter().collect();
        let pr: Vec<_> = pays.iter().collect();
        let l = Ledger::new("acct-1".into(), Some(&a), &pr, &lr, t("2024-07-01"));
        let us: Vec<Usage> = products
            .iter()
            .map(|p| usage(p, p, "2024-05-02 00:00:00"))
            .collect();
        let ur: Vec<&Usage> = us.iter().collect();
        let held = products_held(&ur, &[]);
        let eps = l.episodes();
        let pt = product_events(&l, &eps, &held, &catalog(), t("2024-07-01"));
        let mut ev: Vec<_> = pt
            .events
            .iter()
            .map(|e| {
                (
                    e.product.as_deref().map(String::from),
                    e.event,
                    e.at,
                    e.balance,
                )
            })
            .collect();
        ev.sort_by_key(|e| (e.2, e.0.clone()));
        (ev, pt.outages)
    }

    fn p(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn top_up_inside_grace_no_suspension() {
        let (ev, outages) = run(&["apigw"], &[("pay-1", "2024-05-11 09:59:59", "5")]);
        assert!(ev.is_empty(), "{ev:?}");
        assert!(outages.is_empty());
        // A top-up exactly at the due instant comes first: still no suspension.
        let (ev, _) = run(&["apigw"], &[("pay-1", "2024-05-11 10:00:00", "5")]);
        assert!(ev.is_empty(), "{ev:?}");
    }

    #[test]
    fn top_up_after_suspension_before_destruction_restores() {
        let (ev, outages) = run(&["apigw"], &[("pay-1", "2024-05-15 08:00:00", "6")]);
        assert_eq!(
            ev,
            [
                (p("apigw"), "suspended", t("2024-05-11 10:00:00"), dec("-5")),
                (p("apigw"), "restored", t("2024-05-15 08:00:00"), dec("1")),
            ]
        );
        assert_eq!(outages.len(), 1);
        assert_eq!(
            (outages[0].from, outages[0].until),
            (t("2024-05-11 10:00:00"), Some(t("2024-05-15 08:00:00")))
        );
    }

    #[test]
    fn no_top_up_destroyed_exactly_seven_days_after_suspension() {
        let (ev, outages) = run(&["apigw"], &[]);
        assert_eq!(
            ev,
            [
                (p("apigw"), "suspended", t("2024-05-11 10:00:00"), dec("-5")),
                (p("apigw"), "destroyed", t("2024-05-18 10:00:00"), dec("-5")),
            ]
        );
        assert_eq!(t("2024-05-18 10:00:00") - t("2024-05-11 10:00:00"), 7 * DAY);
        assert_eq!(outages[0].until, None);
        // Cleared after destruction: no `restored`.
        let (ev, _) = run(&["apigw"], &[("pay-1", "2024-05-20 00:00:00", "6")]);
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[1].1, "destroyed");
    }

    #[test]
    fn eip_release_measured_from_arrears_start_cvm_from_stop() {
        let (ev, _) = run(&["cvm", "eip", "mpgw"], &[]);
        assert_eq!(
            ev,
            [
                (p("cvm"), "stopped", t("2024-05-10 12:00:00"), dec("-5")),
                (p("eip"), "stopped", t("2024-05-10 12:00:00"), dec("-5")),
                // eip: 24 h after the arrears start; cvm: 24 h after the stop.
                (p("eip"), "released", t("2024-05-11 10:00:00"), dec("-5")),
                (
                    p("mpgw"),
                    "elastic_unavailable",
                    t("2024-05-11 10:00:00"),
                    dec("-5")
                ),
                (p("cvm"), "released", t("2024-05-11 12:00:00"), dec("-5")),
            ]
        );
        // Cleared between the eip release and the cvm release: only cvm and mpgw are restored.
        let (ev, _) = run(
            &["cvm", "eip", "mpgw"],
            &[("pay-1", "2024-05-11 11:00:00", "5")],
        );
        let restored: Vec<_> = ev.iter().filter(|e| e.1 == "restored").collect();
        assert_eq!(
            restored,
            [
                &(p("cvm"), "restored", t("2024-05-11 11:00:00"), dec("0")),
                &(p("mpgw"), "restored", t("2024-05-11 11:00:00"), dec("0")),
            ]
        );
    }

    #[test]
    fn products_only_from_their_first_instant_and_none_for_packages() {
        let a = account("10", "2024-05-01 00:00:00");
        let lines = [line(
            "p:1",
            ChargeKind::Purchase,
            "tp",
            t("2024-05-10 10:00:00"),
            "15",
        )];
        let lr: Vec<&BillLine> = lines.iter().collect();
        let l = Ledger::new("acct-1".into(), Some(&a), &[], &lr, t("2024-07-01"));
        // cvm appears after its stop was due (stopped at once), apigw before its suspension;
        // `tp` (packages) has no policy.
        let us = [
            usage("c", "cvm", "2024-05-10 13:00:00"),
            usage("g", "apigw", "2024-05-11 09:00:00"),
            usage("t", "tp", "2024-05-01 00:00:00"),
        ];
        let ur: Vec<&Usage> = us.iter().collect();
        let held = products_held(&ur, &[]);
        let pt = product_events(&l, &l.episodes(), &held, &catalog(), t("2024-07-01"));
        let mut ev: Vec<_> = pt
            .events
            .iter()
            .map(|e| (&**e.product.as_ref().unwrap(), e.event, e.at))
            .collect();
        ev.sort_by_key(|e| e.2);
        assert_eq!(
            ev,
            [
                ("cvm", "stopped", t("2024-05-10 13:00:00")),
                ("apigw", "suspended", t("2024-05-11 10:00:00")),
                ("cvm", "released", t("2024-05-11 13:00:00")),
                ("apigw", "destroyed", t("2024-05-18 10:00:00")),
            ]
        );
        assert_eq!(
            pt.events[2].detail,
            "first cvm usage or subscription while in arrears since 2024-05-10 10:00:00+08:00"
        );
    }

    #[test]
    fn several_episodes_in_a_month_each_get_their_own_steps() {
        // −5 at 05-10 10:00; top-up 6 at 05-10 20:00 (→ 1); another 15 charge at 05-20 10:00
        // (→ −14); top-up 20 at 05-20 11:00 (→ 6, inside the grace: no second stop).
        let a = account("10", "2024-05-01 00:00:00");
        let lines = [
            line(
                "u:1",
                ChargeKind::Usage,
                "cvm",
                t("2024-05-10 10:00:00"),
                "15",
            ),
            line(
                "u:2",
                ChargeKind::Usage,
                "cvm",
                t("2024-05-20 10:00:00"),
                "15",
            ),
            line(
                "u:3",
                ChargeKind::Usage,
                "cvm",
                t("2024-05-25 10:00:00"),
                "7",
            ),
        ];
        let pays = [
            payment("pay-1", "2024-05-10 20:00:00", "6"),
            payment("pay-2", "2024-05-20 11:00:00", "20"),
        ];
        let lr: Vec<&BillLine> = lines.iter().collect();
        let pr: Vec<_> = pays.iter().collect();
        let l = Ledger::new("acct-1".into(), Some(&a), &pr, &lr, t("2024-06-01"));
        let us = [usage("c", "cvm", "2024-05-02 00:00:00")];
        let ur: Vec<&Usage> = us.iter().collect();
        let eps = l.episodes();
        assert_eq!(eps.len(), 3);
        let pt = product_events(
            &l,
            &eps,
            &products_held(&ur, &[]),
            &catalog(),
            t("2024-06-01"),
        );
        let got: Vec<_> = pt
            .events
            .iter()
            .map(|e| (e.event, e.at, e.balance))
            .collect();
        assert_eq!(
            got,
            [
                ("stopped", t("2024-05-10 12:00:00"), dec("-5")),
                ("restored", t("2024-05-10 20:00:00"), dec("1")),
                // Third episode (05-25 10:00, −1, never cleared): stopped and released.
                ("stopped", t("2024-05-25 12:00:00"), dec("-1")),
                ("released", t("2024-05-26 12:00:00"), dec("-1")),
            ]
        );
        let spans: Vec<_> = pt.outages.iter().map(|o| (o.from, o.until)).collect();
        assert_eq!(
            spans,
            [
                (t("2024-05-10 12:00:00"), Some(t("2024-05-10 20:00:00"))),
                (t("2024-05-25 12:00:00"), None),
            ]
        );
    }

    #[test]
    fn usage_while_suspended_flags_rows_in_outages_only() {
        let (_, outages) = run(&["apigw", "eip"], &[("pay-1", "2024-05-15 08:00:00", "6")]);
        let us = [
            usage("before", "apigw", "2024-05-11 09:00:00"),
            usage("first", "apigw", "2024-05-11 10:00:00"),
            usage("last", "apigw", "2024-05-15 07:00:00"),
            usage("after", "apigw", "2024-05-15 08:00:00"),
            usage("eip-stopped", "eip", "2024-05-10 12:00:00"),
            usage("cvm", "cvm", "2024-05-12 00:00:00"),
        ];
        let ur: Vec<&Usage> = us.iter().collect();
        let v = usage_while_suspended(&ur, &outages);
        let got: Vec<(&str, &str, &str, Option<Ts>)> = v
            .iter()
            .map(|x| {
                (
                    x.source_table.as_str(),
                    x.source_id.as_str(),
                    x.rule.as_str(),
                    x.at,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "usage",
                    "first",
                    "usage_while_suspended",
                    Some(t("2024-05-11 10:00:00"))
                ),
                (
                    "usage",
                    "last",
                    "usage_while_suspended",
                    Some(t("2024-05-15 07:00:00"))
                ),
                (
                    "usage",
                    "eip-stopped",
                    "usage_while_suspended",
                    Some(t("2024-05-10 12:00:00"))
                ),
            ]
        );
        assert!(v[0]
            .detail
            .contains("suspended (arrears since 2024-05-10 10:00:00+08:00)"));
    }

    proptest! {
        /// Every product event carries the balance of all entries up to its instant, and each
        /// product's steps follow its policy: per episode, the action, then at most one of the
        /// final action or `restored`, all in time order.
        #[test]
        fn product_steps_follow_the_policy(
            moves in proptest::collection::vec((0i64..400, -20i64..20, any::<bool>()), 0..30),
        ) {
            let base = t("2024-05-01 00:00:00");
            let a = account("5", "2024-05-01 00:00:00");
            let mut pays = Vec::new();
            let mut lines = Vec::new();
            for (i, (h, amt, pay)) in moves.iter().enumerate() {
                let at = base + h * HOUR;
                if *pay && *amt > 0 {
                    pays.push(crate::input::Payment {
                        payment_id: format!("pay-{i}").into(),
                        owner_uin: "acct-1".into(),
                        paid_at: at,
                        amount: Decimal::from(*amt),
                    });
                } else {
                    lines.push(line(&format!("l-{i}"), ChargeKind::Usage, "eip", at, &amt.abs().to_string()));
                }
            }
            let lr: Vec<&BillLine> = lines.iter().collect();
            let pr: Vec<_> = pays.iter().collect();
            let as_of = base + 400 * HOUR;
            let l = Ledger::new("acct-1".into(), Some(&a), &pr, &lr, as_of);
            let us = [usage("g", "apigw", "2024-05-01 00:00:00"), usage("c", "cvm", "2024-05-01 00:00:00"), usage("e", "eip", "2024-05-01 00:00:00")];
            let ur: Vec<&Usage> = us.iter().collect();
            let eps = l.episodes();
            let pt = product_events(&l, &eps, &products_held(&ur, &[]), &catalog(), as_of);
            for e in &pt.events {
                let credits: Decimal = pays.iter().filter(|p| p.paid_at <= e.at).map(|p| p.amount).sum();
                let debits: Decimal = lines.iter().filter(|x| x.charged_at <= e.at).map(|x| x.amount).sum();
                prop_assert_eq!(e.balance, Decimal::from(5) + credits - debits);
                prop_assert!(e.at < as_of);
            }
            for (product, action, last) in [("apigw", "suspended", "destroyed"), ("cvm", "stopped", "released"), ("eip", "stopped", "released")] {
                let steps: Vec<(&str, Ts)> = pt.events.iter()
                    .filter(|e| e.product.as_deref() == Some(product))
                    .map(|e| (e.event, e.at)).collect();
                let mut i = 0;
                while i < steps.len() {
                    prop_assert_eq!(steps[i].0, action);
                    // The action happens in arrears, past the grace.
                    prop_assert!(l.balance_at(steps[i].1) < Decimal::ZERO);
                    if let Some(next) = steps.get(i + 1).filter(|s| s.0 != action) {
                        prop_assert!(next.0 == last || next.0 == "restored");
                        prop_assert!(next.1 >= steps[i].1);
                        if next.0 == "restored" {
                            prop_assert!(l.balance_at(next.1) >= Decimal::ZERO);
                        }
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
            }
        }
    }
}
