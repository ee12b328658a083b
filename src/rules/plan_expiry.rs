//! Prepaid plan expiry (docs/rules.md §5, catalog `[plan_expiry]`): the timeline of a monthly plan
//! of the mini-program gateway around each expiry, with its renewals.
//!
//! The paid terms come from the subscription's replayed life (`rules::subscriptions::Life`: the
//! first term and one term per accepted `renew`, each extending the previous expiry), so the
//! timeline and the renewal charges always agree. For each expiry `E` the plan reaches (the end of
//! a term not renewed before it):
//! - `expiry_warning` at 00:00 UTC+8 of each warning day: `warning_days` (7, 5, 3, 1, 0) days
//!   before the UTC+8 day of `E` — 0 is the expiry day itself; only warnings at or after the
//!   instant the expiry became known (the purchase or the renewal) are sent;
//! - `buffer_started` at `E` (still serving for `buffer_days`);
//! - `stopped` at `E + buffer_days` days;
//! - `reclaimed` at `E + stopped_days` days (configuration destroyed).
//!
//! **Decision:** the catalog's `stopped_days` (8) counts from the expiry, as in "after 8 days
//! reclaimed": with one buffer day the plan is stopped from day 1 to day 8 after expiry and
//! reclaimed 8 days after expiry.
//!
//! A renewal at `R` cancels every step of the old expiry at or after `R` (inputs at an instant come
//! before steps due at that instant). A renewal after `E` — during the buffer or the stopped days —
//! emits `restored` at `R`, and its term extends from `E` (**Decision**, as the charges do: the
//! lapsed days are not given back). A renewal exactly at `E` is seamless: no step, no `restored`.
//! A renewal after the reclaim instant is charged by `rules::subscriptions` all the same; here it
//! also restores, and it is reported in `exceptions` (`subscriptions`, subscription_id,
//! `renewal_after_reclaim`) for a person to check. Nothing happens at or after the end of the
//! subscription (release or refund) or the as-of moment.
//!
//! From `stopped` until the renewal (or for good), the plan's instance (usage `instance_id` =
//! `subscription_id`) is out of service: its usage becomes `usage_while_suspended` exceptions
//! (`rules::arrears`).
//!
//! Invariants: the timeline is read from the replayed terms only, so it agrees with the charges;
//! an expiry's steps come in the order warnings → `buffer_started` → `stopped` → `reclaimed`, all
//! before the next renewal, the end of the subscription and the as-of moment; at most one
//! outage per expiry, ending at the renewal if there is one before the end.

use crate::calendar::{day_start_of_date, format_local, local_date, Ts, DAY};
use crate::catalog::PlanExpiry;
use crate::input::{BillingMode, Subscription, Violation};
use crate::model::AccountEvent;
use crate::rules::arrears::Outage;
use crate::rules::ledger::Ledger;
use crate::rules::subscriptions::{Life, Term};
use chrono::Days;

/// Whether `sub` follows the plan expiry timeline.
pub fn applies(pe: &PlanExpiry, sub: &Subscription) -> bool {
    sub.billing_mode == BillingMode::Monthly && pe.products.iter().any(|p| **p == *sub.product)
}

/// Events, out-of-service intervals and findings of one plan.
#[derive(Debug, Clone, Default)]
pub struct PlanTimeline {
    pub events: Vec<AccountEvent>,
    pub outages: Vec<Outage>,
    pub violations: Vec<Violation>,
}

/// The expiry timeline of one plan `sub` (its `life` replayed by `rules::subscriptions`): the
/// steps of every expiry its terms reach before the end of its life and the as-of moment.
pub fn timeline(
    ledger: &Ledger,
    sub: &Subscription,
    life: &Life,
    pe: &PlanExpiry,
    as_of: Ts,
) -> PlanTimeline {
    let mut plan = Plan {
        ledger,
        sub,
        life,
        pe,
        end_of_life: life.ended_at.map_or(as_of, |r| r.min(as_of)),
        out: PlanTimeline::default(),
    };
    for (k, term) in life.terms.iter().enumerate() {
        let next = life.terms.get(k + 1);
        let e = plan.expiry(term, next);
        plan.warnings(&e, term.paid_at);
        plan.lapse(&e);
        if let Some(next) = next {
            plan.restore(&e, next);
        }
    }
    plan.out
}

/// One plan's timeline in the making.
struct Plan<'a> {
    ledger: &'a Ledger<'a>,
    sub: &'a Subscription,
    life: &'a Life,
    pe: &'a PlanExpiry,
    /// The end of the subscription (release or refund) or the as-of moment, the earlier.
    end_of_life: Ts,
    out: PlanTimeline,
}

/// One expiry `at` (the end of a term) and the instants of its steps.
struct Expiry {
    at: Ts,
    /// The next term's payment, if the plan was renewed.
    renewal: Option<Ts>,
    /// Steps of this expiry happen before this: the renewal, the end and the as-of moment.
    cutoff: Ts,
    stop_at: Ts,
    reclaim_at: Ts,
}

impl Expiry {
    fn happens(&self, at: Ts) -> bool {
        at < self.cutoff
    }
}

impl Plan<'_> {
    fn expiry(&self, term: &Term, next: Option<&Term>) -> Expiry {
        let renewal = next.map(|n| n.paid_at);
        Expiry {
            at: term.end,
            renewal,
            cutoff: renewal.map_or(self.end_of_life, |r| r.min(self.end_of_life)),
            stop_at: term.end + self.pe.buffer_days * DAY,
            reclaim_at: term.end + self.pe.stopped_days * DAY,
        }
    }

    fn push(&mut self, event: &'static str, at: Ts, detail: String) {
        let (product, sid) = (Some(self.sub.product), Some(self.sub.subscription_id));
        self.out
            .events
            .push(self.ledger.event(product, event, at, sid, detail));
    }

    /// `expiry_warning` at 00:00 UTC+8 of each warning day before the expiry, from the instant
    /// the expiry became known (`known_at`, the term's payment).
    fn warnings(&mut self, e: &Expiry, known_at: Ts) {
        let expiry_day = local_date(e.at);
        for &d in &self.pe.warning_days {
            let Some(day) = expiry_day.checked_sub_days(Days::new(d.max(0) as u64)) else {
                continue;
            };
            let at = day_start_of_date(day);
            if at < known_at || !e.happens(at) {
                continue;
            }
            let when = match d {
                0 => "today".to_string(),
                1 => "in 1 day".to_string(),
                _ => format!("in {d} days"),
            };
            let detail = format!(
                "plan {} expires {} ({when})",
                self.life.plan_at(at),
                format_local(e.at)
            );
            self.push("expiry_warning", at, detail);
        }
    }

    /// `buffer_started` at the expiry, `stopped` (and the plan's outage) after the buffer days,
    /// `reclaimed` after the stopped days.
    fn lapse(&mut self, e: &Expiry) {
        if e.happens(e.at) {
            let detail = format!(
                "expired; still serving for {} day(s) until {}",
                self.pe.buffer_days,
                format_local(e.stop_at)
            );
            self.push("buffer_started", e.at, detail);
        }
        if e.happens(e.stop_at) {
            let detail = format!("reclaimed at {} unless renewed", format_local(e.reclaim_at));
            self.push("stopped", e.stop_at, detail);
            self.out.outages.push(Outage {
                product: self.sub.product,
                instance_id: Some(self.sub.subscription_id),
                cause: format!("plan {} stopped after expiry", self.sub.subscription_id),
                from: e.stop_at,
                until: e.renewal.filter(|r| *r < self.end_of_life),
            });
        }
        if e.happens(e.reclaim_at) {
            self.push("reclaimed", e.reclaim_at, "configuration destroyed".into());
        }
    }

    /// `restored` at a renewal after the expiry (the `next` term's payment), and the
    /// `renewal_after_reclaim` finding when it comes after the reclaim.
    fn restore(&mut self, e: &Expiry, next: &Term) {
        let r = next.paid_at;
        if r <= e.at || r >= self.end_of_life {
            return;
        }
        let phase = if r < e.stop_at {
            "the buffer"
        } else if r <= e.reclaim_at {
            "the stopped days"
        } else {
            "after reclaim"
        };
        let detail = format!(
            "renewed {} month(s) {}{phase}; expires {}",
            next.months,
            if r <= e.reclaim_at { "during " } else { "" },
            format_local(next.end)
        );
        self.push("restored", r, detail);
        if r > e.reclaim_at {
            self.out.violations.push(Violation::new(
                "subscriptions",
                &*self.sub.subscription_id,
                "renewal_after_reclaim",
                format!(
                    "renewed at {} but reclaimed at {}",
                    format_local(r),
                    format_local(e.reclaim_at)
                ),
                Some(r),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{Event, EventKind};
    use crate::rules::ledger::tests::{account, dec, t};
    use crate::rules::subscriptions;
    use rust_decimal::Decimal;

    fn catalog() -> crate::catalog::Catalog {
        crate::rules::deduction::tests::catalog()
    }

    fn plan(start: &str, expires: &str) -> Subscription {
        Subscription {
            subscription_id: "s".into(),
            owner_uin: "acct-1".into(),
            product: "mpgw".into(),
            plan: "test".into(),
            region: "ap-guangzhou".into(),
            billing_mode: BillingMode::Monthly,
            started_at: t(start),
            expires_at: Some(t(expires)),
            released_at: None,
            list_price: Decimal::from(4999),
            discount: Decimal::ONE,
            price_paid: Decimal::from(4999),
            elastic_on_at: None,
            elastic_off_at: None,
            attached_apps: 1,
            elastic_unit_price: None,
        }
    }

    fn renew(id: &str, at: &str, months: i64) -> Event {
        Event {
            event_id: id.into(),
            kind: EventKind::Renew,
            target_id: "s".into(),
            at: t(at),
            new_plan: None,
            months: Some(months),
            price_paid: None,
            auto: None,
        }
    }

    /// Replays the plan with `rules::subscriptions` (as the pipeline does), then the timeline.
    fn run(sub: &Subscription, renewals: &[Event], as_of: &str) -> PlanTimeline {
        let c = catalog();
        let a = account("100", "2024-01-01 00:00:00");
        let l = Ledger::new("acct-1".into(), Some(&a), &[], &[], t(as_of));
        let r = subscriptions::replay(std::slice::from_ref(sub), renewals, &c, t(as_of));
        timeline(&l, sub, &r.lives[0], &c.plan_expiry, t(as_of))
    }

    fn evs(p: &PlanTimeline) -> Vec<(&'static str, Ts)> {
        p.events.iter().map(|e| (e.event, e.at)).collect()
    }

    #[test]
    fn unrenewed_plan_warnings_buffer_stop_reclaim() {
        let s = plan("2024-05-10 15:00:00", "2024-06-10 15:00:00");
        let p = run(&s, &[], "2024-08-01");
        assert_eq!(
            evs(&p),
            [
                ("expiry_warning", t("2024-06-03 00:00:00")),
                ("expiry_warning", t("2024-06-05 00:00:00")),
                ("expiry_warning", t("2024-06-07 00:00:00")),
                ("expiry_warning", t("2024-06-09 00:00:00")),
                ("expiry_warning", t("2024-06-10 00:00:00")),
                ("buffer_started", t("2024-06-10 15:00:00")),
                ("stopped", t("2024-06-11 15:00:00")),
                ("reclaimed", t("2024-06-18 15:00:00")),
            ]
        );
        assert!(p.events.iter().all(|e| e.balance == dec("100")
            && e.subscription_id.as_deref() == Some("s")
            && e.product.as_deref() == Some("mpgw")));
        assert_eq!(
            p.events[4].detail,
            "plan test expires 2024-06-10 15:00:00+08:00 (today)"
        );
        assert_eq!(
            (
                p.outages[0].from,
                p.outages[0].until,
                p.outages[0].instance_id.as_deref()
            ),
            (t("2024-06-11 15:00:00"), None, Some("s"))
        );
        // Cut at the as-of moment: nothing at or after it.
        let p = run(&s, &[], "2024-06-11");
        assert_eq!(
            evs(&p).last(),
            Some(&("buffer_started", t("2024-06-10 15:00:00")))
        );
        // A released plan has no steps after its release.
        let mut released = s.clone();
        released.released_at = Some(t("2024-06-08 00:00:00"));
        assert_eq!(run(&released, &[], "2024-08-01").events.len(), 3);
    }

    #[test]
    fn renewal_on_buffer_day_restores_and_extends_from_old_expiry() {
        let s = plan("2024-05-10 15:00:00", "2024-06-10 15:00:00");
        let r = renew("r1", "2024-06-11 09:00:00", 1);
        let p = run(&s, &[r], "2024-08-01");
        let got = evs(&p);
        assert_eq!(
            got[5..],
            [
                ("buffer_started", t("2024-06-10 15:00:00")),
                ("restored", t("2024-06-11 09:00:00")),
                // The next expiry, 07-10 15:00 (one month from the old expiry).
                ("expiry_warning", t("2024-07-03 00:00:00")),
                ("expiry_warning", t("2024-07-05 00:00:00")),
                ("expiry_warning", t("2024-07-07 00:00:00")),
                ("expiry_warning", t("2024-07-09 00:00:00")),
                ("expiry_warning", t("2024-07-10 00:00:00")),
                ("buffer_started", t("2024-07-10 15:00:00")),
                ("stopped", t("2024-07-11 15:00:00")),
                ("reclaimed", t("2024-07-18 15:00:00")),
            ]
        );
        assert_eq!(
            p.events[6].detail,
            "renewed 1 month(s) during the buffer; expires 2024-07-10 15:00:00+08:00"
        );
        // The first expiry never stopped: only the second one's outage.
        assert_eq!(p.outages.len(), 1);
        assert_eq!(p.outages[0].from, t("2024-07-11 15:00:00"));
    }

    #[test]
    fn renewal_before_expiry_cancels_later_warnings_and_stopped_renewal_ends_outage() {
        let s = plan("2024-05-10 15:00:00", "2024-06-10 15:00:00");
        // Renewed on 06-06 (after the 7- and 5-day warnings): no more steps for 06-10.
        let r = renew("r1", "2024-06-06 12:00:00", 3);
        let p = run(&s, &[r], "2024-08-01");
        assert_eq!(
            evs(&p),
            [
                ("expiry_warning", t("2024-06-03 00:00:00")),
                ("expiry_warning", t("2024-06-05 00:00:00")),
            ]
        );
        // Renewed on day 4 after expiry: stopped from 06-11 15:00 to the renewal.
        let r = renew("r1", "2024-06-14 10:00:00", 1);
        let p = run(&s, &[r], "2024-07-06");
        assert_eq!(
            evs(&p)[5..],
            [
                ("buffer_started", t("2024-06-10 15:00:00")),
                ("stopped", t("2024-06-11 15:00:00")),
                ("restored", t("2024-06-14 10:00:00")),
                // The next expiry is 07-10 15:00; the as-of moment 07-06 cuts its warnings.
                ("expiry_warning", t("2024-07-03 00:00:00")),
                ("expiry_warning", t("2024-07-05 00:00:00")),
            ]
        );
        assert_eq!(
            (p.outages[0].from, p.outages[0].until),
            (t("2024-06-11 15:00:00"), Some(t("2024-06-14 10:00:00")))
        );
        assert!(p.violations.is_empty());
        // Renewed after reclaim: charged by `subscriptions`, restored here, and reported.
        let r = renew("r9", "2024-06-20 10:00:00", 1);
        let p = run(&s, &[r], "2024-07-01");
        assert_eq!(
            evs(&p)[5..],
            [
                ("buffer_started", t("2024-06-10 15:00:00")),
                ("stopped", t("2024-06-11 15:00:00")),
                ("reclaimed", t("2024-06-18 15:00:00")),
                ("restored", t("2024-06-20 10:00:00")),
            ]
        );
        let v: Vec<_> = p
            .violations
            .iter()
            .map(|v| (v.source_id.as_str(), v.rule.as_str(), v.at))
            .collect();
        assert_eq!(
            v,
            [("s", "renewal_after_reclaim", Some(t("2024-06-20 10:00:00")))]
        );
    }
}
