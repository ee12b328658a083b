//! Billing rules, one module per rule of docs/rules.md: pure functions, rows in, rows out.
//!
//! A rule reads typed input rows (`crate::input`), the catalog and the run's window, and returns
//! output rows (deduction details, bill lines, refunds, account events, package statuses, bills)
//! and its findings as `Violation`s. It does no file I/O and holds no state between calls; the
//! pipeline orders the rules: package renewals (`renewals`) → deduction (with the package refund
//! policy of `refunds`) → pricing (graduated parts by `tiering`) → subscriptions, elastic fees
//! and purchases → package refunds → the account timeline (elastic fees settled against
//! arrears, ledger, arrears, plan expiry, refunded instances) → package inventory → monthly
//! bills.
//!
//! Invariants every rule keeps: money is exact decimal arithmetic, rounded only where docs/rules.md
//! says (amounts once to scale 8, payable once to 0.01); results do not depend on the number of
//! threads or on hashing (parallel work lands in a fixed order); each module's unit tests sit
//! beside it and assert the breakdown (each tier part, each draw), docs/rules.md's worked examples
//! among them.

pub mod arrears;
pub mod bills;
pub mod deduction;
pub mod elastic;
pub mod elastic_unavailable;
pub mod findings;
pub mod free_quota;
pub mod ledger;
pub mod packages;
pub mod plan_expiry;
pub mod pricing;
pub mod purchases;
pub mod refunded_instances;
pub mod refunds;
pub mod renewals;
pub mod subscriptions;
pub mod tiering;
pub mod timeline;
