//! `accounts/` and `payments/` (top-ups). Row rules: `missing_value`, `value_out_of_range`,
//! `duplicate_owner_uin`, `duplicate_payment_id`, `non_positive_amount`.

use super::{dec_value, ColSpec, ColType, InputFile, Interner, Violation};
use crate::calendar::Ts;
use crate::error::Result;
use crate::name::Name;
use rust_decimal::Decimal;
use std::collections::HashSet;

pub const ACCOUNT_COLUMNS: &[ColSpec] = &[
    ("owner_uin", ColType::Str),
    ("opening_balance", ColType::Dec),
    ("opening_at", ColType::Ts),
    ("apigw_activated_at", ColType::Ts),
];

pub const PAYMENT_COLUMNS: &[ColSpec] = &[
    ("payment_id", ColType::Str),
    ("owner_uin", ColType::Str),
    ("paid_at", ColType::Ts),
    ("amount", ColType::Dec),
];

#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub owner_uin: Name,
    pub opening_balance: Decimal,
    pub opening_at: Ts,
    pub apigw_activated_at: Option<Ts>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Payment {
    pub payment_id: Name,
    pub owner_uin: Name,
    pub paid_at: Ts,
    pub amount: Decimal,
}

fn violation(
    table: &str,
    f: &InputFile,
    i: usize,
    id: &str,
    rule: &str,
    detail: &str,
    at: Option<Ts>,
) -> Violation {
    Violation::new(table, id, rule, format!("{} row {i}: {detail}", f.name), at)
}

pub fn accounts_from_files(
    files: &[InputFile],
    interner: &mut Interner,
    violations: &mut Vec<Violation>,
) -> Result<Vec<Account>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for f in files {
        let uin = f.strs("owner_uin")?;
        let (scale, bal) = f.decs("opening_balance")?;
        let opening = f.ts("opening_at")?;
        let act = f.ts("apigw_activated_at")?;
        for i in 0..f.df.height() {
            let id = uin[i].unwrap_or("");
            let v = |rule, detail: &str| violation("accounts", f, i, id, rule, detail, opening[i]);
            let (Some(u), Some(at)) = (uin[i], opening[i]) else {
                violations.push(v(
                    "missing_value",
                    "owner_uin or opening_at is null or empty",
                ));
                continue;
            };
            let balance = match required_dec(scale, bal[i], "opening_balance") {
                Ok(b) => b,
                Err((rule, detail)) => {
                    violations.push(v(rule, &detail));
                    continue;
                }
            };
            if !seen.insert(u.to_string()) {
                violations.push(v("duplicate_owner_uin", "account listed again"));
                continue;
            }
            out.push(Account {
                owner_uin: interner.get(u),
                opening_balance: balance,
                opening_at: at,
                apigw_activated_at: act[i],
            });
        }
    }
    Ok(out)
}

/// A decimal the contract does not make nullable, or the row rule it breaks with its detail:
/// `missing_value` (null) or `value_out_of_range` (more than 28 significant digits).
fn required_dec(
    scale: u32,
    mantissa: Option<i128>,
    col: &str,
) -> std::result::Result<Decimal, (&'static str, String)> {
    match dec_value(scale, mantissa) {
        Some(Some(d)) => Ok(d),
        Some(None) => Err(("missing_value", format!("{col} is null"))),
        None => Err(("value_out_of_range", super::dec_out_of_range(col))),
    }
}

pub fn payments_from_files(
    files: &[InputFile],
    interner: &mut Interner,
    violations: &mut Vec<Violation>,
) -> Result<Vec<Payment>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for f in files {
        let pid = f.strs("payment_id")?;
        let uin = f.strs("owner_uin")?;
        let paid = f.ts("paid_at")?;
        let (scale, amt) = f.decs("amount")?;
        for i in 0..f.df.height() {
            let id = pid[i].unwrap_or("");
            let v = |rule, detail: &str| violation("payments", f, i, id, rule, detail, paid[i]);
            let (Some(p), Some(u), Some(at)) = (pid[i], uin[i], paid[i]) else {
                violations.push(v(
                    "missing_value",
                    "payment_id, owner_uin or paid_at is null or empty",
                ));
                continue;
            };
            let amount = match required_dec(scale, amt[i], "amount") {
                Ok(a) => a,
                Err((rule, detail)) => {
                    violations.push(v(rule, &detail));
                    continue;
                }
            };
            if amount <= Decimal::ZERO {
                violations.push(v("non_positive_amount", &format!("amount {amount} ≤ 0")));
                continue;
            }
            if !seen.insert(p.to_string()) {
                violations.push(v("duplicate_payment_id", "payment listed again"));
                continue;
            }
            out.push(Payment {
                payment_id: Name::from(p),
                owner_uin: interner.get(u),
                paid_at: at,
                amount,
            });
        }
    }
    Ok(out)
}
