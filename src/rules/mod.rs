//! Billing rules, one module per rule of RULES.md.

pub mod bills;
pub mod deduction;
pub mod elastic;
pub mod packages;
pub mod pricing;
pub mod purchases;
pub mod refunds;
pub mod subscriptions;
pub mod tiering;
