//! Graduated tiered pricing (RULES.md §4.1) as clipped cumulative sums.
//!
//! For the rows of one counter (an account's natural UTC+8 month), in processing order, with
//! billable quantities `q` and month-to-date totals `before = Σ q of earlier rows`,
//! `after = before + q`, the part of a row in tier `(lo, hi]` is
//! `clip(after, lo, hi) − clip(before, lo, hi)`. The computation is column at a time: one pass
//! for the running sums, one vectorised pass per tier.
//!
//! Invariants: a row's parts sum exactly to its quantity; parts are non-negative; the month's
//! total cost equals the cost of the month's volume priced at once; a zero row yields one
//! zero part in the tier its counter is in.

use crate::catalog::Tier;
use rust_decimal::Decimal;

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

fn clip(x: Decimal, lo: Decimal, hi: Option<Decimal>) -> Decimal {
    let x = x.max(lo);
    hi.map_or(x, |h| x.min(h))
}

/// Month-to-date totals before each row; `counter[i]` names the row's counter (dense ids).
pub fn running_before(quantities: &[Decimal], counter: &[usize]) -> Vec<Decimal> {
    let n_counters = counter.iter().copied().max().map_or(0, |m| m + 1);
    let mut sums = vec![Decimal::ZERO; n_counters];
    quantities
        .iter()
        .zip(counter)
        .map(|(q, &c)| {
            let b = sums[c];
            sums[c] += *q;
            b
        })
        .collect()
}

/// Splits each row at the tier boundaries. Output is ordered by `(row, tier)`.
pub fn split(quantities: &[Decimal], counter: &[usize], tiers: &[Tier]) -> Vec<TierPart> {
    let before = running_before(quantities, counter);
    let after: Vec<Decimal> = before.iter().zip(quantities).map(|(b, q)| b + q).collect();
    let mut parts: Vec<TierPart> = Vec::with_capacity(quantities.len());
    for (k, t) in tiers.iter().enumerate() {
        let tier = k as i32 + 1;
        for (row, (b, a)) in before.iter().zip(&after).enumerate() {
            let part = clip(*a, t.from, t.to) - clip(*b, t.from, t.to);
            // A zero row is charged in the tier its counter currently sits in.
            let zero_here =
                quantities[row].is_zero() && *b >= t.from && t.to.is_none_or(|h| *b < h);
            if part > Decimal::ZERO || zero_here {
                parts.push(TierPart {
                    row,
                    tier,
                    quantity: part,
                    unit_price: t.unit_price,
                });
            }
        }
    }
    parts.sort_by_key(|p| (p.row, p.tier));
    parts
}

/// Cost of a whole volume priced at once through the tiers (per `per` units).
pub fn cost_at_once(volume: Decimal, tiers: &[Tier], per: Decimal) -> Decimal {
    tiers
        .iter()
        .map(|t| (clip(volume, t.from, t.to) - t.from) * t.unit_price / per)
        .sum()
}

#[cfg(test)]
#[allow(clippy::cloned_ref_to_slice_refs)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

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

    fn parts(p: &[TierPart]) -> Vec<(usize, i32, Decimal)> {
        p.iter().map(|p| (p.row, p.tier, p.quantity)).collect()
    }

    #[test]
    fn example_7_an_hour_crossing_a_boundary_gives_two_parts() {
        // Month-to-date 9,990,000, next hour 20,000 → 10,000 at 0.06 and 10,000 at 0.04.
        let p = split(&[dec!(9990000), dec!(20000)], &[0, 0], &tiers());
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
        let p = split(&[dec!(10000000), dec!(1)], &[0, 0], &tiers());
        assert_eq!(parts(&p), vec![(0, 1, dec!(10000000)), (1, 2, dec!(1))]);
    }

    #[test]
    fn an_hour_spanning_two_boundaries_gives_three_parts() {
        let p = split(&[dec!(5000000), dec!(100000000)], &[0, 0], &tiers());
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
        let p = split(&[dec!(10000000), dec!(5)], &[0, 1], &tiers());
        assert_eq!(parts(&p), vec![(0, 1, dec!(10000000)), (1, 1, dec!(5))]);
    }

    #[test]
    fn a_zero_hour_is_one_zero_part_in_the_current_tier() {
        let p = split(&[dec!(0), dec!(10000001), dec!(0)], &[0, 0, 0], &tiers());
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
        let p = split(&[dec!(9999999.5), dec!(1.25)], &[0, 0], &tiers());
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
            let p = split(&q, &counter, &tiers());
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
        fn cost_never_decreases_with_volume(a in 0u64..300_000_000, b in 0u64..300_000_000) {
            let (lo, hi) = (a.min(b), a.max(b));
            let per = dec!(10000);
            prop_assert!(cost_at_once(Decimal::from(lo), &tiers(), per) <= cost_at_once(Decimal::from(hi), &tiers(), per));
        }
    }
}
