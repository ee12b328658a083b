//! `usage/`: hourly metered usage. Row rules (each a `Violation`, the row left out of billing):
//! `missing_value`, `value_out_of_range` (more than 28 significant digits, or a quantity over
//! [`max_quantity`] of its unit), `duplicate_usage_id` (later occurrences in path/row order),
//! `negative_quantity`, `unaligned_hour` (`usage_start` not on an hour), `bad_usage_end`
//! (`usage_end` ≠ `usage_start` + 1 h), `unknown_unit`.
//! An unknown `direction` is a file-level error (an enum of the contract).

use super::{by_view, dec_value, Broken, ColSpec, ColType, InputFile, Interner, Violation};
use crate::calendar::{Ts, DAY, HOUR, OFFSET};
use crate::error::Result;
use crate::money::{max_quantity, Unit};
use crate::name::Name;
use rust_decimal::Decimal;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

pub const TABLE: &str = "usage";

pub const COLUMNS: &[ColSpec] = &[
    ("usage_id", ColType::Str),
    ("owner_uin", ColType::Str),
    ("region", ColType::Str),
    ("product", ColType::Str),
    ("sub_product", ColType::Str),
    ("instance_id", ColType::Str),
    ("billing_item", ColType::Str),
    ("usage_start", ColType::Ts),
    ("usage_end", ColType::Ts),
    ("quantity", ColType::Dec),
    ("unit", ColType::Str),
    ("direction", ColType::Str),
    ("accelerated", ColType::Bool),
];

/// The columns of names (and enum labels) of usage: a chunk's spill holds them as ids
/// (`super::NameIds`).
pub const NAME_COLUMNS: &[&str] = &[
    "owner_uin",
    "region",
    "product",
    "sub_product",
    "instance_id",
    "billing_item",
    "unit",
    "direction",
];

pub const DIRECTIONS: [&str; 4] = ["outbound", "to_mainland", "inbound", "internal"];

/// Traffic direction; null means outbound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Outbound,
    ToMainland,
    Inbound,
    Internal,
}

impl Direction {
    pub fn parse(s: &str) -> Option<Direction> {
        Some(match s {
            "outbound" => Direction::Outbound,
            "to_mainland" => Direction::ToMainland,
            "inbound" => Direction::Inbound,
            "internal" => Direction::Internal,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        DIRECTIONS[self as usize]
    }
}

/// One valid usage row.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    pub usage_id: Arc<str>,
    pub owner_uin: Name,
    pub region: Name,
    pub product: Name,
    pub sub_product: Name,
    pub instance_id: Name,
    pub billing_item: Name,
    pub usage_start: Ts,
    pub usage_end: Ts,
    pub quantity: Decimal,
    pub unit: Unit,
    pub direction: Direction,
    pub accelerated: bool,
}

/// The UTC+8 day of an instant, as a day number.
fn local_day(t: Ts) -> i64 {
    (t + OFFSET).div_euclid(DAY)
}

/// What the usage says about the default as-of date: the latest `usage_start` among rows that
/// pass the row rules, the row holding it, and the latest UTC+8 day of such a row before that
/// start's day — so that a far-future stray row can be told from the rest (`pipeline::window`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Latest {
    pub start: Ts,
    /// The row: its file (relative to the input directory), row number and `usage_id`.
    pub file: String,
    pub row: usize,
    pub usage_id: String,
    /// The latest day (UTC+8, as a day number) of a valid row before `start`'s day.
    pub prev_day: Option<i64>,
}

impl Latest {
    /// A latest start with nothing known about the rows before it.
    pub fn at(start: Ts) -> Latest {
        Latest {
            start,
            file: String::new(),
            row: 0,
            usage_id: String::new(),
            prev_day: None,
        }
    }

    /// The days of valid rows between the latest start's day and the previous one.
    pub fn gap_days(&self) -> Option<i64> {
        self.prev_day.map(|p| local_day(self.start) - p)
    }

    /// The two files' latest starts together (`a` wins a tie: files are merged in path order).
    pub fn merge(a: Option<Latest>, b: Option<Latest>) -> Option<Latest> {
        let (a, b) = match (a, b) {
            (Some(a), Some(b)) => (a, b),
            (a, b) => return a.or(b),
        };
        let (mut top, other) = if b.start > a.start { (b, a) } else { (a, b) };
        let day = local_day(top.start);
        let below = [Some(local_day(other.start)), other.prev_day, top.prev_day];
        top.prev_day = below.into_iter().flatten().filter(|d| *d < day).max();
        Some(top)
    }
}

/// Checks what must hold for a whole usage file, before it is split into chunks (an unknown
/// `direction` stops the run whichever shard the row belongs to), and returns its [`Latest`]
/// among its rows that pass the row rules (duplicates aside): the default as-of date is the day
/// after it.
pub fn check_file(f: &InputFile) -> Result<Option<Latest>> {
    if !f.is_null_typed("direction")? {
        let dirs = f.series("direction")?.str()?;
        // Each distinct value parsed once (`by_view`).
        let bad = by_view(dirs, |d| Direction::parse(d).is_none()).position(|b| b == Some(true));
        if let Some(i) = bad {
            let d = dirs.get(i).unwrap_or_default();
            return Err(f.unknown_enum("direction", f.row(i), d, &DIRECTIONS));
        }
    }
    if f.is_null_typed("quantity")? || f.is_null_typed("unit")? {
        return Ok(None); // no row passes the row rules
    }
    // Read in place, not collected: this runs over every row of the input.
    let (Some(start), Some(end)) = (f.ts_values("usage_start")?, f.ts_values("usage_end")?) else {
        return Ok(None);
    };
    let qty = f.series("quantity")?.decimal()?;
    let (scale, qty_m) = (qty.scale() as u32, qty.physical());
    let unit = f.series("unit")?.str()?;
    let mut latest: Option<(Ts, usize)> = None;
    let mut prev_day: Option<i64> = None;
    for (i, (s, e)) in start.zip(end).enumerate() {
        let (Some(s), Some(e)) = (s, e) else {
            continue;
        };
        let day = local_day(s);
        // Only a row that would move the latest start or the previous day needs the full
        // check (quantity and unit are looked up for those rows only).
        if let Some((l, _)) = latest {
            let (ld, p) = (local_day(l), prev_day.unwrap_or(i64::MIN));
            if (day == ld && s <= l) || day <= p {
                continue;
            }
        }
        let ok = s.rem_euclid(HOUR) == 0
            && e == s + HOUR
            && matches!(dec_value(scale, qty_m.get(i)), Some(Some(q)) if !q.is_sign_negative() || q.is_zero())
            && unit.get(i).and_then(Unit::parse).is_some();
        if !ok {
            continue;
        }
        match latest {
            Some((l, _)) if day < local_day(l) => prev_day = Some(day),
            Some((l, _)) if day > local_day(l) => {
                prev_day = Some(local_day(l));
                latest = Some((s, i));
            }
            _ => latest = Some((s, i)),
        }
    }
    let Some((start, i)) = latest else {
        return Ok(None);
    };
    let ids = f.strs("usage_id")?;
    Ok(Some(Latest {
        start,
        file: f.name.clone(),
        row: f.row(i),
        usage_id: ids[i].unwrap_or_default().to_string(),
        prev_day,
    }))
}

/// Converts usage files to valid rows; bad rows become violations. `duplicates` holds, per input
/// file name, the rows whose `usage_id` appeared on an earlier row of the whole input (found
/// over every file before chunking, see `chunks`).
pub fn from_files(
    files: &[InputFile],
    violations: &mut Vec<Violation>,
    duplicates: &HashMap<String, HashSet<u32>>,
) -> Result<Vec<Usage>> {
    from_files_into(Vec::new(), files, violations, duplicates)
}

/// [`from_files`] into `buf` (emptied first; its memory reused when large enough, see
/// [`crate::buffers`]).
pub fn from_files_into(
    buf: Vec<Usage>,
    files: &[InputFile],
    violations: &mut Vec<Violation>,
    duplicates: &HashMap<String, HashSet<u32>>,
) -> Result<Vec<Usage>> {
    use rayon::prelude::*;
    // Files convert independently (each with its own interner), in parallel; the results are
    // put back in file order, so rows and violations keep their input order.
    let parts: Vec<(Vec<Usage>, Vec<Violation>)> = files
        .par_iter()
        .map(|f| {
            let mut v = Vec::new();
            let rows = from_file(f, &mut v, duplicates)?;
            Ok((rows, v))
        })
        .collect::<Result<_>>()?;
    let mut out = crate::buffers::with_room(buf, parts.iter().map(|(u, _)| u.len()).sum());
    for (rows, v) in parts {
        out.extend(rows);
        violations.extend(v);
    }
    Ok(out)
}

/// Puts valid rows in processing order `(usage_start, usage_id)`. The key is total: `usage_id`
/// is unique among valid rows (repeats are `duplicate_usage_id` exceptions), so an unstable
/// parallel sort gives the one order.
pub fn sort_for_processing(usage: &mut [Usage]) {
    use rayon::prelude::*;
    usage.par_sort_unstable_by(|a, b| {
        (a.usage_start, &a.usage_id).cmp(&(b.usage_start, &b.usage_id))
    });
}

fn from_file(
    f: &InputFile,
    violations: &mut Vec<Violation>,
    duplicates: &HashMap<String, HashSet<u32>>,
) -> Result<Vec<Usage>> {
    let mut interner = Interner::default();
    let c = Columns::read(f, &mut interner)?;
    let none = HashSet::new();
    let dups = duplicates.get(&f.name).unwrap_or(&none);
    let mut labels = Labels::new();
    let mut out = Vec::with_capacity(f.df.height());
    for i in 0..f.df.height() {
        let direction = labels.direction(f, i, c.dir[i])?;
        match c.check(f, i, dups, &mut labels) {
            Ok(row) => out.push(row.usage(direction)),
            Err((rule, detail)) => violations.push(Violation::new(
                TABLE,
                c.ids[i].unwrap_or(""),
                rule,
                format!("{} row {}: {detail}", f.name, f.row(i)),
                c.start[i],
            )),
        }
    }
    Ok(out)
}

/// The columns of one usage file (or chunk of one), read once; names interned.
struct Columns<'a> {
    ids: Vec<Option<&'a str>>,
    owner: Vec<Option<Name>>,
    region: Vec<Option<Name>>,
    product: Vec<Option<Name>>,
    sub: Vec<Option<Name>>,
    inst: Vec<Option<Name>>,
    item: Vec<Option<Name>>,
    unit: Vec<Option<Name>>,
    dir: Vec<Option<Name>>,
    start: Vec<Option<Ts>>,
    end: Vec<Option<Ts>>,
    quantity: (u32, Vec<Option<i128>>),
    accelerated: Vec<Option<bool>>,
}

/// Enum labels are interned names: each row's is parsed only when it differs from the row
/// before's.
struct Labels {
    last_dir: Option<(Name, Direction)>,
    last_unit: Option<(Name, Option<Unit>)>,
    /// The bound of each unit (`Unit::ALL` order is the enum's), computed once, not per row.
    max_of: Vec<Decimal>,
}

impl Labels {
    fn new() -> Labels {
        Labels {
            last_dir: None,
            last_unit: None,
            max_of: Unit::ALL.iter().map(|u| max_quantity(*u)).collect(),
        }
    }

    /// The row's direction (null is outbound); an unknown one is a file-level error.
    fn direction(&mut self, f: &InputFile, i: usize, dir: Option<Name>) -> Result<Direction> {
        Ok(match (dir, self.last_dir) {
            (None, _) => Direction::Outbound,
            (Some(d), Some((l, parsed))) if d == l => parsed,
            (Some(d), _) => {
                let parsed = Direction::parse(&d)
                    .ok_or_else(|| f.unknown_enum("direction", f.row(i), &d, &DIRECTIONS))?;
                self.last_dir = Some((d, parsed));
                parsed
            }
        })
    }

    fn unit(&mut self, unit: Name) -> Option<Unit> {
        let parsed = match self.last_unit {
            Some((l, parsed)) if l == unit => parsed,
            _ => Unit::parse(&unit),
        };
        self.last_unit = Some((unit, parsed));
        parsed
    }
}

/// A valid row but its direction (checked apart: an unknown one stops the run).
struct Valid<'a> {
    id: &'a str,
    names: [Name; 6],
    start: Ts,
    end: Ts,
    quantity: Decimal,
    unit: Unit,
    accelerated: bool,
}

impl Valid<'_> {
    fn usage(self, direction: Direction) -> Usage {
        let [owner_uin, region, product, sub_product, instance_id, billing_item] = self.names;
        Usage {
            usage_id: Arc::from(self.id),
            owner_uin,
            region,
            product,
            sub_product,
            instance_id,
            billing_item,
            usage_start: self.start,
            usage_end: self.end,
            quantity: self.quantity,
            unit: self.unit,
            direction,
            accelerated: self.accelerated,
        }
    }
}

impl<'a> Columns<'a> {
    fn read(f: &'a InputFile, interner: &mut Interner) -> Result<Columns<'a>> {
        let mut names = |col| f.names(col, interner);
        Ok(Columns {
            owner: names("owner_uin")?,
            region: names("region")?,
            product: names("product")?,
            sub: names("sub_product")?,
            inst: names("instance_id")?,
            item: names("billing_item")?,
            unit: names("unit")?,
            dir: names("direction")?,
            ids: f.strs("usage_id")?,
            start: f.ts("usage_start")?,
            end: f.ts("usage_end")?,
            quantity: f.decs("quantity")?,
            accelerated: f.bools("accelerated")?,
        })
    }

    /// The row rules of row `i`, in order: the first broken one is the row's violation.
    fn check(
        &self,
        f: &InputFile,
        i: usize,
        dups: &HashSet<u32>,
        labels: &mut Labels,
    ) -> Result<Valid<'a>, Broken> {
        let (id, names, unit, accelerated) = self.required(i)?;
        let (Some(s), Some(e)) = (self.start[i], self.end[i]) else {
            let detail = "`usage_start` or `usage_end` is null";
            return Err(("missing_value", detail.to_string()));
        };
        let quantity = match dec_value(self.quantity.0, self.quantity.1[i]) {
            Some(Some(q)) => q,
            Some(None) => return Err(("missing_value", "`quantity` is null".to_string())),
            None => {
                let detail = super::dec_out_of_range("`quantity`");
                return Err(("value_out_of_range", detail));
            }
        };
        if !dups.is_empty() && dups.contains(&(f.row(i) as u32)) {
            let detail = format!("usage_id `{id}` appears again");
            return Err(("duplicate_usage_id", detail));
        }
        if quantity.is_sign_negative() && !quantity.is_zero() {
            return Err(("negative_quantity", format!("quantity {quantity} < 0")));
        }
        if s.rem_euclid(HOUR) != 0 {
            let detail = "usage_start is not on a whole hour";
            return Err(("unaligned_hour", detail.to_string()));
        }
        if e != s + HOUR {
            let detail = "usage_end is not usage_start + 1 hour";
            return Err(("bad_usage_end", detail.to_string()));
        }
        let Some(u) = labels.unit(unit) else {
            let detail = format!("unit `{unit}` is not one of B KB MB GB TB call QPS Mbps");
            return Err(("unknown_unit", detail));
        };
        if quantity > labels.max_of[u as usize] {
            let detail = format!("quantity {quantity} {unit} exceeds 10^24 base units");
            return Err(("value_out_of_range", detail));
        }
        Ok(Valid {
            id,
            names,
            start: s,
            end: e,
            quantity,
            unit: u,
            accelerated,
        })
    }

    /// The columns the contract does not make nullable; an empty string is no value, like a
    /// null (see `InputFile::strs`).
    fn required(&self, i: usize) -> Result<(&'a str, [Name; 6], Name, bool), Broken> {
        let named = |n: Option<Name>| n.filter(|n| !n.is_empty());
        let required = (
            self.ids[i],
            named(self.owner[i]),
            named(self.region[i]),
            named(self.product[i]),
            named(self.sub[i]),
            named(self.inst[i]),
            named(self.item[i]),
            named(self.unit[i]),
            self.accelerated[i],
        );
        let (Some(id), Some(o), Some(r), Some(p), Some(s), Some(n), Some(b), Some(u), Some(a)) =
            required
        else {
            let present = [
                ("usage_id", required.0.is_some()),
                ("owner_uin", required.1.is_some()),
                ("region", required.2.is_some()),
                ("product", required.3.is_some()),
                ("sub_product", required.4.is_some()),
                ("instance_id", required.5.is_some()),
                ("billing_item", required.6.is_some()),
                ("unit", required.7.is_some()),
                ("accelerated", required.8.is_some()),
            ];
            let col = present.iter().find(|(_, p)| !p).map_or("", |(c, _)| c);
            return Err(("missing_value", format!("`{col}` is null or empty")));
        };
        Ok((id, [o, r, p, s, n, b], u, a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::parse_local;
    use crate::columns::{dec_col, str_col, ts_col};
    use polars::prelude::*;
    use rust_decimal_macros::dec;

    /// A usage file of `(start, end, quantity, unit, direction)` rows.
    fn file(rows: &[(&str, &str, Decimal, &str, &str)]) -> InputFile {
        let t = |s: &str| Some(parse_local(s).unwrap());
        let cols = vec![
            ts_col("usage_start", rows.iter().map(|r| t(r.0))),
            ts_col("usage_end", rows.iter().map(|r| t(r.1))),
            dec_col("quantity", 9, rows.iter().map(|r| Some(r.2))),
            str_col("unit", rows.iter().map(|r| Some(r.3))),
            str_col("direction", rows.iter().map(|r| Some(r.4))),
            str_col("usage_id", rows.iter().map(|r| Some(r.0))),
        ];
        InputFile {
            path: "usage/part-0.parquet".into(),
            name: "usage/part-0.parquet".into(),
            df: DataFrame::new(rows.len(), cols).unwrap(),
            rows: None,
            name_ids: None,
            digest: None,
        }
    }

    /// The latest start names its row, and the day before it is the latest earlier day of a
    /// valid row (an invalid row on a day between does not count); merging two files keeps the
    /// later start and the latest earlier day of either.
    #[test]
    fn check_file_gives_the_latest_row_and_the_previous_usage_day() {
        let row = |s: &'static str, e: &'static str, q| (s, e, q, "GB", "outbound");
        let f = file(&[
            row("2024-05-01 10:00:00", "2024-05-01 11:00:00", dec!(1)),
            row("2031-01-01 10:00:00", "2031-01-01 11:00:00", dec!(1)),
            row("2024-05-03 10:00:00", "2024-05-03 11:00:00", dec!(-1)),
            row("2024-05-02 10:00:00", "2024-05-02 11:00:00", dec!(1)),
            row("2031-01-01 09:00:00", "2031-01-01 10:00:00", dec!(1)),
        ]);
        let l = check_file(&f).unwrap().unwrap();
        assert_eq!((l.row, l.usage_id.as_str()), (1, "2031-01-01 10:00:00"));
        let may_2 = local_day(parse_local("2024-05-02 00:00:00").unwrap());
        assert_eq!(l.prev_day, Some(may_2));
        assert!(l.gap_days().unwrap() > 2000);
        let g = file(&[row("2024-05-04 10:00:00", "2024-05-04 11:00:00", dec!(1))]);
        let g = check_file(&g).unwrap();
        let m = Latest::merge(g.clone(), Some(l.clone())).unwrap();
        assert_eq!(m.start, l.start);
        assert_eq!(m.prev_day, Some(may_2 + 2));
        assert_eq!(
            Latest::merge(Some(l), g.clone()).unwrap().prev_day,
            Some(may_2 + 2)
        );
        assert_eq!(Latest::merge(None, g.clone()), g);
    }

    #[test]
    fn check_file_gives_the_latest_start_of_a_row_that_passes_the_row_rules() {
        let f = file(&[
            (
                "2024-05-01 10:00:00",
                "2024-05-01 11:00:00",
                dec!(1),
                "GB",
                "outbound",
            ),
            (
                "2024-05-01 09:00:00",
                "2024-05-01 10:00:00",
                dec!(1),
                "GB",
                "inbound",
            ),
            // Later, but each breaks a row rule: negative, unknown unit, not a whole hour,
            // not one hour long.
            (
                "2024-05-01 12:00:00",
                "2024-05-01 13:00:00",
                dec!(-1),
                "GB",
                "outbound",
            ),
            (
                "2024-05-01 13:00:00",
                "2024-05-01 14:00:00",
                dec!(1),
                "PB",
                "outbound",
            ),
            (
                "2024-05-01 14:30:00",
                "2024-05-01 15:30:00",
                dec!(1),
                "GB",
                "outbound",
            ),
            (
                "2024-05-01 15:00:00",
                "2024-05-01 17:00:00",
                dec!(1),
                "GB",
                "outbound",
            ),
            (
                "2024-05-01 11:00:00",
                "2024-05-01 12:00:00",
                dec!(0),
                "GB",
                "internal",
            ),
        ]);
        let latest = check_file(&f).unwrap().unwrap();
        assert_eq!(Some(latest.start), parse_local("2024-05-01 11:00:00"));
        assert_eq!(latest.prev_day, None);
        let bad = file(&[
            (
                "2024-05-01 10:00:00",
                "2024-05-01 11:00:00",
                dec!(1),
                "GB",
                "outbound",
            ),
            (
                "2024-05-01 11:00:00",
                "2024-05-01 12:00:00",
                dec!(1),
                "GB",
                "sideways",
            ),
        ]);
        let e = check_file(&bad).unwrap_err().to_string();
        assert!(e.contains("sideways") && e.contains("direction"), "{e}");
    }
}
