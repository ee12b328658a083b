//! `--issued-format focus`: a FOCUS 1.2 cost and usage dataset as the issued side (the way
//! providers publish bills), mapped column by column onto the `issued/` table, so that the same
//! checks and comparison apply (`line::issued_lines`).
//!
//! | `issued/` | FOCUS |
//! |---|---|
//! | `issued_line_id` | `x_LineId` (reckon's export; `LineId` too); without it, `<file>#<row>` |
//! | `owner_uin` | `BillingAccountId` |
//! | `product`, `sub_product`, `billing_item` | the three parts of `SkuId` (`product/sub_product/billing_item`, reckon's export); an `SkuId` of another shape: `ServiceName`, empty, `SkuId` |
//! | `charge_kind` | from the billing item where reckon names it (`package` purchase, `hourly_fee`/`monthly_fee` subscription, `elastic_qps` elastic, `upgrade`, `refund`); else from `ChargeCategory`: `Usage` usage, `Purchase` purchase, `Credit` refund |
//! | `region` | `RegionId`; null is `*` (all regions) |
//! | `instance_id` | `ResourceId` |
//! | `charge_start`, `charge_end` | `ChargePeriodStart`, `ChargePeriodEnd` |
//! | `quantity`, `unit` | on usage rows `ConsumedQuantity`, `ConsumedUnit` where the row has them (the metered unit: exact, where a pricing unit is rounded at scale 9); else `PricingQuantity` × N, the unit U of a `PricingUnit` `[N ]U` (the billed quantity; a consumed quantity of an elastic day is the peak metered, not what is billed); on refund rows its magnitude (FOCUS signs a credit in its quantity, reckon in its amount) |
//! | `amount` | `BilledCost` |
//!
//! Units are read through the export's own table (`export::focus::row::UNITS`: `GiB` is reckon's
//! base-1024 `GB`, `Requests` is `call`, `Units` is `each`, `Mb/Second` is `Mbps`), leniently
//! (`Calls`, `Hour`, `months` and reckon's own names are accepted too), and a daily peak
//! `X-Days` or `X-day` (`QPS-Days`) is `X`. A column is found by
//! its FOCUS name or the same name prefixed `x_` (custom columns of either convention). Rows of
//! usage covered by a commitment (`CommitmentDiscountStatus = Used` with `BilledCost` 0: what a
//! prepaid package covered) are no issued charge and are left out, with a count in the log.

use crate::error::{Error, Result};
use crate::export::focus::row::UNITS;
use crate::input::InputFile;
use polars::prelude::*;
use std::path::Path;

/// The account column of a FOCUS file.
pub const OWNER_COLUMN: &str = "BillingAccountId";

/// A column of `df` by its FOCUS name, or the name with `x_` (or without it, for `x_` names).
fn find<'a>(df: &'a DataFrame, name: &str) -> Option<&'a Column> {
    let alt = match name.strip_prefix("x_") {
        Some(bare) => bare.to_string(),
        None => format!("x_{name}"),
    };
    df.column(name).ok().or_else(|| df.column(&alt).ok())
}

fn need<'a>(df: &'a DataFrame, path: &Path, name: &str) -> Result<&'a Column> {
    find(df, name).ok_or_else(|| Error::MissingColumn {
        path: path.to_path_buf(),
        table: "issued (FOCUS)".into(),
        column: name.into(),
    })
}

fn strings(c: &Column, path: &Path) -> Result<Vec<Option<String>>> {
    match c.dtype() {
        DataType::Null => Ok(vec![None; c.len()]),
        DataType::String => Ok(c.str()?.iter().map(|v| v.map(String::from)).collect()),
        other => Err(Error::WrongType {
            path: path.to_path_buf(),
            column: c.name().to_string(),
            expected: "string".into(),
            found: other.to_string(),
        }),
    }
}

/// A unit of FOCUS as reckon names it, and the multiple of a `[N ]U` pricing unit.
pub fn unit_of(text: &str) -> (rust_decimal::Decimal, String) {
    let (n, u) = match text.split_once(' ') {
        Some((n, u)) => match n.parse::<rust_decimal::Decimal>() {
            Ok(n) if !n.is_zero() => (n, u),
            _ => (rust_decimal::Decimal::ONE, text),
        },
        None => (rust_decimal::Decimal::ONE, text),
    };
    let unit = match u {
        "Request" | "Calls" | "Call" | "calls" | "requests" => "call",
        "Hour" | "hours" => "hour",
        "Month" | "months" => "month",
        other => UNITS
            .iter()
            .find(|(_, focus)| *focus == other)
            .map_or(other, |(reckon, _)| reckon),
    };
    let unit = unit.strip_suffix("-day").unwrap_or(unit);
    (n, unit.to_string())
}

/// The charge kind of a row: from reckon's billing items, else from `ChargeCategory`.
fn charge_kind(item: &str, category: Option<&str>) -> Option<&'static str> {
    Some(match item {
        "package" => "purchase",
        "hourly_fee" | "monthly_fee" => "subscription",
        "elastic_qps" => "elastic",
        "upgrade" => "upgrade",
        "refund" => "refund",
        _ => match category? {
            "Usage" => "usage",
            "Purchase" => "purchase",
            "Credit" => "refund",
            _ => return None,
        },
    })
}

/// One FOCUS file as an `issued/` frame (checked later by `line::issued_lines`).
pub fn read(root: &Path, path: &Path) -> Result<InputFile> {
    let df = crate::input::read_parquet(path)?;
    let n = df.height();
    let s = |name: &str| strings(need(&df, path, name)?, path);
    let opt = |name: &str| match find(&df, name) {
        Some(c) => strings(c, path),
        None => Ok(vec![None; n]),
    };
    let sku = s("SkuId")?;
    let service = opt("ServiceName")?;
    let category = opt("ChargeCategory")?;
    let rel = path
        .strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string();
    let ids: Vec<String> = match find(&df, "x_LineId") {
        Some(c) => strings(c, path)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| v.unwrap_or_else(|| format!("{rel}#{i}")))
            .collect(),
        None => (0..n).map(|i| format!("{rel}#{i}")).collect(),
    };
    let mut parts: [Vec<Option<String>>; 4] = Default::default();
    for (i, sku) in sku.iter().enumerate() {
        let split: Vec<&str> = sku.as_deref().unwrap_or("").splitn(3, '/').collect();
        let (p, sp, item) = match split.as_slice() {
            [p, sp, item] => (p.to_string(), sp.to_string(), item.to_string()),
            _ => (
                service[i].clone().unwrap_or_default(),
                String::new(),
                sku.clone().unwrap_or_default(),
            ),
        };
        let kind = charge_kind(&item, category[i].as_deref());
        parts[0].push(Some(p));
        parts[1].push(Some(sp));
        parts[2].push(Some(item));
        parts[3].push(Some(kind.map_or_else(
            || category[i].clone().unwrap_or_default(),
            String::from,
        )));
    }
    let (quantity, unit) = quantities(&df, path, &parts[3])?;
    let region: Vec<Option<String>> = opt("RegionId")?
        .into_iter()
        .map(|r| Some(r.unwrap_or_else(|| "*".into())))
        .collect();
    let col = |name: &str, v: &[Option<String>]| {
        Column::new(
            name.into(),
            v.iter().map(|x| x.as_deref()).collect::<Vec<_>>(),
        )
    };
    let ids: Vec<Option<String>> = ids.into_iter().map(Some).collect();
    let mut out = DataFrame::new(
        n,
        vec![
            col("issued_line_id", &ids),
            col("owner_uin", &s(OWNER_COLUMN)?),
            col("charge_kind", &parts[3]),
            col("product", &parts[0]),
            col("sub_product", &parts[1]),
            col("billing_item", &parts[2]),
            col("region", &region),
            col("instance_id", &opt("ResourceId")?),
            need(&df, path, "ChargePeriodStart")?
                .clone()
                .with_name("charge_start".into()),
            need(&df, path, "ChargePeriodEnd")?
                .clone()
                .with_name("charge_end".into()),
            quantity,
            col("unit", &unit),
            need(&df, path, "BilledCost")?
                .clone()
                .with_name("amount".into()),
        ],
    )?;
    out = drop_covered(&df, out, path)?;
    check_types(&out, path)?;
    Ok(InputFile {
        path: path.to_path_buf(),
        name: rel,
        df: out,
        rows: None,
        name_ids: None,
        digest: None,
    })
}

/// `quantity` (a decimal column) and `unit` of each row (see the module doc); `kinds` are the
/// rows' charge kinds.
fn quantities(
    df: &DataFrame,
    path: &Path,
    kinds: &[Option<String>],
) -> Result<(Column, Vec<Option<String>>)> {
    let n = df.height();
    let dec = |name: &str| -> Result<Vec<Option<rust_decimal::Decimal>>> {
        match find(df, name) {
            None => Ok(vec![None; n]),
            Some(c) if matches!(c.dtype(), DataType::Decimal(..) | DataType::Null) => {
                let one = DataFrame::new(n, vec![c.clone().with_name("v".into())])?;
                crate::output::read::decimals(&one, "v")
            }
            Some(c) => Err(Error::WrongType {
                path: path.to_path_buf(),
                column: c.name().to_string(),
                expected: "decimal".into(),
                found: c.dtype().to_string(),
            }),
        }
    };
    let text = |name: &str| match find(df, name) {
        Some(c) => strings(c, path),
        None => Ok(vec![None; n]),
    };
    let (cq, cu, pq, pu) = (
        dec("ConsumedQuantity")?,
        text("ConsumedUnit")?,
        dec("PricingQuantity")?,
        text("PricingUnit")?,
    );
    let mut q = Vec::with_capacity(n);
    let mut u = Vec::with_capacity(n);
    for i in 0..n {
        let usage = kinds[i].as_deref() == Some("usage");
        match (cq[i], &cu[i], pq[i], &pu[i]) {
            (Some(x), Some(unit), _, _) if usage => {
                let (m, unit) = unit_of(unit);
                q.push(x.checked_mul(m));
                u.push(Some(unit));
            }
            (_, _, Some(x), Some(unit)) => {
                let (m, unit) = unit_of(unit);
                q.push(x.checked_mul(m));
                u.push(Some(unit));
            }
            (Some(x), Some(unit), _, _) => {
                let (m, unit) = unit_of(unit);
                q.push(x.checked_mul(m));
                u.push(Some(unit));
            }
            _ => {
                q.push(None);
                u.push(None);
            }
        }
        // FOCUS signs a credit in its quantity (unit prices are never negative); reckon's
        // refund line is one refund of a negative amount.
        if kinds[i].as_deref() == Some("refund") {
            if let Some(Some(x)) = q.last_mut() {
                *x = x.abs();
            }
        }
    }
    Ok((crate::output::dec_col("quantity", 9, q.into_iter()), u))
}

/// Leaves out the rows of usage a commitment covered (status `Used`, billed 0).
fn drop_covered(focus: &DataFrame, out: DataFrame, path: &Path) -> Result<DataFrame> {
    let Some(status) = find(focus, "CommitmentDiscountStatus") else {
        return Ok(out);
    };
    let status = strings(status, path)?;
    let billed = crate::output::read::decimals(&out, "amount").unwrap_or_default();
    let keep: Vec<bool> = (0..out.height())
        .map(|i| {
            let covered = matches!(status[i].as_deref(), Some("Used" | "Unused"))
                && billed
                    .get(i)
                    .copied()
                    .flatten()
                    .is_some_and(|b| b.is_zero());
            !covered
        })
        .collect();
    let dropped = keep.iter().filter(|k| !**k).count();
    if dropped > 0 {
        tracing::info!(file = %path.display(), rows = dropped, "FOCUS rows covered by a commitment left out");
    }
    Ok(out.filter(&BooleanChunked::from_slice("keep".into(), &keep))?)
}

/// The mapped columns have the types `issued/` requires.
fn check_types(df: &DataFrame, path: &Path) -> Result<()> {
    for (name, ty) in super::line::ISSUED_COLUMNS {
        let dt = df.column(name)?.dtype();
        let ok = matches!(
            (ty, dt),
            (_, DataType::Null)
                | (crate::input::ColType::Str, DataType::String)
                | (crate::input::ColType::Ts, DataType::Datetime(..))
                | (crate::input::ColType::Dec, DataType::Decimal(..))
        );
        if !ok {
            return Err(Error::WrongType {
                path: path.to_path_buf(),
                column: name.to_string(),
                expected: format!("{ty:?}"),
                found: dt.to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_read_leniently() {
        use rust_decimal::Decimal;
        assert_eq!(unit_of("10000 call"), (Decimal::from(10000), "call".into()));
        assert_eq!(unit_of("GiB"), (Decimal::ONE, "GB".into()));
        assert_eq!(
            unit_of("1000 Requests"),
            (Decimal::from(1000), "call".into())
        );
        assert_eq!(unit_of("hour"), (Decimal::ONE, "hour".into()));
        assert_eq!(unit_of("QPS-day"), (Decimal::ONE, "QPS".into()));
    }

    /// Every unit the FOCUS export writes reads back as the reckon unit it came from (a daily
    /// peak as its unit): regression of `the_focus_export_of_an_output_matches_it`, where
    /// `Units`, `QPS-Days` and `Mb/Second` read back as units of their own.
    #[test]
    fn every_exported_unit_reads_back() {
        use crate::export::focus::row::focus_unit;
        for (reckon, _) in UNITS {
            let back = unit_of(&focus_unit(reckon)).1;
            assert_eq!(
                back,
                reckon.strip_suffix("-day").unwrap_or(reckon),
                "{reckon}"
            );
        }
        assert_eq!(
            unit_of("10000 Requests").0,
            rust_decimal::Decimal::from(10000)
        );
    }

    /// A FOCUS column is found by its name, or with the `x_` prefix added or removed.
    #[test]
    fn columns_are_found_with_or_without_the_x_prefix() {
        let df =
            df!("x_ConsumedUnit" => ["GiB"], "LineId" => ["l1"], "BilledCost" => [1i32]).unwrap();
        assert!(find(&df, "ConsumedUnit").is_some());
        assert!(find(&df, "x_LineId").is_some());
        assert!(find(&df, "BilledCost").is_some());
        assert!(find(&df, "PricingUnit").is_none());
    }

    #[test]
    fn charge_kinds_come_from_items_then_categories() {
        assert_eq!(
            charge_kind("hourly_fee", Some("Usage")),
            Some("subscription")
        );
        assert_eq!(charge_kind("calls", Some("Usage")), Some("usage"));
        assert_eq!(charge_kind("x", Some("Credit")), Some("refund"));
        assert_eq!(charge_kind("x", Some("Tax")), None);
    }
}
