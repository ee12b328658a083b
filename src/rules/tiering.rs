//! Graduated tiered pricing (docs/rules.md §4.1) as clipped differences of cumulative sums.
//!
//! For the rows of one counter (an account's natural UTC+8 month), in processing order
//! `(usage_start, usage_id)`, with billable quantities `q`, `after = cum_sum(q)` over the counter
//! and `before = after − q`, the part of a row in tier `(lo, hi]` is
//! `max(min(after, hi) − max(before, lo), 0)`. The whole split is one polars lazy query on
//! `Decimal(38, 9)` columns (exact: decimal sums and differences never round): a cumulative sum
//! over the counter, one clipped difference per tier, the parts above zero kept, the tiers
//! stacked and sorted — no per-row loop over tiers in Rust. Counters are independent, so large
//! inputs are split in batches of whole counters (bounded memory, batches in parallel).
//!
//! Invariants: a row's parts sum exactly to its quantity; parts are non-negative; the month's
//! total cost equals the cost of the month's volume priced at once; a zero row yields one
//! zero part in the tier its counter is in (`lo ≤ before < hi`).

use crate::catalog::Tier;
use crate::columns::{dec_col, frame};
use crate::error::{Error, Result};
use crate::money::{from_mantissa, to_mantissa, QTY_SCALE};
use polars::lazy::dsl::{max_horizontal, min_horizontal};
use polars::prelude::*;
use rayon::prelude::*;
use rust_decimal::Decimal;

/// The billable quantity of a row (input) and of a tier part (output), `Decimal(38, 9)`.
pub const QUANTITY: &str = "quantity";
/// The tier of a part (output), `Int32`, numbered from 1.
pub const TIER: &str = "tier";

const AFTER: &str = "_after";
const BEFORE: &str = "_before";
const ZERO_HERE: &str = "_zero_here";

/// A `Decimal(38, 9)` literal.
fn dec_lit(d: Decimal) -> Expr {
    lit(Scalar::new_decimal(
        to_mantissa(d, QTY_SCALE),
        38,
        QTY_SCALE as usize,
    ))
}

/// Splits each row's `quantity` at the tier boundaries.
///
/// `rows` holds the `counter` key columns, the `order` columns (a total processing order, e.g.
/// `usage_start, usage_id` or a row number) and `quantity` (`Decimal(38, 9)`, ≥ 0). The result
/// has one row per tier part: the `order` columns, [`TIER`] and the part's [`QUANTITY`], sorted
/// by `(order…, tier)`. `tiers` must not be empty.
pub fn split(
    rows: LazyFrame,
    counter: &[&str],
    order: &[&str],
    tiers: &[Tier],
) -> Result<LazyFrame> {
    let q = col(QUANTITY);
    let counter: Vec<Expr> = counter.iter().map(|c| col(*c)).collect();
    let base = rows
        .sort(
            order
                .iter()
                .map(|c| PlSmallStr::from(*c))
                .collect::<Vec<_>>(),
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .with_column(q.clone().cum_sum(false).over(&counter)?.alias(AFTER))
        .with_column((col(AFTER) - q.clone()).alias(BEFORE))
        .cache();
    let zero = dec_lit(Decimal::ZERO);
    let mut parts = Vec::with_capacity(tiers.len());
    for (k, t) in tiers.iter().enumerate() {
        let lo = dec_lit(t.from);
        let top = match t.to {
            Some(hi) => min_horizontal([col(AFTER), dec_lit(hi)])?,
            None => col(AFTER),
        };
        let part = max_horizontal([
            top - max_horizontal([col(BEFORE), lo.clone()])?,
            zero.clone(),
        ])?;
        // A zero row is charged in the tier its counter currently sits in.
        let mut here = q.clone().eq(zero.clone()).and(col(BEFORE).gt_eq(lo));
        if let Some(hi) = t.to {
            here = here.and(col(BEFORE).lt(dec_lit(hi)));
        }
        let mut kept: Vec<Expr> = order.iter().map(|c| col(*c)).collect();
        kept.extend([col(TIER), col(QUANTITY)]);
        let mut cols: Vec<Expr> = order.iter().map(|c| col(*c)).collect();
        cols.extend([
            lit(k as i32 + 1).alias(TIER),
            part.alias(QUANTITY),
            here.alias(ZERO_HERE),
        ]);
        parts.push(
            base.clone()
                .select(cols)
                .filter(col(QUANTITY).gt(zero.clone()).or(col(ZERO_HERE)))
                .select(kept),
        );
    }
    let mut by: Vec<PlSmallStr> = order.iter().map(|c| PlSmallStr::from(*c)).collect();
    by.push(TIER.into());
    Ok(concat(parts, UnionArgs::default())?.sort(by, SortMultipleOptions::default()))
}

/// One tier part of one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierPart {
    /// Index of the row in the input slices.
    pub row: usize,
    /// Tier number, from 1.
    pub tier: i32,
    pub quantity: Decimal,
    pub unit_price: Decimal,
}

/// Rows per [`split`] query at most (a counter's rows are never divided, so a batch can be
/// larger when one counter is): the query's working memory stays bounded whatever the number
/// of rows, and batches run in parallel.
pub const BATCH_ROWS: usize = 1 << 18;

/// [`split`] over slices in processing order (`counter[i]` names row `i`'s counter), handed
/// over batch by batch so the caller holds one batch's parts at a time: `each` gets the parts of
/// whole counters (about [`BATCH_ROWS`] rows), ordered by `(row, tier)` within the batch, with
/// `row` indexing the input slices; batches come in a fixed order whatever the thread count.
pub fn split_batches(
    quantities: &[Decimal],
    counter: &[u32],
    tiers: &[Tier],
    each: impl FnMut(Vec<TierPart>) -> Result<()>,
) -> Result<()> {
    split_batches_of(quantities, counter, tiers, BATCH_ROWS, each)
}

fn split_batches_of(
    quantities: &[Decimal],
    counter: &[u32],
    tiers: &[Tier],
    batch_rows: usize,
    mut each: impl FnMut(Vec<TierPart>) -> Result<()>,
) -> Result<()> {
    if quantities.len() <= batch_rows {
        return each(split_batch(quantities, counter, tiers)?);
    }
    // Counters to batches, greedily in counter order; then each batch's rows, in order.
    let n_counters = counter.iter().max().map_or(0, |&c| c as usize + 1);
    let mut per_counter = vec![0usize; n_counters];
    for &c in counter {
        per_counter[c as usize] += 1;
    }
    let mut batch_of = vec![0u32; n_counters];
    let (mut batch, mut filled) = (0u32, 0usize);
    for (c, &n) in per_counter.iter().enumerate() {
        if filled > 0 && filled + n > batch_rows {
            batch += 1;
            filled = 0;
        }
        batch_of[c] = batch;
        filled += n;
    }
    let mut rows_of: Vec<Vec<usize>> = vec![Vec::new(); batch as usize + 1];
    for (i, &c) in counter.iter().enumerate() {
        rows_of[batch_of[c as usize] as usize].push(i);
    }
    // As many batches in flight as threads: parallel, and still bounded.
    for group in rows_of.chunks(rayon::current_num_threads()) {
        let split: Vec<Vec<TierPart>> = group
            .par_iter()
            .map(|rows| {
                let qs: Vec<Decimal> = rows.iter().map(|&i| quantities[i]).collect();
                let cs: Vec<u32> = rows.iter().map(|&i| counter[i]).collect();
                let mut parts = split_batch(&qs, &cs, tiers)?;
                for p in &mut parts {
                    p.row = rows[p.row];
                }
                Ok(parts)
            })
            .collect::<Result<_>>()?;
        for parts in split {
            each(parts)?;
        }
    }
    Ok(())
}

/// [`split`] over one batch of rows (whole counters).
fn split_batch(quantities: &[Decimal], counter: &[u32], tiers: &[Tier]) -> Result<Vec<TierPart>> {
    const ROW: &str = "row";
    const COUNTER: &str = "counter";
    let n = quantities.len();
    if n == 0 || tiers.is_empty() {
        return Ok(Vec::new());
    }
    let df = frame(
        n,
        vec![
            UInt64Chunked::from_vec(ROW.into(), (0..n as u64).collect()).into_column(),
            UInt32Chunked::from_slice(COUNTER.into(), counter).into_column(),
            dec_col(QUANTITY, QTY_SCALE, quantities.iter().map(|q| Some(*q))),
        ],
    )?;
    let out = split(df.lazy(), &[COUNTER], &[ROW], tiers)?.collect()?;
    let rows = out.column(ROW)?.u64()?;
    let tier = out.column(TIER)?.i32()?;
    let qty = out.column(QUANTITY)?.decimal()?;
    let scale = qty.scale() as u32;
    rows.into_no_null_iter()
        .zip(tier.into_no_null_iter())
        .zip(qty.physical().into_no_null_iter())
        .map(|((row, tier), m)| {
            let quantity = from_mantissa(m, scale).ok_or_else(|| {
                Error::Polars(PolarsError::ComputeError(
                    format!("tier part {m}e-{scale} does not fit a decimal").into(),
                ))
            })?;
            Ok(TierPart {
                row: row as usize,
                tier,
                quantity,
                unit_price: tiers[tier as usize - 1].unit_price,
            })
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    /// Every part of [`split_batches`], ordered by `(row, tier)`.
    fn split_rows(
        quantities: &[Decimal],
        counter: &[u32],
        tiers: &[Tier],
    ) -> Result<Vec<TierPart>> {
        let mut parts = Vec::new();
        split_batches(quantities, counter, tiers, |batch| {
            parts.extend(batch);
            Ok(())
        })?;
        parts.sort_by_key(|p| (p.row, p.tier));
        Ok(parts)
    }

    fn tiers() -> Vec<Tier> {
        vec![
            Tier {
                from: dec!(0),
                to: Some(dec!(10000000)),
                unit_price: dec!(0.06),
            },
            Tier {
                from: dec!(10000000),
                to: Some(dec!(100000000)),
                unit_price: dec!(0.04),
            },
            Tier {
                from: dec!(100000000),
                to: None,
                unit_price: dec!(0.03),
            },
        ]
    }

    fn clip(x: Decimal, lo: Decimal, hi: Option<Decimal>) -> Decimal {
        let x = x.max(lo);
        hi.map_or(x, |h| x.min(h))
    }

    /// Test oracle: the split row by row in plain Rust (`clip(after) − clip(before)` per tier).
    fn oracle(quantities: &[Decimal], counter: &[u32], tiers: &[Tier]) -> Vec<TierPart> {
        let mut sums = std::collections::HashMap::new();
        let mut parts = Vec::new();
        for (row, (q, c)) in quantities.iter().zip(counter).enumerate() {
            let b: Decimal = *sums.get(c).unwrap_or(&Decimal::ZERO);
            let a = b + q;
            sums.insert(*c, a);
            for (k, t) in tiers.iter().enumerate() {
                let part = clip(a, t.from, t.to) - clip(b, t.from, t.to);
                let zero_here = q.is_zero() && b >= t.from && t.to.is_none_or(|h| b < h);
                if part > Decimal::ZERO || zero_here {
                    parts.push(TierPart {
                        row,
                        tier: k as i32 + 1,
                        quantity: part,
                        unit_price: t.unit_price,
                    });
                }
            }
        }
        parts
    }

    /// Cost of a whole volume priced at once through the tiers (per `per` units).
    fn cost_at_once(volume: Decimal, tiers: &[Tier], per: Decimal) -> Decimal {
        tiers
            .iter()
            .map(|t| (clip(volume, t.from, t.to) - t.from) * t.unit_price / per)
            .sum()
    }

    fn parts(p: &[TierPart]) -> Vec<(usize, i32, Decimal)> {
        p.iter().map(|p| (p.row, p.tier, p.quantity)).collect()
    }

    #[test]
    fn example_7_an_hour_crossing_a_boundary_gives_two_parts() {
        // Month-to-date 9,990,000, next hour 20,000 → 10,000 at 0.06 and 10,000 at 0.04.
        let p = split_rows(&[dec!(9990000), dec!(20000)], &[0, 0], &tiers()).unwrap();
        assert_eq!(
            parts(&p),
            vec![
                (0, 1, dec!(9990000)),
                (1, 1, dec!(10000)),
                (1, 2, dec!(10000))
            ]
        );
        let cost: Decimal = p[1..]
            .iter()
            .map(|x| x.quantity * x.unit_price / dec!(10000))
            .sum();
        assert_eq!(cost, dec!(0.10));
    }

    #[test]
    fn exactly_at_the_boundary_stays_in_the_lower_tier() {
        let p = split_rows(&[dec!(10000000), dec!(1)], &[0, 0], &tiers()).unwrap();
        assert_eq!(parts(&p), vec![(0, 1, dec!(10000000)), (1, 2, dec!(1))]);
    }

    #[test]
    fn an_hour_spanning_two_boundaries_gives_three_parts() {
        let p = split_rows(&[dec!(5000000), dec!(100000000)], &[0, 0], &tiers()).unwrap();
        assert_eq!(
            parts(&p),
            vec![
                (0, 1, dec!(5000000)),
                (1, 1, dec!(5000000)),
                (1, 2, dec!(90000000)),
                (1, 3, dec!(5000000))
            ]
        );
    }

    #[test]
    fn counters_are_independent_so_a_new_month_resets_n() {
        let p = split_rows(&[dec!(10000000), dec!(5)], &[0, 1], &tiers()).unwrap();
        assert_eq!(parts(&p), vec![(0, 1, dec!(10000000)), (1, 1, dec!(5))]);
    }

    #[test]
    fn a_zero_hour_is_one_zero_part_in_the_current_tier() {
        let p = split_rows(&[dec!(0), dec!(10000001), dec!(0)], &[0, 0, 0], &tiers()).unwrap();
        assert_eq!(
            parts(&p),
            vec![
                (0, 1, dec!(0)),
                (1, 1, dec!(10000000)),
                (1, 2, dec!(1)),
                (2, 2, dec!(0))
            ]
        );
    }

    #[test]
    fn fractional_billable_calls_split_exactly() {
        let p = split_rows(&[dec!(9999999.5), dec!(1.25)], &[0, 0], &tiers()).unwrap();
        assert_eq!(
            parts(&p),
            vec![
                (0, 1, dec!(9999999.5)),
                (1, 1, dec!(0.5)),
                (1, 2, dec!(0.75))
            ]
        );
    }

    proptest! {
        #[test]
        fn parts_sum_to_each_hour_and_month_cost_matches(qs in prop::collection::vec(0u64..40_000_000, 1..40)) {
            let q: Vec<Decimal> = qs.iter().map(|&x| Decimal::from(x)).collect();
            let counter = vec![0; q.len()];
            let p = split_rows(&q, &counter, &tiers()).unwrap();
            for (i, qi) in q.iter().enumerate() {
                let s: Decimal = p.iter().filter(|x| x.row == i).map(|x| x.quantity).sum();
                prop_assert_eq!(s, *qi);
            }
            prop_assert!(p.iter().all(|x| x.quantity >= Decimal::ZERO));
            let per = dec!(10000);
            let hourly: Decimal = p.iter().map(|x| x.quantity * x.unit_price / per).sum();
            let total: Decimal = q.iter().sum();
            prop_assert_eq!(hourly, cost_at_once(total, &tiers(), per));
        }

        #[test]
        fn polars_split_matches_the_row_by_row_oracle(
            rows in prop::collection::vec((0u64..30_000_000_000_000_000, 0u32..3, prop::bool::weighted(0.1)), 1..60)
        ) {
            // Fractional quantities (scale 9) in three interleaved counters, some zero rows.
            let q: Vec<Decimal> = rows
                .iter()
                .map(|&(m, _, zero)| if zero { Decimal::ZERO } else { Decimal::from_i128_with_scale(m as i128, 9) })
                .collect();
            let counter: Vec<u32> = rows.iter().map(|r| r.1).collect();
            prop_assert_eq!(split_rows(&q, &counter, &tiers()).unwrap(), oracle(&q, &counter, &tiers()));
        }

        #[test]
        fn batches_of_whole_counters_give_the_split_of_all_rows(
            rows in prop::collection::vec((0u64..30_000_000, 0u32..7), 1..80), batch in 1usize..20
        ) {
            let q: Vec<Decimal> = rows.iter().map(|r| Decimal::from(r.0)).collect();
            let counter: Vec<u32> = rows.iter().map(|r| r.1).collect();
            let mut got = Vec::new();
            split_batches_of(&q, &counter, &tiers(), batch, |parts| {
                // Each batch is whole counters, ordered by (row, tier).
                assert!(parts.windows(2).all(|w| (w[0].row, w[0].tier) < (w[1].row, w[1].tier)));
                got.extend(parts);
                Ok(())
            })
            .unwrap();
            got.sort_by_key(|p| (p.row, p.tier));
            prop_assert_eq!(got, oracle(&q, &counter, &tiers()));
        }

        #[test]
        fn cost_never_decreases_with_volume(a in 0u64..300_000_000, b in 0u64..300_000_000) {
            let (lo, hi) = (a.min(b), a.max(b));
            let per = dec!(10000);
            prop_assert!(cost_at_once(Decimal::from(lo), &tiers(), per) <= cost_at_once(Decimal::from(hi), &tiers(), per));
        }
    }
}
