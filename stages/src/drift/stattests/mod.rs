//! Data-drift statistics reproducing **Evidently 0.7** (`evidently.legacy.calculations.stattests`)
//! data-drift defaults and the underlying **SciPy 1.17 / NumPy 2.x** numbers. Self-contained
//! (std only): independent implementations written from the behaviour of the reference
//! libraries. This file is the design doc; each statistic lives in its own file.
//!
//! # A method spec
//!
//! A drift statistic is one row of [`METHODS`] (below), a [`MethodSpec`] (`methods.rs`):
//!
//! | field | meaning |
//! |---|---|
//! | `id` | Evidently's registry name, what `drift.columns.<c>.method` in params.yaml names |
//! | `name` | Evidently's display name, shown in the report |
//! | `kinds` | the column kinds it applies to (an override on another kind is refused) |
//! | `default_threshold` | Evidently's default (`drift.columns.<c>.threshold` overrides it) |
//! | `rule` | [`DriftRule`]: `p <= t`, `p < t` (p-values) or `d >= t` (distances) |
//! | `score` | [`Score`]: the function, on the sorted samples, the value counts or the shares |
//!
//! [`Method`] is a handle onto a row; it deserializes from the id (an unknown id is refused with
//! the list of ids, derived from the table). The report (`drift/report.rs`) iterates the table:
//! it prepares each input once per column and calls the row's function.
//!
//! | Evidently test | file | score kind | default threshold | drift rule |
//! |---|---|---|---|---|
//! | `ks` ("K-S p_value") | `ks.rs` ([`ks_2samp`]) | p-value | 0.05 | `p <= t` (sic, Evidently uses `<=` for KS) |
//! | `wasserstein` ("Wasserstein distance (normed)") | `wasserstein.rs` ([`wasserstein_norm`]) | distance | 0.1 | `d >= t` |
//! | `chisquare` ("chi-square p_value") | `chisquare.rs` ([`chisquare_test`]) | p-value | 0.05 | `p < t` |
//! | `z` ("Z-test p_value") | `ztest.rs` ([`z_test`]) | p-value | 0.05 | `p < t` |
//! | `jensenshannon` ("Jensen-Shannon distance") | `jensenshannon.rs` ([`jensenshannon_numerical`], [`jensenshannon_categorical`]) | distance | 0.1 | `d >= t` |
//! | `psi` ("PSI") | `psi.rs` ([`psi_numerical`], [`psi_categorical`]) | distance | 0.1 | `d >= t` |
//!
//! Shared machinery: `sums.rs` (sorting as u64 keys, NumPy's pairwise sums), `counts.rs`
//! ([`CategoryCounts`], the value counts all categorical tests consume), `binning.rs`
//! (Evidently's binning into shares, for Jensen–Shannon and PSI), `special.rs` (erf, the normal
//! CDF, the incomplete gamma, chi-squared survival).
//!
//! # Evidently's default choice
//!
//! [`default_method`] (`registry._get_default_stattest`): with ≤ 1000 reference rows a numerical
//! column with > 5 distinct values gets KS, otherwise chi-square, or the Z-test when ≤ 2 values;
//! with > 1000 rows a numerical column with > 5 values gets Wasserstein (normed), otherwise
//! Jensen–Shannon. It names [`Method::Ks`] etc.: Evidently's rule, not the list of methods. The
//! dataset-level verdict is [`dataset_drift`]. Missing values are handled before the tests by
//! [`clean_numeric`] / [`CategoryCounts`] (see their docs for an Evidently quirk with `±inf`).
//!
//! Numerical inputs are `&[f64]` without NaN (functions return [`StatError::ContainsNan`]
//! otherwise). Complexity: KS / Wasserstein / binning are `O(n log n)` (f64s are sorted as
//! order-preserving u64 keys), except the exact two-sample KS p-value which SciPy (and
//! therefore this module) only uses when `max(n_ref, n_cur) <= 10_000`.
//!
//! # Adding a statistic
//!
//! 1. A new file here with the statistic and its score function (one of the [`Score`]
//!    signatures), declared below with `mod` and `pub use`.
//! 2. One line in [`METHODS`], below those declarations. The params, the error listing the methods, the report, its JSON
//!    and HTML follow from the table. (Only a change of Evidently's *default* choice touches
//!    [`default_method`].)

mod binning;
mod chisquare;
mod counts;
mod jensenshannon;
mod ks;
mod methods;
mod psi;
mod special;
mod sums;
mod wasserstein;
mod ztest;

pub use binning::*;
pub use chisquare::*;
pub use counts::*;
pub use jensenshannon::*;
pub use ks::*;
pub use methods::*;
pub use psi::*;
pub use special::*;
pub use sums::*;
pub use wasserstein::*;
pub use ztest::*;

const NUMERICAL: &[ColumnKind] = &[ColumnKind::Numerical];
const BOTH: &[ColumnKind] = &[ColumnKind::Numerical, ColumnKind::Categorical];

/// The drift statistics, in the order messages list them. Adding one: a file with its score
/// function, declared above, and a line here.
#[rustfmt::skip]
pub const METHODS: &[MethodSpec] = &[
    MethodSpec { id: "ks", name: "K-S p_value", kinds: NUMERICAL, default_threshold: 0.05, rule: DriftRule::PAtMost, score: Score::Sorted(ks_score) },
    MethodSpec { id: "wasserstein", name: "Wasserstein distance (normed)", kinds: NUMERICAL, default_threshold: 0.1, rule: DriftRule::DAtLeast, score: Score::Sorted(wasserstein_norm_sorted) },
    MethodSpec { id: "chisquare", name: "chi-square p_value", kinds: BOTH, default_threshold: 0.05, rule: DriftRule::PBelow, score: Score::Counts(chisquare_score) },
    MethodSpec { id: "z", name: "Z-test p_value", kinds: BOTH, default_threshold: 0.05, rule: DriftRule::PBelow, score: Score::Counts(z_test) },
    MethodSpec { id: "jensenshannon", name: "Jensen-Shannon distance", kinds: BOTH, default_threshold: 0.1, rule: DriftRule::DAtLeast, score: Score::Shares(jensenshannon_distance) },
    MethodSpec { id: "psi", name: "PSI", kinds: BOTH, default_threshold: 0.1, rule: DriftRule::DAtLeast, score: Score::Shares(psi_score) },
];
