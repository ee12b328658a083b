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

use super::{dec_value, Broken, ColSpec, ColType, InputFile, Interner, Violation};
use crate::calendar::{CycleLen, Ts};
use crate::error::Result;
use crate::model::{PackageKind, PACKAGE_KINDS as KINDS};
use crate::money::{max_quantity, Unit, MAX_COEFFICIENT};
use crate::name::Name;
use rust_decimal::Decimal;
use std::collections::{HashMap, HashSet};

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

impl Package {
    /// The expiry as it stood at instant `t`: a renewal counts from its own instant on, so the
    /// draw order of an hour settled before a renewal sees the expiry of the time
    /// (docs/rules.md §3.4, §3.8).
    pub fn expires_as_of(&self, t: Ts) -> Ts {
        (self.renewals.iter())
            .find(|(at, _)| t < *at)
            .map_or(self.expires_at, |(_, before)| *before)
    }
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
    /// The renewals applied to the package (`rules::renewals`), in order: each one's instant
    /// and the expiry before it. Empty as read from the input.
    pub renewals: Vec<(Ts, Ts)>,
}

impl PackageSource {
    const ALL: [PackageSource; 3] = [
        PackageSource::Free,
        PackageSource::Purchased,
        PackageSource::Promotion,
    ];
}

const CYCLE_LENS: [CycleLen; 4] = [
    CycleLen::Hour,
    CycleLen::Day,
    CycleLen::Days30,
    CycleLen::Month,
];

pub fn from_files(
    files: &[InputFile],
    interner: &mut Interner,
    violations: &mut Vec<Violation>,
) -> Result<Vec<Package>> {
    let mut out: Vec<Package> = Vec::new();
    let mut seen: HashSet<Name> = HashSet::new();
    for f in files {
        let c = Columns::read(f)?;
        for i in 0..f.df.height() {
            let labels = Labels::of(f, &c, i)?;
            match c.check(i, labels, &seen) {
                Ok(row) => {
                    let package = c.package(i, row, interner);
                    seen.insert(package.package_id);
                    out.push(package);
                }
                Err((rule, detail)) => violations.push(Violation::new(
                    TABLE,
                    c.id[i].unwrap_or(""),
                    rule,
                    format!("{} row {i}: {detail}", f.name),
                    c.effective[i],
                )),
            }
        }
    }
    Ok(out)
}

/// The columns of one `packages` file, read once.
struct Columns<'a> {
    id: Vec<Option<&'a str>>,
    name: Vec<Option<&'a str>>,
    owner: Vec<Option<&'a str>>,
    product: Vec<Option<&'a str>>,
    sub: Vec<Option<&'a str>>,
    kind: Vec<Option<&'a str>>,
    source: Vec<Option<&'a str>>,
    order: Vec<Option<&'a str>>,
    region: Vec<Option<&'a str>>,
    unit: Vec<Option<&'a str>>,
    cycle: Vec<Option<&'a str>>,
    share: Vec<Option<&'a str>>,
    capacity: (u32, Vec<Option<i128>>),
    price_paid: (u32, Vec<Option<i128>>),
    voucher: (u32, Vec<Option<i128>>),
    idle: Vec<Option<bool>>,
    activated: Vec<Option<bool>>,
    purchased: Vec<Option<Ts>>,
    effective: Vec<Option<Ts>>,
    expires: Vec<Option<Ts>>,
    refunded: Vec<Option<Ts>>,
}

/// The enum columns of a row, parsed; an unknown value is a file-level error.
#[derive(Clone, Copy)]
struct Labels {
    kind: Option<PackageKind>,
    source: Option<PackageSource>,
    order_is_new: Option<bool>,
    cycle: Option<CycleLen>,
}

/// The columns of a row the contract does not make nullable, present.
struct Required<'a> {
    id: &'a str,
    name: &'a str,
    owner: &'a str,
    product: &'a str,
    sub: &'a str,
    region: &'a str,
    unit: &'a str,
    kind: PackageKind,
    source: PackageSource,
    order_is_new: bool,
}

/// What the row rules leave of a valid row.
struct Valid<'a> {
    names: Required<'a>,
    unit: Unit,
    cycle: Option<CycleLen>,
    capacity: Option<Decimal>,
    price_paid: Decimal,
    voucher: Decimal,
    idle_only: bool,
    activated: bool,
    effective: Ts,
    expires: Ts,
}

impl Labels {
    fn of(f: &InputFile, c: &Columns, i: usize) -> Result<Labels> {
        Ok(Labels {
            kind: label(f, i, "kind", c.kind[i], &KINDS, &PackageKind::ALL)?,
            source: label(f, i, "source", c.source[i], &SOURCES, &PackageSource::ALL)?,
            order_is_new: label(f, i, "order_type", c.order[i], &ORDER_TYPES, &[true, false])?,
            cycle: label(f, i, "cycle", c.cycle[i], &CYCLES, &CYCLE_LENS)?,
        })
    }
}

/// The value of `v` among `allowed` (the labels of `values`, in order).
fn label<T: Copy>(
    f: &InputFile,
    row: usize,
    col: &str,
    v: Option<&str>,
    allowed: &[&str],
    values: &[T],
) -> Result<Option<T>> {
    let Some(v) = v else { return Ok(None) };
    allowed
        .iter()
        .zip(values)
        .find(|(a, _)| **a == v)
        .map(|(_, t)| Some(*t))
        .ok_or_else(|| f.unknown_enum(col, row, v, allowed))
}

impl<'a> Columns<'a> {
    fn read(f: &'a InputFile) -> Result<Columns<'a>> {
        let s = |c| f.strs(c);
        Ok(Columns {
            id: s("package_id")?,
            name: s("package_name")?,
            owner: s("owner_uin")?,
            product: s("product")?,
            sub: s("sub_product")?,
            kind: s("kind")?,
            source: s("source")?,
            order: s("order_type")?,
            region: s("region")?,
            unit: s("unit")?,
            cycle: s("cycle")?,
            share: s("share_uins")?,
            capacity: f.decs("capacity")?,
            price_paid: f.decs("price_paid")?,
            voucher: f.decs("voucher_amount")?,
            idle: f.bools("idle_only")?,
            activated: f.bools("activated")?,
            purchased: f.ts("purchased_at")?,
            effective: f.ts("effective_at")?,
            expires: f.ts("expires_at")?,
            refunded: f.ts("refunded_at")?,
        })
    }

    /// The row rules of row `i`, in order: the first broken one is the row's violation.
    fn check(&self, i: usize, labels: Labels, seen: &HashSet<Name>) -> Result<Valid<'a>, Broken> {
        let names = self.required(i, labels)?;
        let (Some(effective), Some(expires)) = (self.effective[i], self.expires[i]) else {
            return Err(missing("`effective_at` or `expires_at` is null"));
        };
        let (capacity, price_paid, voucher) = self.amounts(i)?;
        let (Some(idle_only), Some(activated)) = (self.idle[i], self.activated[i]) else {
            return Err(missing("`idle_only` or `activated` is null"));
        };
        if seen.contains(names.id) {
            let detail = format!("package_id `{}` appears again", names.id);
            return Err(("duplicate_package_id", detail));
        }
        if expires <= effective {
            let detail = "expires_at is not after effective_at".to_string();
            return Err(("expiry_before_effect", detail));
        }
        let Some(unit) = Unit::parse(names.unit) else {
            return Err(("unknown_unit", format!("unit `{}`", names.unit)));
        };
        Ok(Valid {
            capacity: kept_capacity(names.kind, capacity, unit)?,
            cycle: kept_cycle(names.kind, labels.cycle)?,
            names,
            unit,
            price_paid,
            voucher,
            idle_only,
            activated,
            effective,
            expires,
        })
    }

    fn required(&self, i: usize, labels: Labels) -> Result<Required<'a>, Broken> {
        let (
            Some(id),
            Some(name),
            Some(owner),
            Some(product),
            Some(sub),
            Some(kind),
            Some(source),
            Some(order_is_new),
            Some(region),
            Some(unit),
        ) = (
            self.id[i],
            self.name[i],
            self.owner[i],
            self.product[i],
            self.sub[i],
            labels.kind,
            labels.source,
            labels.order_is_new,
            self.region[i],
            self.unit[i],
        )
        else {
            let present = [
                ("package_id", self.id[i].is_some()),
                ("package_name", self.name[i].is_some()),
                ("owner_uin", self.owner[i].is_some()),
                ("product", self.product[i].is_some()),
                ("sub_product", self.sub[i].is_some()),
                ("kind", labels.kind.is_some()),
                ("source", labels.source.is_some()),
                ("order_type", labels.order_is_new.is_some()),
                ("region", self.region[i].is_some()),
                ("unit", self.unit[i].is_some()),
            ];
            let col = present.iter().find(|(_, p)| !p).map_or("", |(c, _)| c);
            return Err(missing(&format!("`{col}` is null or empty")));
        };
        Ok(Required {
            id,
            name,
            owner,
            product,
            sub,
            region,
            unit,
            kind,
            source,
            order_is_new,
        })
    }

    /// Capacity (nullable), price paid and voucher amount: within range, and
    /// 0 ≤ voucher ≤ price paid.
    fn amounts(&self, i: usize) -> Result<(Option<Decimal>, Decimal, Decimal), Broken> {
        let dec = |(scale, m): &(u32, Vec<Option<i128>>)| dec_value(*scale, m[i]);
        let (Some(capacity), Some(price_paid), Some(voucher)) = (
            dec(&self.capacity),
            dec(&self.price_paid),
            dec(&self.voucher),
        ) else {
            let detail = super::dec_out_of_range("a decimal");
            return Err(("value_out_of_range", detail));
        };
        // Not nullable in the contract: a null is not read as false or 0.
        let (Some(price_paid), Some(voucher)) = (price_paid, voucher) else {
            return Err(missing("`price_paid` or `voucher_amount` is null"));
        };
        if price_paid < Decimal::ZERO || voucher < Decimal::ZERO || voucher > price_paid {
            let detail = format!(
                "price_paid {price_paid} and voucher_amount {voucher}: \
                 need 0 ≤ voucher_amount ≤ price_paid"
            );
            return Err(("value_out_of_range", detail));
        }
        Ok((capacity, price_paid, voucher))
    }

    fn package(&self, i: usize, row: Valid, interner: &mut Interner) -> Package {
        let n = &row.names;
        Package {
            package_id: Name::from(n.id),
            package_name: interner.get(n.name),
            owner_uin: interner.get(n.owner),
            product: interner.get(n.product),
            sub_product: interner.get(n.sub),
            kind: n.kind,
            source: n.source,
            order_is_new: n.order_is_new,
            region: interner.get(n.region),
            capacity: row.capacity,
            unit: row.unit,
            cycle: row.cycle,
            idle_only: row.idle_only,
            purchased_at: self.purchased[i].unwrap_or(row.effective),
            effective_at: row.effective,
            expires_at: row.expires,
            activated: row.activated,
            refunded_at: self.refunded[i],
            price_paid: row.price_paid,
            voucher_amount: row.voucher,
            share_uins: self.share[i]
                .map(|s| {
                    s.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| interner.get(s))
                        .collect()
                })
                .unwrap_or_default(),
            scopes: Vec::new(),
            renewals: Vec::new(),
        }
    }
}

fn missing(detail: &str) -> Broken {
    ("missing_value", detail.to_string())
}

/// The capacity a package of `kind` keeps: none when unlimited; else one is needed, at least 0
/// and at most [`max_quantity`] of its unit.
fn kept_capacity(
    kind: PackageKind,
    capacity: Option<Decimal>,
    unit: Unit,
) -> Result<Option<Decimal>, Broken> {
    match (kind, capacity) {
        (PackageKind::Unlimited, _) => Ok(None),
        (_, None) => Err((
            "missing_capacity",
            format!("a {} package needs a capacity", kind.as_str()),
        )),
        (_, Some(c)) if c.is_sign_negative() && !c.is_zero() => {
            Err(("negative_capacity", format!("capacity {c} < 0")))
        }
        (_, Some(c)) if c > max_quantity(unit) => Err((
            "value_out_of_range",
            format!("capacity {c} {unit} exceeds 10^24 base units"),
        )),
        (_, c) => Ok(c),
    }
}

/// The cycle a package of `kind` keeps: periodic needs one, sliced needs `1h` or `1d`, other
/// kinds have none.
fn kept_cycle(kind: PackageKind, cycle: Option<CycleLen>) -> Result<Option<CycleLen>, Broken> {
    match (kind, cycle) {
        (PackageKind::Periodic, None) => Err((
            "missing_cycle",
            "a periodic package needs a cycle".to_string(),
        )),
        (PackageKind::Sliced, c) if !matches!(c, Some(CycleLen::Hour | CycleLen::Day)) => Err((
            "missing_cycle",
            "a sliced package needs cycle 1h or 1d".to_string(),
        )),
        (PackageKind::Periodic | PackageKind::Sliced, c) => Ok(c),
        _ => Ok(None),
    }
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
            let row = ScopeRow {
                id: id[i],
                product: product[i],
                item: item[i],
                coefficient: dec_value(scale, coef[i]),
            };
            match scope(row, &index, packages) {
                Ok((p, prod, it, coefficient)) => packages[p].scopes.push(Scope {
                    product: interner.get(prod),
                    billing_item: interner.get(it),
                    coefficient,
                }),
                Err((rule, detail)) => {
                    let key = format!(
                        "{}/{}/{}",
                        id[i].unwrap_or(""),
                        product[i].unwrap_or(""),
                        item[i].unwrap_or("")
                    );
                    let detail = format!("{} row {i}: {detail}", f.name);
                    violations.push(Violation::new(SCOPE_TABLE, key, rule, detail, None));
                }
            }
        }
    }
    Ok(())
}

/// One `package_scope` row as read.
struct ScopeRow<'a> {
    id: Option<&'a str>,
    product: Option<&'a str>,
    item: Option<&'a str>,
    /// `None`: more than 28 significant digits.
    coefficient: Option<Option<Decimal>>,
}

/// A scope row checked against the row rules: the index of its package, its product and
/// billing item, its coefficient.
fn scope<'a>(
    row: ScopeRow<'a>,
    index: &HashMap<Name, usize>,
    packages: &[Package],
) -> Result<(usize, &'a str, &'a str, Decimal), Broken> {
    let (Some(pid), Some(prod), Some(it)) = (row.id, row.product, row.item) else {
        return Err(missing(
            "package_id, product or billing_item is null or empty",
        ));
    };
    let Some(&p) = index.get(pid) else {
        let detail = format!("no valid package `{pid}` in packages/");
        return Err(("unknown_package", detail));
    };
    let coefficient = coefficient(row.coefficient)?;
    if packages[p]
        .scopes
        .iter()
        .any(|s| &*s.product == prod && &*s.billing_item == it)
    {
        let detail = format!("{prod}/{it} listed twice for `{pid}`");
        return Err(("duplicate_scope", detail));
    }
    Ok((p, prod, it, coefficient))
}

/// A scope's coefficient: 1 when null; else within range, positive and at most
/// [`MAX_COEFFICIENT`].
fn coefficient(value: Option<Option<Decimal>>) -> Result<Decimal, Broken> {
    let Some(coefficient) = value else {
        let detail = super::dec_out_of_range("coefficient");
        return Err(("value_out_of_range", detail));
    };
    let coefficient = coefficient.unwrap_or(Decimal::ONE);
    if coefficient.is_sign_negative() && !coefficient.is_zero() {
        let detail = format!("coefficient {coefficient} < 0");
        return Err(("negative_coefficient", detail));
    }
    // 0 package units per usage unit: the package would cover any usage forever while its
    // remaining never moved (a 500 GB package would cover any volume at 0 a draw).
    if coefficient.is_zero() {
        let detail = "coefficient 0: a package must consume something per unit it covers";
        return Err(("value_out_of_range", detail.to_string()));
    }
    if coefficient > Decimal::from(MAX_COEFFICIENT) {
        let detail = format!("coefficient {coefficient} exceeds {MAX_COEFFICIENT}");
        return Err(("value_out_of_range", detail));
    }
    Ok(coefficient)
}
