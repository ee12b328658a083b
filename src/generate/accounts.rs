//! Ordinary accounts: one per `--accounts`, with everything it owns — its metered instances,
//! packages, subscriptions, refund requests, opening balance and top-up payments.
//!
//! An account is drawn in a fixed order: its profile (uin, size, products, home region, API
//! gateway activation), its instances, its packages (sized from the instances' traffic), its
//! subscriptions, refund requests on its packages, and last its balance (sized from the spend
//! estimated so far). Accounts 0–3 get fixed features so that even a small dataset has every
//! package kind, product and event kind: 0 and 2 use the API gateway and traffic (0 in
//! Guangzhou with a monthly dedicated instance, 2 in Hong Kong with an accelerated instance and
//! an hourly one), 1 a mini-program gateway plan and traffic, 3 falls into arrears and tops up.

use super::draw::{pareto_size, Draw};
use super::model::TRAFFIC_PRODUCTS;
use super::model::{cents, DIURNAL_MEAN, GUANGZHOU, HONGKONG, REGIONS, SINGAPORE};
use super::packages::{free_quota, RegionTraffic};
use super::tables::{AccountRow, PaymentRow};
use super::usage::{Instance, Meter, Traffic};
use super::world::Gen;
use crate::calendar::{day_start, Ts, DAY, HOUR};
use rand::Rng;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// What an account is, drawn first: the rest of the account follows from it.
struct Profile {
    i: usize,
    uin: String,
    /// Number of instances (Pareto).
    size: usize,
    api: bool,
    traffic: bool,
    mpgw: bool,
    /// Index into [`REGIONS`].
    home: usize,
    apigw_activated: Option<Ts>,
}

/// The account's metered instances, summed up for sizing its packages.
struct Fleet {
    by_region: BTreeMap<usize, RegionTraffic>,
    api_count: usize,
    api_calls_month: u64,
}

/// What the account is estimated to spend, for its opening balance.
struct Spend {
    /// Pay-as-you-go usage, micro-CNY.
    usage_micros: i128,
    /// Packages and subscriptions bought, cents.
    purchases_cents: i64,
    /// The earliest purchase, start or activation (the account opens before it).
    earliest: Ts,
}

fn region_weights() -> Vec<u32> {
    REGIONS.iter().map(|r| r.weight).collect()
}

impl Gen {
    /// One ordinary account with everything it owns.
    pub(super) fn account(&mut self, i: usize) {
        let a = self.profile(i);
        let mut spend = Spend {
            usage_micros: 0,
            purchases_cents: 0,
            earliest: a
                .apigw_activated
                .map_or(self.range.start, |at| at.min(self.range.start)),
        };
        let fleet = self.instances_of(&a, &mut spend);
        let first_pkg = self.packages_of(&a, &fleet, &mut spend);
        self.subscriptions_of(&a, &mut spend);
        self.refund_requests(i, first_pkg);
        self.balance(&a, &spend);
    }

    fn profile(&mut self, i: usize) -> Profile {
        let range = self.range;
        let uin = format!(
            "{}",
            100_000_000_000u64 + i as u64 * 1000 + self.rng.gen_range(0..1000u64)
        );
        self.uins.push(uin.clone());
        let size = if i < 3 {
            pareto_size(&mut self.rng).max(3)
        } else {
            pareto_size(&mut self.rng)
        };
        let rng = &mut self.rng;
        let (mut api, mut traffic, mut mpgw) = (rng.chance(450), rng.chance(700), rng.chance(100));
        match i {
            0 | 2 => (api, traffic) = (true, true),
            1 => (mpgw, traffic) = (true, true),
            _ => {}
        }
        if !(api || traffic || mpgw) {
            traffic = true;
        }
        let home = match i {
            0 => GUANGZHOU,
            2 => HONGKONG,
            _ => rng.pick(&region_weights()),
        };
        // A quarter activate inside the range, the rest up to ~500 days before.
        let apigw_activated = api.then(|| {
            if rng.chance(250) {
                rng.instant(range.start, range.end - HOUR)
            } else {
                let day = range.start - rng.gen_range(1..500) * DAY;
                rng.instant(day, day + DAY)
            }
        });
        Profile {
            i,
            uin,
            size,
            api,
            traffic,
            mpgw,
            home,
            apigw_activated,
        }
    }

    /// The account's API gateway and pay-by-traffic instances: with both products, the first
    /// is an API gateway, the second a traffic instance, the rest three in ten API gateways.
    fn instances_of(&mut self, a: &Profile, spend: &mut Spend) -> Fleet {
        let doublings = 8 + (a.size.min(32) / 4) as u32;
        let weights = region_weights();
        let mut fleet = Fleet {
            by_region: BTreeMap::new(),
            api_count: 0,
            api_calls_month: 0,
        };
        let mut first_traffic = true;
        for k in 0..a.size {
            let rng = &mut self.rng;
            let is_api = match (a.api, a.traffic) {
                (true, true) => k == 0 || (k != 1 && rng.chance(300)),
                (api, _) => api,
            };
            if !is_api && !a.traffic {
                break; // mini-program gateway only
            }
            let region = if rng.chance(750) {
                a.home
            } else {
                rng.pick(&weights)
            };
            let inst = if is_api {
                fleet.api_count += 1;
                let websocket = a.i == 2 && fleet.api_count == 1;
                self.api_instance(a, region, doublings, websocket)
            } else {
                let forced = a.i == 2 && first_traffic;
                first_traffic = false;
                self.traffic_instance(a.i, region, doublings, forced)
            };
            spend.usage_micros += inst.spend_estimate();
            if let Meter::Traffic(t) = inst.meter {
                let rt = fleet.by_region.entry(inst.region).or_default();
                let gb = inst.gb_per_month();
                rt.gb_month += gb;
                if let Some(pm) = t.to_mainland_pm {
                    rt.accelerated_gb_month += gb * pm / 1000;
                    rt.accelerated_products.insert(inst.product);
                }
            }
            self.instances.push(inst);
        }
        fleet.api_calls_month = self
            .instances
            .iter()
            .rev()
            .take_while(|x| x.account == a.i)
            .map(|x| match x.meter {
                Meter::Api { calls, .. } => calls * DIURNAL_MEAN / 1000 * 720,
                _ => 0,
            })
            .sum();
        fleet
    }

    /// A shared API gateway instance, or one in twelve (`websocket`: always) an API with a
    /// WebSocket backend, whose calls are not billed (docs/rules.md §4.1); it makes no calls
    /// before the gateway is activated.
    fn api_instance(
        &mut self,
        a: &Profile,
        region: usize,
        doublings: u32,
        websocket: bool,
    ) -> Instance {
        let rng = &mut self.rng;
        let sub_product = if websocket || self.extra.chance(80) {
            "websocket"
        } else {
            "shared-instance"
        };
        let calls =
            (10u64 << rng.gen_range(0..doublings.min(14))) * rng.gen_range(1000..2000) / 1000;
        let meter = Meter::Api {
            calls,
            kb_milli_per_call: rng.gen_range(500..8000),
            egress_mb: rng.chance(400),
        };
        let id = self.unique_id("service-");
        let mut inst = self.instance(a.i, region, ("apigw", sub_product), id, meter);
        if let Some(at) = a.apigw_activated {
            inst.first_hour = inst.first_hour.max(self.range.hour_at_or_after(at));
            inst.end_hour = inst.end_hour.max(inst.first_hour);
        }
        inst
    }

    /// A pay-by-traffic instance; in Hong Kong or Singapore a cvm or eip may be accelerated
    /// (`forced`: always, an eip in Hong Kong).
    fn traffic_instance(
        &mut self,
        i: usize,
        region: usize,
        doublings: u32,
        forced: bool,
    ) -> Instance {
        let rng = &mut self.rng;
        let weights: Vec<u32> = TRAFFIC_PRODUCTS.iter().map(|p| p.3).collect();
        let region = if forced { HONGKONG } else { region };
        let pi = if forced { 1 } else { rng.pick(&weights) };
        let (product, sub, prefix, _) = TRAFFIC_PRODUCTS[pi];
        let accel_ok = matches!(region, HONGKONG | SINGAPORE) && pi <= 1;
        let to_mainland_pm =
            (forced || (accel_ok && rng.chance(350))).then(|| rng.gen_range(300..800));
        let extra = match rng.gen_range(0..100u32) {
            0..=14 => Some("inbound"),
            15..=19 => Some("internal"),
            _ => None,
        };
        let meter = Meter::Traffic(Traffic {
            mb_milli: (1000u64 << rng.gen_range(0..doublings.min(14))) * rng.gen_range(1000..2000)
                / 1000,
            in_gb: rng.chance(if pi <= 1 { 500 } else { 300 }),
            to_mainland_pm,
            extra,
            explicit_outbound: rng.chance(300),
        });
        let id = self.unique_id(prefix);
        self.instance(i, region, (product, sub), id, meter)
    }

    /// The account's packages: the API gateway free quota if activated, API gateway packs if it
    /// has API gateway instances, traffic packages in its first three regions with traffic.
    /// Returns the index of its first package.
    fn packages_of(&mut self, a: &Profile, fleet: &Fleet, spend: &mut Spend) -> usize {
        let first_pkg = self.tables.packages.len();
        let first_event = self.tables.events.len();
        if let Some(at) = a.apigw_activated {
            let ids = [self.pkg_id(), self.pkg_id()];
            let (p, s) = free_quota(&a.uin, at, ids);
            self.tables.packages.extend(p);
            self.tables.scopes.extend(s);
        }
        if fleet.api_count > 0 {
            let activated = a.apigw_activated.unwrap_or(self.range.start);
            self.api_packages(a.i, &a.uin, fleet.api_calls_month.max(1), activated);
        }
        for (k, (&region, rt)) in fleet.by_region.iter().enumerate().take(3) {
            self.traffic_packages(a.i, &a.uin, REGIONS[region].id, rt, k == 0);
        }
        for p in &self.tables.packages[first_pkg..] {
            spend.purchases_cents += (p.price_paid * Decimal::from(100)).to_i64().unwrap_or(0);
            spend.earliest = spend.earliest.min(p.purchased_at.unwrap_or(p.effective_at));
        }
        // Package renewals (docs/rules.md §3.8) are paid at their instant too.
        for e in &self.tables.events[first_event..] {
            let paid = e.price_paid.unwrap_or_default() * Decimal::from(100);
            spend.purchases_cents += paid.to_i64().unwrap_or(0);
        }
        first_pkg
    }

    /// Mini-program gateway plans (two for a large account) and, for one API gateway user in
    /// eight, a dedicated instance (account 0 a monthly one, account 2 an hourly one).
    fn subscriptions_of(&mut self, a: &Profile, spend: &mut Spend) {
        if a.mpgw {
            let plans = if a.size > 8 { 2 } else { 1 };
            for k in 0..plans {
                let (paid, started) = self.mpgw_plan(a.i, &a.uin, a.home, a.i == 1 && k == 0);
                spend.purchases_cents += paid;
                spend.earliest = spend.earliest.min(started);
            }
        }
        let forced_mode = match a.i {
            0 => Some(true),
            2 => Some(false),
            _ => None,
        };
        if a.api && (self.rng.chance(120) || forced_mode.is_some()) {
            let (paid, started, inst) = self.apigw_dedicated(a.i, &a.uin, a.home, forced_mode);
            spend.purchases_cents += paid;
            spend.earliest = spend.earliest.min(started);
            spend.usage_micros += inst.spend_estimate();
            self.instances.push(inst);
        }
    }

    /// Refund requests on one in twenty of the account's purchased, activated packages (always
    /// on account 0's first), inside the range and the package's validity.
    fn refund_requests(&mut self, i: usize, first_pkg: usize) {
        let range = self.range;
        let candidates: Vec<(String, Ts, Ts)> = self.tables.packages[first_pkg..]
            .iter()
            .filter(|p| p.source == "purchased" && p.activated && p.refunded_at.is_none())
            .map(|p| (p.package_id.clone(), p.effective_at, p.expires_at))
            .collect();
        for (k, (id, eff, exp)) in candidates.iter().enumerate() {
            let lo = (*eff).max(range.start);
            let hi = (*exp).min(range.end);
            if lo < hi && (self.rng.chance(50) || (i == 0 && k == 0)) {
                let at = self.rng.instant(lo, hi);
                self.event("refund", id, at, None, None);
            }
        }
    }

    /// The opening balance and top-ups: most accounts hold two to four times their estimated
    /// spend and top up now and then; one in eight (and account 3) much less, so it falls into
    /// arrears, and half of those top up later.
    fn balance(&mut self, a: &Profile, spend: &Spend) {
        let range = self.range;
        let spend_yuan = (spend.usage_micros / 1_000_000) as i64 + spend.purchases_cents / 100;
        let rng = &mut self.rng;
        let low = a.i == 3 || (a.i > 3 && rng.chance(125));
        let opening_at = {
            let day = day_start(spend.earliest) - rng.gen_range(1..30) * DAY;
            rng.instant(day, day + DAY)
        };
        let opening = if low {
            cents((spend_yuan * rng.gen_range(5..30)).max(100))
        } else {
            Decimal::from((spend_yuan * rng.gen_range(20..40) / 10 / 100 + 2) * 100)
        };
        self.tables.accounts.push(AccountRow {
            owner_uin: a.uin.clone(),
            opening_balance: opening,
            opening_at,
            apigw_activated_at: a.apigw_activated,
        });
        if low {
            if a.i == 3 || self.rng.chance(500) {
                let at = self.rng.instant(
                    range.start + range.len() * 2 / 5,
                    range.start + range.len() * 4 / 5,
                );
                let amount = (spend_yuan * self.rng.gen_range(15..25) / 10 / 100 + 1) * 100;
                self.payment(&a.uin, at, amount);
            }
        } else {
            for _ in 0..self.rng.gen_range(0..4u32) {
                let at = self.rng.instant(range.start, range.end);
                let amount = self.rng.one_of(&[100, 200, 500, 1000, 2000, 5000]);
                self.payment(&a.uin, at, amount);
            }
        }
    }

    /// A top-up of `yuan` (at least 1).
    fn payment(&mut self, uin: &str, at: Ts, yuan: i64) {
        self.next_payment += 1;
        self.tables.payments.push(PaymentRow {
            payment_id: format!("pay-{:06}", self.next_payment),
            owner_uin: uin.to_string(),
            paid_at: at,
            amount: Decimal::from(yuan.max(1)),
        });
    }
}
