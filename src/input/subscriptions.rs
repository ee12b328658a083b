//! `subscriptions/`: instances and plans billed by time. Row rules: `missing_value`,
//! `value_out_of_range` (more than 28 significant digits, a negative price, a discount outside
//! (0, 1], `attached_apps` < 0; a monthly one without `expires_at` is `missing_value`),
//! `duplicate_subscription_id`, `expiry_before_effect`, `release_before_start`,
//! `elastic_off_before_on`. An unknown `billing_mode` is a file-level error.

use super::{dec_value, ColSpec, ColType, InputFile, Interner, Violation};
use crate::calendar::Ts;
use crate::error::Result;
use crate::name::Name;
use rust_decimal::Decimal;
use std::collections::HashSet;

pub const COLUMNS: &[ColSpec] = &[
    ("subscription_id", ColType::Str),
    ("owner_uin", ColType::Str),
    ("product", ColType::Str),
    ("plan", ColType::Str),
    ("region", ColType::Str),
    ("billing_mode", ColType::Str),
    ("started_at", ColType::Ts),
    ("expires_at", ColType::Ts),
    ("released_at", ColType::Ts),
    ("list_price", ColType::Dec),
    ("discount", ColType::Dec),
    ("price_paid", ColType::Dec),
    ("elastic_on_at", ColType::Ts),
    ("elastic_off_at", ColType::Ts),
    ("attached_apps", ColType::Int),
];

const MODES: [&str; 2] = ["monthly", "hourly"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingMode {
    Monthly,
    Hourly,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub subscription_id: Name,
    pub owner_uin: Name,
    pub product: Name,
    pub plan: Name,
    pub region: Name,
    pub billing_mode: BillingMode,
    pub started_at: Ts,
    pub expires_at: Option<Ts>,
    pub released_at: Option<Ts>,
    pub list_price: Decimal,
    pub discount: Decimal,
    pub price_paid: Decimal,
    pub elastic_on_at: Option<Ts>,
    pub elastic_off_at: Option<Ts>,
    pub attached_apps: i64,
}

pub fn from_files(
    files: &[InputFile],
    interner: &mut Interner,
    violations: &mut Vec<Violation>,
) -> Result<Vec<Subscription>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for f in files {
        let s = |c| f.strs(c);
        let (sid, uin, product, plan, region, mode) = (
            s("subscription_id")?,
            s("owner_uin")?,
            s("product")?,
            s("plan")?,
            s("region")?,
            s("billing_mode")?,
        );
        let (started, expires, released, eon, eoff) = (
            f.ts("started_at")?,
            f.ts("expires_at")?,
            f.ts("released_at")?,
            f.ts("elastic_on_at")?,
            f.ts("elastic_off_at")?,
        );
        let (ls, list) = f.decs("list_price")?;
        let (ds, disc) = f.decs("discount")?;
        let (ps, paid) = f.decs("price_paid")?;
        let apps = f.ints("attached_apps")?;
        for i in 0..f.df.height() {
            let billing_mode = match mode[i] {
                Some("monthly") => BillingMode::Monthly,
                Some("hourly") => BillingMode::Hourly,
                Some(o) => return Err(f.unknown_enum("billing_mode", i, o, &MODES)),
                None => BillingMode::Monthly,
            };
            let id = sid[i].unwrap_or("");
            let mut bad = |rule: &str, detail: &str| {
                violations.push(Violation::new(
                    "subscriptions",
                    id,
                    rule,
                    format!("{} row {i}: {detail}", f.name),
                    started[i],
                ))
            };
            let (Some(id), Some(u), Some(p), Some(pl), Some(r), Some(_), Some(st)) = (
                sid[i], uin[i], product[i], plan[i], region[i], mode[i], started[i],
            ) else {
                bad("missing_value", "a required column is null or empty");
                continue;
            };
            let (Some(list_price), Some(discount), Some(price_paid)) = (
                dec_value(ls, list[i]),
                dec_value(ds, disc[i]),
                dec_value(ps, paid[i]),
            ) else {
                bad(
                    "value_out_of_range",
                    "list_price, discount or price_paid exceeds 28 significant digits",
                );
                continue;
            };
            // Not nullable in the contract: a null discount is not read as 1, nor a null
            // attached_apps as 0 (which would make a plan refundable).
            let (Some(list_price), Some(discount), Some(price_paid), Some(attached_apps)) =
                (list_price, discount, price_paid, apps[i])
            else {
                bad(
                    "missing_value",
                    "list_price, discount, price_paid or attached_apps is null",
                );
                continue;
            };
            if list_price < Decimal::ZERO
                || price_paid < Decimal::ZERO
                || discount <= Decimal::ZERO
                || discount > Decimal::ONE
                || attached_apps < 0
            {
                bad(
                    "value_out_of_range",
                    "need list_price ≥ 0, price_paid ≥ 0, 0 < discount ≤ 1, attached_apps ≥ 0",
                );
                continue;
            }
            if expires[i].is_some_and(|e| e <= st) {
                bad("expiry_before_effect", "expires_at is not after started_at");
                continue;
            }
            // Contradictory dates would otherwise drop fees without a word: an hourly instance
            // released before it started bills no hour, an elastic switch turned off before
            // it was turned on no day.
            if released[i].is_some_and(|r| r < st) {
                bad("release_before_start", "released_at is before started_at");
                continue;
            }
            if let (Some(on), Some(off)) = (eon[i], eoff[i]) {
                if off < on {
                    bad(
                        "elastic_off_before_on",
                        "elastic_off_at is before elastic_on_at",
                    );
                    continue;
                }
            }
            if billing_mode == BillingMode::Monthly && expires[i].is_none() {
                bad(
                    "missing_value",
                    "a monthly subscription needs expires_at (the end of its paid term)",
                );
                continue;
            }
            if !seen.insert(id.to_string()) {
                bad("duplicate_subscription_id", "subscription listed again");
                continue;
            }
            out.push(Subscription {
                subscription_id: Name::from(id),
                owner_uin: interner.get(u),
                product: interner.get(p),
                plan: interner.get(pl),
                region: interner.get(r),
                billing_mode,
                started_at: st,
                expires_at: expires[i],
                released_at: released[i],
                list_price,
                discount,
                price_paid,
                elastic_on_at: eon[i],
                elastic_off_at: eoff[i],
                attached_apps,
            });
        }
    }
    Ok(out)
}
