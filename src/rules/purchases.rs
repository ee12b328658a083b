//! Prepaid package purchases: one `purchase` bill line per paid package at `purchased_at`
//! (RULES.md §5: the ledger charges `price_paid` at the purchase instant). Free packages
//! (`price_paid = 0`) produce no line. Line ids are `p:<package_id>`.

use crate::calendar::Ts;
use crate::input::Package;
use crate::output::tables::{BillLine, ChargeKind};
use rust_decimal::Decimal;

pub fn purchase_lines(packages: &[Package], as_of: Ts) -> Vec<BillLine> {
    packages
        .iter()
        .filter(|p| p.price_paid > Decimal::ZERO && p.purchased_at < as_of)
        .map(|p| {
            BillLine::one_off(
                format!("p:{}", p.package_id),
                (
                    &p.owner_uin,
                    &p.region,
                    &p.product,
                    &p.sub_product,
                    &p.package_id,
                ),
                "package",
                ChargeKind::Purchase,
                p.purchased_at,
                crate::money::m8(p.price_paid),
            )
        })
        .collect()
}
