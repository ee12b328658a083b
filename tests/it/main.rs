//! The integration tests, one test binary (`cargo test --test it`): each binary links polars,
//! so one binary links once. A module per concern; `common` builds datasets and reads outputs.
//!
//! Invariants: every test runs in temporary directories of its own (tests run in parallel in
//! one process), and a test that needs a process to itself (the global rayon pool is sized
//! once per process) runs its body in a child process (`common::alone`).
//!
//! `cargo test --test it write_sample_data -- --ignored` rewrites `sample_data/` from its recipe.

mod common;

mod account_events;
mod contract;
mod cron;
mod faults;
mod focus_conformance;
mod fuzz_corpus;
mod golden;
mod metrics;
mod newcomer;
mod ops;
mod output;
mod readers;
mod reconcile;
mod reliability;
mod reliability_ops;
mod remote;
mod remote_azure;
mod report;
mod revised_deduction;
mod revised_elastic;
mod revised_renewals;
mod revised_subscriptions;
mod sample_data;
mod shards;
mod threads;
mod wap;
mod wap_remote;
mod window;
mod worked_examples;
