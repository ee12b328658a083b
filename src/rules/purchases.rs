//! Prepaid package purchases: one `purchase` bill line per paid package at `purchased_at`
//! (docs/rules.md §5: the ledger charges `price_paid` at the purchase instant). Free packages
//! (`price_paid = 0`) produce no line. Line ids are `p:<package_id>`.
//!
//! Invariants: one line per package with `price_paid > 0` bought before the as-of moment, of
//! quantity 1 and amount `price_paid` at scale 8 (a voucher does not lower the charge: §6 only
//! keeps it from being refunded).

use crate::calendar::Ts;
use crate::input::Package;
use crate::model::{BillLine, ChargeKind};
use rust_decimal::Decimal;

pub fn purchase_lines(packages: &[Package], as_of: Ts) -> Vec<BillLine> {
    packages
        .iter()
        .filter(|p| p.price_paid > Decimal::ZERO && p.purchased_at < as_of)
        .map(|p| {
            purchase_line(
                p,
                format!("p:{}", p.package_id),
                p.purchased_at,
                p.price_paid,
            )
        })
        .collect()
}

/// A `purchase` line of package `p`: quantity 1, `price` at scale 8, charged at `at` (a package
/// bought, or renewed: `rules::renewals`).
pub fn purchase_line(p: &Package, line_id: String, at: Ts, price: Decimal) -> BillLine {
    BillLine::one_off(
        line_id,
        (
            &p.owner_uin,
            &p.region,
            &p.product,
            &p.sub_product,
            &p.package_id,
        ),
        "package",
        ChargeKind::Purchase,
        at,
        crate::money::m8(price),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::PackageKind;
    use crate::money::Unit;
    use crate::rules::deduction::tests::{package, t};
    use rust_decimal_macros::dec;

    #[test]
    fn one_line_per_paid_package_at_its_purchase_instant() {
        let mut paid = package(
            "P",
            PackageKind::Total,
            Some(dec!(10)),
            Unit::GB,
            "2024-05-03",
            "2024-12-01",
        );
        paid.purchased_at = t("2024-05-02 10:00:00");
        paid.price_paid = dec!(19.5);
        // A voucher pays part of the price: the price paid is still charged (§6: vouchers are
        // only never refunded).
        paid.voucher_amount = dec!(5);
        let mut free = paid.clone();
        free.package_id = "F".into();
        free.price_paid = Decimal::ZERO;
        let mut later = paid.clone();
        later.package_id = "L".into();
        later.purchased_at = t("2024-06-01");
        let lines = purchase_lines(&[paid, free, later], t("2024-06-01"));
        assert_eq!(
            lines.len(),
            1,
            "free, and bought at the as-of moment: no line"
        );
        let l = &lines[0];
        assert_eq!(l.line_id.as_str(), "p:P");
        assert_eq!(l.charge_kind, ChargeKind::Purchase);
        assert_eq!(l.billing_item.as_str(), "package");
        assert_eq!(l.instance_id.as_str(), "P");
        assert_eq!(
            (l.charge_start, l.charged_at),
            (t("2024-05-02 10:00:00"), t("2024-05-02 10:00:00"))
        );
        assert_eq!(
            (l.metered_quantity, l.billable_quantity, l.unit.as_str()),
            (dec!(1), dec!(1), "each")
        );
        assert_eq!((l.unit_price, l.amount), (dec!(19.5), dec!(19.50000000)));
        assert_eq!(l.usage_id, None);
    }
}
