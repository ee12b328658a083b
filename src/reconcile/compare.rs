//! The comparison itself, pure: lines of both sides in, one [`ReconRow`] per key out.
//!
//! Invariants (docs/contract.md, "Reconciliation against issued bills"):
//! - every line given appears in exactly one row's id list, and each row's amounts are the exact
//!   sums of its lines' amounts (conservation: nothing is dropped, nothing counted twice);
//! - quantities are compared in the unit of the key's recomputed lines (bytes when those differ
//!   in data-size unit; the issued unit when nothing was recomputed); an issued quantity whose
//!   unit is null or does not convert is not compared and the key's cause is `unit`;
//! - the status is the first of the contract's list that applies; a recomputed key of amount 0
//!   that was not issued is a `match`;
//! - rows come out in key order, the ids of a row sorted bytewise.
//!
//! The window is the caller's: only lines charged inside it are given.

use super::causes::cause;
use super::line::{Key, Line};
use super::prices::PriceBook;
use super::table::{ReconRow, Status};
use crate::error::{Error, Result};
use crate::money::{convert, q9, Unit};
use crate::name::Name;
use rayon::slice::ParallelSliceMut;
use rust_decimal::Decimal;

/// What the comparison needs besides the lines.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    /// Amount per key within which a difference is `within_tolerance`.
    pub tolerance: Decimal,
    pub prices: &'a PriceBook,
}

/// A key's quantities in one unit (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Quantities {
    pub unit: Option<Name>,
    pub issued: Option<Decimal>,
    pub recomputed: Option<Decimal>,
    /// What packages covered on the recomputed side, in `unit`.
    pub deducted: Option<Decimal>,
    /// An issued line's unit is null or does not convert into `unit`.
    pub unconvertible: bool,
}

/// Reconciles the lines of both sides: one row per key present on either side, in key order.
pub fn reconcile(
    mut issued: Vec<Line>,
    mut recomputed: Vec<Line>,
    s: &Settings,
) -> Result<Vec<ReconRow>> {
    let order = |a: &Line, b: &Line| (&a.key, &a.id).cmp(&(&b.key, &b.id));
    rayon::join(
        || issued.par_sort_by(order),
        || recomputed.par_sort_by(order),
    );
    let (mut i, mut r) = (0, 0);
    let mut rows = Vec::new();
    while i < issued.len() || r < recomputed.len() {
        let key = match (issued.get(i), recomputed.get(r)) {
            (Some(a), Some(b)) => a.key.min(b.key),
            (Some(a), None) => a.key,
            (None, Some(b)) => b.key,
            (None, None) => break,
        };
        let ie = i + issued[i..].partition_point(|l| l.key == key);
        let re = r + recomputed[r..].partition_point(|l| l.key == key);
        rows.push(row_of(key, &issued[i..ie], &recomputed[r..re], s)?);
        (i, r) = (ie, re);
    }
    Ok(rows)
}

/// The row of one key from its lines on each side (either may be empty, not both).
pub fn row_of(key: Key, iss: &[Line], rec: &[Line], s: &Settings) -> Result<ReconRow> {
    let q = quantities(iss, rec);
    let ia = sum(iss.iter().map(|l| l.amount), "issued amounts of a key")?;
    let ra = sum(rec.iter().map(|l| l.amount), "recomputed amounts of a key")?;
    let status = status(!iss.is_empty(), !rec.is_empty(), &q, ia, ra, s.tolerance);
    let cause = cause(iss, rec, &q, status, ia, ra, s.prices);
    Ok(ReconRow {
        key,
        unit: q.unit,
        issued_quantity: q.issued,
        recomputed_quantity: q.recomputed,
        issued_amount: ia,
        recomputed_amount: ra,
        status,
        cause,
        issued_line_ids: ids(iss),
        recomputed_line_ids: ids(rec),
    })
}

/// The first status of the contract's list that applies.
pub fn status(
    issued: bool,
    recomputed: bool,
    q: &Quantities,
    ia: Decimal,
    ra: Decimal,
    tolerance: Decimal,
) -> Status {
    if !issued {
        return match ra.is_zero() {
            true => Status::Match,
            false => Status::MissingInIssued,
        };
    }
    if !recomputed {
        return Status::MissingInRecomputed;
    }
    if let (Some(a), Some(b)) = (q.issued, q.recomputed) {
        if a != b {
            return Status::QuantityMismatch;
        }
    }
    if ia == ra {
        Status::Match
    } else if (ia - ra).abs() <= tolerance {
        Status::WithinTolerance
    } else {
        Status::AmountMismatch
    }
}

/// The ids of `lines` (already sorted), comma-separated; `None` for none.
fn ids(lines: &[Line]) -> Option<String> {
    (!lines.is_empty()).then(|| {
        let mut s = String::with_capacity(lines.iter().map(|l| l.id.len() + 1).sum());
        for (k, l) in lines.iter().enumerate() {
            if k > 0 {
                s.push(',');
            }
            s.push_str(&l.id);
        }
        s
    })
}

/// Σ `values`, or an error past the decimal range.
pub fn sum(values: impl Iterator<Item = Decimal>, what: &str) -> Result<Decimal> {
    let mut acc = Decimal::ZERO;
    for v in values {
        acc = acc.checked_add(v).ok_or_else(|| Error::Overflow {
            what: what.to_string(),
            message: format!("adding {v} to {acc} leaves the decimal range"),
        })?;
    }
    Ok(acc)
}

/// The unit the key's quantities are compared in: the recomputed lines' unit (bytes when they
/// differ in data-size unit), or the issued lines' when nothing was recomputed.
fn key_unit(iss: &[Line], rec: &[Line]) -> Option<Name> {
    let side = if rec.is_empty() { iss } else { rec };
    let mut units: Vec<Name> = side.iter().filter_map(|l| l.unit).collect();
    units.sort();
    units.dedup();
    match units.as_slice() {
        [] => None,
        [u] => Some(*u),
        many if many
            .iter()
            .all(|u| Unit::parse(u).is_some_and(Unit::is_traffic)) =>
        {
            Some(Name::new(Unit::B.as_str()))
        }
        [first, ..] => Some(*first),
    }
}

/// `q` in `from` expressed in `to` (rounded at scale 9); `None` when they do not convert.
pub fn convert_to(q: Decimal, from: Name, to: Name) -> Option<Decimal> {
    if from == to {
        return Some(q9(q));
    }
    let (f, t) = (Unit::parse(&from)?, Unit::parse(&to)?);
    f.compatible(t).then(|| convert(q, f, t))
}

/// Σ of `f(line)` converted into `unit`: `Ok(None)` when some line has no quantity, `Err(())`
/// when some line's quantity has a unit that is null or does not convert.
fn side_sum(
    lines: &[Line],
    unit: Option<Name>,
    f: impl Fn(&Line) -> Option<Decimal>,
) -> std::result::Result<Option<Decimal>, ()> {
    let mut acc = Decimal::ZERO;
    let mut complete = true;
    for l in lines {
        let Some(q) = f(l) else {
            complete = false;
            continue;
        };
        let (Some(from), Some(to)) = (l.unit, unit) else {
            return Err(());
        };
        let v = convert_to(q, from, to).ok_or(())?;
        acc = acc.checked_add(v).ok_or(())?;
    }
    Ok(complete.then_some(acc))
}

/// The key's quantities in its unit.
pub fn quantities(iss: &[Line], rec: &[Line]) -> Quantities {
    let unit = key_unit(iss, rec);
    let (issued, unconvertible) = match side_sum(iss, unit, |l| l.quantity) {
        Ok(q) => (q.filter(|_| !iss.is_empty()), false),
        Err(()) => (None, true),
    };
    let recomputed = side_sum(rec, unit, |l| l.quantity)
        .ok()
        .flatten()
        .filter(|_| !rec.is_empty());
    let deducted = side_sum(rec, unit, |l| l.price.map(|p| p.deducted))
        .ok()
        .flatten()
        .filter(|_| !rec.is_empty());
    Quantities {
        unit,
        issued,
        recomputed,
        deducted,
        unconvertible,
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::calendar::parse_local;
    use crate::reconcile::line::LinePrice;
    use crate::reconcile::table::Cause;
    use compact_str::CompactString;
    use std::str::FromStr;

    pub fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    pub fn key(owner: &str, item: &str, hour: &str) -> Key {
        Key {
            owner_uin: Name::new(owner),
            charge_kind: Name::new("usage"),
            product: Name::new("apigw"),
            sub_product: Name::new("shared-instance"),
            billing_item: Name::new(item),
            region: Name::new("ap-guangzhou"),
            instance_id: Name::new("svc-1"),
            charge_start: parse_local(&format!("2024-05-01 {hour}:00:00")).unwrap(),
        }
    }

    pub fn issued(id: &str, k: Key, q: Option<&str>, unit: Option<&str>, amount: &str) -> Line {
        Line {
            id: CompactString::from(id),
            key: k,
            quantity: q.map(d),
            unit: unit.map(Name::new),
            amount: d(amount),
            price: None,
        }
    }

    /// A recomputed line: `q` in `unit`, priced at `price` per `price_unit`.
    #[allow(clippy::too_many_arguments)]
    pub fn recomputed(
        id: &str,
        k: Key,
        q: &str,
        unit: &str,
        tier: Option<i32>,
        price: &str,
        price_unit: &str,
        amount: &str,
    ) -> Line {
        Line {
            id: CompactString::from(id),
            key: k,
            quantity: Some(d(q)),
            unit: Some(Name::new(unit)),
            amount: d(amount),
            price: Some(LinePrice {
                tier,
                unit_price: d(price),
                price_unit: Name::new(price_unit),
                deducted: Decimal::ZERO,
            }),
        }
    }

    pub fn settings(book: &PriceBook) -> Settings<'_> {
        Settings {
            tolerance: d("0.01"),
            prices: book,
        }
    }

    fn brief(rows: &[ReconRow]) -> Vec<String> {
        rows.iter()
            .map(|r| {
                format!(
                    "{} {} {:?}/{:?} {} {} {}",
                    r.key.billing_item,
                    r.unit.map_or("-", |u| u.as_str()),
                    r.issued_quantity,
                    r.recomputed_quantity,
                    r.delta(),
                    r.status.as_str(),
                    r.cause.map_or("-", Cause::as_str)
                )
            })
            .collect()
    }

    /// Each status of the contract's list, from one key each; ids and amounts per key.
    #[test]
    fn each_key_gets_the_first_status_that_applies() {
        let book = PriceBook::default();
        let (a, b, c, e, f, g) = (
            key("a", "calls", "01"),
            key("b", "calls", "01"),
            key("c", "calls", "01"),
            key("e", "calls", "01"),
            key("f", "calls", "01"),
            key("g", "calls", "01"),
        );
        let z = key("z", "calls", "01");
        let rec =
            |id, k, amount| recomputed(id, k, "100", "call", Some(1), "0.06", "10000 call", amount);
        let iss = vec![
            issued("i1", b, Some("100"), Some("call"), "0.0006"),
            issued("i2", c, Some("101"), Some("call"), "0.0006"),
            issued("i3", e, Some("100"), Some("call"), "0.0006"),
            issued("i4", f, Some("100"), Some("call"), "0.0100"),
            issued("i5", g, Some("100"), Some("call"), "0.5006"),
        ];
        let recs = vec![
            rec("u:1:1", a, "0.0006"),
            rec("u:3:1", c, "0.0006"),
            rec("u:4:1", e, "0.0006"),
            rec("u:5:1", f, "0.0006"),
            rec("u:6:1", g, "0.0006"),
            rec("u:7:1", z, "0"),
        ];
        let rows = reconcile(iss, recs, &settings(&book)).unwrap();
        let got: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.key.owner_uin.as_str(), r.status.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("a", "missing_in_issued"),
                ("b", "missing_in_recomputed"),
                ("c", "quantity_mismatch"),
                ("e", "match"),
                ("f", "within_tolerance"),
                ("g", "amount_mismatch"),
                ("z", "match"),
            ]
        );
        assert_eq!(rows[0].issued_line_ids, None);
        assert_eq!(rows[0].recomputed_line_ids.as_deref(), Some("u:1:1"));
        assert_eq!(rows[5].delta(), d("0.5"));
    }

    /// A key's lines are summed (tier parts, repeated lines), ids sorted bytewise; quantities in
    /// the recomputed unit, or in bytes when the recomputed lines differ in data-size unit.
    #[test]
    fn lines_of_a_key_are_summed_and_quantities_converted() {
        let book = PriceBook::default();
        let k = key("a", "egress_traffic", "02");
        let recs = vec![
            recomputed("u:b:0", k, "1024", "KB", None, "0.8", "GB", "0.00078125"),
            recomputed("u:a:0", k, "1", "MB", None, "0.8", "GB", "0.00078125"),
        ];
        let iss = vec![issued("x", k, Some("0.001953125"), Some("GB"), "0.0015625")];
        let rows = reconcile(iss, recs, &settings(&book)).unwrap();
        assert_eq!(
            brief(&rows),
            ["egress_traffic B Some(2097152.000000000)/Some(2097152.000000000) 0.00000000 match -"]
        );
        assert_eq!(rows[0].recomputed_line_ids.as_deref(), Some("u:a:0,u:b:0"));
    }

    /// An issued quantity without a unit, or in a unit that does not convert, is not compared:
    /// the amounts decide, and the cause says why.
    #[test]
    fn an_unconvertible_unit_leaves_the_amounts_to_decide() {
        let book = PriceBook::default();
        let k = key("a", "calls", "03");
        let recs = vec![recomputed(
            "u:a:1",
            k,
            "100",
            "call",
            Some(1),
            "0.06",
            "10000 call",
            "0.0006",
        )];
        for unit in [None, Some("GB")] {
            let iss = vec![issued("x", k, Some("7"), unit, "0.0006")];
            let rows = reconcile(iss, recs.clone(), &settings(&book)).unwrap();
            assert_eq!(
                brief(&rows),
                ["calls call None/Some(100.000000000) 0.0000 match unit"]
            );
        }
    }

    /// A line of either side drawn from a few accounts, hours, units and amounts, so that keys
    /// collide, repeat and appear on one side only.
    fn any_line(issued: bool) -> impl proptest::strategy::Strategy<Value = Line> {
        use proptest::prelude::*;
        let units =
            prop::sample::select(vec![Some("KB"), Some("MB"), Some("GB"), Some("call"), None]);
        (
            0..3u8,
            0..4u8,
            0..2000i64,
            units,
            -500_000i64..500_000,
            any::<bool>(),
        )
            .prop_map(move |(owner, hour, q, unit, cents, qty)| {
                let k = key(
                    &format!("acct-{owner}"),
                    "egress_traffic",
                    &format!("{:02}", hour + 10),
                );
                let amount = Decimal::new(cents, 4);
                let quantity = Decimal::new(q, 3);
                match issued {
                    true => Line {
                        id: CompactString::from(""),
                        key: k,
                        quantity: qty.then_some(quantity),
                        unit: unit.map(Name::new),
                        amount,
                        price: None,
                    },
                    false => {
                        let u = unit.unwrap_or("GB");
                        let mut l = recomputed("", k, "0", u, None, "0.8", "GB", "0");
                        l.quantity = Some(quantity);
                        l.amount = amount;
                        l
                    }
                }
            })
    }

    proptest::proptest! {
        /// Conservation: every line of both sides is in exactly one row's ids, and the rows'
        /// amounts add up to the lines' to the last decimal; rows come out in key order, one
        /// per key.
        #[test]
        fn every_line_is_in_exactly_one_row_and_totals_are_kept(
            iss in proptest::collection::vec(any_line(true), 0..40),
            rec in proptest::collection::vec(any_line(false), 0..40),
        ) {
            let name = |p: &str, v: Vec<Line>| -> Vec<Line> {
                v.into_iter().enumerate().map(|(i, mut l)| { l.id = format!("{p}{i:03}").into(); l }).collect()
            };
            let (iss, rec) = (name("i", iss), name("r", rec));
            let want_i: Decimal = iss.iter().map(|l| l.amount).sum();
            let want_r: Decimal = rec.iter().map(|l| l.amount).sum();
            let mut want_ids: Vec<String> = iss.iter().chain(&rec).map(|l| l.id.to_string()).collect();
            want_ids.sort();
            let book = PriceBook::default();
            let rows = reconcile(iss, rec, &settings(&book)).unwrap();
            let mut got_ids: Vec<String> = rows
                .iter()
                .flat_map(|r| [r.issued_line_ids.clone(), r.recomputed_line_ids.clone()])
                .flatten()
                .flat_map(|s| s.split(',').map(String::from).collect::<Vec<_>>())
                .collect();
            got_ids.sort();
            proptest::prop_assert_eq!(got_ids, want_ids);
            proptest::prop_assert_eq!(rows.iter().map(|r| r.issued_amount).sum::<Decimal>(), want_i);
            proptest::prop_assert_eq!(rows.iter().map(|r| r.recomputed_amount).sum::<Decimal>(), want_r);
            proptest::prop_assert!(rows.windows(2).all(|w| w[0].key < w[1].key));
        }
    }
}
