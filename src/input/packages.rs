//! `packages/` and `package_scope/`: the resource-package inventory and what each package covers.
//!
//! Row rules (`Violation`, row left out): `missing_value`, `value_out_of_range` (more than 28
//! significant digits, a capacity over [`max_quantity`] of its unit, a coefficient of 0 or over
//! [`MAX_COEFFICIENT`], not 0 ≤ `voucher_amount` ≤ `price_paid`), `duplicate_package_id`,
//! `expiry_before_effect` (`expires_at ≤ effective_at`),
//! `missing_capacity` (non-unlimited without capacity), `negative_capacity`, `missing_cycle`
//! (periodic/sliced without a cycle; sliced only `1h`/`1d`), `unknown_unit`; for scopes:
//! `unknown_package`, `negative_coefficient`, `incompatible_unit` is found at draw time.
//! Unknown `kind`, `source`, `order_type` or `cycle` values are file-level errors.

use super::{dec_value, ColSpec, ColType, InputFile, Interner, Violation};
use crate::calendar::{CycleLen, Ts};
use crate::error::Result;
use crate::model::{PackageKind, PACKAGE_KINDS};
use crate::money::{max_quantity, Unit, MAX_COEFFICIENT};
use crate::name::Name;
use rust_decimal::Decimal;
use std::collections::HashMap;

pub const TABLE: &str = "packages";
pub const SCOPE_TABLE: &str = "package_scope";

pub const COLUMNS: &[ColSpec] = &[
    ("package_id", ColType::Str),
    ("package_name", ColType::Str),
    ("owner_uin", ColType::Str),
    ("product", ColType::Str),
    ("sub_product", ColType::Str),
    ("kind", ColType::Str),
    ("source", ColType::Str),
    ("order_type", ColType::Str),
    ("region", ColType::Str),
    ("capacity", ColType::Dec),
    ("unit", ColType::Str),
    ("cycle", ColType::Str),
    ("idle_only", ColType::Bool),
    ("purchased_at", ColType::Ts),
    ("effective_at", ColType::Ts),
    ("expires_at", ColType::Ts),
    ("activated", ColType::Bool),
    ("refunded_at", ColType::Ts),
    ("price_paid", ColType::Dec),
    ("voucher_amount", ColType::Dec),
    ("share_uins", ColType::Str),
];

pub const SCOPE_COLUMNS: &[ColSpec] = &[
    ("package_id", ColType::Str),
    ("product", ColType::Str),
    ("billing_item", ColType::Str),
    ("coefficient", ColType::Dec),
];

const SOURCES: [&str; 3] = ["free", "purchased", "promotion"];
const ORDER_TYPES: [&str; 2] = ["new", "renew"];
const CYCLES: [&str; 4] = ["1h", "1d", "30d", "1mo"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PackageSource {
    Free,
    Purchased,
    Promotion,
}

impl PackageSource {
    pub fn as_str(self) -> &'static str {
        SOURCES[self as usize]
    }
}

/// One `(product, billing_item)` a package covers, with its deduction coefficient.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    pub product: Name,
    pub billing_item: Name,
    pub coefficient: Decimal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    pub package_id: Name,
    pub package_name: Name,
    pub owner_uin: Name,
    pub product: Name,
    pub sub_product: Name,
    pub kind: PackageKind,
    pub source: PackageSource,
    pub order_is_new: bool,
    pub region: Name,
    /// Per cycle/slice (periodic/sliced) or whole (total); `None` for unlimited.
    pub capacity: Option<Decimal>,
    pub unit: Unit,
    pub cycle: Option<CycleLen>,
    pub idle_only: bool,
    pub purchased_at: Ts,
    pub effective_at: Ts,
    pub expires_at: Ts,
    pub activated: bool,
    pub refunded_at: Option<Ts>,
    pub price_paid: Decimal,
    pub voucher_amount: Decimal,
    pub share_uins: Vec<Name>,
    pub scopes: Vec<Scope>,
}

pub fn from_files(
    files: &[InputFile],
    interner: &mut Interner,
    violations: &mut Vec<Violation>,
) -> Result<Vec<Package>> {
    let mut out: Vec<Package> = Vec::new();
    let mut seen: HashMap<Name, ()> = HashMap::new();
    for f in files {
        let s = |c| f.strs(c);
        let (id, name, owner, product, sub) = (
            s("package_id")?,
            s("package_name")?,
            s("owner_uin")?,
            s("product")?,
            s("sub_product")?,
        );
        let (kind, source, order, region, unit, cycle, share) = (
            s("kind")?,
            s("source")?,
            s("order_type")?,
            s("region")?,
            s("unit")?,
            s("cycle")?,
            s("share_uins")?,
        );
        let (cap_scale, cap) = f.decs("capacity")?;
        let (paid_scale, paid) = f.decs("price_paid")?;
        let (vou_scale, vou) = f.decs("voucher_amount")?;
        let idle = f.bools("idle_only")?;
        let activated = f.bools("activated")?;
        let (purchased, effective, expires, refunded) = (
            f.ts("purchased_at")?,
            f.ts("effective_at")?,
            f.ts("expires_at")?,
            f.ts("refunded_at")?,
        );
        for i in 0..f.df.height() {
            let enum_of = |col: &str, v: Option<&str>, allowed: &[&str]| -> Result<Option<usize>> {
                match v {
                    None => Ok(None),
                    Some(v) => allowed
                        .iter()
                        .position(|a| *a == v)
                        .map(Some)
                        .ok_or_else(|| f.unknown_enum(col, i, v, allowed)),
                }
            };
            let k = enum_of("kind", kind[i], &PACKAGE_KINDS)?;
            let src = enum_of("source", source[i], &SOURCES)?;
            let ord = enum_of("order_type", order[i], &ORDER_TYPES)?;
            let cyc = enum_of("cycle", cycle[i], &CYCLES)?;
            let pid = id[i].unwrap_or("");
            let at = effective[i];
            let mut bad = |rule: &str, detail: String| {
                violations.push(Violation::new(
                    TABLE,
                    pid,
                    rule,
                    format!("{} row {i}: {detail}", f.name),
                    at,
                ));
            };
            let required = [
                ("package_id", id[i]),
                ("package_name", name[i]),
                ("owner_uin", owner[i]),
                ("product", product[i]),
                ("sub_product", sub[i]),
                ("kind", kind[i]),
                ("source", source[i]),
                ("order_type", order[i]),
                ("region", region[i]),
                ("unit", unit[i]),
            ];
            if let Some((col, _)) = required.iter().find(|(_, v)| v.is_none()) {
                bad("missing_value", format!("`{col}` is null or empty"));
                continue;
            }
            let (Some(eff), Some(exp)) = (effective[i], expires[i]) else {
                bad(
                    "missing_value",
                    "`effective_at` or `expires_at` is null".into(),
                );
                continue;
            };
            let (Some(capacity), Some(price_paid), Some(voucher)) = (
                dec_value(cap_scale, cap[i]),
                dec_value(paid_scale, paid[i]),
                dec_value(vou_scale, vou[i]),
            ) else {
                bad(
                    "value_out_of_range",
                    "a decimal exceeds 28 significant digits".into(),
                );
                continue;
            };
            // Not nullable in the contract: a null is not read as false or 0.
            let (Some(price_paid), Some(voucher)) = (price_paid, voucher) else {
                bad(
                    "missing_value",
                    "`price_paid` or `voucher_amount` is null".into(),
                );
                continue;
            };
            if price_paid < Decimal::ZERO || voucher < Decimal::ZERO || voucher > price_paid {
                bad(
                    "value_out_of_range",
                    format!(
                        "price_paid {price_paid} and voucher_amount {voucher}: \
                         need 0 ≤ voucher_amount ≤ price_paid"
                    ),
                );
                continue;
            }
            let (Some(idle_only), Some(is_activated)) = (idle[i], activated[i]) else {
                bad("missing_value", "`idle_only` or `activated` is null".into());
                continue;
            };
            let kind = [
                PackageKind::Total,
                PackageKind::Periodic,
                PackageKind::Sliced,
                PackageKind::Unlimited,
            ][k.expect("checked")];
            let pid = id[i].expect("checked");
            if seen.contains_key(pid) {
                bad(
                    "duplicate_package_id",
                    format!("package_id `{pid}` appears again"),
                );
                continue;
            }
            if exp <= eff {
                bad(
                    "expiry_before_effect",
                    "expires_at is not after effective_at".into(),
                );
                continue;
            }
            let Some(u) = Unit::parse(unit[i].expect("checked")) else {
                bad("unknown_unit", format!("unit `{}`", unit[i].unwrap_or("")));
                continue;
            };
            match (kind, capacity) {
                (PackageKind::Unlimited, _) => {}
                (_, None) => {
                    bad(
                        "missing_capacity",
                        format!("a {} package needs a capacity", kind.as_str()),
                    );
                    continue;
                }
                (_, Some(c)) if c.is_sign_negative() && !c.is_zero() => {
                    bad("negative_capacity", format!("capacity {c} < 0"));
                    continue;
                }
                (_, Some(c)) if c > max_quantity(u) => {
                    bad(
                        "value_out_of_range",
                        format!("capacity {c} {u} exceeds 10^24 base units"),
                    );
                    continue;
                }
                _ => {}
            }
            let cycle = cyc.map(|c| CycleLen::parse(CYCLES[c]).expect("listed"));
            match (kind, cycle) {
                (PackageKind::Periodic, None) => {
                    bad("missing_cycle", "a periodic package needs a cycle".into());
                    continue;
                }
                (PackageKind::Sliced, c) if !matches!(c, Some(CycleLen::Hour | CycleLen::Day)) => {
                    bad(
                        "missing_cycle",
                        "a sliced package needs cycle 1h or 1d".into(),
                    );
                    continue;
                }
                _ => {}
            }
            let pid: Name = Name::from(pid);
            seen.insert(pid, ());
            out.push(Package {
                package_id: pid,
                package_name: interner.get(name[i].expect("checked")),
                owner_uin: interner.get(owner[i].expect("checked")),
                product: interner.get(product[i].expect("checked")),
                sub_product: interner.get(sub[i].expect("checked")),
                kind,
                source: [
                    PackageSource::Free,
                    PackageSource::Purchased,
                    PackageSource::Promotion,
                ][src.expect("checked")],
                order_is_new: ord == Some(0),
                region: interner.get(region[i].expect("checked")),
                capacity: if kind == PackageKind::Unlimited {
                    None
                } else {
                    capacity
                },
                unit: u,
                cycle: if matches!(kind, PackageKind::Periodic | PackageKind::Sliced) {
                    cycle
                } else {
                    None
                },
                idle_only,
                purchased_at: purchased[i].unwrap_or(eff),
                effective_at: eff,
                expires_at: exp,
                activated: is_activated,
                refunded_at: refunded[i],
                price_paid,
                voucher_amount: voucher,
                share_uins: share[i]
                    .map(|s| {
                        s.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(|s| interner.get(s))
                            .collect()
                    })
                    .unwrap_or_default(),
                scopes: Vec::new(),
            });
        }
    }
    Ok(out)
}

/// Reads `package_scope/` and attaches each entry to its package.
pub fn attach_scopes(
    files: &[InputFile],
    packages: &mut [Package],
    interner: &mut Interner,
    violations: &mut Vec<Violation>,
) -> Result<()> {
    let index: HashMap<Name, usize> = packages
        .iter()
        .enumerate()
        .map(|(i, p)| (p.package_id, i))
        .collect();
    for f in files {
        let id = f.strs("package_id")?;
        let product = f.strs("product")?;
        let item = f.strs("billing_item")?;
        let (scale, coef) = f.decs("coefficient")?;
        for i in 0..f.df.height() {
            let pid = id[i].unwrap_or("");
            let key = format!(
                "{pid}/{}/{}",
                product[i].unwrap_or(""),
                item[i].unwrap_or("")
            );
            let mut bad = |rule: &str, detail: String| {
                violations.push(Violation::new(
                    SCOPE_TABLE,
                    key.clone(),
                    rule,
                    format!("{} row {i}: {detail}", f.name),
                    None,
                ));
            };
            let (Some(pid), Some(prod), Some(it)) = (id[i], product[i], item[i]) else {
                bad(
                    "missing_value",
                    "package_id, product or billing_item is null or empty".into(),
                );
                continue;
            };
            let Some(&p) = index.get(pid) else {
                bad(
                    "unknown_package",
                    format!("no valid package `{pid}` in packages/"),
                );
                continue;
            };
            let coefficient = match dec_value(scale, coef[i]) {
                Some(c) => c.unwrap_or(Decimal::ONE),
                None => {
                    bad(
                        "value_out_of_range",
                        "coefficient exceeds 28 significant digits".into(),
                    );
                    continue;
                }
            };
            if coefficient.is_sign_negative() && !coefficient.is_zero() {
                bad(
                    "negative_coefficient",
                    format!("coefficient {coefficient} < 0"),
                );
                continue;
            }
            // 0 package units per usage unit: the package would cover any usage forever while
            // its remaining never moved (a 500 GB package covering 67,609 GB at 0 a draw).
            if coefficient.is_zero() {
                bad(
                    "value_out_of_range",
                    "coefficient 0: a package must consume something per unit it covers".into(),
                );
                continue;
            }
            if coefficient > Decimal::from(MAX_COEFFICIENT) {
                bad(
                    "value_out_of_range",
                    format!("coefficient {coefficient} exceeds {MAX_COEFFICIENT}"),
                );
                continue;
            }
            let scopes = &mut packages[p].scopes;
            if scopes
                .iter()
                .any(|s| &*s.product == prod && &*s.billing_item == it)
            {
                bad(
                    "duplicate_scope",
                    format!("{prod}/{it} listed twice for `{pid}`"),
                );
                continue;
            }
            scopes.push(Scope {
                product: interner.get(prod),
                billing_item: interner.get(it),
                coefficient,
            });
        }
    }
    Ok(())
}
