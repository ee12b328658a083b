//! The lines both sides of a reconciliation are made of: the key of docs/contract.md
//! ("Reconciliation against issued bills"), and a [`Line`] read from a frame of the `issued/`
//! table ([`issued_lines`]) or of a recomputed output's `bill_lines` ([`recomputed_lines`]).
//!
//! Invariants: a value the contract does not allow is an error naming the file, the column, the
//! row and the value (never a panic, never a silent default): a null or empty id, account,
//! charge kind, product, billing item, `charge_start` or amount; a charge kind outside the six;
//! an amount with a non-zero digit past the 8th decimal or a quantity past the 9th; a quantity
//! over 10^24 base units (beyond what the decimal arithmetic holds once converted). An issued
//! `sub_product`, `region` or `instance_id` left null reads as empty (a platform need not fill
//! them; the key then has an empty part).

use crate::calendar::Ts;
use crate::error::{Error, Result};
use crate::input::{ColSpec, ColType, InputFile};
use crate::money::{from_mantissa, Unit, MAX_BASE_QUANTITY};
use crate::name::Name;
use compact_str::CompactString;
use rust_decimal::Decimal;

/// The charge kinds of `bill_lines.charge_kind`.
pub const CHARGE_KINDS: [&str; 6] = [
    "usage",
    "purchase",
    "subscription",
    "elastic",
    "refund",
    "upgrade",
];

/// The columns of `issued/` (docs/contract.md).
pub const ISSUED_COLUMNS: &[ColSpec] = &[
    ("issued_line_id", ColType::Str),
    ("owner_uin", ColType::Str),
    ("charge_kind", ColType::Str),
    ("product", ColType::Str),
    ("sub_product", ColType::Str),
    ("billing_item", ColType::Str),
    ("region", ColType::Str),
    ("instance_id", ColType::Str),
    ("charge_start", ColType::Ts),
    ("charge_end", ColType::Ts),
    ("quantity", ColType::Dec),
    ("unit", ColType::Str),
    ("amount", ColType::Dec),
];

/// The columns of `bill_lines` a reconciliation reads.
pub const RECOMPUTED_COLUMNS: &[ColSpec] = &[
    ("line_id", ColType::Str),
    ("owner_uin", ColType::Str),
    ("charge_kind", ColType::Str),
    ("product", ColType::Str),
    ("sub_product", ColType::Str),
    ("billing_item", ColType::Str),
    ("region", ColType::Str),
    ("instance_id", ColType::Str),
    ("charge_start", ColType::Ts),
    ("billable_quantity", ColType::Dec),
    ("deducted_quantity", ColType::Dec),
    ("unit", ColType::Str),
    ("tier", ColType::Int),
    ("unit_price", ColType::Dec),
    ("price_unit", ColType::Str),
    ("amount", ColType::Dec),
];

/// The key both sides are summed by, in the contract's column order (which is its sort order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub owner_uin: Name,
    pub charge_kind: Name,
    pub product: Name,
    pub sub_product: Name,
    pub billing_item: Name,
    pub region: Name,
    pub instance_id: Name,
    pub charge_start: Ts,
}

/// How a recomputed line was priced (for the causes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinePrice {
    pub tier: Option<i32>,
    pub unit_price: Decimal,
    pub price_unit: Name,
    /// What packages covered, in the line's unit (on a usage row's first part only).
    pub deducted: Decimal,
}

/// One line of either side.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// `issued_line_id` or `line_id`.
    pub id: CompactString,
    pub key: Key,
    pub quantity: Option<Decimal>,
    pub unit: Option<Name>,
    pub amount: Decimal,
    /// Recomputed lines only.
    pub price: Option<LinePrice>,
}

/// A column of quantities and the column of their units.
type Quantities = (Vec<Option<Decimal>>, Vec<Option<Name>>);

/// A file's columns as the readers need them, with the errors naming file, column and row.
struct Cols<'a> {
    f: &'a InputFile,
}

impl<'a> Cols<'a> {
    fn bad(&self, col: &str, i: usize, message: String) -> Error {
        Error::BadValue {
            path: self.f.path.clone(),
            column: col.to_string(),
            row: self.f.row(i),
            message,
        }
    }

    /// A string column whose every value must be present.
    fn required(&self, col: &str) -> Result<Vec<&'a str>> {
        self.f
            .strs(col)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                v.ok_or_else(|| self.bad(col, i, "null or empty: a value is required".into()))
            })
            .collect()
    }

    /// A string column read as names, null or empty as `""`.
    fn names_or_empty(&self, col: &str) -> Result<Vec<Name>> {
        Ok(self
            .f
            .strs(col)?
            .into_iter()
            .map(|v| Name::new(v.unwrap_or("")))
            .collect())
    }

    fn instants(&self, col: &str) -> Result<Vec<Ts>> {
        self.f
            .ts(col)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| v.ok_or_else(|| self.bad(col, i, "null: a timestamp is required".into())))
            .collect()
    }

    /// A decimal column with at most `decimals` decimals (trailing zeros beyond are no loss).
    fn decimals(&self, col: &str, decimals: u32) -> Result<Vec<Option<Decimal>>> {
        let (scale, values) = self.f.decs(col)?;
        values
            .into_iter()
            .enumerate()
            .map(|(i, m)| match m {
                None => Ok(None),
                Some(m) => exact(m, scale, decimals).map(Some).ok_or_else(|| {
                    self.bad(
                        col,
                        i,
                        format!(
                            "{m}e-{scale} has more than 28 significant digits or a non-zero \
                             digit past the {decimals}th decimal"
                        ),
                    )
                }),
            })
            .collect()
    }

    fn charge_kinds(&self) -> Result<Vec<Name>> {
        let kinds = self.required("charge_kind")?;
        kinds
            .into_iter()
            .enumerate()
            .map(|(i, k)| match CHARGE_KINDS.contains(&k) {
                true => Ok(Name::new(k)),
                false => Err(self
                    .f
                    .unknown_enum("charge_kind", self.f.row(i), k, &CHARGE_KINDS)),
            })
            .collect()
    }

    /// The key of every row.
    fn keys(&self) -> Result<Vec<Key>> {
        let owner = self.required("owner_uin")?;
        let kind = self.charge_kinds()?;
        let product = self.required("product")?;
        let sub = self.names_or_empty("sub_product")?;
        let item = self.required("billing_item")?;
        let region = self.names_or_empty("region")?;
        let instance = self.names_or_empty("instance_id")?;
        let start = self.instants("charge_start")?;
        Ok((0..self.f.df.height())
            .map(|i| Key {
                owner_uin: Name::new(owner[i]),
                charge_kind: kind[i],
                product: Name::new(product[i]),
                sub_product: sub[i],
                billing_item: Name::new(item[i]),
                region: region[i],
                instance_id: instance[i],
                charge_start: start[i],
            })
            .collect())
    }

    /// Quantities with their units, each within [`MAX_BASE_QUANTITY`] base units.
    fn quantities(&self, col: &str) -> Result<Quantities> {
        let q = self.decimals(col, 9)?;
        let units: Vec<Option<Name>> = self
            .f
            .strs("unit")?
            .into_iter()
            .map(|u| u.map(Name::new))
            .collect();
        let limit = Decimal::from_i128_with_scale(MAX_BASE_QUANTITY, 0);
        for (i, (q, u)) in q.iter().zip(&units).enumerate() {
            let factor = u
                .and_then(|u| Unit::parse(&u))
                .map_or(Decimal::ONE, Unit::factor);
            if q.is_some_and(|q| q.abs() > limit / factor) {
                return Err(self.bad(
                    col,
                    i,
                    format!("{} is over 10^24 base units", q.unwrap_or_default()),
                ));
            }
        }
        Ok((q, units))
    }

    fn amounts(&self) -> Result<Vec<Decimal>> {
        self.decimals("amount", 8)?
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                a.ok_or_else(|| self.bad("amount", i, "null: an amount is required".into()))
            })
            .collect()
    }
}

/// `m × 10^-scale` with at most `decimals` decimals, or `None` (a non-zero digit past them, or
/// past 28 significant digits).
fn exact(m: i128, scale: u32, decimals: u32) -> Option<Decimal> {
    if scale <= decimals {
        return from_mantissa(m, scale);
    }
    let step = 10i128.checked_pow(scale - decimals)?;
    (m % step == 0).then(|| from_mantissa(m / step, decimals))?
}

/// The lines of one file of `issued/` (columns checked against [`ISSUED_COLUMNS`]).
pub fn issued_lines(f: &InputFile) -> Result<Vec<Line>> {
    let c = Cols { f };
    let ids = c.required("issued_line_id")?;
    let keys = c.keys()?;
    let (quantity, unit) = c.quantities("quantity")?;
    let amount = c.amounts()?;
    Ok((0..f.df.height())
        .map(|i| Line {
            id: CompactString::from(ids[i]),
            key: keys[i],
            quantity: quantity[i],
            unit: unit[i],
            amount: amount[i],
            price: None,
        })
        .collect())
}

/// The lines of one file of a recomputed output's `bill_lines` (columns checked against
/// [`RECOMPUTED_COLUMNS`]).
pub fn recomputed_lines(f: &InputFile) -> Result<Vec<Line>> {
    let c = Cols { f };
    let ids = c.required("line_id")?;
    let keys = c.keys()?;
    let (quantity, unit) = c.quantities("billable_quantity")?;
    let deducted = c.decimals("deducted_quantity", 9)?;
    let tier = f.ints("tier")?;
    let price = c.decimals("unit_price", 8)?;
    let price_unit = c.required("price_unit")?;
    let amount = c.amounts()?;
    (0..f.df.height())
        .map(|i| {
            let unit_price = price[i]
                .ok_or_else(|| c.bad("unit_price", i, "null: a price is required".into()))?;
            Ok(Line {
                id: CompactString::from(ids[i]),
                key: keys[i],
                quantity: quantity[i],
                unit: unit[i],
                amount: amount[i],
                price: Some(LinePrice {
                    tier: tier[i].and_then(|t| i32::try_from(t).ok()),
                    unit_price,
                    price_unit: Name::new(price_unit[i]),
                    deducted: deducted[i].unwrap_or_default(),
                }),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_past_the_allowed_scale_are_refused_unless_zero() {
        assert_eq!(exact(1234, 2, 8), Some(Decimal::new(1234, 2)));
        // 0.123456789 as an amount (8 decimals at most): refused; 0.123456780: accepted.
        assert_eq!(exact(123_456_789, 9, 8), None);
        assert_eq!(exact(123_456_780, 9, 8), Some(Decimal::new(12_345_678, 8)));
    }
}
