//! What a drift method is: [`MethodSpec`], one row of the table [`METHODS`] (in `mod.rs`);
//! [`Method`], a handle onto a row (what params.yaml names and the report carries); the drift
//! rules and score kinds; Evidently's default choice ([`default_method`]) and dataset verdict;
//! the cleaning before the tests; and [`StatError`].

use super::*;
use serde::{Deserialize, Deserializer};
use std::fmt;

/// Why a statistic could not be computed (Evidently raises `ValueError` in these cases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatError {
    /// The reference sample is empty (after dropping missing values).
    EmptyReference,
    /// The current sample is empty (after dropping missing values).
    EmptyCurrent,
    /// A numerical input contains NaN; call [`clean_numeric`] first.
    ContainsNan,
    /// A value needed for histogram binning is not finite (NumPy raises
    /// "autodetected range ... is not finite").
    NonFiniteRange,
}

impl fmt::Display for StatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            StatError::EmptyReference => "empty reference sample",
            StatError::EmptyCurrent => "empty current sample",
            StatError::ContainsNan => "input contains NaN",
            StatError::NonFiniteRange => "non-finite values in a binned column",
        };
        f.write_str(s)
    }
}

impl std::error::Error for StatError {}

/// Column kind as Evidently sees it (`ColumnType.Numerical` / `ColumnType.Categorical`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Numerical column.
    Numerical,
    /// Categorical column (strings, or numbers declared categorical).
    Categorical,
}

/// Whether a drift score is a p-value (drift when small) or a distance (drift when large).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreKind {
    /// p-value: drift when below the threshold.
    PValue,
    /// distance / divergence: drift when at or above the threshold.
    Distance,
}

/// How a score is compared with its threshold, exactly as each Evidently implementation does.
/// NaN scores never drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftRule {
    /// p-value, drift when `p <= t` (Evidently's KS).
    PAtMost,
    /// p-value, drift when `p < t` (chi-square, Z).
    PBelow,
    /// distance, drift when `d >= t`.
    DAtLeast,
}

impl DriftRule {
    /// The verdict for a score against a threshold.
    pub fn is_drift(self, score: f64, threshold: f64) -> bool {
        match self {
            DriftRule::PAtMost => score <= threshold,
            DriftRule::PBelow => score < threshold,
            DriftRule::DAtLeast => score >= threshold,
        }
    }

    /// Whether the score is a p-value or a distance.
    pub fn score_kind(self) -> ScoreKind {
        match self {
            DriftRule::PAtMost | DriftRule::PBelow => ScoreKind::PValue,
            DriftRule::DAtLeast => ScoreKind::Distance,
        }
    }
}

/// What a method's score is computed from; the report prepares each input once per column.
#[derive(Clone, Copy)]
pub enum Score {
    /// Both samples, sorted and NaN-free (numerical columns only).
    Sorted(fn(&[f64], &[f64]) -> Result<f64, StatError>),
    /// The value counts over both sides.
    Counts(fn(&CategoryCounts) -> Result<f64, StatError>),
    /// The reference's and the current share per bin (numerical) or per value (categorical).
    Shares(fn(&[f64], &[f64]) -> f64),
}

/// One drift statistic: everything the report needs to know about it.
#[derive(Clone, Copy)]
pub struct MethodSpec {
    /// Evidently's registry name (`StatTest.name`), as params.yaml and the report write it.
    pub id: &'static str,
    /// Evidently's display name (`StatTest.display_name`).
    pub name: &'static str,
    /// The column kinds it applies to (a [`Score::Sorted`] method: numerical only).
    pub kinds: &'static [ColumnKind],
    /// Evidently's default threshold (`StatTest.default_threshold`).
    pub default_threshold: f64,
    /// How the score is compared with the threshold.
    pub rule: DriftRule,
    /// The function computing the score.
    pub score: Score,
}

/// The row of [`METHODS`] with this id, at compile time (a typo fails the build).
const fn row(id: &str) -> &'static MethodSpec {
    let mut i = 0;
    while i < METHODS.len() {
        let (a, b) = (METHODS[i].id.as_bytes(), id.as_bytes());
        if a.len() == b.len() {
            let mut k = 0;
            while k < a.len() && a[k] == b[k] {
                k += 1;
            }
            if k == a.len() {
                return &METHODS[i];
            }
        }
        i += 1;
    }
    panic!("no such method in METHODS")
}

/// A drift statistic: a handle onto its row of [`METHODS`]. Equal when the ids are.
#[derive(Clone, Copy)]
pub struct Method(&'static MethodSpec);

/// The methods Evidently's default choice ([`default_method`]) names.
#[allow(non_upper_case_globals)]
impl Method {
    /// Two-sample Kolmogorov–Smirnov test (`ks`).
    pub const Ks: Method = Method(row("ks"));
    /// Wasserstein-1 distance normed by the reference std (`wasserstein`).
    pub const WassersteinNorm: Method = Method(row("wasserstein"));
    /// Pearson chi-squared test on value counts (`chisquare`).
    pub const ChiSquare: Method = Method(row("chisquare"));
    /// Two-proportion Z-test (`z`).
    pub const ZTest: Method = Method(row("z"));
    /// Jensen–Shannon distance, natural log (`jensenshannon`).
    pub const JensenShannon: Method = Method(row("jensenshannon"));
    /// Population stability index (`psi`).
    pub const Psi: Method = Method(row("psi"));
}

impl Method {
    /// Its row of [`METHODS`].
    pub fn spec(self) -> &'static MethodSpec {
        self.0
    }

    /// Evidently's registry name (`StatTest.name`).
    pub fn id(self) -> &'static str {
        self.0.id
    }

    /// Evidently's display name (`StatTest.display_name`).
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// Whether the score is a p-value or a distance.
    pub fn kind(self) -> ScoreKind {
        self.0.rule.score_kind()
    }

    /// Evidently's default threshold (`StatTest.default_threshold`).
    pub fn default_threshold(self) -> f64 {
        self.0.default_threshold
    }

    /// Drift verdict exactly as each Evidently implementation compares: KS uses `p <= t`,
    /// chi-square and Z use `p < t`, distances use `d >= t`. NaN scores never drift.
    pub fn is_drift(self, score: f64, threshold: f64) -> bool {
        self.0.rule.is_drift(score, threshold)
    }

    /// Whether it applies to a column of this kind.
    pub fn applies_to(self, kind: ColumnKind) -> bool {
        self.0.kinds.contains(&kind)
    }

    /// Every method, in table order.
    pub fn all() -> impl Iterator<Item = Method> {
        METHODS.iter().map(Method)
    }

    /// The method with this id; the error lists the known ones.
    pub fn from_id(name: &str) -> Result<Method, String> {
        Method::all().find(|m| m.id() == name).ok_or_else(|| {
            let known: Vec<&str> = Method::all().map(Method::id).collect();
            format!("unknown method '{name}' (use one of {})", known.join(", "))
        })
    }
}

impl PartialEq for Method {
    fn eq(&self, other: &Method) -> bool {
        self.0.id == other.0.id
    }
}

impl Eq for Method {}

impl std::hash::Hash for Method {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.id.hash(state);
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Method({})", self.0.id)
    }
}

/// From its id (`"ks"`, …): an unknown one is refused with the list of known ones.
impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Method, D::Error> {
        let name = String::deserialize(d)?;
        Method::from_id(&name).map_err(serde::de::Error::custom)
    }
}

/// Evidently's default test (`registry._get_default_stattest`) for non-text columns.
///
/// * `n_reference_rows`: reference length **after** NaN dropping (Evidently cleans first).
/// * `n_unique_over_both`: distinct non-missing values over reference ∪ current
///   (`pd.concat([ref, cur]).nunique()`).
///
/// ≤ 1000 reference rows: numerical with > 5 values → KS; otherwise chi-square, or Z-test when
/// ≤ 2 values. > 1000 rows: numerical with > 5 values → Wasserstein (normed), else
/// Jensen–Shannon.
pub fn default_method(kind: ColumnKind, n_reference_rows: usize, n_unique_over_both: usize) -> Method {
    let small_cat = |n: usize| if n > 2 { Method::ChiSquare } else { Method::ZTest };
    if n_reference_rows <= 1000 {
        match kind {
            ColumnKind::Numerical if n_unique_over_both > 5 => Method::Ks,
            _ => small_cat(n_unique_over_both),
        }
    } else {
        match kind {
            ColumnKind::Numerical if n_unique_over_both > 5 => Method::WassersteinNorm,
            _ => Method::JensenShannon,
        }
    }
}

/// Evidently's dataset verdict (`get_dataset_drift`, `drift_share = 0.5`):
/// `drifted / total >= 0.5`. Evidently divides by zero for `total == 0`; here that is `false`.
pub fn dataset_drift(drifted: usize, total: usize) -> bool {
    dataset_drift_with_share(drifted, total, 0.5)
}

/// [`dataset_drift`] with a custom `drift_share` (`share_of_drifted >= drift_share`).
pub fn dataset_drift_with_share(drifted: usize, total: usize, drift_share: f64) -> bool {
    if total == 0 {
        return false;
    }
    (drifted as f64 / total as f64) >= drift_share
}

/// Evidently's per-column cleaning of a numerical column.
///
/// Evidently (`get_one_column_drift`) replaces `±inf` by NaN and drops NaN — but in the
/// dataset-level path (`DataDriftPreset` / `DriftedColumnsCount`) it only does so when the
/// column of that dataset contains at least one NaN (`is_contains_nans`). Hence:
/// * `inf_quirk = true`: drop NaN and ±inf only if the slice contains a NaN (dataset-level path);
/// * `inf_quirk = false`: always drop NaN and ±inf (single-column `ValueDrift` path).
pub fn clean_numeric(values: &[f64], inf_quirk: bool) -> Vec<f64> {
    if inf_quirk && !values.iter().any(|v| v.is_nan()) {
        return values.to_vec();
    }
    values.iter().copied().filter(|v| v.is_finite()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_unique_ids_and_sorted_scores_only_on_numerical_columns() {
        for (i, m) in METHODS.iter().enumerate() {
            assert!(METHODS[..i].iter().all(|o| o.id != m.id), "{} twice", m.id);
            if matches!(m.score, Score::Sorted(_)) {
                assert_eq!(m.kinds, NUMERICAL, "{}: a sorted-samples score is numerical only", m.id);
            }
        }
        assert_eq!(Method::from_id("psi"), Ok(Method::Psi));
        let e = Method::from_id("kolmogorov").unwrap_err();
        assert_eq!(
            e,
            "unknown method 'kolmogorov' (use one of ks, wasserstein, chisquare, z, jensenshannon, psi)"
        );
    }
}
