//! Renewals of monthly subscriptions (RULES.md §4.3, §5): the paid terms of a subscription.
//!
//! A subscription's first term is `[started_at, expires_at)`. Each accepted `renew` event
//! (`target_id` = the subscription, `months` > 0) adds a term that starts where the previous one
//! ends and lasts `months` calendar months. The stage that charges renewal fees and the plan
//! expiry timeline (`rules::plan_expiry`) both read the same [`terms`].
//!
//! Invariants: terms are contiguous (`terms[k].end == terms[k + 1].start`), each ends after it
//! starts, and renewals are taken in the total order `(at, event_id)`.
//!
//! **Decision:** term ends are anchored at the original expiry, never chained: the end after a
//! total of `n` renewed months is `expires_at + n months` on the UTC+8 wall clock, the day clamped
//! to the month's last day (like `calendar`'s `1mo` cycles). So 01-31 renewed twice by one month
//! ends 03-31, not 03-29.
//!
//! **Decision:** a renewal always extends from the previous expiry, whenever it is made — before
//! expiry, during the buffer day or the stopped days (the lapsed days are not given back).
//!
//! **Decision:** a renewal is rejected (reported in [`Terms::rejected`], no term) when the
//! subscription has no expiry (hourly), `months` is missing or not positive, it comes before the
//! subscription started or at/after its release, or — when the product has a plan expiry
//! timeline — after the plan was reclaimed (later than `lapse` after the current expiry; a renewal
//! exactly at the reclaim instant is still accepted: inputs at an instant come before scheduled
//! steps at that instant).

use crate::calendar::{add_months_clamped, from_local, local, Ts, DAY};
use crate::catalog::PlanExpiry;
use crate::input::{BillingMode, Event, EventKind, Subscription};
use std::sync::Arc;

/// One paid term `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub start: Ts,
    pub end: Ts,
    /// The renewal that bought this term (`None` for the first term, bought at `started_at`).
    pub renewed_at: Option<Ts>,
    pub event_id: Option<Arc<str>>,
    /// Months bought by the renewal (0 for the first term).
    pub months: i64,
}

impl Term {
    /// When this term's expiry became known: the renewal, or the subscription's start.
    pub fn known_at(&self, sub: &Subscription) -> Ts {
        self.renewed_at.unwrap_or(sub.started_at)
    }
}

/// A renewal that bought nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub event_id: Arc<str>,
    pub at: Ts,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Terms {
    pub terms: Vec<Term>,
    pub rejected: Vec<Rejected>,
}

/// How long after an expiry a renewal is still accepted for `product`: up to the reclaim instant
/// (`stopped_days` after expiry) for products with a plan expiry timeline, otherwise forever.
pub fn lapse(pe: &PlanExpiry, product: &str) -> Option<Ts> {
    pe.products
        .iter()
        .any(|p| p == product)
        .then_some(pe.stopped_days * DAY)
}

/// The paid terms of `sub`. `renewals` may hold any events: only `renew` events targeting `sub`
/// are read, in `(at, event_id)` order. `lapse`: see [`lapse`].
pub fn terms(sub: &Subscription, renewals: &[&Event], lapse: Option<Ts>) -> Terms {
    let mut out = Terms::default();
    let mut rs: Vec<&Event> = renewals
        .iter()
        .copied()
        .filter(|e| e.kind == EventKind::Renew && e.target_id == sub.subscription_id)
        .collect();
    rs.sort_by(|a, b| (a.at, &a.event_id).cmp(&(b.at, &b.event_id)));
    let expiry = match (sub.billing_mode, sub.expires_at) {
        (BillingMode::Monthly, Some(e)) if e > sub.started_at => e,
        _ => {
            out.rejected = rs
                .iter()
                .map(|e| reject(e, "the subscription has no monthly expiry"))
                .collect();
            return out;
        }
    };
    out.terms.push(Term {
        start: sub.started_at,
        end: expiry,
        renewed_at: None,
        event_id: None,
        months: 0,
    });
    let mut total_months = 0i64;
    for e in rs {
        let end = out.terms.last().expect("first term pushed").end;
        let months = e.months.unwrap_or(0);
        let why = if months <= 0 {
            Some("months missing or not positive".to_string())
        } else if e.at < sub.started_at {
            Some("before the subscription started".to_string())
        } else if sub.released_at.is_some_and(|r| e.at >= r) {
            Some("at or after the subscription's release".to_string())
        } else if lapse.is_some_and(|l| e.at > end + l) {
            Some(format!(
                "after the plan was reclaimed ({} after expiry {})",
                crate::calendar::format_local(end + lapse.unwrap_or(0)),
                crate::calendar::format_local(end)
            ))
        } else {
            None
        };
        if let Some(reason) = why {
            out.rejected.push(Rejected {
                event_id: e.event_id.clone(),
                at: e.at,
                reason,
            });
            continue;
        }
        total_months += months;
        let new_end = from_local(add_months_clamped(local(expiry), total_months as i32));
        out.terms.push(Term {
            start: end,
            end: new_end,
            renewed_at: Some(e.at),
            event_id: Some(e.event_id.clone()),
            months,
        });
    }
    out
}

fn reject(e: &Event, reason: &str) -> Rejected {
    Rejected {
        event_id: e.event_id.clone(),
        at: e.at,
        reason: reason.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::calendar::parse_local;
    use rust_decimal::Decimal;

    pub fn t(s: &str) -> Ts {
        parse_local(s).unwrap()
    }

    pub fn plan(id: &str, start: &str, expires: &str) -> Subscription {
        Subscription {
            subscription_id: id.into(),
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
        }
    }

    pub fn renew(id: &str, target: &str, at: &str, months: Option<i64>) -> Event {
        Event {
            event_id: id.into(),
            kind: EventKind::Renew,
            target_id: target.into(),
            at: t(at),
            new_plan: None,
            months,
        }
    }

    fn ends(ts: &Terms) -> Vec<(Ts, Ts, Option<Ts>, i64)> {
        ts.terms
            .iter()
            .map(|x| (x.start, x.end, x.renewed_at, x.months))
            .collect()
    }

    #[test]
    fn renewals_extend_from_the_old_expiry_anchored_and_clamped() {
        let s = plan("s", "2024-01-01 10:00:00", "2024-01-31 10:00:00");
        // Given out of order: taken by (at, event_id).
        let r2 = renew("r2", "s", "2024-02-27 00:00:00", Some(1));
        let r1 = renew("r1", "s", "2024-01-20 00:00:00", Some(1));
        let other = renew("x", "other", "2024-01-21 00:00:00", Some(5));
        let ts = terms(&s, &[&r2, &other, &r1], None);
        assert_eq!(
            ends(&ts),
            [
                (t("2024-01-01 10:00:00"), t("2024-01-31 10:00:00"), None, 0),
                (
                    t("2024-01-31 10:00:00"),
                    t("2024-02-29 10:00:00"),
                    Some(t("2024-01-20 00:00:00")),
                    1
                ),
                // Anchored at the original expiry: 01-31 + 2 months = 03-31, not 03-29.
                (
                    t("2024-02-29 10:00:00"),
                    t("2024-03-31 10:00:00"),
                    Some(t("2024-02-27 00:00:00")),
                    1
                ),
            ]
        );
        assert!(ts.rejected.is_empty());
    }

    #[test]
    fn renewal_during_stopped_days_extends_from_old_expiry_and_late_ones_are_rejected() {
        let pe = PlanExpiry {
            products: vec!["mpgw".into()],
            warning_days: vec![7, 5, 3, 1, 0],
            buffer_days: 1,
            stopped_days: 8,
        };
        let s = plan("s", "2024-03-05 12:00:00", "2024-04-05 12:00:00");
        let lapse = lapse(&pe, "mpgw");
        assert_eq!(lapse, Some(8 * DAY));
        // Renewed on day 3 after expiry: extends 04-05 → 07-05 (3 months).
        let late = renew("r1", "s", "2024-04-08 09:00:00", Some(3));
        let ts = terms(&s, &[&late], lapse);
        assert_eq!(ts.terms[1].end, t("2024-07-05 12:00:00"));
        assert_eq!(ts.terms[1].start, t("2024-04-05 12:00:00"));
        // Exactly at reclaim (expiry + 8 days): accepted; one hour later: rejected.
        let at_reclaim = renew("r1", "s", "2024-04-13 12:00:00", Some(1));
        assert_eq!(terms(&s, &[&at_reclaim], lapse).terms.len(), 2);
        let after = renew("r1", "s", "2024-04-13 13:00:00", Some(1));
        let ts = terms(&s, &[&after], lapse);
        assert_eq!(ts.terms.len(), 1);
        assert_eq!(ts.rejected.len(), 1);
        assert!(ts.rejected[0]
            .reason
            .starts_with("after the plan was reclaimed"));
        // Without a plan expiry timeline (e.g. apigw) any later renewal counts.
        assert_eq!(terms(&s, &[&after], None).terms.len(), 2);
    }

    #[test]
    fn invalid_renewals_are_rejected_with_reasons() {
        let mut s = plan("s", "2024-03-05 12:00:00", "2024-04-05 12:00:00");
        s.released_at = Some(t("2024-03-20 00:00:00"));
        let none = renew("a", "s", "2024-03-10 00:00:00", None);
        let early = renew("b", "s", "2024-03-01 00:00:00", Some(1));
        let released = renew("c", "s", "2024-03-20 00:00:00", Some(1));
        let ts = terms(&s, &[&none, &early, &released], None);
        assert_eq!(ts.terms.len(), 1);
        let reasons: Vec<(&str, &str)> = ts
            .rejected
            .iter()
            .map(|r| (&*r.event_id, r.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                ("b", "before the subscription started"),
                ("a", "months missing or not positive"),
                ("c", "at or after the subscription's release"),
            ]
        );
        s.billing_mode = BillingMode::Hourly;
        s.expires_at = None;
        let ok = renew("d", "s", "2024-03-10 00:00:00", Some(1));
        let ts = terms(&s, &[&ok], None);
        assert!(ts.terms.is_empty());
        assert_eq!(
            ts.rejected[0].reason,
            "the subscription has no monthly expiry"
        );
    }
}
