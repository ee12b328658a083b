//! Exports of a written output to other formats (`reckon export …`).

pub mod focus;
