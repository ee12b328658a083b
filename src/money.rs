//! Decimal quantities and money: the one way to make, convert and round numbers.
//!
//! Invariants:
//! - No floats anywhere: every quantity and amount is a [`Decimal`].
//! - Every rounding is half away from zero (docs/rules.md §1): unit conversions and quantities to
//!   scale 9 ([`q9`]), line amounts to scale 8 ([`m8`]), payable amounts to scale 2 ([`pay2`]).
//! - Parquet `dec(38,s)` values are carried as `i128` mantissas at a fixed scale;
//!   [`to_mantissa`] / [`from_mantissa`] convert exactly or fail (never truncate silently).

use rust_decimal::{Decimal, RoundingStrategy};
use std::fmt;
use std::str::FromStr;

/// Scale of quantities (usage, package capacities, remainders).
pub const QTY_SCALE: u32 = 9;
/// Scale of line-level money.
pub const MONEY_SCALE: u32 = 8;
/// Scale of payable amounts.
pub const PAYABLE_SCALE: u32 = 2;

/// The largest quantity an input row may hold (a usage row's quantity, a package's capacity),
/// in base units — bytes for traffic, the unit itself otherwise: 10^24 (about 0.9 × 10^12 TB).
/// A bound that keeps every step of the arithmetic inside a 96-bit `Decimal`: 10^24 bytes times
/// a coefficient of at most [`MAX_COEFFICIENT`] is 10^28, below `Decimal::MAX` (7.9 × 10^28).
/// (dec(38,9) allows 10^29 TB, which overflowed — and panicked — in the first conversion.)
pub const MAX_BASE_QUANTITY: i128 = 1_000_000_000_000_000_000_000_000;
/// The largest scope coefficient (package units per usage unit): 10^4 (see
/// [`MAX_BASE_QUANTITY`]).
pub const MAX_COEFFICIENT: i64 = 10_000;

/// [`MAX_BASE_QUANTITY`] in `unit`.
pub fn max_quantity(unit: Unit) -> Decimal {
    Decimal::from_i128_with_scale(MAX_BASE_QUANTITY, 0) / unit.factor()
}

fn round_to(d: Decimal, scale: u32) -> Decimal {
    if d.scale() == scale {
        return d; // the common case on hot paths: already at the scale, nothing to round
    }
    let mut r = d.round_dp_with_strategy(scale, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(scale);
    r
}

/// Quantity rounding: scale 9, half away from zero.
pub fn q9(d: Decimal) -> Decimal {
    round_to(d, QTY_SCALE)
}

/// Line-amount rounding: scale 8, half away from zero.
pub fn m8(d: Decimal) -> Decimal {
    round_to(d, MONEY_SCALE)
}

/// Payable rounding: scale 2, half away from zero.
pub fn pay2(d: Decimal) -> Decimal {
    round_to(d, PAYABLE_SCALE)
}

/// 10^k for k = 0..=28 (the largest scale of a `Decimal`).
const POW10: [i128; 29] = {
    let mut t = [1i128; 29];
    let mut k = 1;
    while k < 29 {
        t[k] = t[k - 1] * 10;
        k += 1;
    }
    t
};

/// Mantissa of `d` at `scale` (exact: `d` must already have at most `scale` decimals,
/// otherwise it is rounded half away from zero first).
pub fn to_mantissa(d: Decimal, scale: u32) -> i128 {
    // At most `scale` decimals (nearly always): widening the mantissa is exact, no rounding.
    match scale.checked_sub(d.scale()) {
        // |mantissa| < 2^96 and 10^9 < 2^30: the product is below 2^126, so a plain multiply
        // (every output column's case: scales 2 to 9), without i128's costly overflow check.
        Some(up) if up <= 9 => d.mantissa() * POW10[up as usize],
        Some(up) => match POW10
            .get(up as usize)
            .and_then(|f| d.mantissa().checked_mul(*f))
        {
            Some(m) => m,
            None => round_to(d, scale).mantissa(),
        },
        None => round_to(d, scale).mantissa(),
    }
}

/// A decimal from a Parquet mantissa and scale; `None` when it does not fit a 96-bit decimal.
pub fn from_mantissa(m: i128, scale: u32) -> Option<Decimal> {
    Decimal::try_from_i128_with_scale(m, scale).ok()
}

/// Parses a decimal written in the catalog or on the command line (`"0.06"`, `"1e3"` rejected).
pub fn parse_decimal(s: &str) -> Option<Decimal> {
    Decimal::from_str(s.trim()).ok()
}

/// Metering units of docs/contract.md. Traffic units convert with base 1024; `call`, `QPS` and
/// `Mbps` only match themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Unit {
    B,
    KB,
    MB,
    GB,
    TB,
    Call,
    Qps,
    Mbps,
}

impl Unit {
    pub const ALL: [Unit; 8] = [
        Unit::B,
        Unit::KB,
        Unit::MB,
        Unit::GB,
        Unit::TB,
        Unit::Call,
        Unit::Qps,
        Unit::Mbps,
    ];

    pub fn parse(s: &str) -> Option<Unit> {
        Some(match s {
            "B" => Unit::B,
            "KB" => Unit::KB,
            "MB" => Unit::MB,
            "GB" => Unit::GB,
            "TB" => Unit::TB,
            "call" => Unit::Call,
            "QPS" => Unit::Qps,
            "Mbps" => Unit::Mbps,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Unit::B => "B",
            Unit::KB => "KB",
            Unit::MB => "MB",
            Unit::GB => "GB",
            Unit::TB => "TB",
            Unit::Call => "call",
            Unit::Qps => "QPS",
            Unit::Mbps => "Mbps",
        }
    }

    pub fn is_traffic(self) -> bool {
        matches!(self, Unit::B | Unit::KB | Unit::MB | Unit::GB | Unit::TB)
    }

    /// Size of one unit in base units: bytes for traffic (base 1024), 1 otherwise.
    pub fn factor(self) -> Decimal {
        Decimal::from(1u64 << (10 * self.pow1024()))
    }

    /// The power of 1024 of [`Unit::factor`].
    fn pow1024(self) -> u32 {
        match self {
            Unit::B => 0,
            Unit::KB => 1,
            Unit::MB => 2,
            Unit::GB => 3,
            Unit::TB => 4,
            Unit::Call | Unit::Qps | Unit::Mbps => 0,
        }
    }

    /// Whether quantities in `self` and `other` can be converted into each other.
    pub fn compatible(self, other: Unit) -> bool {
        self == other || (self.is_traffic() && other.is_traffic())
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `q` in `from` expressed in `to`, rounded to scale 9 (one rounding).
///
/// A hot path (every traffic row priced per GB, every draw across units), so it is integer
/// arithmetic on the scale-9 mantissa: the factors are powers of 2, so the conversion is a
/// shift up, or a division by a power of 2 rounded half away from zero — the exact result
/// rounded once. Only a result too large for a 96-bit mantissa at scale 9 (about 7.9 × 10^19
/// units) goes through [`Decimal`] division, as before.
pub fn convert(q: Decimal, from: Unit, to: Unit) -> Decimal {
    if from == to {
        return q9(q);
    }
    convert_exact(q, from.pow1024(), to.pow1024())
        .unwrap_or_else(|| q9(q * from.factor() / to.factor()))
}

/// `q × 1024^up / 1024^down` at scale 9, rounded half away from zero; `None` when a step
/// leaves `i128` or the result a 96-bit decimal.
fn convert_exact(q: Decimal, up: u32, down: u32) -> Option<Decimal> {
    let widen = POW10.get(QTY_SCALE.checked_sub(q.scale())? as usize)?;
    let m = q.mantissa().checked_mul(*widen)?;
    let (up, down) = (10 * up.saturating_sub(down), 10 * down.saturating_sub(up));
    let scaled = m.checked_mul(1i128 << up)?;
    from_exact(div_half_away(scaled, 1i128 << down), QTY_SCALE)
}

/// `a × b` rounded half away from zero to `scale` (docs/rules.md §1: one rounding of the exact
/// product). Integer arithmetic on the mantissas when the product fits 96 bits — as rust_decimal
/// would compute it, exactly — else rust_decimal's product and rounding.
pub fn mul_round(a: Decimal, b: Decimal, scale: u32) -> Decimal {
    mul_round_exact(a, b, scale).unwrap_or_else(|| round_to(a * b, scale))
}

fn mul_round_exact(a: Decimal, b: Decimal, scale: u32) -> Option<Decimal> {
    let s = a.scale() + b.scale();
    let p = a.mantissa().checked_mul(b.mantissa())?;
    if s > 28 || p.unsigned_abs() >= 1 << 96 {
        return None;
    }
    match scale.checked_sub(s) {
        Some(widen) => from_exact(p.checked_mul(*POW10.get(widen as usize)?)?, scale),
        None => from_exact(div_half_away(p, POW10[(s - scale) as usize]), scale),
    }
}

/// `n / d` (d > 0) rounded half away from zero.
fn div_half_away(n: i128, d: i128) -> i128 {
    let (q, r) = (n / d, n % d);
    if 2 * r.unsigned_abs() >= d.unsigned_abs() {
        q + n.signum()
    } else {
        q
    }
}

/// The decimal of mantissa `m` at `scale`, if it fits 96 bits.
fn from_exact(m: i128, scale: u32) -> Option<Decimal> {
    (m.unsigned_abs() < 1 << 96).then(|| Decimal::from_i128_with_scale(m, scale))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    /// The bound is 10^24 base units in every unit (`Unit::ALL` in the enum's order, which
    /// `input::usage` indexes by).
    #[test]
    fn max_quantity_is_10_24_base_units() {
        for (i, u) in Unit::ALL.iter().enumerate() {
            assert_eq!(*u as usize, i);
            assert_eq!(
                max_quantity(*u) * u.factor(),
                Decimal::from_i128_with_scale(MAX_BASE_QUANTITY, 0)
            );
        }
        // 2 × 10^12 B (1.8 TiB in an hour) is far inside; 10^17 TB is not.
        assert!(dec!(2000000000000) < max_quantity(Unit::B));
        assert!(dec!(100000000000000000) > max_quantity(Unit::TB));
    }

    #[test]
    fn rounding_is_half_away_from_zero_at_each_edge() {
        assert_eq!(q9(dec!(0.0000000005)), dec!(0.000000001));
        assert_eq!(q9(dec!(-0.0000000005)), dec!(-0.000000001));
        assert_eq!(m8(dec!(1.000000005)), dec!(1.00000001));
        assert_eq!(pay2(dec!(2666.666666)), dec!(2666.67));
        assert_eq!(pay2(dec!(0.125)), dec!(0.13));
        assert_eq!(pay2(dec!(-0.125)), dec!(-0.13));
        // Rounded values carry exactly the documented scale.
        assert_eq!(pay2(dec!(3)).scale(), 2);
        assert_eq!(q9(dec!(3)).to_string(), "3.000000000");
    }

    #[test]
    fn traffic_converts_with_base_1024() {
        assert_eq!(convert(dec!(1), Unit::GB, Unit::MB), dec!(1024));
        assert_eq!(convert(dec!(1), Unit::TB, Unit::KB), dec!(1073741824));
        // 15,000,000 KB ≈ 14.305114746 GB (docs/rules.md §9.6).
        assert_eq!(
            convert(dec!(15000000), Unit::KB, Unit::GB),
            dec!(14.305114746)
        );
        assert!(Unit::KB.compatible(Unit::TB));
        assert!(!Unit::Call.compatible(Unit::Qps));
        assert!(!Unit::GB.compatible(Unit::Mbps));
    }

    #[test]
    fn mantissas_round_trip() {
        let d = dec!(12.345678901);
        let m = to_mantissa(d, 9);
        assert_eq!(m, 12_345_678_901);
        assert_eq!(from_mantissa(m, 9), Some(d));
        assert_eq!(from_mantissa(i128::MAX, 9), None);
        // Fewer decimals widen exactly; more are rounded half away from zero.
        assert_eq!(to_mantissa(dec!(3), 8), 300_000_000);
        assert_eq!(to_mantissa(dec!(-1.5), 2), -150);
        assert_eq!(to_mantissa(dec!(0.125), 2), 13);
        assert_eq!(to_mantissa(dec!(-0.125), 2), -13);
        assert_eq!(
            to_mantissa(Decimal::MAX, 9),
            Decimal::MAX.mantissa() * 1_000_000_000
        );
        assert_eq!(
            to_mantissa(Decimal::MIN, 9),
            Decimal::MIN.mantissa() * 1_000_000_000
        );
        // Past i128, the old way (rust_decimal's rescale) decides.
        assert_eq!(
            to_mantissa(Decimal::MAX, 28),
            round_to(Decimal::MAX, 28).mantissa()
        );
    }

    /// The integer paths give rust_decimal's results wherever rust_decimal is exact: conversions
    /// of quantities under about 10^9 units (its division keeps 22+ decimals there, and a
    /// quotient by 2^k is either on a midpoint or at least 10^-9 / 2^(k+1) from one), products
    /// that fit 96 bits.
    mod integer_paths {
        use super::*;
        use proptest::prelude::*;

        fn old_convert(q: Decimal, from: Unit, to: Unit) -> Decimal {
            q9(q * from.factor() / to.factor())
        }

        fn unit() -> impl Strategy<Value = Unit> {
            proptest::sample::select(Unit::ALL.to_vec())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(4096))]

            #[test]
            fn convert_matches_decimal_division(
                m in -(1i64 << 60)..(1i64 << 60),
                normalized in any::<bool>(),
                from in unit(),
                to in unit(),
            ) {
                // Up to about 10^9 units at scale 9, or with fewer decimals when they allow.
                let q = Decimal::from_i128_with_scale(m as i128, 9);
                let q = if normalized { q.normalize() } else { q };
                prop_assume!(from != to);
                // Equal with the same scale: the same mantissa is written.
                let (new, old) = (convert(q, from, to), old_convert(q, from, to));
                prop_assert_eq!((new, new.scale()), (old, old.scale()));
            }

            #[test]
            fn convert_rounds_midpoints_like_decimal_division(
                j in -(1i64 << 28)..(1i64 << 28),
                nudge in -2i64..=2,
                down in 1u32..=4,
                up in 0u32..=1,
            ) {
                prop_assume!(up < down);
                let k = 10 * (down - up);
                // (2j + 1) / 2 units of scale 9 after the division, give or take a nudge.
                let m = (2 * j as i128 + 1) * (1i128 << (k - 1)) + nudge as i128;
                let q = Decimal::from_i128_with_scale(m, 9);
                let (from, to) = (Unit::ALL[up as usize], Unit::ALL[down as usize]);
                prop_assert_eq!(convert(q, from, to), old_convert(q, from, to));
            }

            #[test]
            fn mul_round_matches_decimal_product(
                a in -(1i64 << 62)..(1i64 << 62),
                sa in 0u32..=13,
                b in -(1i64 << 31)..(1i64 << 31),
                sb in 0u32..=10,
                scale in proptest::sample::select(vec![2u32, 8, 9]),
            ) {
                let (a, b) = (
                    Decimal::from_i128_with_scale(a as i128, sa),
                    Decimal::from_i128_with_scale(b as i128, sb),
                );
                let (new, old) = (mul_round(a, b, scale), round_to(a * b, scale));
                prop_assert_eq!((new, new.scale()), (old, old.scale()));
            }
        }

        #[test]
        fn outside_the_integer_range_decimal_arithmetic_decides() {
            // A product past 96 bits, a quantity past i128 once widened: rust_decimal's way.
            let big = Decimal::MAX;
            assert_eq!(mul_round(big, dec!(0.5), 8), round_to(big * dec!(0.5), 8));
            let q = Decimal::from_i128_with_scale(1i128 << 95, 0);
            assert_eq!(convert(q, Unit::TB, Unit::TB), q9(q));
            assert_eq!(
                convert(q, Unit::B, Unit::KB),
                old_convert(q, Unit::B, Unit::KB)
            );
            // Midpoints round away from zero, both signs.
            assert_eq!(
                convert(dec!(0.000000512), Unit::B, Unit::KB),
                dec!(0.000000001)
            );
            assert_eq!(
                convert(dec!(-0.000000512), Unit::B, Unit::KB),
                dec!(-0.000000001)
            );
            assert_eq!(convert(dec!(0.000000511), Unit::B, Unit::KB), dec!(0));
            assert_eq!(mul_round(dec!(0.05), dec!(0.1), 2), dec!(0.01));
            assert_eq!(mul_round(dec!(-0.05), dec!(0.1), 2), dec!(-0.01));
        }
    }

    #[test]
    fn units_parse_exactly() {
        for u in Unit::ALL {
            assert_eq!(Unit::parse(u.as_str()), Some(u));
        }
        assert_eq!(Unit::parse("gb"), None);
        assert_eq!(Unit::parse("calls"), None);
    }
}
