//! The page's model: a list of [`Section`]s, each a title, a few lines of text, charts (inline
//! SVG) and tables of [`Cell`]s; and the askama template (`page.html`) that renders it.
//!
//! Invariants: every figure a person reads is a [`Cell`] built by [`Cell::money`],
//! [`Cell::quantity`], [`Cell::count`] or [`Cell::share`], which carry the exact value in
//! `data-value` and a stable `data-figure` key beside the displayed text, so a test can check
//! every figure against the Parquet files; text is HTML-escaped by the template; charts are the
//! only raw markup, and they are drawn by `charts` from numbers, never from input text.
//!
//! A new kind of result (e.g. a reconciliation against issued bills) is one more function that
//! returns a [`Section`]; the template needs no change.

use askama::Template;
use rust_decimal::{Decimal, RoundingStrategy};

/// The whole page.
#[derive(Template)]
#[template(path = "page.html")]
pub struct Page {
    pub title: String,
    /// One line under the title: what output, which as-of date and window.
    pub subtitle: String,
    /// Headline figures (rows read, billed, totals …), shown as tiles.
    pub headline: Vec<(String, Cell)>,
    pub sections: Vec<Section>,
}

/// A part of the page with its own heading and anchor.
pub struct Section {
    /// The anchor (`#totals`); also the first part of its figures' keys.
    pub id: &'static str,
    pub title: String,
    /// Paragraphs of plain text, above the charts.
    pub text: Vec<String>,
    /// Inline SVG documents.
    pub charts: Vec<String>,
    pub tables: Vec<TableView>,
}

/// A table of the page.
pub struct TableView {
    pub caption: String,
    pub head: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// One cell: text, or a figure with its key and exact value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub text: String,
    /// `data-figure`: `section|dimension…|measure`, unique on the page.
    pub key: Option<String>,
    /// `data-value`: the exact figure (a decimal or an integer).
    pub value: Option<String>,
    /// Right-aligned (a number).
    pub numeric: bool,
}

impl Cell {
    /// Plain text.
    pub fn text(s: impl Into<String>) -> Cell {
        Cell {
            text: s.into(),
            key: None,
            value: None,
            numeric: false,
        }
    }

    fn figure(key: String, value: String, text: String) -> Cell {
        Cell {
            text,
            key: Some(key),
            value: Some(value),
            numeric: true,
        }
    }

    /// An amount of money: shown to the cent (half away from zero, grouped by thousands),
    /// exact in `data-value`.
    pub fn money(key: String, d: Decimal) -> Cell {
        Cell::figure(key, d.normalize().to_string(), money_text(d))
    }

    /// A quantity: shown to 3 decimals, exact in `data-value`.
    pub fn quantity(key: String, d: Decimal) -> Cell {
        Cell::figure(key, d.normalize().to_string(), grouped(d, 3))
    }

    /// A count.
    pub fn count(key: String, n: u64) -> Cell {
        Cell::figure(key, n.to_string(), grouped(Decimal::from(n), 0))
    }

    /// A share `part / whole` in percent to one decimal (`None` when `whole` is 0); the value
    /// is that rounded percentage.
    pub fn share(key: String, part: Decimal, whole: Decimal) -> Cell {
        match percent(part, whole) {
            Some(p) => Cell::figure(key, p.to_string(), format!("{p} %")),
            None => Cell::figure(key, String::new(), "–".into()),
        }
    }
}

/// `part / whole` in percent, rounded half away from zero to one decimal; `None` when `whole`
/// is 0.
pub fn percent(part: Decimal, whole: Decimal) -> Option<Decimal> {
    (!whole.is_zero()).then(|| {
        (part * Decimal::ONE_HUNDRED / whole)
            .round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero)
    })
}

/// Money as a person reads it: `1,234,567.89`, `-3.50`.
pub fn money_text(d: Decimal) -> String {
    grouped(d, 2)
}

/// `d` rounded half away from zero to `dp` decimals, its integer part grouped by thousands.
pub fn grouped(d: Decimal, dp: u32) -> String {
    let mut r = d.round_dp_with_strategy(dp, RoundingStrategy::MidpointAwayFromZero);
    r.rescale(dp);
    let s = r.abs().to_string();
    let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(i, f)| (i, f));
    let mut out = String::with_capacity(s.len() + s.len() / 3 + 1);
    if r.is_sign_negative() && !r.is_zero() {
        out.push('-');
    }
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn money_is_rounded_half_away_from_zero_and_grouped() {
        assert_eq!(money_text(dec!(1400326.01075268)), "1,400,326.01");
        assert_eq!(money_text(dec!(-7114.665)), "-7,114.67");
        assert_eq!(money_text(dec!(0.005)), "0.01");
        assert_eq!(money_text(dec!(-0.001)), "0.00");
        assert_eq!(money_text(dec!(999)), "999.00");
        assert_eq!(grouped(dec!(1000), 0), "1,000");
        assert_eq!(grouped(dec!(123456.0004), 3), "123,456.000");
    }

    #[test]
    fn a_share_is_a_rounded_percentage_or_none() {
        assert_eq!(percent(dec!(1), dec!(3)), Some(dec!(33.3)));
        assert_eq!(percent(dec!(2), dec!(3)), Some(dec!(66.7)));
        assert_eq!(percent(dec!(1), dec!(0)), None);
        let c = Cell::share("coverage|x|share".into(), dec!(1), dec!(8));
        assert_eq!(
            (c.text.as_str(), c.value.as_deref()),
            ("12.5 %", Some("12.5"))
        );
    }

    #[test]
    fn a_figure_carries_its_exact_value() {
        let c = Cell::money("totals|2024-04|total_amount".into(), dec!(9507.11570510));
        assert_eq!(c.value.as_deref(), Some("9507.1157051"));
        assert_eq!(c.text, "9,507.12");
    }
}
