//! `reckon generate --issued`: the `issued/` table a billing platform would have issued for the
//! generated data — the recomputed bill lines of the window, one issued line each (`iss:<line_id>`;
//! a key whose lines add up to 0 is not issued, as platforms issue no zero lines) — with a
//! documented set of platform mistakes planted on distinct keys ([`MISTAKES`]):
//!
//! | mistake | how | what `reckon reconcile` reports |
//! |---|---|---|
//! | `price_not_switched` | an hourly instance fee at the plan's price before its effective date (the catalog's other hourly price of the plan) | `amount_mismatch`, `unit_price` |
//! | `tier_crossed_late` | an hour of calls in tier 2 or above (or split across tiers) issued whole, one line, at the tier below | `amount_mismatch`, `tier` |
//! | `package_draw_missed` | a usage line partly covered by packages issued with the covered part billed too | `quantity_mismatch`, `package_deduction` |
//! | `issued_twice` | a usage line issued a second time (`iss:<line_id>:again`) | `quantity_mismatch`, `duplicate_issued` |
//! | `hour_not_issued` | a billed usage hour left out | `missing_in_issued` |
//! | `rounded_per_line` | a usage line's amount rounded to cents | `within_tolerance`, `rounding` |
//!
//! plus one line of the month before the window (`iss:<line_id>:earlier`), which is counted in
//! `outside_window` and not compared. Each mistake is planted on the first key (in file and row
//! order of `bill_lines`) that it fits and that holds that one line (the tier mistake: that
//! hour's lines); a mistake that fits no key is not planted, and the list returned says which
//! were.
//!
//! Determinism: the table depends only on the recomputed output and the catalog; files are
//! written one per `bill_lines` file (`part-00000.parquet`, …), rows in the lines' order.

use crate::calendar::{add_months_clamped, from_local, local};
use crate::catalog::Catalog;
use crate::columns::{dec_col, frame, str_col, ts_col};
use crate::error::{Error, Result};
use crate::input::InputFile;
use crate::money::{m8, pay2, Unit};
use crate::name::Name;
use crate::output::read;
use crate::reconcile::{Key, Line, PriceBook};
use crate::rules::pricing::amount;
use rust_decimal::Decimal;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The planted mistakes, in the order they are planted.
pub const MISTAKES: [&str; 6] = [
    "price_not_switched",
    "tier_crossed_late",
    "package_draw_missed",
    "issued_twice",
    "hour_not_issued",
    "rounded_per_line",
];

/// One issued row.
#[derive(Debug, Clone)]
struct Issued {
    id: String,
    key: Key,
    charge_end: crate::calendar::Ts,
    quantity: Decimal,
    unit: Name,
    amount: Decimal,
}

/// A mistake planted: its name and the key's recomputed line ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planted {
    pub mistake: &'static str,
    pub line_ids: Vec<String>,
}

/// Writes `dest/issued/` from the recomputed output `out`, priced by `catalog`; with `plant`,
/// the mistakes of [`MISTAKES`]. Gives the mistakes planted.
pub fn write(out: &Path, catalog: &Path, dest: &Path, plant: bool) -> Result<Vec<Planted>> {
    let book = PriceBook::from_catalog(&Catalog::load(catalog)?);
    let files = read::table_files(out, "bill_lines")?.ok_or_else(|| Error::NotAnOutput {
        path: out.to_path_buf(),
        message: "output table `bill_lines` is missing".into(),
    })?;
    let dir = dest.join("issued");
    if dir.is_dir() {
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let mut planter = Planter {
        book,
        plant,
        done: Vec::new(),
        used: HashSet::new(),
        earlier: !plant,
    };
    for (k, f) in files.iter().enumerate() {
        let input = crate::input::read_file(
            &out.join("bill_lines"),
            &f.path,
            "bill_lines",
            crate::reconcile::RECOMPUTED_COLUMNS,
        )?;
        let rows = planter.issue(&lines_of(&input, &f.path)?)?;
        write_rows(&dir.join(format!("part-{k:05}.parquet")), &rows)?;
    }
    Ok(planter.done)
}

/// The lines of one `bill_lines` file, each with its `charge_end`.
fn lines_of(f: &InputFile, path: &Path) -> Result<Vec<(Line, crate::calendar::Ts)>> {
    let lines = crate::reconcile::recomputed_lines(f)?;
    let ends = read::instants(&crate::input::read_parquet(path)?, "charge_end")?;
    Ok(lines
        .into_iter()
        .zip(ends)
        .map(|(l, e)| {
            let end = e.unwrap_or(l.key.charge_start);
            (l, end)
        })
        .collect())
}

struct Planter {
    book: PriceBook,
    plant: bool,
    done: Vec<Planted>,
    used: HashSet<Key>,
    /// The line outside the window is written.
    earlier: bool,
}

impl Planter {
    fn planted(&self, mistake: &str) -> bool {
        self.done.iter().any(|p| p.mistake == mistake)
    }

    /// The issued rows of one file's lines.
    fn issue(&mut self, lines: &[(Line, crate::calendar::Ts)]) -> Result<Vec<Issued>> {
        let mut by_key: HashMap<Key, Vec<usize>> = HashMap::new();
        for (i, (l, _)) in lines.iter().enumerate() {
            by_key.entry(l.key).or_default().push(i);
        }
        let mut out = Vec::with_capacity(lines.len());
        let mut skip: HashSet<usize> = HashSet::new();
        for (i, (l, end)) in lines.iter().enumerate() {
            if skip.contains(&i) {
                continue;
            }
            let group = &by_key[&l.key];
            let total: Decimal = group.iter().map(|&j| lines[j].0.amount).sum();
            if self.plant && !self.used.contains(&l.key) {
                if let Some(rows) = self.try_plant(lines, group, i)? {
                    skip.extend(group.iter().copied());
                    out.extend(rows);
                    continue;
                }
            }
            if total.is_zero() {
                continue;
            }
            out.push(issued(l, *end, format!("iss:{}", l.id), l.amount));
            if !self.earlier {
                self.earlier = true;
                let mut e = issued(l, *end, format!("iss:{}:earlier", l.id), l.amount);
                let back = |t| from_local(add_months_clamped(local(t), -4));
                (e.key.charge_start, e.charge_end) = (back(e.key.charge_start), back(e.charge_end));
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Plants the first mistake not yet planted that the key of line `i` fits: its rows.
    fn try_plant(
        &mut self,
        lines: &[(Line, crate::calendar::Ts)],
        group: &[usize],
        i: usize,
    ) -> Result<Option<Vec<Issued>>> {
        let (l, end) = (&lines[i].0, lines[i].1);
        let Some(p) = l.price else { return Ok(None) };
        let single = group.len() == 1;
        let usage = l.key.charge_kind.as_str() == "usage";
        let billed = single && usage && l.amount > Decimal::ZERO && p.unit_price > Decimal::ZERO;
        let row = |amount| issued(l, end, format!("iss:{}", l.id), amount);
        let found = MISTAKES.iter().filter(|m| !self.planted(m)).find_map(|m| {
            let rows = match *m {
                "price_not_switched" if single && l.key.billing_item.as_str() == "hourly_fee" => {
                    let other = self.book.other_prices(&l.key, p.price_unit, p.unit_price);
                    let q = l.quantity.unwrap_or_default();
                    other.last().map(|o| vec![row(m8(q * o))])
                }
                "tier_crossed_late" if usage && group.len() <= 4 => {
                    self.tier_late(lines, group).map(|r| vec![r])
                }
                "package_draw_missed" if billed && p.deducted > Decimal::ZERO => {
                    let q = l.quantity.unwrap_or_default() + p.deducted;
                    let u = l.unit.and_then(|u| Unit::parse(&u));
                    u.and_then(|u| amount(q, u, p.unit_price, &p.price_unit))
                        .map(|a| {
                            let mut r = row(a);
                            r.quantity = q;
                            vec![r]
                        })
                }
                "issued_twice" if billed && p.deducted.is_zero() => Some(vec![
                    row(l.amount),
                    issued(l, end, format!("iss:{}:again", l.id), l.amount),
                ]),
                "hour_not_issued" if billed => Some(Vec::new()),
                "rounded_per_line"
                    if billed && (pay2(l.amount) - l.amount).abs() > Decimal::new(1, 3) =>
                {
                    Some(vec![row(pay2(l.amount))])
                }
                _ => None,
            };
            rows.map(|r| (*m, r))
        });
        let Some((mistake, rows)) = found else {
            return Ok(None);
        };
        self.used.insert(l.key);
        self.done.push(Planted {
            mistake,
            line_ids: group.iter().map(|&j| lines[j].0.id.to_string()).collect(),
        });
        Ok(Some(rows))
    }

    /// An hour of tiered calls in tier 2 or above, issued whole at the tier below its lowest
    /// (or, split across tiers, at its lowest): one row.
    fn tier_late(&self, lines: &[(Line, crate::calendar::Ts)], group: &[usize]) -> Option<Issued> {
        let parts: Vec<&Line> = group.iter().map(|&j| &lines[j].0).collect();
        let tiers: Vec<i32> = parts
            .iter()
            .map(|l| l.price.and_then(|p| p.tier))
            .collect::<Option<_>>()?;
        let lo = *tiers.iter().min()?;
        let at = if tiers.iter().any(|t| *t != lo) {
            lo
        } else {
            lo - 1
        };
        if at < 1 || parts.iter().any(|l| l.amount.is_zero()) {
            return None;
        }
        let table = *self.book.tier_tables(&parts[0].key).first()?;
        let price = *table.get(usize::try_from(at - 1).ok()?)?;
        let mut q = Decimal::ZERO;
        let mut a = Decimal::ZERO;
        for l in &parts {
            let p = l.price?;
            let unit = Unit::parse(&l.unit?)?;
            q += l.quantity?;
            a += amount(l.quantity?, unit, price, &p.price_unit)?;
        }
        let first = parts[0];
        let mut r = issued(first, lines[group[0]].1, format!("iss:{}", first.id), a);
        r.quantity = q;
        Some(r)
    }
}

fn issued(l: &Line, end: crate::calendar::Ts, id: String, amount: Decimal) -> Issued {
    Issued {
        id,
        key: l.key,
        charge_end: end,
        quantity: l.quantity.unwrap_or_default(),
        unit: l.unit.unwrap_or_else(|| Name::new("")),
        amount,
    }
}

fn write_rows(path: &Path, rows: &[Issued]) -> Result<()> {
    let k = |n, f: fn(&Key) -> Name| str_col(n, rows.iter().map(|r| Some(f(&r.key).as_str())));
    let mut df = frame(
        rows.len(),
        vec![
            str_col("issued_line_id", rows.iter().map(|r| Some(r.id.as_str()))),
            k("owner_uin", |k| k.owner_uin),
            k("charge_kind", |k| k.charge_kind),
            k("product", |k| k.product),
            k("sub_product", |k| k.sub_product),
            k("billing_item", |k| k.billing_item),
            k("region", |k| k.region),
            k("instance_id", |k| k.instance_id),
            ts_col(
                "charge_start",
                rows.iter().map(|r| Some(r.key.charge_start)),
            ),
            ts_col("charge_end", rows.iter().map(|r| Some(r.charge_end))),
            dec_col("quantity", 9, rows.iter().map(|r| Some(r.quantity))),
            str_col("unit", rows.iter().map(|r| Some(r.unit.as_str()))),
            dec_col("amount", 8, rows.iter().map(|r| Some(r.amount))),
        ],
    )?;
    crate::output::write_parquet(path, &mut df)
}
