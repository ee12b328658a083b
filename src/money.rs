//! Decimal quantities and money: the one way to make, convert and round numbers.
//!
//! Invariants:
//! - No floats anywhere: every quantity and amount is a [`Decimal`].
//! - Every rounding is half away from zero (RULES.md §1): unit conversions and quantities to
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
    if let Some(up) = scale.checked_sub(d.scale()) {
        let factor = POW10.get(up as usize).copied();
        if let Some(m) = factor.and_then(|f| d.mantissa().checked_mul(f)) {
            return m;
        }
    }
    round_to(d, scale).mantissa()
}

/// A decimal from a Parquet mantissa and scale; `None` when it does not fit a 96-bit decimal.
pub fn from_mantissa(m: i128, scale: u32) -> Option<Decimal> {
    Decimal::try_from_i128_with_scale(m, scale).ok()
}

/// Parses a decimal written in the catalog or on the command line (`"0.06"`, `"1e3"` rejected).
pub fn parse_decimal(s: &str) -> Option<Decimal> {
    Decimal::from_str(s.trim()).ok()
}

/// Metering units of CONTRACT.md. Traffic units convert with base 1024; `call`, `QPS` and
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
        let k = Decimal::from(1024u32);
        match self {
            Unit::B => Decimal::ONE,
            Unit::KB => k,
            Unit::MB => k * k,
            Unit::GB => k * k * k,
            Unit::TB => k * k * k * k,
            Unit::Call | Unit::Qps | Unit::Mbps => Decimal::ONE,
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
pub fn convert(q: Decimal, from: Unit, to: Unit) -> Decimal {
    if from == to {
        return q9(q);
    }
    q9(q * from.factor() / to.factor())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

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
        // 15,000,000 KB ≈ 14.305114746 GB (RULES.md §9.6).
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
        // Past i128, the old way (rust_decimal's rescale) decides.
        assert_eq!(
            to_mantissa(Decimal::MAX, 28),
            round_to(Decimal::MAX, 28).mantissa()
        );
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
