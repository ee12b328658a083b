//! `subscriptions/`: instances and plans billed by time. Row rules: `missing_value`,
//! `value_out_of_range` (more than 28 significant digits, a negative price, a discount outside
//! (0, 1], `attached_apps` < 0; a monthly one without `expires_at` is `missing_value`),
//! `duplicate_subscription_id`, `expiry_before_effect`, `release_before_start`,
//! `elastic_off_before_on`. `elastic_unit_price` is optional (docs/contract.md, revised): a file
//! without it reads as null (the catalog's elastic price applies); a negative one is
//! `value_out_of_range`. An unknown `billing_mode` is a file-level error.

use super::{dec_value, Broken, ColSpec, ColType, InputFile, Interner, Violation};
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
    ("elastic_unit_price", ColType::Dec),
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
    /// The order's elastic price per QPS-day; `None`: the catalog's (docs/rules.md §4.3).
    pub elastic_unit_price: Option<Decimal>,
}

pub fn from_files(
    files: &[InputFile],
    interner: &mut Interner,
    violations: &mut Vec<Violation>,
) -> Result<Vec<Subscription>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for f in files {
        let c = Columns::read(f)?;
        for i in 0..f.df.height() {
            let billing_mode = match c.mode[i] {
                Some("monthly") => BillingMode::Monthly,
                Some("hourly") => BillingMode::Hourly,
                Some(o) => return Err(f.unknown_enum("billing_mode", i, o, &MODES)),
                None => BillingMode::Monthly,
            };
            match c.check(i, billing_mode, &mut seen) {
                Ok(row) => out.push(c.subscription(i, row, interner)),
                Err((rule, detail)) => violations.push(Violation::new(
                    "subscriptions",
                    c.sid[i].unwrap_or(""),
                    rule,
                    format!("{} row {i}: {detail}", f.name),
                    c.started[i],
                )),
            }
        }
    }
    Ok(out)
}

/// The columns of one `subscriptions` file, read once.
struct Columns<'a> {
    sid: Vec<Option<&'a str>>,
    uin: Vec<Option<&'a str>>,
    product: Vec<Option<&'a str>>,
    plan: Vec<Option<&'a str>>,
    region: Vec<Option<&'a str>>,
    mode: Vec<Option<&'a str>>,
    started: Vec<Option<Ts>>,
    expires: Vec<Option<Ts>>,
    released: Vec<Option<Ts>>,
    elastic_on: Vec<Option<Ts>>,
    elastic_off: Vec<Option<Ts>>,
    list_price: (u32, Vec<Option<i128>>),
    discount: (u32, Vec<Option<i128>>),
    price_paid: (u32, Vec<Option<i128>>),
    apps: Vec<Option<i64>>,
    elastic_price: (u32, Vec<Option<i128>>),
}

/// What the row rules leave of a valid row.
struct Valid<'a> {
    id: &'a str,
    uin: &'a str,
    product: &'a str,
    plan: &'a str,
    region: &'a str,
    billing_mode: BillingMode,
    started: Ts,
    list_price: Decimal,
    discount: Decimal,
    price_paid: Decimal,
    attached_apps: i64,
    elastic_unit_price: Option<Decimal>,
}

fn broken(rule: &'static str, detail: &str) -> Broken {
    (rule, detail.to_string())
}

impl<'a> Columns<'a> {
    fn read(f: &'a InputFile) -> Result<Columns<'a>> {
        let s = |c| f.strs(c);
        Ok(Columns {
            sid: s("subscription_id")?,
            uin: s("owner_uin")?,
            product: s("product")?,
            plan: s("plan")?,
            region: s("region")?,
            mode: s("billing_mode")?,
            started: f.ts("started_at")?,
            expires: f.ts("expires_at")?,
            released: f.ts("released_at")?,
            elastic_on: f.ts("elastic_on_at")?,
            elastic_off: f.ts("elastic_off_at")?,
            list_price: f.decs("list_price")?,
            discount: f.decs("discount")?,
            price_paid: f.decs("price_paid")?,
            apps: f.ints("attached_apps")?,
            elastic_price: f.decs("elastic_unit_price")?,
        })
    }

    /// The row rules of row `i`, in order: the first broken one is the row's violation. A
    /// valid row's id is added to `seen`.
    fn check(
        &self,
        i: usize,
        billing_mode: BillingMode,
        seen: &mut HashSet<String>,
    ) -> Result<Valid<'a>, Broken> {
        let (Some(id), Some(uin), Some(product), Some(plan), Some(region), Some(_), Some(started)) = (
            self.sid[i],
            self.uin[i],
            self.product[i],
            self.plan[i],
            self.region[i],
            self.mode[i],
            self.started[i],
        ) else {
            return Err(broken(
                "missing_value",
                "a required column is null or empty",
            ));
        };
        let (list_price, discount, price_paid, attached_apps) = self.prices(i)?;
        let elastic_unit_price = self.elastic_price(i)?;
        self.dates(i, started)?;
        if billing_mode == BillingMode::Monthly && self.expires[i].is_none() {
            return Err(broken(
                "missing_value",
                "a monthly subscription needs expires_at (the end of its paid term)",
            ));
        }
        if !seen.insert(id.to_string()) {
            return Err(broken(
                "duplicate_subscription_id",
                "subscription listed again",
            ));
        }
        Ok(Valid {
            id,
            uin,
            product,
            plan,
            region,
            billing_mode,
            started,
            list_price,
            discount,
            price_paid,
            attached_apps,
            elastic_unit_price,
        })
    }

    /// The order's elastic price, optional: null is no price of its own; a negative one is
    /// refused rather than read as a credit per QPS-day.
    fn elastic_price(&self, i: usize) -> Result<Option<Decimal>, Broken> {
        let (scale, m) = &self.elastic_price;
        match dec_value(*scale, m[i]) {
            None => Err(broken(
                "value_out_of_range",
                &super::dec_out_of_range("elastic_unit_price"),
            )),
            Some(Some(p)) if p < Decimal::ZERO => Err((
                "value_out_of_range",
                format!("elastic_unit_price {p} is negative (a price per QPS-day is ≥ 0)"),
            )),
            Some(p) => Ok(p),
        }
    }

    /// List price, discount, price paid and attached apps: present and within range.
    fn prices(&self, i: usize) -> Result<(Decimal, Decimal, Decimal, i64), Broken> {
        let dec = |(scale, m): &(u32, Vec<Option<i128>>)| dec_value(*scale, m[i]);
        let (Some(list_price), Some(discount), Some(price_paid)) = (
            dec(&self.list_price),
            dec(&self.discount),
            dec(&self.price_paid),
        ) else {
            return Err(broken(
                "value_out_of_range",
                &super::dec_out_of_range("list_price, discount or price_paid"),
            ));
        };
        // Not nullable in the contract: a null discount is not read as 1, nor a null
        // attached_apps as 0 (which would make a plan refundable).
        let (Some(list_price), Some(discount), Some(price_paid), Some(attached_apps)) =
            (list_price, discount, price_paid, self.apps[i])
        else {
            return Err(broken(
                "missing_value",
                "list_price, discount, price_paid or attached_apps is null",
            ));
        };
        if list_price < Decimal::ZERO
            || price_paid < Decimal::ZERO
            || discount <= Decimal::ZERO
            || discount > Decimal::ONE
            || attached_apps < 0
        {
            return Err(broken(
                "value_out_of_range",
                "need list_price ≥ 0, price_paid ≥ 0, 0 < discount ≤ 1, attached_apps ≥ 0",
            ));
        }
        Ok((list_price, discount, price_paid, attached_apps))
    }

    /// Expiry, release and the elastic switch are not before the start they follow.
    fn dates(&self, i: usize, started: Ts) -> Result<(), Broken> {
        if self.expires[i].is_some_and(|e| e <= started) {
            return Err(broken(
                "expiry_before_effect",
                "expires_at is not after started_at",
            ));
        }
        // Contradictory dates would otherwise drop fees without a word: an hourly instance
        // released before it started bills no hour, an elastic switch turned off before
        // it was turned on no day.
        if self.released[i].is_some_and(|r| r < started) {
            return Err(broken(
                "release_before_start",
                "released_at is before started_at",
            ));
        }
        if let (Some(on), Some(off)) = (self.elastic_on[i], self.elastic_off[i]) {
            if off < on {
                return Err(broken(
                    "elastic_off_before_on",
                    "elastic_off_at is before elastic_on_at",
                ));
            }
        }
        Ok(())
    }

    fn subscription(&self, i: usize, row: Valid, interner: &mut Interner) -> Subscription {
        Subscription {
            subscription_id: Name::from(row.id),
            owner_uin: interner.get(row.uin),
            product: interner.get(row.product),
            plan: interner.get(row.plan),
            region: interner.get(row.region),
            billing_mode: row.billing_mode,
            started_at: row.started,
            expires_at: self.expires[i],
            released_at: self.released[i],
            list_price: row.list_price,
            discount: row.discount,
            price_paid: row.price_paid,
            elastic_on_at: self.elastic_on[i],
            elastic_off_at: self.elastic_off[i],
            attached_apps: row.attached_apps,
            elastic_unit_price: row.elastic_unit_price,
        }
    }
}
