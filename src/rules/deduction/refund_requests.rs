//! Package refund requests met in the sweep (docs/rules.md §3.3.4, §6): a request at `t` is applied
//! before the first row whose `usage_end > t`, so usage up to the request counts as used and the
//! refund policy (`rules::refunds`) decides on what the sweep saw by then. An eligible request
//! sets the package's refund instant (the earlier of it and `refunded_at`), after which it covers
//! no hour that ends later.
//!
//! Invariants: requests are applied in `(at, event_id)` order, each exactly once (those after the
//! last row at the end of the sweep); a request reads the package's state and never moves it to
//! another cycle (see [`remaining_seen_at`]), so a refused request changes no draw.

use super::capacity::remaining_seen_at;
use super::sweep::Sweep;
use super::RefundRequest;
use crate::calendar::Ts;

impl Sweep<'_> {
    /// Applies the pool's refund requests before `until`, in order.
    pub(super) fn apply_refunds_before(&mut self, until: Ts) {
        let events = self.events;
        while let Some(&ei) = self.pool.refunds.get(self.next_refund) {
            let e = &events[ei];
            if e.at >= until {
                break;
            }
            // The pool holds the target: the request was put in this pool for it.
            let l = self
                .pool
                .packages
                .iter()
                .position(|&g| self.packages[g].package_id == e.target_id)
                .expect("refund targets a package of this pool");
            let p = self.package(l);
            let st = &mut self.state[l];
            let remaining = remaining_seen_at(p, st, e.at);
            let (eligible, reason) = (self.refund_policy)(p, st, e.at);
            if eligible {
                st.refund_at = Some(st.refund_at.map_or(e.at, |r| r.min(e.at)));
            }
            self.res.refund_requests.push(RefundRequest {
                event_index: ei,
                package_index: self.pool.packages[l],
                used: st.used,
                ever_used: !st.used.is_zero(),
                remaining,
                exhausted: st.exhausted_at.is_some_and(|x| x <= e.at),
                eligible,
                reason,
            });
            self.next_refund += 1;
        }
    }
}

#[cfg(test)]
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use super::super::tests::*;
    use crate::calendar::CycleLen;
    use crate::input::{Event, EventKind, PackageKind};
    use crate::money::Unit;
    use crate::rules::deduction::run;
    use rust_decimal_macros::dec;

    #[test]
    fn refund_requests_stop_coverage_from_their_instant() {
        let p = package(
            "P",
            PackageKind::Total,
            Some(dec!(10)),
            Unit::GB,
            "2024-01-01",
            "2025-01-01",
        );
        let ev = Event {
            event_id: "e1".into(),
            kind: EventKind::Refund,
            target_id: "P".into(),
            at: t("2024-05-01 11:30:00"),
            new_plan: None,
            months: None,
            price_paid: None,
            auto: None,
        };
        let rows = [
            usage("a", "2024-05-01 10:00:00", dec!(1), Unit::GB),
            usage("b", "2024-05-01 11:00:00", dec!(1), Unit::GB),
        ];
        let d = run(&rows, &[p], &[ev], &catalog(), &no_refunds);
        assert_eq!(d.covered, vec![dec!(1), dec!(0)]);
        assert_eq!(d.refund_requests.len(), 1);
        assert_eq!(d.refund_requests[0].used, dec!(1));
        assert!(!d.refund_requests[0].exhausted);
        assert_eq!(d.states[0].refund_at, Some(t("2024-05-01 11:30:00")));
    }

    /// A request sees the package exhausted from the end of the hour that drew it to 0 (§3.2;
    /// the quality traffic refund of an exhausted package is 0, §6).
    #[test]
    fn refund_requests_see_exhaustion_from_the_end_of_the_hour_that_used_the_package_up() {
        let p = package(
            "P",
            PackageKind::Total,
            Some(dec!(1)),
            Unit::GB,
            "2024-01-01",
            "2025-01-01",
        );
        let rows = [usage("a", "2024-05-01 10:00:00", dec!(1), Unit::GB)];
        // A request inside the hour comes before the hour's draw (see above).
        for (at, used, exhausted) in [
            ("2024-05-01 10:30:00", dec!(0), false),
            ("2024-05-01 11:00:00", dec!(1), true),
        ] {
            let ev = Event {
                event_id: "e1".into(),
                kind: EventKind::Refund,
                target_id: "P".into(),
                at: t(at),
                new_plan: None,
                months: None,
                price_paid: None,
                auto: None,
            };
            let d = run(&rows, &[p.clone()], &[ev], &catalog(), &no_refunds);
            assert_eq!(d.refund_requests[0].exhausted, exhausted, "{at}");
            assert_eq!(d.refund_requests[0].used, used, "{at}");
        }
    }

    /// A refused refund request between a cycle boundary and the end of an hour that started
    /// before it leaves the hour's cycle as it was: the hour draws what its cycle has left.
    #[test]
    fn refund_requests_leave_the_cycle_of_the_rows_as_it_was() {
        let mut p = package(
            "P",
            PackageKind::Periodic,
            Some(dec!(2)),
            Unit::GB,
            "2024-05-01 10:30:00",
            "2024-05-04 10:30:00",
        );
        p.cycle = Some(CycleLen::Day);
        let ev = Event {
            event_id: "e1".into(),
            kind: EventKind::Refund,
            target_id: "P".into(),
            // In cycle 1 ([05-02 10:30, 05-03 10:30)), inside row b's hour.
            at: t("2024-05-02 10:45:00"),
            new_plan: None,
            months: None,
            price_paid: None,
            auto: None,
        };
        let rows = [
            usage("a", "2024-05-02 09:00:00", dec!(1.5), Unit::GB),
            // 10:00–11:00 starts in cycle 0 ([05-01 10:30, 05-02 10:30)): 0.5 GB left there.
            usage("b", "2024-05-02 10:00:00", dec!(1), Unit::GB),
            usage("c", "2024-05-02 11:00:00", dec!(1), Unit::GB),
        ];
        let d = run(&rows, &[p], &[ev], &catalog(), &refuse_all);
        assert_eq!(
            draws(&d),
            vec![
                (
                    "P".into(),
                    Some(dec!(2)),
                    dec!(1.5),
                    Some(dec!(0.5)),
                    dec!(1.5)
                ),
                (
                    "P".into(),
                    Some(dec!(0.5)),
                    dec!(0.5),
                    Some(dec!(0)),
                    dec!(0.5)
                ),
                ("P".into(), Some(dec!(2)), dec!(1), Some(dec!(1)), dec!(1)),
            ]
        );
        assert_eq!(d.covered, vec![dec!(1.5), dec!(0.5), dec!(1)]);
        assert_eq!(d.details[1].cycle_start, Some(t("2024-05-01 10:30:00")));
        assert_eq!(d.details[2].cycle_start, Some(t("2024-05-02 10:30:00")));
        // The request saw its own cycle (1), untouched yet.
        assert_eq!(d.refund_requests.len(), 1);
        assert!(!d.refund_requests[0].eligible);
        assert_eq!(d.refund_requests[0].remaining, Some(dec!(2)));
        assert_eq!(d.refund_requests[0].used, dec!(1.5));
    }
}
