//! Why a key differs, where the data shows it (docs/contract.md, `reconciliation.cause`). The
//! first explanation that fits exactly, in this order:
//! - `unit`: an issued quantity's unit is null or does not convert (given whatever the status:
//!   it says why the quantity was not compared);
//! - `duplicate_issued`: two issued lines of the key have equal amount, quantity and unit, and
//!   the issued side less one of them equals the recomputed side (amount, and quantity when
//!   both have one);
//! - `package_deduction`: the issued quantity is the recomputed billable quantity plus what
//!   packages covered (a package draw the platform missed);
//! - `unit_price`: the issued amount is the recomputed quantities at another price the item has
//!   had (`PriceBook::other_prices`: a price not switched at its effective date);
//! - `tier`: the issued amount is the recomputed quantities at the price of one tier of the
//!   item's table from the one below the lowest tier the key touches to the one above the highest
//!   (a tier boundary crossed late or early);
//! - `rounding`: quantities agree and the difference is below a cent per line.
//!
//! "Exactly" means within rounding of the lines: 10^-8 per line. Keys that match, and keys
//! present on one side only, get no cause (but `unit`): no cause is better than a wrong one.

use super::compare::{convert_to, Quantities};
use super::line::Line;
use super::prices::PriceBook;
use super::table::{Cause, Status};
use crate::money::{m8, Unit};
use crate::rules::pricing::amount;
use rust_decimal::Decimal;

/// The cause of a key's difference, or `None` when no explanation fits.
pub fn cause(
    iss: &[Line],
    rec: &[Line],
    q: &Quantities,
    status: Status,
    ia: Decimal,
    ra: Decimal,
    book: &PriceBook,
) -> Option<Cause> {
    if q.unconvertible {
        return Some(Cause::Unit);
    }
    if matches!(
        status,
        Status::Match | Status::MissingInIssued | Status::MissingInRecomputed
    ) {
        return None;
    }
    if duplicate(iss, q, ia, ra) {
        return Some(Cause::DuplicateIssued);
    }
    if let (Some(i), Some(r), Some(d)) = (q.issued, q.recomputed, q.deducted) {
        if d > Decimal::ZERO && i == r + d {
            return Some(Cause::PackageDeduction);
        }
    }
    if q.issued.zip(q.recomputed).is_some_and(|(i, r)| i != r) {
        return None;
    }
    let n = iss.len().max(rec.len());
    let eps = Decimal::new(1, 8) * Decimal::from(n);
    let close = |expected: Option<Decimal>| expected.is_some_and(|e| (ia - e).abs() <= eps);
    if other_prices(rec, book)
        .into_iter()
        .any(|p| close(priced_at(rec, |_| p)))
    {
        return Some(Cause::UnitPrice);
    }
    if tier_prices(rec, book)
        .into_iter()
        .any(|p| close(priced_at(rec, |_| p)) && (ra - ia).abs() > eps)
    {
        return Some(Cause::Tier);
    }
    let delta = ia - ra;
    if !delta.is_zero() && delta.abs() < Decimal::new(1, 2) * Decimal::from(n) {
        return Some(Cause::Rounding);
    }
    None
}

/// Two issued lines alike, and the issued side less one of them equal to the recomputed side.
fn duplicate(iss: &[Line], q: &Quantities, ia: Decimal, ra: Decimal) -> bool {
    if iss.len() < 2 || iss.len() > 64 {
        return false;
    }
    let alike =
        |a: &Line, b: &Line| a.amount == b.amount && a.quantity == b.quantity && a.unit == b.unit;
    iss.iter().enumerate().any(|(k, a)| {
        iss[k + 1..].iter().any(|b| alike(a, b))
            && ia - a.amount == ra
            && match (q.issued, q.recomputed, a.quantity, a.unit, q.unit) {
                (Some(i), Some(r), Some(x), Some(from), Some(to)) => {
                    convert_to(x, from, to).is_some_and(|x| i - x == r)
                }
                _ => true,
            }
    })
}

/// The recomputed lines' amounts at the prices `price(line)`: `None` when a line cannot be
/// priced so (no quantity, or a unit its price unit does not measure).
fn priced_at(rec: &[Line], price: impl Fn(&Line) -> Decimal) -> Option<Decimal> {
    let mut total = Decimal::ZERO;
    for l in rec {
        let (q, unit, p) = (l.quantity?, l.unit?, l.price?);
        let a = match Unit::parse(&unit) {
            Some(u) => amount(q, u, price(l), &p.price_unit)?,
            None if unit == p.price_unit => m8(q.checked_mul(price(l))?),
            None => return None,
        };
        total = total.checked_add(a)?;
    }
    Some(total)
}

/// The other prices of the key's item, when its recomputed lines have one flat price.
fn other_prices(rec: &[Line], book: &PriceBook) -> Vec<Decimal> {
    let Some(first) = rec.first().and_then(|l| l.price) else {
        return Vec::new();
    };
    let one_price = rec.iter().all(|l| {
        l.price.is_some_and(|p| {
            p.tier.is_none() && p.unit_price == first.unit_price && p.price_unit == first.price_unit
        })
    });
    match one_price {
        true => book.other_prices(&rec[0].key, first.price_unit, first.unit_price),
        false => Vec::new(),
    }
}

/// The prices of the tiers from the one below the lowest tier the key's lines touch to the one
/// above the highest, in the tables that price the item with the recomputed lines' prices.
fn tier_prices(rec: &[Line], book: &PriceBook) -> Vec<Decimal> {
    let tiers: Vec<(i32, Decimal)> = rec
        .iter()
        .filter_map(|l| l.price.and_then(|p| Some((p.tier?, p.unit_price))))
        .collect();
    if tiers.is_empty() || tiers.len() != rec.len() {
        return Vec::new();
    }
    let lo = tiers.iter().map(|t| t.0).min().unwrap_or(1);
    let hi = tiers.iter().map(|t| t.0).max().unwrap_or(1);
    let mut out = Vec::new();
    for table in book.tier_tables(&rec[0].key) {
        let fits = tiers
            .iter()
            .all(|(t, p)| usize::try_from(*t - 1).ok().and_then(|k| table.get(k)) == Some(p));
        if !fits {
            continue;
        }
        for t in (lo - 1).max(1)..=(hi + 1) {
            if let Some(p) = usize::try_from(t - 1).ok().and_then(|k| table.get(k)) {
                out.push(*p);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::compare::tests::{d, issued, key, recomputed, settings};
    use super::super::compare::{reconcile, row_of};
    use super::*;
    use crate::name::Name;

    fn book() -> PriceBook {
        let mut b = PriceBook::default();
        let n = Name::new;
        // Egress in ap-guangzhou: 0.85 until a date, 0.80 after (flat, per GB).
        b.add_flat(
            n("apigw"),
            n("egress_traffic"),
            n("ap-guangzhou"),
            n("GB"),
            d("0.85"),
        );
        b.add_flat(
            n("apigw"),
            n("egress_traffic"),
            n("ap-guangzhou"),
            n("GB"),
            d("0.80"),
        );
        // Another region's price is no candidate.
        b.add_flat(
            n("apigw"),
            n("egress_traffic"),
            n("ap-hongkong"),
            n("GB"),
            d("1.00"),
        );
        b.add_tiers(
            n("apigw"),
            n("calls"),
            n("*"),
            vec![d("0.06"), d("0.04"), d("0.03")],
        );
        b
    }

    fn cause_of(iss: Vec<Line>, rec: Vec<Line>) -> (Status, Option<Cause>) {
        let book = book();
        let rows = reconcile(iss, rec, &settings(&book)).unwrap();
        assert_eq!(rows.len(), 1);
        (rows[0].status, rows[0].cause)
    }

    /// Planted: the platform kept the old price (0.85) after it changed to 0.80.
    #[test]
    fn a_price_not_switched_is_unit_price() {
        let k = key("a", "egress_traffic", "04");
        let rec = vec![recomputed(
            "u:1:0",
            k,
            "10",
            "GB",
            None,
            "0.80",
            "GB",
            "8.00000000",
        )];
        let iss = vec![issued("x", k, Some("10"), Some("GB"), "8.5")];
        assert_eq!(
            cause_of(iss, rec.clone()),
            (Status::AmountMismatch, Some(Cause::UnitPrice))
        );
        // The Hong Kong price is another region's: no cause.
        let iss = vec![issued("x", k, Some("10"), Some("GB"), "10")];
        assert_eq!(cause_of(iss, rec), (Status::AmountMismatch, None));
    }

    /// Planted: an hour that crosses into tier 2 (split 1 | 2) issued whole at tier 1.
    #[test]
    fn a_tier_boundary_crossed_late_is_tier() {
        let k = key("a", "calls", "05");
        let rec = vec![
            recomputed(
                "u:1:1",
                k,
                "400000",
                "call",
                Some(1),
                "0.06",
                "10000 call",
                "2.4",
            ),
            recomputed(
                "u:1:2",
                k,
                "600000",
                "call",
                Some(2),
                "0.04",
                "10000 call",
                "2.4",
            ),
        ];
        let iss = vec![issued("x", k, Some("1000000"), Some("call"), "6.00")];
        assert_eq!(
            cause_of(iss, rec.clone()),
            (Status::AmountMismatch, Some(Cause::Tier))
        );
        // 5.55 is no tier's price of the hour.
        let iss = vec![issued("x", k, Some("1000000"), Some("call"), "5.55")];
        assert_eq!(cause_of(iss, rec), (Status::AmountMismatch, None));
    }

    /// Planted: the platform billed what a package covered.
    #[test]
    fn a_missed_package_draw_is_package_deduction() {
        let k = key("a", "egress_traffic", "06");
        let mut line = recomputed("u:1:0", k, "3", "GB", None, "0.80", "GB", "2.4");
        line.price.as_mut().unwrap().deducted = d("7");
        let iss = vec![issued("x", k, Some("10"), Some("GB"), "8")];
        assert_eq!(
            cause_of(iss, vec![line.clone()]),
            (Status::QuantityMismatch, Some(Cause::PackageDeduction))
        );
        // 9 GB is neither the billable quantity nor billable + covered.
        let iss = vec![issued("x", k, Some("9"), Some("GB"), "7.2")];
        assert_eq!(cause_of(iss, vec![line]), (Status::QuantityMismatch, None));
    }

    /// Planted: one line issued twice.
    #[test]
    fn a_line_issued_twice_is_duplicate_issued() {
        let k = key("a", "egress_traffic", "07");
        let rec = vec![recomputed("u:1:0", k, "2", "GB", None, "0.80", "GB", "1.6")];
        let iss = vec![
            issued("x1", k, Some("2"), Some("GB"), "1.6"),
            issued("x2", k, Some("2"), Some("GB"), "1.6"),
        ];
        assert_eq!(
            cause_of(iss, rec.clone()),
            (Status::QuantityMismatch, Some(Cause::DuplicateIssued))
        );
        // Two halves are a split, not a duplicate: they add up.
        let iss = vec![
            issued("x1", k, Some("1"), Some("GB"), "0.8"),
            issued("x2", k, Some("1"), Some("GB"), "0.8"),
        ];
        assert_eq!(cause_of(iss, rec), (Status::Match, None));
    }

    /// Planted: a line rounded to cents by the platform.
    #[test]
    fn a_line_rounded_to_cents_is_rounding() {
        let k = key("a", "egress_traffic", "08");
        let rec = vec![recomputed(
            "u:1:0",
            k,
            "1.5",
            "MB",
            None,
            "0.80",
            "GB",
            "0.00117188",
        )];
        let iss = vec![issued("x", k, Some("1.5"), Some("MB"), "0.00")];
        assert_eq!(
            cause_of(iss, rec),
            (Status::WithinTolerance, Some(Cause::Rounding))
        );
        // Three lines a cent off each: still rounding at a tolerance of 0.01, but a mismatch.
        let rec: Vec<Line> = ["1", "2", "3"]
            .iter()
            .map(|i| {
                recomputed(
                    &format!("u:{i}:0"),
                    k,
                    "1",
                    "GB",
                    None,
                    "0.80",
                    "GB",
                    "0.804",
                )
            })
            .collect();
        let iss = vec![issued("x", k, Some("3"), Some("GB"), "2.43")];
        assert_eq!(
            cause_of(iss, rec),
            (Status::AmountMismatch, Some(Cause::Rounding))
        );
    }

    /// A difference that none of the explanations fits gets no cause, and one side alone none.
    #[test]
    fn no_cause_rather_than_a_wrong_one() {
        let k = key("a", "egress_traffic", "09");
        let rec = vec![recomputed("u:1:0", k, "10", "GB", None, "0.80", "GB", "8")];
        let book = book();
        let s = settings(&book);
        let iss = vec![issued("x", k, Some("10"), Some("GB"), "9.99")];
        assert_eq!(row_of(k, &iss, &rec, &s).unwrap().cause, None);
        assert_eq!(row_of(k, &[], &rec, &s).unwrap().cause, None);
        assert_eq!(row_of(k, &iss, &[], &s).unwrap().cause, None);
    }
}
