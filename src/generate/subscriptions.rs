//! Subscriptions and their events (`subscriptions/`, `events/`): mini-program gateway plans
//! (monthly, some with the elastic switch on, some upgraded or renewed) and API gateway
//! dedicated instances (monthly, some renewed, or hourly, some released), each with the metered
//! instance that produces its usage; and the `refund` / `upgrade` / `renew` events.
//!
//! Invariants: a subscription's metered instance runs from its start to its expiry or release
//! (to the range's end when renewed), clamped to the range; event ids are `evt-` + 6 digits in
//! creation order; prices are the catalog's ([`MPGW_PLANS`], [`apigw_price`]).

use super::add_months;
use super::draw::Draw;
use super::model::{apigw_price, cents, APIGW_PLANS, MPGW_PLANS, REGIONS};
use super::tables::{EventRow, SubscriptionRow};
use super::usage::{Instance, Meter};
use super::world::Gen;
use crate::calendar::{Ts, DAY, HOUR};
use rand::Rng;
use rust_decimal::Decimal;

/// A dedicated instance before its billing mode's draws.
struct Dedicated<'a> {
    id: &'a str,
    uin: &'a str,
    /// Index into [`APIGW_PLANS`].
    plan: usize,
    region: &'static str,
}

/// A drawn mini-program gateway plan.
struct MpgwPlan {
    row: SubscriptionRow,
    /// Index into [`MPGW_PLANS`].
    plan: usize,
    expires: Ts,
    paid_cents: i64,
}

impl Gen {
    /// Pushes an event on `target`.
    pub(super) fn event(
        &mut self,
        kind: &'static str,
        target: &str,
        at: Ts,
        plan: Option<&'static str>,
        months: Option<i32>,
    ) {
        self.next_event += 1;
        self.tables.events.push(EventRow {
            event_id: format!("evt-{:06}", self.next_event),
            kind,
            target_id: target.to_string(),
            at,
            new_plan: plan,
            months,
            price_paid: None,
            auto: None,
        });
    }

    /// Pushes a `renew` event on package `target` (docs/rules.md §3.8): `months` natural months
    /// for `price_paid` CNY, `auto` when the platform renewed it automatically.
    pub(super) fn package_renewal(
        &mut self,
        target: &str,
        at: Ts,
        months: i32,
        price_paid: Decimal,
        auto: bool,
    ) {
        self.event("renew", target, at, None, Some(months));
        if let Some(e) = self.tables.events.last_mut() {
            (e.price_paid, e.auto) = (Some(price_paid), Some(auto));
        }
    }

    /// A mini-program gateway plan, its upgrade and renewal events and its metered instance;
    /// returns (price paid plus the estimated elastic fees, in cents; start). `forced`: a
    /// `starter` plan of one month starting a month before the range's middle, with every
    /// option.
    pub(super) fn mpgw_plan(
        &mut self,
        i: usize,
        uin: &str,
        home: usize,
        forced: bool,
    ) -> (i64, Ts) {
        let range = self.range;
        let id = self.unique_id("mpgw-");
        let MpgwPlan {
            row,
            plan,
            expires,
            paid_cents,
        } = self.mpgw_subscription(&id, uin, home, forced);
        let (started, elastic_on) = (row.started_at, row.elastic_on_at);
        // Plans of at most 50,000 QPS with the switch on: one in four (and the forced plan)
        // peak above 5 × the plan (the upgraded plan, if upgraded) every seventh day: an elastic
        // base above the cap of 4 × the plan (docs/rules.md §4.3).
        let surge = elastic_on.is_some()
            && MPGW_PLANS[plan].1 <= 50_000
            && (forced || self.extra.chance(250));
        let rng = &mut self.rng;
        let renew =
            expires > range.start && expires < range.end + 3 * DAY && (forced || rng.chance(500));
        let upgrade = plan + 1 < MPGW_PLANS.len() && (forced || rng.chance(300));
        self.tables.subscriptions.push(row);
        if upgrade {
            let lo = started.max(range.start);
            let hi = expires.min(range.end);
            let at = self.rng.instant(lo, lo + (hi - lo) / 2);
            self.event("upgrade", &id, at, Some(MPGW_PLANS[plan + 1].0), None);
        }
        if renew {
            let at = (expires - self.rng.gen_range(1..6) * DAY).max(started + HOUR);
            let m = self.rng.one_of(&[1, 1, 3]);
            self.event("renew", &id, at, None, Some(m));
        }
        let (_, qps, mbps, _) = MPGW_PLANS[plan];
        let load_pm = self.rng.gen_range(250..1100);
        let meter = Meter::Peaks {
            qps,
            mbps,
            load_pm,
            surge_every: surge.then_some(7),
            surge_qps: MPGW_PLANS[plan + upgrade as usize].1,
        };
        let mut inst = self.instance(i, home, ("mpgw", "elastic"), id, meter);
        inst.first_hour = range.hour_at_or_after(started);
        inst.end_hour = if renew {
            range.hours()
        } else {
            range.hour_at_or_after(expires)
        };
        inst.end_hour = inst.end_hour.max(inst.first_hour);
        let elastic = if elastic_on.is_some() {
            (inst.spend_estimate() / 10_000) as i64
        } else {
            0
        };
        self.instances.push(inst);
        (paid_cents + elastic, started)
    }

    /// The subscription of a mini-program gateway plan.
    fn mpgw_subscription(&mut self, id: &str, uin: &str, home: usize, forced: bool) -> MpgwPlan {
        let range = self.range;
        let rng = &mut self.rng;
        let plan = if forced {
            2
        } else {
            rng.pick(&[20, 25, 25, 15, 8, 4, 2, 1])
        };
        let months = if forced {
            1
        } else {
            rng.one_of(&[1, 1, 3, 6, 12])
        };
        let started = if forced {
            let middle = range.start + range.len() / 2;
            rng.instant(middle - 30 * DAY, middle - 29 * DAY)
        } else {
            rng.instant(
                range.start - (months as i64 * 30 - 2) * DAY,
                range.end - DAY,
            )
        };
        let (name, _, _, monthly) = MPGW_PLANS[plan];
        let discount = rng.one_of(&[1000, 1000, 900, 850]);
        let list = monthly * 100 * months as i64;
        let paid_cents = list * discount / 1000;
        let expires = add_months(started, months);
        let elastic_on = (forced || rng.chance(500)).then(|| {
            let lo = started.max(range.start);
            rng.instant(lo, lo + 3 * DAY)
        });
        let elastic_off = elastic_on
            .filter(|_| rng.chance(200))
            .map(|on| on + rng.gen_range(2..10) * DAY);
        // The order's elastic price: 0.999 on most orders, left null on one in five (the
        // catalog's price in force at `elastic_on_at` then applies).
        let elastic_price = elastic_on
            .filter(|_| !self.extra.chance(200))
            .map(|_| Decimal::new(999, 3));
        let attached = if rng.chance(300) {
            0
        } else {
            rng.gen_range(1..6)
        };
        let row = SubscriptionRow {
            subscription_id: id.to_string(),
            owner_uin: uin.to_string(),
            product: "mpgw",
            plan: name,
            region: REGIONS[home].id,
            billing_mode: "monthly",
            started_at: started,
            expires_at: Some(expires),
            released_at: None,
            list_price: cents(list),
            discount: Decimal::new(discount, 3),
            price_paid: cents(paid_cents),
            elastic_on_at: elastic_on,
            elastic_off_at: elastic_off,
            attached_apps: attached,
            elastic_unit_price: elastic_price,
        };
        MpgwPlan {
            row,
            plan,
            expires,
            paid_cents,
        }
    }

    /// An API gateway dedicated instance (monthly or hourly, `None`: seven in ten monthly), its
    /// renewal and its metered instance; returns (price paid, or the hourly fees until release
    /// or the range end, in cents; start; instance).
    pub(super) fn apigw_dedicated(
        &mut self,
        i: usize,
        uin: &str,
        home: usize,
        monthly: Option<bool>,
    ) -> (i64, Ts, Instance) {
        let range = self.range;
        let id = self.unique_id("apigw-");
        let plan = self.rng.pick(&[50, 25, 15, 7, 3]);
        let monthly = monthly.unwrap_or_else(|| self.rng.chance(700));
        let d = Dedicated {
            id: &id,
            uin,
            plan,
            region: REGIONS[home].id,
        };
        let (row, paid, renew) = if monthly {
            self.apigw_monthly(&d)
        } else {
            let (row, fees) = self.apigw_hourly(&d);
            (row, fees, false)
        };
        let started = row.started_at;
        let stop = if renew {
            None
        } else {
            row.expires_at.or(row.released_at)
        };
        if let (true, Some(exp)) = (renew, row.expires_at) {
            let at = (exp - self.rng.gen_range(1..4) * DAY).max(started + HOUR);
            self.event("renew", &id, at, None, Some(1));
        }
        self.tables.subscriptions.push(row);
        let rng = &mut self.rng;
        let meter = Meter::Api {
            calls: APIGW_PLANS[plan].1 * 3600 * rng.gen_range(5..60) / 1000,
            kb_milli_per_call: rng.gen_range(500..4000),
            egress_mb: true,
        };
        let mut inst = self.instance(i, home, ("apigw", "dedicated-instance"), id, meter);
        inst.first_hour = range.hour_at_or_after(started);
        inst.end_hour = stop
            .map_or(range.hours(), |s| range.hour_at_or_after(s))
            .max(inst.first_hour);
        (paid, started, inst)
    }

    /// A monthly dedicated instance of 1 to 12 months; returns (row, price paid in cents,
    /// whether it is renewed: half of those expiring inside the range).
    fn apigw_monthly(&mut self, d: &Dedicated<'_>) -> (SubscriptionRow, i64, bool) {
        let range = self.range;
        let rng = &mut self.rng;
        let months = rng.one_of(&[1, 3, 6, 12]);
        let started = rng.instant(range.start - months as i64 * 28 * DAY, range.end - DAY);
        let expires = add_months(started, months);
        let (price, _) = apigw_price(d.plan, started);
        let discount = rng.one_of(&[1000, 1000, 900, 800]);
        let list = price * months as i64;
        let paid = list * discount / 1000;
        let renew = expires > range.start && expires < range.end && rng.chance(500);
        let row = SubscriptionRow {
            subscription_id: d.id.to_string(),
            owner_uin: d.uin.to_string(),
            product: "apigw",
            plan: APIGW_PLANS[d.plan].0,
            region: d.region,
            billing_mode: "monthly",
            started_at: started,
            expires_at: Some(expires),
            released_at: None,
            list_price: cents(list),
            discount: Decimal::new(discount, 3),
            price_paid: cents(paid),
            elastic_on_at: None,
            elastic_off_at: None,
            attached_apps: 0,
            elastic_unit_price: None,
        };
        (row, paid, renew)
    }

    /// An hourly dedicated instance, four in ten released inside the range; returns (row, its
    /// hourly fees until release or the range's end, in cents). The fees are charged per hour
    /// of existence, so they count in the spend, not in `price_paid`.
    fn apigw_hourly(&mut self, d: &Dedicated<'_>) -> (SubscriptionRow, i64) {
        let range = self.range;
        let rng = &mut self.rng;
        let started = rng.instant(range.start - 30 * DAY, range.end - DAY);
        let released = rng
            .chance(400)
            .then(|| rng.instant(started.max(range.start) + HOUR, range.end));
        let (_, hourly) = apigw_price(d.plan, started);
        let row = SubscriptionRow {
            subscription_id: d.id.to_string(),
            owner_uin: d.uin.to_string(),
            product: "apigw",
            plan: APIGW_PLANS[d.plan].0,
            region: d.region,
            billing_mode: "hourly",
            started_at: started,
            expires_at: None,
            released_at: released,
            list_price: cents(hourly),
            discount: Decimal::ONE,
            price_paid: Decimal::ZERO,
            elastic_on_at: None,
            elastic_off_at: None,
            attached_apps: 0,
            elastic_unit_price: None,
        };
        (
            row,
            hourly * (released.unwrap_or(range.end) - started) / HOUR,
        )
    }
}
