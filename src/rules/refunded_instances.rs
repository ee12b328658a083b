//! Refunded dedicated instances (docs/rules.md §5, revised): a monthly dedicated instance (a
//! product of the catalog's `refunds.instance_products`) whose refund `rules::subscriptions`
//! granted is isolated at the refund instant (`stopped`) and destroyed
//! `refunds.instance_destroy_after_days` days later (`destroyed`), both in `account_events` with
//! its `subscription_id` and the balance at that instant. From the refund on the instance does not
//! serve: usage metered on it (`usage.instance_id` = `subscription_id`) is still billed and
//! reported as `usage_while_suspended` (`rules::arrears`), like any stopped resource.
//!
//! The refund instant is read from the replayed life (`Life::refunded_at`), so the events agree
//! with the refund line. A refund ends the subscription for good: nothing restores it, and no
//! renewal is accepted after it.
//!
//! Invariants: at most one `stopped` and one `destroyed` per subscription, `stopped` first, both
//! before the as-of moment (the caller cuts them to the window); hourly instances and plans get
//! none (hourly instances are not refunded, plans follow `rules::plan_expiry`).

use crate::calendar::{format_local, Ts, DAY};
use crate::catalog::Catalog;
use crate::input::{BillingMode, Subscription};
use crate::model::AccountEvent;
use crate::rules::arrears::Outage;
use crate::rules::ledger::Ledger;
use crate::rules::refunds::SubscriptionRule;
use crate::rules::subscriptions::Life;

/// The events of one refunded instance and the outage from its refund on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Teardown {
    pub events: Vec<AccountEvent>,
    pub outage: Option<Outage>,
}

/// Whether `sub` is a monthly dedicated instance in the sense of the refund rules.
pub fn applies(catalog: &Catalog, sub: &Subscription) -> bool {
    sub.billing_mode == BillingMode::Monthly
        && SubscriptionRule::of(catalog, &sub.product) == SubscriptionRule::Instance
}

/// `stopped` at the refund and `destroyed` after the catalog's days, each before `as_of`;
/// nothing when `sub` is not a refunded monthly dedicated instance.
pub fn teardown(
    ledger: &Ledger,
    sub: &Subscription,
    life: &Life,
    catalog: &Catalog,
    as_of: Ts,
) -> Teardown {
    let mut out = Teardown::default();
    let Some(refunded) = life.refunded_at.filter(|r| *r < as_of) else {
        return out;
    };
    if !applies(catalog, sub) {
        return out;
    }
    let days = catalog.refunds.instance_destroy_after_days;
    // The catalog holds days ≥ 0; an instant past the calendar is never reached.
    let destroy_at = days
        .checked_mul(DAY)
        .and_then(|d| refunded.checked_add(d))
        .unwrap_or(Ts::MAX);
    let (product, sid) = (Some(sub.product), Some(sub.subscription_id));
    let detail = format!(
        "refunded: isolated; destroyed at {} ({days} day(s) after the refund)",
        format_local(destroy_at)
    );
    out.events
        .push(ledger.event(product, "stopped", refunded, sid, detail));
    if destroy_at < as_of {
        let detail = format!("refunded at {}: instance destroyed", format_local(refunded));
        out.events
            .push(ledger.event(product, "destroyed", destroy_at, sid, detail));
    }
    out.outage = Some(Outage {
        product: sub.product,
        instance_id: Some(sub.subscription_id),
        cause: format!("instance {} refunded", sub.subscription_id),
        from: refunded,
        until: None,
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Event, EventKind};
    use crate::rules::ledger::tests::{account, dec, t};
    use crate::rules::subscriptions::{self, add_months};
    use rust_decimal::Decimal;

    fn instance(product: &str, mode: BillingMode, start: &str) -> Subscription {
        Subscription {
            subscription_id: "i1".into(),
            owner_uin: "acct-1".into(),
            product: product.into(),
            plan: "basic".into(),
            region: "ap-guangzhou".into(),
            billing_mode: mode,
            started_at: t(start),
            expires_at: (mode == BillingMode::Monthly).then(|| add_months(t(start), 1)),
            released_at: None,
            list_price: Decimal::from(3680),
            discount: Decimal::ONE,
            price_paid: Decimal::from(3680),
            elastic_on_at: None,
            elastic_off_at: None,
            attached_apps: 0,
            elastic_unit_price: None,
        }
    }

    fn refund(at: &str) -> Event {
        Event {
            event_id: "r1".into(),
            kind: EventKind::Refund,
            target_id: "i1".into(),
            at: t(at),
            new_plan: None,
            months: None,
            price_paid: None,
            auto: None,
        }
    }

    /// Replays `sub` with `events` (as the pipeline does), then the teardown, on an account
    /// that opened with 5000 on 2024-01-01.
    fn run(sub: &Subscription, events: &[Event], as_of: &str) -> Teardown {
        let c = crate::rules::deduction::tests::catalog();
        let r = subscriptions::replay(std::slice::from_ref(sub), events, &c, t(as_of));
        let a = account("5000", "2024-01-01 00:00:00");
        let lines: Vec<_> = r.lines.iter().collect();
        let l = Ledger::new("acct-1".into(), Some(&a), &[], &lines, t(as_of));
        teardown(&l, sub, &r.lives[0], &c, t(as_of))
    }

    /// docs/rules.md §5 (revised): bought 05-01 10:00 (3680), refunded in full on 05-03 12:00:
    /// `stopped` then, `destroyed` 7 days later (the catalog's days), both with the
    /// subscription id and the balance at that instant; the outage starts at the refund.
    #[test]
    fn revised_5_refunded_instance_is_stopped_then_destroyed_7_days_later() {
        let s = instance("apigw", BillingMode::Monthly, "2024-05-01 10:00:00");
        let out = run(&s, &[refund("2024-05-03 12:00:00")], "2024-06-01 00:00:00");
        let got: Vec<_> = out
            .events
            .iter()
            .map(|e| {
                (
                    e.event,
                    e.at,
                    e.product.as_deref(),
                    e.subscription_id.as_deref(),
                    e.balance,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "stopped",
                    t("2024-05-03 12:00:00"),
                    Some("apigw"),
                    Some("i1"),
                    dec("5000")
                ),
                (
                    "destroyed",
                    t("2024-05-10 12:00:00"),
                    Some("apigw"),
                    Some("i1"),
                    dec("5000")
                ),
            ]
        );
        assert_eq!(
            out.events[0].detail,
            "refunded: isolated; destroyed at 2024-05-10 12:00:00+08:00 (7 day(s) after the refund)"
        );
        let o = out.outage.unwrap();
        assert_eq!(
            (o.instance_id.as_deref(), o.from, o.until),
            (Some("i1"), t("2024-05-03 12:00:00"), None)
        );
    }

    /// Only what happened before the as-of moment: refunded on 05-28, the destruction on
    /// 06-04 is not yet there in the 06-01 run.
    #[test]
    fn revised_5_destruction_after_the_as_of_moment_is_not_yet_there() {
        let s = instance("apigw", BillingMode::Monthly, "2024-05-20 10:00:00");
        let out = run(&s, &[refund("2024-05-28 00:00:00")], "2024-06-01 00:00:00");
        let got: Vec<_> = out.events.iter().map(|e| (e.event, e.at)).collect();
        assert_eq!(got, [("stopped", t("2024-05-28 00:00:00"))]);
        let out = run(&s, &[refund("2024-05-28 00:00:00")], "2024-06-05 00:00:00");
        assert_eq!(out.events.len(), 2);
        assert_eq!(out.events[1].at, t("2024-06-04 00:00:00"));
    }

    /// No events without an eligible refund, for a plan, or for an instance released (not
    /// refunded).
    #[test]
    fn revised_5_only_refunded_monthly_instances() {
        let none = Teardown::default();
        let s = instance("apigw", BillingMode::Monthly, "2024-05-01 10:00:00");
        assert_eq!(run(&s, &[], "2024-06-01 00:00:00"), none);
        let mut released = s.clone();
        released.released_at = Some(t("2024-05-03 12:00:00"));
        assert_eq!(run(&released, &[], "2024-06-01 00:00:00"), none);
        let plan = instance("mpgw", BillingMode::Monthly, "2024-05-01 10:00:00");
        let mut plan = plan;
        plan.plan = "test".into();
        (plan.list_price, plan.price_paid) = (Decimal::from(4999), Decimal::from(4999));
        assert_eq!(
            run(
                &plan,
                &[refund("2024-05-03 12:00:00")],
                "2024-06-01 00:00:00"
            ),
            none
        );
    }
}
