//! Test helpers shared by the rule modules' tests (`t`, `catalog`, `usage`, `package`,
//! `deduct`) and the deduction's properties, checked by proptest over random pools.

use super::order::class;
use super::*;
use crate::calendar::{parse_local, CycleLen, HOUR, MICROS_PER_SECOND};
use crate::input::{Direction, EventKind, PackageSource, Scope};
use crate::money::Unit;
use rust_decimal_macros::dec;
use rustc_hash::FxHashMap;

pub fn t(s: &str) -> Ts {
    parse_local(s).unwrap()
}

pub fn catalog() -> Catalog {
    Catalog::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sample_data/catalog.toml"
    )))
    .unwrap()
}

pub fn usage(id: &str, start: &str, qty: Decimal, unit: Unit) -> Usage {
    let s = t(start);
    Usage {
        usage_id: id.into(),
        owner_uin: "acct-1".into(),
        region: "ap-guangzhou".into(),
        product: "eip".into(),
        sub_product: "eip".into(),
        instance_id: "eip-1".into(),
        billing_item: "public_traffic".into(),
        usage_start: s,
        usage_end: s + HOUR,
        quantity: qty,
        unit,
        direction: Direction::Outbound,
        accelerated: false,
    }
}

pub fn package(
    id: &str,
    kind: PackageKind,
    cap: Option<Decimal>,
    unit: Unit,
    eff: &str,
    exp: &str,
) -> Package {
    Package {
        package_id: id.into(),
        package_name: format!("pkg {id}").into(),
        owner_uin: "acct-1".into(),
        product: "tp".into(),
        sub_product: "full-time".into(),
        kind,
        source: PackageSource::Purchased,
        order_is_new: true,
        region: "ap-guangzhou".into(),
        capacity: cap,
        unit,
        cycle: None,
        idle_only: false,
        purchased_at: t(eff),
        effective_at: t(eff),
        expires_at: t(exp),
        activated: true,
        refunded_at: None,
        price_paid: dec!(10),
        voucher_amount: Decimal::ZERO,
        share_uins: vec![],
        renewals: vec![],
        scopes: vec![Scope {
            product: "eip".into(),
            billing_item: "public_traffic".into(),
            coefficient: Decimal::ONE,
        }],
    }
}

pub fn no_refunds(_: &Package, _: &PackageState, _: Ts) -> (bool, String) {
    (true, String::new())
}

pub fn refuse_all(_: &Package, _: &PackageState, _: Ts) -> (bool, String) {
    (false, "refused".to_string())
}

pub fn deduct(usage: &[Usage], packages: &[Package]) -> Deduction {
    run(usage, packages, &[], &catalog(), &no_refunds)
}

/// (package_id, remaining_before, deducted, remaining_after, original_usage) of each draw.
pub type Draw = (String, Option<Decimal>, Decimal, Option<Decimal>, Decimal);

pub fn draws(d: &Deduction) -> Vec<Draw> {
    d.details
        .iter()
        .map(|x| {
            (
                x.package_id.to_string(),
                x.remaining_before,
                x.deducted,
                x.remaining_after,
                x.original_usage,
            )
        })
        .collect()
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// What a random package or row is about: traffic (eip public traffic, or quality traffic
    /// from Hong Kong) or API gateway calls.
    #[derive(Debug, Clone, Copy)]
    enum Flavour {
        Traffic,
        Quality,
        Calls,
    }

    fn arb_flavour() -> impl Strategy<Value = Flavour> {
        prop_oneof![
            Just(Flavour::Traffic),
            Just(Flavour::Quality),
            Just(Flavour::Calls)
        ]
    }

    /// A package of flavour `f`: a quality package is a `qtp` of Hong Kong (or, to check §3.3.2,
    /// of `*`), a call package covers `apigw` calls in calls.
    fn flavoured(mut p: Package, f: Flavour, all_region: bool) -> Package {
        match f {
            Flavour::Traffic => {}
            Flavour::Quality => {
                p.product = "qtp".into();
                p.region = if all_region { "*" } else { "ap-hongkong" }.into();
            }
            Flavour::Calls => {
                p.product = "apigw".into();
                p.unit = Unit::Call;
                p.scopes[0].product = "apigw".into();
                p.scopes[0].billing_item = "calls".into();
            }
        }
        if all_region && !matches!(f, Flavour::Quality) {
            p.region = "*".into();
        }
        p
    }

    fn arb_package(i: usize) -> impl Strategy<Value = Package> {
        (
            (0u8..4, 0i64..4000, 0i64..96),
            // Cycles anchored on the hour, or off it (cycle boundaries inside hours).
            prop_oneof![Just(0i64), 1i64..60],
            24i64..120,
            1u32..20,
            (any::<bool>(), any::<bool>(), any::<bool>()),
            (arb_flavour(), prop::bool::weighted(0.2)),
        )
            .prop_map(
                move |((kind, cap, eff_h), eff_m, len_h, coef, (idle, free, mb), (f, all))| {
                    let kind = [
                        PackageKind::Total,
                        PackageKind::Periodic,
                        PackageKind::Sliced,
                        PackageKind::Unlimited,
                    ][kind as usize];
                    let eff = t("2024-05-01") + eff_h * HOUR + eff_m * 60 * MICROS_PER_SECOND;
                    let mut p = package(
                        &format!("P{i}"),
                        kind,
                        Some(Decimal::new(cap, 3)),
                        if mb { Unit::MB } else { Unit::GB },
                        "2024-05-01",
                        "2024-05-02",
                    );
                    p.effective_at = eff;
                    p.expires_at = eff + len_h * HOUR;
                    p.cycle = match kind {
                        // Free periodic packages of 30d count natural days (§3.1).
                        PackageKind::Periodic if free => Some(CycleLen::Days30),
                        PackageKind::Periodic => Some(CycleLen::Day),
                        PackageKind::Sliced => Some(CycleLen::Hour),
                        _ => None,
                    };
                    if kind == PackageKind::Unlimited {
                        p.capacity = None;
                    }
                    p.scopes[0].coefficient = Decimal::new(coef as i64, 1);
                    p.idle_only = idle;
                    if free {
                        p.source = PackageSource::Free;
                        p.expires_at = eff + len_h * 10 * HOUR;
                    }
                    flavoured(p, f, all)
                },
            )
    }

    fn arb_usage() -> impl Strategy<Value = Vec<Usage>> {
        let row = (
            0i64..200,
            0i64..5000,
            any::<bool>(),
            arb_flavour(),
            0usize..3,
        );
        prop::collection::vec(row, 1..40).prop_map(|rows| {
            let mut v: Vec<Usage> = rows
                .into_iter()
                .enumerate()
                .map(|(i, (h, q, gb, f, sub))| {
                    let mut u = usage(
                        &format!("u{i:03}"),
                        "2024-05-01",
                        Decimal::new(q, 3),
                        if gb { Unit::GB } else { Unit::MB },
                    );
                    u.usage_start += h * HOUR;
                    u.usage_end += h * HOUR;
                    match f {
                        Flavour::Traffic => {}
                        Flavour::Quality => {
                            u.region = "ap-hongkong".into();
                            u.direction = Direction::ToMainland;
                            u.accelerated = sub != 0;
                        }
                        Flavour::Calls => {
                            u.product = "apigw".into();
                            u.billing_item = "calls".into();
                            u.unit = Unit::Call;
                            // Shared-instance calls, or unbilled ones (§4.1).
                            u.sub_product =
                                ["shared-instance", "dedicated-instance", "websocket"][sub].into();
                        }
                    }
                    u
                })
                .collect();
            v.sort_by(|a, b| (a.usage_start, &a.usage_id).cmp(&(b.usage_start, &b.usage_id)));
            v
        })
    }

    fn arb_packages() -> impl Strategy<Value = Vec<Package>> {
        (1usize..7).prop_flat_map(|n| (0..n).map(arb_package).collect::<Vec<_>>())
    }

    /// The sweep's invariants (module doc of `deduction`) for draws `d` of `rows` on `pkgs`.
    fn invariants(rows: &[Usage], pkgs: &[Package], d: &Deduction) -> Result<(), TestCaseError> {
        let cat = catalog();
        // Unbilled calls (§4.1) draw on nothing; all-region quality packages cover nothing
        // (§3.3.2); quality packages only cover accelerated traffic.
        for (i, u) in rows.iter().enumerate() {
            if cat.unbilled(u) {
                prop_assert_eq!(d.covered[i], Decimal::ZERO);
            }
        }
        for x in &d.details {
            let u = rows.iter().find(|u| u.usage_id == x.usage_id).unwrap();
            prop_assert!(!cat.unbilled(u));
            if &*x.product == "qtp" {
                let p = pkgs.iter().find(|p| p.package_id == x.package_id).unwrap();
                prop_assert!(&*p.region != "*" && u.accelerated);
            }
        }
        // Conservation per usage row, exact.
        for (i, u) in rows.iter().enumerate() {
            let parts: Decimal = d
                .details
                .iter()
                .filter(|x| x.usage_id == u.usage_id)
                .map(|x| x.original_usage)
                .sum();
            prop_assert_eq!(parts, d.covered[i]);
            prop_assert!(d.covered[i] <= u.quantity && d.covered[i] >= Decimal::ZERO);
        }
        // Remaining never negative; chained per package and cycle; validity respected.
        let mut last: FxHashMap<(String, Option<Ts>), Decimal> = FxHashMap::default();
        for x in &d.details {
            let p = pkgs.iter().find(|p| p.package_id == x.package_id).unwrap();
            prop_assert!(p.effective_at <= x.usage_start && x.usage_end <= p.expires_at);
            if let (Some(b), Some(a)) = (x.remaining_before, x.remaining_after) {
                prop_assert!(a >= Decimal::ZERO);
                prop_assert_eq!(b - x.deducted, a);
                let key = (x.package_id.to_string(), x.cycle_start);
                if let Some(prev) = last.get(&key) {
                    prop_assert_eq!(*prev, b);
                } else {
                    prop_assert_eq!(Some(b), p.capacity);
                }
                last.insert(key, a);
            }
        }
        // Order: within a row, (class, expiry) never decreases, and every draw but the
        // last empties its package — a later package is drawn only when earlier ones are empty.
        for u in rows {
            let ds: Vec<_> = d
                .details
                .iter()
                .filter(|x| x.usage_id == u.usage_id)
                .collect();
            for w in ds.windows(2) {
                let (p0, p1) = (
                    pkgs.iter()
                        .find(|p| p.package_id == w[0].package_id)
                        .unwrap(),
                    pkgs.iter()
                        .find(|p| p.package_id == w[1].package_id)
                        .unwrap(),
                );
                let cl = |p: &Package| class(p, &*p.product == "qtp");
                let at = w[0].usage_end;
                prop_assert!((cl(p0), p0.expires_as_of(at)) <= (cl(p1), p1.expires_as_of(at)));
                prop_assert!(w[0].remaining_after == Some(Decimal::ZERO));
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn deduction_invariants(rows in arb_usage(), pkgs in arb_packages()) {
            let d = deduct(&rows, &pkgs);
            invariants(&rows, &pkgs, &d)?;
            // Deterministic: the same inputs give the same draws.
            prop_assert_eq!(&deduct(&rows, &pkgs).details, &d.details);
        }

        /// docs/rules.md §3.8: with renewals (at any instant, of any months, some refused), the
        /// renewed packages keep every invariant of the sweep, and a renewal only ever extends.
        #[test]
        fn deduction_invariants_hold_with_renewals(
            rows in arb_usage(),
            pkgs in arb_packages(),
            renewals in prop::collection::vec((0usize..7, 0i64..(210 * 60), 1i64..3), 1..6),
        ) {
            let events: Vec<Event> = renewals
                .iter()
                .enumerate()
                .map(|(i, &(k, minute, months))| Event {
                    event_id: format!("r{i}").as_str().into(),
                    kind: EventKind::Renew,
                    target_id: pkgs[k % pkgs.len()].package_id,
                    at: t("2024-05-01") + minute * 60 * MICROS_PER_SECOND,
                    new_plan: None,
                    months: Some(months),
                    price_paid: Some(dec!(1)),
                    auto: None,
                })
                .collect();
            let refund_at: Vec<Option<Ts>> = pkgs.iter().map(|p| p.refunded_at).collect();
            let r = crate::rules::renewals::renew(&pkgs, &events, &refund_at, t("2024-06-01"));
            prop_assert_eq!(r.applied.len() + r.violations.len(), events.len());
            prop_assert_eq!(r.lines.len(), r.applied.len());
            let mut renewed = pkgs.clone();
            r.apply(&mut renewed);
            for (p, q) in pkgs.iter().zip(&renewed) {
                prop_assert!(q.expires_at >= p.expires_at);
                prop_assert!(p.kind != PackageKind::Total || q.expires_at == p.expires_at);
            }
            for a in &r.applied {
                prop_assert!(a.at < a.expires_before && a.expires_before < a.expires_after);
            }
            let d = deduct(&rows, &renewed);
            invariants(&rows, &renewed, &d)?;
        }

        /// Refund requests that are refused, at any instant (on the hour or inside one,
        /// before, between or after the rows), change no draw.
        #[test]
        fn refused_refund_requests_change_no_draw(
            rows in arb_usage(),
            pkgs in arb_packages(),
            requests in prop::collection::vec((0usize..7, 0i64..(210 * 60)), 1..6),
        ) {
            let events: Vec<Event> = requests
                .iter()
                .enumerate()
                .map(|(i, &(k, minute))| Event {
                    event_id: format!("e{i}").as_str().into(),
                    kind: EventKind::Refund,
                    target_id: pkgs[k % pkgs.len()].package_id,
                    at: t("2024-05-01") + minute * 60 * MICROS_PER_SECOND,
                    new_plan: None,
                    months: None,
                    price_paid: None,
                    auto: None,
                })
                .collect();
                    let with = run(&rows, &pkgs, &events, &catalog(), &refuse_all);
            let without = deduct(&rows, &pkgs);
            prop_assert_eq!(&with.details, &without.details);
            prop_assert_eq!(&with.covered, &without.covered);
            prop_assert_eq!(&with.states, &without.states);
            prop_assert_eq!(with.refund_requests.len(), events.len());
        }
    }
}
