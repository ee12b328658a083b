//! `events/`: requests to act on the inventory (`refund`, `upgrade`, `renew`). Row rules:
//! `missing_value`, `duplicate_event_id`, `value_out_of_range` (a renewal's `months` outside
//! 1..=[`MAX_MONTHS`], a renewal's `price_paid` negative or beyond 28 digits). An unknown `kind`
//! is a file-level error.
//!
//! `price_paid` and `auto` are optional columns (docs/contract.md, revised): a file without them
//! reads as null. They mean something for renewals of packages only (docs/rules.md §3.8), where a
//! null `price_paid` is refused by `rules::renewals`, never read as 0.

use super::{ColSpec, ColType, InputFile, Interner, Violation};
use crate::calendar::Ts;
use crate::error::Result;
use crate::name::Name;
use rust_decimal::Decimal;
use std::collections::HashSet;

pub const COLUMNS: &[ColSpec] = &[
    ("event_id", ColType::Str),
    ("kind", ColType::Str),
    ("target_id", ColType::Str),
    ("at", ColType::Ts),
    ("new_plan", ColType::Str),
    ("months", ColType::Int),
    ("price_paid", ColType::Dec),
    ("auto", ColType::Bool),
];

const KINDS: [&str; 3] = ["refund", "upgrade", "renew"];

/// The most months one renewal may add: 100 years. (An int32 allows millions, which would end
/// terms past any date the calendar can hold.)
pub const MAX_MONTHS: i64 = 1200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Refund,
    Upgrade,
    Renew,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        KINDS[self as usize]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub event_id: Name,
    pub kind: EventKind,
    pub target_id: Name,
    pub at: Ts,
    pub new_plan: Option<Name>,
    pub months: Option<i64>,
    /// What a package renewal cost (docs/rules.md §3.8); ≥ 0 when present on a renewal.
    pub price_paid: Option<Decimal>,
    /// The platform renewed automatically.
    pub auto: Option<bool>,
}

pub fn from_files(
    files: &[InputFile],
    interner: &mut Interner,
    violations: &mut Vec<Violation>,
) -> Result<Vec<Event>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for f in files {
        let eid = f.strs("event_id")?;
        let kind = f.strs("kind")?;
        let target = f.strs("target_id")?;
        let at = f.ts("at")?;
        let plan = f.strs("new_plan")?;
        let months = f.ints("months")?;
        let (scale, price) = f.decs("price_paid")?;
        let auto = f.bools("auto")?;
        for i in 0..f.df.height() {
            let mut bad = |id: Option<&str>, rule: &str, why: &str, at: Option<Ts>| {
                let detail = format!("{} row {i}: {why}", f.name);
                violations.push(Violation::new("events", id.unwrap_or(""), rule, detail, at));
            };
            let k = match kind[i] {
                Some("refund") => EventKind::Refund,
                Some("upgrade") => EventKind::Upgrade,
                Some("renew") => EventKind::Renew,
                Some(o) => return Err(f.unknown_enum("kind", i, o, &KINDS)),
                None => {
                    bad(eid[i], "missing_value", "kind is null or empty", at[i]);
                    continue;
                }
            };
            let (Some(id), Some(t), Some(ts)) = (eid[i], target[i], at[i]) else {
                let why = "event_id, target_id or at is null or empty";
                bad(eid[i], "missing_value", why, at[i]);
                continue;
            };
            let price_paid = match values(k, months[i], scale, price[i]) {
                Ok(p) => p,
                Err(why) => {
                    bad(Some(id), "value_out_of_range", &why, Some(ts));
                    continue;
                }
            };
            if !seen.insert(id.to_string()) {
                bad(
                    Some(id),
                    "duplicate_event_id",
                    "event listed again",
                    Some(ts),
                );
                continue;
            }
            out.push(Event {
                event_id: Name::from(id),
                kind: k,
                target_id: interner.get(t),
                at: ts,
                new_plan: plan[i].map(|p| interner.get(p)),
                months: months[i],
                price_paid,
                auto: auto[i],
            });
        }
    }
    Ok(out)
}

/// A row's `price_paid`, or why its values are out of range. `months` and `price_paid` mean
/// something for a renewal only; other kinds ignore them (but a `price_paid` beyond a decimal's
/// 28 digits cannot be read at all).
fn values(
    kind: EventKind,
    months: Option<i64>,
    scale: u32,
    price: Option<i128>,
) -> std::result::Result<Option<Decimal>, String> {
    let renewal = kind == EventKind::Renew;
    if let Some(m) = months.filter(|m| renewal && !(1..=MAX_MONTHS).contains(m)) {
        return Err(format!("months {m} is not in 1..={MAX_MONTHS}"));
    }
    let Some(price_paid) = super::dec_value(scale, price) else {
        return Err(super::dec_out_of_range("price_paid"));
    };
    if let Some(p) = price_paid.filter(|p| renewal && *p < Decimal::ZERO) {
        return Err(format!("price_paid {p} of a renewal is negative"));
    }
    Ok(price_paid)
}
