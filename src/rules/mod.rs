//! Billing rules, one module per rule of RULES.md.

pub mod bills;
pub mod deduction;
pub mod packages;
pub mod pricing;
pub mod purchases;
pub mod tiering;
