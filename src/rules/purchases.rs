//! Prepaid package purchases: one `purchase` bill line per paid package at `purchased_at`
//! (RULES.md §5: the ledger charges `price_paid` at the purchase instant). Free packages
//! (`price_paid = 0`) produce no line. Line ids are `p:<package_id>`.

use crate::calendar::Ts;
use crate::input::Package;
use crate::output::tables::{BillLine, ChargeKind};
use rust_decimal::Decimal;
use std::sync::Arc;

pub fn purchase_lines(packages: &[Package], as_of: Ts) -> Vec<BillLine> {
    packages
        .iter()
        .filter(|p| p.price_paid > Decimal::ZERO && p.purchased_at < as_of)
        .map(|p| BillLine {
            line_id: format!("p:{}", p.package_id),
            owner_uin: p.owner_uin.clone(),
            region: p.region.clone(),
            product: p.product.clone(),
            sub_product: p.sub_product.clone(),
            instance_id: p.package_id.clone(),
            billing_item: Arc::from("package"),
            charge_kind: ChargeKind::Purchase,
            charge_start: p.purchased_at,
            charge_end: p.purchased_at,
            usage_id: None,
            metered_quantity: Decimal::ONE,
            deducted_quantity: Decimal::ZERO,
            billable_quantity: Decimal::ONE,
            unit: Arc::from("each"),
            tier: None,
            unit_price: p.price_paid,
            price_unit: Arc::from("each"),
            amount: crate::money::m8(p.price_paid),
            charged_at: p.purchased_at,
        })
        .collect()
}
