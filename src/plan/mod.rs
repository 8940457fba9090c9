//! Deciding what `repro` has to do: for each stage, fresh, restorable, or run — and why.
//!
//! This module doc is the design document of churnflow's cache; `docs/engine.md` is the
//! user's version of it.
//!
//! # Fingerprints ([`fingerprint`])
//!
//! A stage's fingerprint is blake3 over a canonical JSON encoding of a serialisable key
//! struct (`StageKey`, map keys sorted), streamed straight into the hasher:
//!
//! | in the fingerprint                          | not in it                                 |
//! |---------------------------------------------|-------------------------------------------|
//! | resolved `cmd` strings, or kind + settings  | mtimes, sizes, inode numbers              |
//! | per-kind code version (built-in kinds)      | absolute paths (moving the project keeps  |
//! | each dep's content hash (dirs: manifest)    |   every fingerprint)                      |
//! | each declared param's canonical JSON value  | params the stage does not declare         |
//! | declared out paths                          | `desc`, out options such as `cache`       |
//! | the baseline champion (stages that use it)  | hostnames, users, timestamps              |
//! | the key's own version (`KEY_VERSION`)       | `frozen`, `always_changed` (they decide   |
//! |                                             |   *whether* to run, not *what* results)   |
//!
//! Why: everything in the left column can change a stage's results; nothing in the right
//! column can. Mtimes and absolute paths would make a fresh clone or a moved project rerun
//! everything; undeclared params would make every params edit rerun every stage. A built-in
//! kind's code version is bumped by the stages crate when the same inputs would give other
//! results, so upgrading churnflow reruns exactly the kinds whose output changed.
//!
//! # Fresh, stale and why ([`freshness`])
//!
//! Fresh = `pipeline.lock` holds the same fingerprint for the stage and every out exists
//! with the hash the lock records. The fingerprint is compared first; only on a mismatch is
//! the lock entry diffed into typed [`freshness::StaleReason`]s (`param_changed`,
//! `dep_changed`, `baseline_changed`, …), each with one sentence. A frozen stage is never
//! stale for its inputs, only for missing or edited outs. An out that a run of the stage left
//! unfinished ([`crate::store::unfinished`]: interrupted, failed, or running now) is stale for
//! that reason (`out_half_written`, `out_from_failed_run`, `out_being_written`), never
//! `out_modified`: only a person's change is called a modification, and only it is saved
//! into the store before being replaced.
//!
//! # Restorable ([`restorable`])
//!
//! A stale stage whose new fingerprint has a run record in the store, all of whose objects
//! are present, is restored instead of run. Stages with `persist` outs, `always_changed`,
//! uncached outs or a registry side effect never use run records
//! ([`crate::pipeline::resolve::Stage::uses_run_records`]). Both the prediction below and
//! the executor ask [`restorable::run_record`], so the two never disagree.
//!
//! # Prediction ([`predict`])
//!
//! `status` and `repro --dry-run` predict per stage in graph order: a stage below a stale
//! one is stale for that reason alone (its dep changes are not reported twice) and is not
//! restorable (its inputs are not known yet). `repro` itself decides each stage again when
//! its upstream stages are done, with the hashes as they are then.
//!
//! `plan` builds on `pipeline` and `store`; `exec` builds on it.
pub(crate) mod fingerprint;
pub(crate) mod freshness;
pub(crate) mod predict;
pub(crate) mod project;
pub(crate) mod restorable;
