//! The data stages: raw exports in, validated per-customer features out.
//!
//! * kinds: [`ingest`] (raw CSV/Parquet → typed Parquet + profiles), [`validate`]
//!   (expectations → a report), [`features`] (one row per customer);
//! * the synthetic extract behind `churnflow generate` ([`generate`]) and the shifts of a
//!   later month it can apply (`--drift`, [`shift`]);
//! * the `snapshot` cleaning a model carries to `score` ([`snapshot`]) and the column
//!   profiles ingest writes ([`profile`]);
//! * the CSV/Parquet machinery of the ingest fast path: [`typed_csv`] (chunked typed CSV
//!   parsing), [`table_ingest`] (one pass: parse, profile, write), [`parquet_out`] (row-group
//!   Parquet writer), [`ordered`] (parallel map, results in input order), and
//!   [`customer_rollup`] (the streaming per-customer aggregates of `features`).
//!
//! Layering: `data` uses `io` and the contract and never imports `crate::model`
//! (checked by `tests/layering.rs`); the model stages read its outputs as files.

pub(crate) mod customer_rollup;
pub(crate) mod features;
pub(crate) mod generate;
pub(crate) mod ingest;
pub(crate) mod ordered;
pub(crate) mod parquet_out;
pub(crate) mod profile;
pub(crate) mod shift;
pub(crate) mod snapshot;
pub(crate) mod table_ingest;
pub(crate) mod typed_csv;
pub(crate) mod validate;
