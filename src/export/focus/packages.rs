//! The resource packages of an output, as the FOCUS export amortizes them: each package's price
//! (`package_status.price_paid` plus the renewals' purchase lines in `bill_lines`) spread over
//! its whole capacity (total: `capacity`; periodic: `capacity` × cycles; sliced: `capacity` ×
//! slices), so a unit of the package costs `price / capacity over the term` ([`Package::rate`]).
//! A draw's `EffectiveCost` is what it took at that rate; the capacity a cycle left when it
//! ended, or a package left when it expired or was refunded, is an `Unused` row at the same
//! rate ([`unused_rows`]), so the `Used` and `Unused` rows of a package ending inside the output
//! add up to its price (to the cent: one rounding at scale 8 per row).
//!
//! Unlimited packages have no capacity to price a unit of: their price is spread over the hours
//! of their term instead ([`super::hourly`], loaded here with the rest).
//!
//! Invariants: an output without `package_status.price_paid` (written by an older reckon) has
//! price 0 everywhere, so nothing is amortized; the rate is `None` for unlimited packages (no
//! capacity: [`super::hourly`] amortizes them) and for a capacity of 0, whose draws keep
//! `EffectiveCost` 0; `Unused` rows are written for paid packages only
//! (free quota has no purchase to spread), one per package and month in which cycles ended,
//! for the cycles that ended inside the output's window and by its as-of moment; the leftover
//! of a cycle is the `remaining_after` of its last draw (a full capacity without draws).

use super::hourly::{self, Hourly};
use super::row::{focus_unit, price_details, Charge, Commitment, Cost, FocusRow, Quantity, Sku};
use crate::calendar::{natural_slice, periodic_cycle, Cycle, CycleLen, Month, Ts};
use crate::error::{Error, Result};
use crate::money;
use crate::output::read;
use polars::prelude::*;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::OnceLock;

/// One package of `package_status`, with what amortizing it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub product: String,
    pub sub_product: String,
    pub region: Option<String>,
    pub kind: String,
    pub status: String,
    /// reckon's unit of `capacity`.
    pub unit: String,
    pub capacity: Option<Decimal>,
    pub cycle: Option<CycleLen>,
    pub effective_at: Ts,
    pub expires_at: Ts,
    pub invalid_at: Option<Ts>,
    /// The inventory's price plus the renewals in the output.
    pub price: Decimal,
    /// The remaining of a total package as of the as-of moment.
    pub total_remaining: Option<Decimal>,
    /// [`Package::rate`], computed once: counting a sliced package's hourly slices for every
    /// draw would cost thousands of steps a draw.
    pub rate_once: OnceLock<Option<Decimal>>,
}

impl Package {
    /// The cycles (periodic) or slices (sliced) of the package, in order; none for the others.
    pub fn cycles(&self) -> Vec<Cycle> {
        let Some(len) = self.cycle else {
            return Vec::new();
        };
        let at = |t| match self.kind.as_str() {
            "periodic" => periodic_cycle(self.effective_at, self.expires_at, len, t),
            "sliced" => natural_slice(self.effective_at, self.expires_at, len, t),
            _ => None,
        };
        let mut out = Vec::new();
        let mut t = self.effective_at;
        while let Some(c) = at(t) {
            out.push(c);
            if c.end <= t {
                break;
            }
            t = c.end;
        }
        out
    }

    /// The capacity over the whole term, in the package's unit; `None` for unlimited packages.
    pub fn term_capacity(&self) -> Option<Decimal> {
        let cap = self.capacity?;
        match self.kind.as_str() {
            "periodic" | "sliced" => Some(cap * Decimal::from(self.cycles().len() as i64)),
            _ => Some(cap),
        }
    }

    /// CNY per package unit: the price over the term's capacity.
    pub fn rate(&self) -> Option<Decimal> {
        *self.rate_once.get_or_init(|| {
            let cap = self.term_capacity().filter(|c| !c.is_zero())?;
            Some(self.price / cap)
        })
    }

    /// The amortized cost of `quantity` package units (scale 8).
    pub fn amortized(&self, quantity: Decimal) -> Decimal {
        self.rate()
            .map_or(Decimal::ZERO, |r| money::m8(quantity * r))
    }

    /// The FOCUS unit of the package's capacity.
    pub fn focus_unit(&self) -> String {
        focus_unit(&self.unit)
    }

    /// The FOCUS unit the package is measured in (`CommitmentDiscountUnit`): its capacity's,
    /// or hours of cover for an unlimited package.
    pub fn commitment_unit(&self) -> String {
        if hourly::is_hourly(self) {
            hourly::HOURS.to_string()
        } else {
            self.focus_unit()
        }
    }

    /// `CommitmentDiscountQuantity` of its purchase: the capacity of the term, or for an
    /// unlimited package the hours of its term (0 for an empty validity: a purchase's quantity
    /// is never null).
    pub fn term_quantity(&self) -> Option<Decimal> {
        if hourly::is_hourly(self) {
            Some(hourly::Term::of(self).map_or(Decimal::ZERO, |t| Decimal::from(t.hours)))
        } else {
            self.term_capacity()
        }
    }
}

/// The packages of an output by id, and the window the output covers.
#[derive(Debug, Default)]
pub struct Packages {
    pub by_id: HashMap<String, Package>,
    /// `(package_id, cycle_start)` → the cycle's leftover after its last draw in the output.
    pub leftovers: HashMap<(String, Ts), Decimal>,
    /// The amortization of the unlimited packages by the hour.
    pub hourly: Hourly,
    pub window_start: Ts,
    pub as_of: Ts,
}

impl Packages {
    pub fn get(&self, id: &str) -> Option<&Package> {
        self.by_id.get(id)
    }
}

fn cols(df: &DataFrame, c: &str) -> Result<Vec<Option<String>>> {
    read::strings(df, c)
}

/// The columns `names` of a Parquet file, the others left unread.
pub(super) fn read_columns(path: &Path, names: &[&str]) -> Result<DataFrame> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    ParquetReader::new(file)
        .with_columns(Some(names.iter().map(|s| s.to_string()).collect()))
        .finish()
        .map_err(|e| Error::Parquet {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// The packages of the output `dir` (window `[window_start, as_of)`): `package_status`, the
/// renewals' purchase lines of `bill_lines` (`p:<package>:r:<event>`), and each cycle's
/// leftover from `deduction_details`; the unlimited packages amortized by the hour.
pub fn load(dir: &Path, window_start: Ts, as_of: Ts) -> Result<Packages> {
    let mut by_id = HashMap::new();
    if let Some(ps) = read::table(dir, "package_status")? {
        for p in status_rows(&ps)? {
            by_id.insert(p.id.clone(), p);
        }
    }
    for f in read::table_files(dir, "bill_lines")?.unwrap_or_default() {
        let bl = read_columns(&f.path, &["line_id", "instance_id", "amount"])?;
        let (ids, pkgs) = (cols(&bl, "line_id")?, cols(&bl, "instance_id")?);
        for ((id, pkg), amount) in ids.iter().zip(&pkgs).zip(read::decimals(&bl, "amount")?) {
            let (Some(id), Some(pkg), Some(amount)) = (id, pkg, amount) else {
                continue;
            };
            if id.starts_with(&format!("p:{pkg}:r:")) {
                if let Some(p) = by_id.get_mut(pkg) {
                    p.price += amount;
                }
            }
        }
    }
    let mut leftovers: HashMap<(String, Ts), Decimal> = HashMap::new();
    for f in read::table_files(dir, "deduction_details")?.unwrap_or_default() {
        let dd = read_columns(&f.path, &["package_id", "cycle_start", "remaining_after"])?;
        let ids = cols(&dd, "package_id")?;
        let starts = read::instants(&dd, "cycle_start")?;
        let after = read::decimals(&dd, "remaining_after")?;
        for ((id, start), left) in ids.into_iter().zip(starts).zip(after) {
            if let (Some(id), Some(start), Some(left)) = (id, start, left) {
                let e = leftovers.entry((id, start)).or_insert(left);
                *e = (*e).min(left);
            }
        }
    }
    let hourly = hourly::load(dir, &by_id, window_start, as_of)?;
    Ok(Packages {
        by_id,
        leftovers,
        hourly,
        window_start,
        as_of,
    })
}

/// The rows of `package_status`.
fn status_rows(ps: &DataFrame) -> Result<Vec<Package>> {
    let s = |c: &str| cols(ps, c);
    let (ids, names, owners) = (s("package_id")?, s("package_name")?, s("owner_uin")?);
    let (products, subs, regions) = (s("product")?, s("sub_product")?, s("region")?);
    let (kinds, statuses, units) = (s("kind")?, s("status")?, s("unit")?);
    // An output written before `cycle` and `price_paid` existed: nothing to amortize.
    let has = |c: &str| ps.schema().contains(c);
    let cycles = if has("cycle") {
        s("cycle")?
    } else {
        vec![None; ps.height()]
    };
    let price = if has("price_paid") {
        read::decimals(ps, "price_paid")?
    } else {
        vec![None; ps.height()]
    };
    let capacity = read::decimals(ps, "capacity")?;
    let remaining = read::decimals(ps, "total_remaining")?;
    let effective = read::instants(ps, "effective_at")?;
    let expires = read::instants(ps, "expires_at")?;
    let invalid = read::instants(ps, "invalid_at")?;
    let get = |v: &[Option<String>], i: usize| v[i].clone().unwrap_or_default();
    Ok((0..ps.height())
        .map(|i| Package {
            id: get(&ids, i),
            name: get(&names, i),
            owner: get(&owners, i),
            product: get(&products, i),
            sub_product: get(&subs, i),
            region: regions[i].clone().filter(|r| r != "*"),
            kind: get(&kinds, i),
            status: get(&statuses, i),
            unit: get(&units, i),
            capacity: capacity[i],
            cycle: cycles[i].as_deref().and_then(CycleLen::parse),
            effective_at: effective[i].unwrap_or_default(),
            expires_at: expires[i].unwrap_or_default(),
            invalid_at: invalid[i],
            price: price[i].unwrap_or_default(),
            total_remaining: remaining[i],
            rate_once: OnceLock::new(),
        })
        .collect())
}

/// Capacity a package left unused: `(at, quantity)` for each cycle that ended (its end) and, at
/// a refund, everything still to come.
fn lapses(p: &Package, pk: &Packages) -> Vec<(Ts, Ts, Decimal)> {
    let end = p.invalid_at.unwrap_or(p.expires_at).min(pk.as_of);
    let refund = (p.status == "refunded").then_some(p.invalid_at).flatten();
    let Some(cap) = p.capacity else {
        return Vec::new();
    };
    if p.kind == "total" {
        let lapsed = matches!(p.status.as_str(), "expired" | "refunded");
        return match (lapsed, p.invalid_at, p.total_remaining) {
            (true, Some(at), Some(left)) if at > pk.window_start && !left.is_zero() => {
                vec![(p.effective_at.max(Month::of(at - 1).start()), at, left)]
            }
            _ => Vec::new(),
        };
    }
    let mut out = Vec::new();
    let mut after_refund = Decimal::ZERO;
    for c in p.cycles() {
        let left = pk
            .leftovers
            .get(&(p.id.clone(), c.start))
            .copied()
            .unwrap_or(cap);
        match refund {
            // The cycle of the refund and those after it lapse at the refund.
            Some(r) if c.end > r => after_refund += if c.start <= r { left } else { cap },
            _ if c.end <= end && c.end > pk.window_start && !left.is_zero() => {
                out.push((c.start, c.end, left))
            }
            _ => {}
        }
    }
    if let Some(r) = refund.filter(|r| *r > pk.window_start && !after_refund.is_zero()) {
        let r = r.min(pk.as_of);
        let hour = r.rem_euclid(crate::calendar::HOUR);
        let start = if hour == 0 {
            r - crate::calendar::HOUR
        } else {
            r - hour
        };
        out.push((start, r, after_refund));
    }
    out
}

/// The `Unused` rows of every paid package: per package and month, the capacity the cycles
/// ending in that month left (and at a refund, what was still to come), at the package's rate;
/// for an unlimited package, the shares of the hours nothing was drawn in ([`hourly`]).
pub fn unused_rows(pk: &Packages, provider: &str) -> Vec<FocusRow> {
    let mut out = Vec::new();
    let mut ids: Vec<&String> = pk.by_id.keys().collect();
    ids.sort();
    for id in ids {
        let p = &pk.by_id[id];
        if p.price > Decimal::ZERO && hourly::is_hourly(p) {
            for l in pk.hourly.lapses.get(id).into_iter().flatten() {
                let unused = Unused {
                    start: l.start,
                    end: l.end,
                    quantity: l.hours,
                    effective: l.effective,
                };
                out.push(unused_row(p, l.month, unused, provider));
            }
            continue;
        }
        if p.price <= Decimal::ZERO || p.rate().is_none() {
            continue;
        }
        // Month → (first start, last end, quantity).
        let mut by_month: BTreeMap<Month, (Ts, Ts, Decimal)> = BTreeMap::new();
        for (start, end, q) in lapses(p, pk) {
            let m = Month::of(end - 1);
            let e = by_month.entry(m).or_insert((end, end, Decimal::ZERO));
            e.0 = e.0.min(start.max(m.start()));
            e.1 = e.1.max(end);
            e.2 += q;
        }
        for (m, (start, end, q)) in by_month {
            let quantity = money::q9(q);
            let effective = p.amortized(quantity);
            let unused = Unused {
                start,
                end,
                quantity,
                effective,
            };
            out.push(unused_row(p, m, unused, provider));
        }
    }
    out
}

/// What an `Unused` row carries: its period, the quantity left (in the package's
/// [`Package::commitment_unit`]) and its effective cost.
struct Unused {
    start: Ts,
    end: Ts,
    quantity: Decimal,
    effective: Decimal,
}

/// One `Unused` row of package `p` for month `m`.
fn unused_row(p: &Package, m: Month, u: Unused, provider: &str) -> FocusRow {
    let Unused {
        start,
        end,
        quantity: q,
        effective,
    } = u;
    let sku_id = format!("{}/{}/package", p.product, p.sub_product);
    let region = p.region.as_deref().unwrap_or("*");
    FocusRow {
        line_id: format!("n:{}:{m}", p.id),
        usage_id: None,
        account: p.owner.clone(),
        provider: provider.to_string(),
        cost: Cost {
            billed: Decimal::ZERO,
            effective,
            unit_price: Some(Decimal::ZERO),
            list: None,
        },
        charge: Charge {
            category: "Usage",
            class: None,
            description: format!("unused capacity of package {} ({})", p.id, p.name),
            frequency: "Usage-Based",
            start,
            end,
            billing: None,
        },
        commitment: Commitment {
            id: Some(p.id.clone()),
            name: Some(p.name.clone()),
            status: Some("Unused"),
            quantity: Some(q),
            unit: Some(p.commitment_unit()),
        },
        quantity: Quantity {
            consumed: None,
            consumed_unit: None,
            pricing_category: Some("Committed"),
            pricing: Some(q),
            pricing_unit: Some(p.commitment_unit()),
        },
        sku: Sku {
            product: p.product.clone(),
            region: p.region.clone(),
            resource_id: Some(p.id.clone()),
            resource_name: Some(p.name.clone()),
            resource_type: Some(p.sub_product.clone()),
            meter: "unused".into(),
            sku_price_id: format!("{sku_id}/{region}/unused"),
            sku_id,
            price_details: Some(price_details(&[("x_Kind", p.kind.clone())])),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::parse_local;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn t(s: &str) -> Ts {
        parse_local(s).unwrap()
    }

    /// A periodic package of 10 GB a day for 3 days at 30 CNY, expired inside the window.
    fn periodic() -> Package {
        Package {
            id: "P".into(),
            name: "daily 10 GB".into(),
            owner: "a".into(),
            product: "tp".into(),
            sub_product: "periodic".into(),
            region: None,
            kind: "periodic".into(),
            status: "expired".into(),
            unit: "GB".into(),
            capacity: Some(d("10")),
            cycle: Some(CycleLen::Day),
            effective_at: t("2024-05-30 12:00:00"),
            expires_at: t("2024-06-02 12:00:00"),
            invalid_at: Some(t("2024-06-02 12:00:00")),
            price: d("30"),
            total_remaining: None,
            rate_once: OnceLock::new(),
        }
    }

    #[test]
    fn a_periodic_package_spreads_its_price_over_every_cycle() {
        let p = periodic();
        assert_eq!(p.cycles().len(), 3);
        assert_eq!(p.term_capacity(), Some(d("30")));
        assert_eq!(p.rate(), Some(d("1")));
        assert_eq!(p.amortized(d("2.5")), d("2.5"));
    }

    /// Cycle 1 drew 4 GB (6 left), cycles 2 and 3 nothing: 6 GB unused in May (the cycle ends
    /// on May 31 local), 20 in June; used 4 + unused 26 = the 30 GB bought, 30 CNY.
    #[test]
    fn each_ended_cycle_leaves_its_leftover_unused_in_the_month_it_ends() {
        let p = periodic();
        let first = p.cycles()[0].start;
        let pk = Packages {
            by_id: HashMap::from([("P".to_string(), p.clone())]),
            leftovers: HashMap::from([(("P".to_string(), first), d("6"))]),
            hourly: Hourly::default(),
            window_start: t("2024-04-01 00:00:00"),
            as_of: t("2024-07-01 00:00:00"),
        };
        let rows = unused_rows(&pk, "Cloud");
        let got: Vec<_> = rows
            .iter()
            .map(|r| (r.line_id.as_str(), r.commitment.quantity, r.cost.effective))
            .collect();
        assert_eq!(
            got,
            vec![
                ("n:P:2024-05", Some(d("6")), d("6")),
                ("n:P:2024-06", Some(d("20")), d("20")),
            ]
        );
        let used = p.amortized(d("4"));
        let unused: Decimal = rows.iter().map(|r| r.cost.effective).sum();
        assert_eq!(used + unused, p.price);
        assert!(rows.iter().all(|r| r.quantity.consumed.is_none()));
        assert!(rows.iter().all(|r| r.commitment.status == Some("Unused")));
    }

    /// A refund lapses the refund's cycle (its leftover) and every cycle after it, at the
    /// refund; no cycle lapses twice.
    /// An output written before `package_status` had `cycle` and `price_paid` still exports:
    /// its packages cost 0, so their draws and Unused rows carry no effective cost.
    #[test]
    fn an_older_package_status_without_price_or_cycle_reads_as_free() {
        use crate::output::{dec_col, frame, str_col, ts_col};
        let s = |n: &str, v: &str| str_col(n, std::iter::once(Some(v)));
        let at = |n: &str, v: &str| ts_col(n, std::iter::once(Some(t(v))));
        let ps = frame(
            1,
            vec![
                s("package_id", "P"),
                s("package_name", "p"),
                s("owner_uin", "a"),
                s("product", "tp"),
                s("sub_product", "periodic"),
                s("region", "*"),
                s("kind", "periodic"),
                s("status", "valid"),
                s("unit", "GB"),
                dec_col("capacity", 9, std::iter::once(Some(d("10")))),
                dec_col("total_remaining", 9, std::iter::once(None)),
                at("effective_at", "2024-05-01 00:00:00"),
                at("expires_at", "2024-06-01 00:00:00"),
                ts_col("invalid_at", std::iter::once(None)),
            ],
        )
        .unwrap();
        let rows = status_rows(&ps).unwrap();
        assert_eq!((rows[0].price, rows[0].cycle), (Decimal::ZERO, None));
        assert_eq!(rows[0].amortized(d("5")), Decimal::ZERO);
    }

    #[test]
    fn a_refund_lapses_what_was_still_to_come_at_the_refund() {
        let mut p = periodic();
        p.status = "refunded".into();
        p.invalid_at = Some(t("2024-05-31 18:00:00"));
        let first = p.cycles()[0].start;
        let pk = Packages {
            by_id: HashMap::from([("P".to_string(), p.clone())]),
            leftovers: HashMap::from([(("P".to_string(), first), d("6"))]),
            hourly: Hourly::default(),
            window_start: t("2024-04-01 00:00:00"),
            as_of: t("2024-07-01 00:00:00"),
        };
        // Cycle 1 ended May 31 12:00 (6 left); at the refund, cycle 2 (full) and cycle 3.
        let lapsed = lapses(&p, &pk);
        let total: Decimal = lapsed.iter().map(|l| l.2).sum();
        assert_eq!(total, d("26"));
        assert_eq!(lapsed.last().map(|l| l.1), Some(t("2024-05-31 18:00:00")));
    }
}
