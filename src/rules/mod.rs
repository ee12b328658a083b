//! Billing rules, one module per rule of RULES.md.

pub mod arrears;
pub mod bills;
pub mod deduction;
pub mod elastic;
pub mod findings;
pub mod ledger;
pub mod packages;
pub mod plan_expiry;
pub mod pricing;
pub mod purchases;
pub mod refunds;
pub mod subscriptions;
pub mod tiering;
pub mod timeline;
