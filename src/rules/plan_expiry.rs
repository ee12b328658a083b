//! Prepaid plan expiry (RULES.md §5, catalog `[plan_expiry]`): the timeline of a monthly plan of
//! the mini-program gateway around each expiry, with renewals (`rules::renewals`).
//!
//! For each expiry `E` the plan reaches (the end of a term not renewed before it):
//! - `expiry_warning` at 00:00 UTC+8 of each warning day: `warning_days` (7, 5, 3, 1, 0) days
//!   before the UTC+8 day of `E` — 0 is the expiry day itself; only warnings at or after the
//!   instant the expiry became known (start or renewal) are sent;
//! - `buffer_started` at `E` (still serving for `buffer_days`);
//! - `stopped` at `E + buffer_days` days;
//! - `reclaimed` at `E + stopped_days` days (configuration destroyed).
//!
//! **Decision:** the catalog's `stopped_days` (8) counts from the expiry, as in "after 8 days
//! reclaimed": with one buffer day the plan is stopped from day 1 to day 8 after expiry and
//! reclaimed 8 days after expiry.
//!
//! A renewal at `R` cancels every step of the old expiry at or after `R` (inputs at an instant come
//! before steps due at that instant); a renewal after `E` (during the buffer or the stopped days)
//! also emits `restored` at `R`, and the new term extends from `E` (`rules::renewals`). A renewal
//! exactly at `E` is seamless: no step, no `restored`. Renewals after the reclaim instant are
//! rejected and reported in `exceptions` (`events`, event_id, `renewal_rejected`). Nothing happens
//! at or after the subscription's `released_at` or the as-of moment.
//!
//! From `stopped` until the renewal (or for good), the plan's instance (usage `instance_id` =
//! `subscription_id`) is out of service: its usage becomes `usage_while_suspended` exceptions
//! (`rules::arrears`).

use crate::calendar::{day_start_of_date, format_local, local_date, Ts, DAY};
use crate::catalog::PlanExpiry;
use crate::input::{Subscription, Violation};
use crate::output::tables::AccountEvent;
use crate::rules::arrears::Outage;
use crate::rules::ledger::Ledger;
use crate::rules::renewals::Terms;
use chrono::Days;

/// Whether `sub` follows the plan expiry timeline.
pub fn applies(pe: &PlanExpiry, sub: &Subscription) -> bool {
    pe.products.iter().any(|p| **p == *sub.product)
}

/// Events, out-of-service intervals and rejected renewals of one plan.
#[derive(Debug, Clone, Default)]
pub struct PlanTimeline {
    pub events: Vec<AccountEvent>,
    pub outages: Vec<Outage>,
    pub violations: Vec<Violation>,
}

pub fn timeline(
    ledger: &Ledger,
    sub: &Subscription,
    terms: &Terms,
    pe: &PlanExpiry,
    as_of: Ts,
) -> PlanTimeline {
    let mut out = PlanTimeline::default();
    let product = Some(sub.product.clone());
    let sid = Some(sub.subscription_id.clone());
    let end_of_life = sub.released_at.map_or(as_of, |r| r.min(as_of));
    let push = |out: &mut PlanTimeline, event: &'static str, at: Ts, detail: String| {
        out.events
            .push(ledger.event(product.clone(), event, at, sid.clone(), detail));
    };
    for (k, term) in terms.terms.iter().enumerate() {
        let e = term.end;
        let next = terms.terms.get(k + 1);
        let renewal = next.and_then(|n| n.renewed_at);
        // A step of this expiry happens before the next renewal, the release and the as-of moment.
        let cutoff = renewal.map_or(end_of_life, |r| r.min(end_of_life));
        let happens = |at: Ts| at < cutoff;
        let known = term.known_at(sub);
        let expiry_day = local_date(e);
        for &d in &pe.warning_days {
            let Some(day) = expiry_day.checked_sub_days(Days::new(d.max(0) as u64)) else {
                continue;
            };
            let at = day_start_of_date(day);
            if at >= known && happens(at) {
                let when = match d {
                    0 => "today".to_string(),
                    1 => "in 1 day".to_string(),
                    _ => format!("in {d} days"),
                };
                push(
                    &mut out,
                    "expiry_warning",
                    at,
                    format!("plan {} expires {} ({when})", sub.plan, format_local(e)),
                );
            }
        }
        let stop_at = e + pe.buffer_days * DAY;
        let reclaim_at = e + pe.stopped_days * DAY;
        if happens(e) {
            push(
                &mut out,
                "buffer_started",
                e,
                format!(
                    "expired; still serving for {} day(s) until {}",
                    pe.buffer_days,
                    format_local(stop_at)
                ),
            );
        }
        if happens(stop_at) {
            push(
                &mut out,
                "stopped",
                stop_at,
                format!("reclaimed at {} unless renewed", format_local(reclaim_at)),
            );
            out.outages.push(Outage {
                product: sub.product.clone(),
                instance_id: Some(sub.subscription_id.clone()),
                cause: format!("plan {} stopped after expiry", sub.subscription_id),
                from: stop_at,
                until: renewal.filter(|r| *r < end_of_life),
            });
        }
        if happens(reclaim_at) {
            push(
                &mut out,
                "reclaimed",
                reclaim_at,
                "configuration destroyed".into(),
            );
        }
        if let (Some(r), Some(n)) = (renewal, next) {
            if r > e && r < end_of_life {
                let phase = if r < stop_at {
                    "buffer"
                } else {
                    "stopped days"
                };
                push(
                    &mut out,
                    "restored",
                    r,
                    format!(
                        "renewed {} month(s) during the {phase}; expires {}",
                        n.months,
                        format_local(n.end)
                    ),
                );
            }
        }
    }
    out.violations = terms
        .rejected
        .iter()
        .map(|r| {
            Violation::new(
                "events",
                &*r.event_id,
                "renewal_rejected",
                format!("renewal of {}: {}", sub.subscription_id, r.reason),
                Some(r.at),
            )
        })
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Event;
    use crate::rules::ledger::tests::{account, dec};
    use crate::rules::renewals::tests::{plan, renew, t};
    use crate::rules::renewals::{lapse, terms};

    fn pe() -> PlanExpiry {
        crate::rules::deduction::tests::catalog().plan_expiry
    }

    fn run(sub: &Subscription, renewals: &[Event], as_of: &str) -> PlanTimeline {
        let a = account("100", "2024-01-01 00:00:00");
        let l = Ledger::new("acct-1".into(), Some(&a), &[], &[], t(as_of));
        let rs: Vec<&Event> = renewals.iter().collect();
        let ts = terms(sub, &rs, lapse(&pe(), &sub.product));
        timeline(&l, sub, &ts, &pe(), t(as_of))
    }

    fn evs(p: &PlanTimeline) -> Vec<(&'static str, Ts)> {
        p.events.iter().map(|e| (e.event, e.at)).collect()
    }

    #[test]
    fn unrenewed_plan_warnings_buffer_stop_reclaim() {
        let s = plan("s", "2024-05-10 15:00:00", "2024-06-10 15:00:00");
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
    }

    #[test]
    fn renewal_on_buffer_day_restores_and_extends_from_old_expiry() {
        let s = plan("s", "2024-05-10 15:00:00", "2024-06-10 15:00:00");
        let r = renew("r1", "s", "2024-06-11 09:00:00", Some(1));
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
        let s = plan("s", "2024-05-10 15:00:00", "2024-06-10 15:00:00");
        // Renewed on 06-06 (after the 7- and 5-day warnings): no more steps for 06-10.
        let r = renew("r1", "s", "2024-06-06 12:00:00", Some(3));
        let p = run(&s, &[r], "2024-08-01");
        assert_eq!(
            evs(&p),
            [
                ("expiry_warning", t("2024-06-03 00:00:00")),
                ("expiry_warning", t("2024-06-05 00:00:00")),
            ]
        );
        // Renewed on day 4 after expiry: stopped from 06-11 15:00 to the renewal.
        let r = renew("r1", "s", "2024-06-14 10:00:00", Some(1));
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
        // Renewed after reclaim: rejected, reported.
        let r = renew("r9", "s", "2024-06-20 10:00:00", Some(1));
        let p = run(&s, &[r], "2024-07-01");
        assert_eq!(
            evs(&p).last(),
            Some(&("reclaimed", t("2024-06-18 15:00:00")))
        );
        assert_eq!(p.violations.len(), 1);
        assert_eq!(
            (
                p.violations[0].source_id.as_str(),
                p.violations[0].rule.as_str()
            ),
            ("r9", "renewal_rejected")
        );
    }
}
