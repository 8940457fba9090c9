//! Column profiles: what ingest measured of every column it wrote — rows, nulls, minimum and
//! maximum, the distinct values of low-cardinality columns, whether key columns are unique,
//! and how many events name an unknown customer. Ingest computes them chunk by chunk while
//! the data passes through anyway and writes them to `profile.json` in its out dir;
//! `validate` decides most expectations from them and reads the data only to list the
//! offending rows of a failed expectation (or for an expectation a profile cannot answer).
//!
//! Every figure is exact. Uniqueness is proven with 64-bit hashes: no two non-null values
//! share a hash means no two are equal; if two do share one, the profile says "not proven"
//! and validate compares the values themselves.

use crate::contract::StageError;
use polars::prelude::*;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The file ingest writes into its out dir.
pub(crate) const PROFILE_FILE: &str = "profile.json";
/// The schema version of `profile.json`.
pub(crate) const PROFILE_VERSION: u32 = 1;
/// Key hashes are bucketed by their top `HASH_BUCKET_BITS` bits.
const HASH_BUCKET_BITS: u32 = 8;
const HASH_BUCKETS: usize = 1 << HASH_BUCKET_BITS;
/// A column's distinct values are listed when there are at most this many.
pub(crate) const MAX_TRACKED_VALUES: usize = 256;

/// The profiles of every ingested table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Profile {
    pub schema_version: u32,
    pub tables: Vec<TableProfile>,
}

/// One ingested table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TableProfile {
    pub name: String,
    pub rows: u64,
    pub columns: Vec<ColumnProfile>,
    /// Event tables: rows whose customer_id is not in the customers table (nulls not counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_customer_rows: Option<u64>,
}

/// One column of an ingested table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ColumnProfile {
    pub name: String,
    pub nulls: u64,
    /// Numbers as they are; dates as days since 1970-01-01. `None` for text or no values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Every distinct non-null value (as text) with its count, for text and integer columns
    /// with at most [`MAX_TRACKED_VALUES`] of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<BTreeMap<String, u64>>,
    /// Key columns: `true` when no two non-null values are equal, `false` when some may be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique: Option<bool>,
}

impl Profile {
    /// Reads `dir/profile.json`; `None` when the dir has none (an older ingest).
    pub(crate) fn read(dir: &Path) -> Result<Option<Profile>, StageError> {
        let path = dir.join(PROFILE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(StageError::classified(format!("{}: cannot read: {e}", path.display()), &e))
            }
        };
        let p: Profile = serde_json::from_str(&text).map_err(|e| {
            StageError::new(format!("{}: not a profile of this version: {e}", path.display()))
        })?;
        Ok((p.schema_version == PROFILE_VERSION).then_some(p))
    }

    /// The profile of `table`.
    pub(crate) fn table(&self, table: &str) -> Option<&TableProfile> {
        self.tables.iter().find(|t| t.name == table)
    }
}

impl TableProfile {
    /// The profile of `column`.
    pub(crate) fn column(&self, column: &str) -> Option<&ColumnProfile> {
        self.columns.iter().find(|c| c.name == column)
    }
}

/// Distinct values seen so far; `None` once there are too many to list.
type ValueCounts = Option<HashMap<String, u64>>;

/// The profile of one column, being accumulated over chunks.
#[derive(Debug, Clone)]
pub(crate) struct ColumnStats {
    name: String,
    nulls: u64,
    min: Option<f64>,
    max: Option<f64>,
    values: ValueCounts,
    /// Hashes of the non-null values of a key column, in [`HASH_BUCKETS`] buckets by their
    /// top bits (each bucket is then sorted on its own, in cache, in parallel).
    hashes: Option<Vec<Vec<u64>>>,
}

impl ColumnStats {
    /// Measures `column` (one chunk). `key`: also collect what proves uniqueness.
    pub(crate) fn measure(column: &Column, key: bool) -> ColumnStats {
        let s = column.as_materialized_series();
        let mut stats = ColumnStats {
            name: s.name().to_string(),
            nulls: s.null_count() as u64,
            min: None,
            max: None,
            values: None,
            hashes: None,
        };
        match s.dtype() {
            DataType::String => {
                if let Ok(ca) = s.str() {
                    stats.values = string_values(ca);
                    if key {
                        let mut buckets = vec![Vec::new(); HASH_BUCKETS];
                        for h in ca.iter().flatten().map(hash_text) {
                            buckets[(h >> (64 - HASH_BUCKET_BITS)) as usize].push(h);
                        }
                        stats.hashes = Some(buckets);
                    }
                }
            }
            DataType::Int32 => {
                if let Ok(ca) = s.i32() {
                    stats.min = ca.min().map(f64::from);
                    stats.max = ca.max().map(f64::from);
                    stats.values = int_values(ca);
                }
            }
            DataType::Float64 => {
                if let Ok(ca) = s.f64() {
                    stats.min = ca.min();
                    stats.max = ca.max();
                }
            }
            DataType::Date => {
                if let Ok(d) = s.date() {
                    stats.min = d.physical().min().map(f64::from);
                    stats.max = d.physical().max().map(f64::from);
                }
            }
            _ => {}
        }
        stats
    }

    /// Adds the figures of a later chunk of the same column.
    pub(crate) fn merge(&mut self, other: ColumnStats) {
        self.nulls += other.nulls;
        self.min = min_opt(self.min, other.min);
        self.max = max_opt(self.max, other.max);
        self.values = match (self.values.take(), other.values) {
            (Some(mut a), Some(b)) => {
                for (k, n) in b {
                    *a.entry(k).or_insert(0) += n;
                }
                (a.len() <= MAX_TRACKED_VALUES).then_some(a)
            }
            _ => None,
        };
        if let (Some(a), Some(b)) = (&mut self.hashes, other.hashes) {
            for (x, y) in a.iter_mut().zip(b) {
                x.extend(y);
            }
        }
    }

    /// The finished profile.
    pub(crate) fn finish(self) -> ColumnProfile {
        let unique = self.hashes.map(|buckets| {
            buckets.into_par_iter().all(|mut b| {
                b.sort_unstable();
                !b.windows(2).any(|w| w[0] == w[1])
            })
        });
        ColumnProfile {
            name: self.name,
            nulls: self.nulls,
            min: self.min,
            max: self.max,
            values: self.values.map(|v| v.into_iter().collect()),
            unique,
        }
    }
}

/// The stats of every column of one chunk; `keys` names the key columns.
pub(crate) fn measure_frame(df: &DataFrame, keys: &[&str]) -> Vec<ColumnStats> {
    df.columns().iter().map(|c| ColumnStats::measure(c, keys.contains(&c.name().as_str()))).collect()
}

/// Merges the stats of a later chunk into `acc` (same columns, same order).
pub(crate) fn merge_frames(acc: &mut Vec<ColumnStats>, chunk: Vec<ColumnStats>) {
    if acc.is_empty() {
        *acc = chunk;
        return;
    }
    for (a, b) in acc.iter_mut().zip(chunk) {
        a.merge(b);
    }
}

fn hash_text(s: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(s.as_bytes())
}

fn min_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn max_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Counts of the distinct values, or `None` as soon as there are too many.
fn string_values(ca: &StringChunked) -> ValueCounts {
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for v in ca.iter().flatten() {
        let full = counts.len() >= MAX_TRACKED_VALUES;
        match counts.get_mut(v) {
            Some(n) => *n += 1,
            None if !full => {
                counts.insert(v, 1);
            }
            None => return None,
        }
    }
    Some(counts.into_iter().map(|(k, n)| (k.to_string(), n)).collect())
}

/// Counts of the distinct values, or `None` when there are too many.
fn int_values(ca: &Int32Chunked) -> ValueCounts {
    let (Some(lo), Some(hi)) = (ca.min(), ca.max()) else {
        return Some(HashMap::new());
    };
    let span = hi as i64 - lo as i64 + 1;
    if span > 4 * MAX_TRACKED_VALUES as i64 {
        // Too wide for a counting array; a hash map stops at the first value too many.
        let mut counts: HashMap<i32, u64> = HashMap::new();
        for v in ca.iter().flatten() {
            let full = counts.len() >= MAX_TRACKED_VALUES;
            match counts.get_mut(&v) {
                Some(n) => *n += 1,
                None if !full => {
                    counts.insert(v, 1);
                }
                None => return None,
            }
        }
        return Some(counts.into_iter().map(|(k, n)| (k.to_string(), n)).collect());
    }
    let mut counts = vec![0u64; span as usize];
    for arr in ca.downcast_iter() {
        match arr.validity() {
            None => arr.values().iter().for_each(|&v| counts[(v - lo) as usize] += 1),
            Some(_) => arr.iter().flatten().for_each(|&v| counts[(v - lo) as usize] += 1),
        }
    }
    let found: HashMap<String, u64> = counts
        .iter()
        .enumerate()
        .filter(|(_, &n)| n > 0)
        .map(|(i, &n)| ((lo as i64 + i as i64).to_string(), n))
        .collect();
    (found.len() <= MAX_TRACKED_VALUES).then_some(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(ids: &[Option<&str>], flags: &[Option<i32>]) -> DataFrame {
        df!("id" => ids, "flag" => flags).unwrap()
    }

    #[test]
    fn stats_of_chunks_merge_into_exact_counts() {
        let mut acc = Vec::new();
        merge_frames(&mut acc, measure_frame(&chunk(&[Some("a"), None], &[Some(0), Some(1)]), &["id"]));
        merge_frames(&mut acc, measure_frame(&chunk(&[Some("b"), Some("c")], &[Some(1), None]), &["id"]));
        let [id, flag]: [ColumnProfile; 2] =
            acc.into_iter().map(ColumnStats::finish).collect::<Vec<_>>().try_into().unwrap();
        assert_eq!(id.nulls, 1);
        assert_eq!(id.unique, Some(true));
        assert_eq!(flag.nulls, 1);
        assert_eq!((flag.min, flag.max), (Some(0.0), Some(1.0)));
        assert_eq!(flag.values.unwrap(), BTreeMap::from([("0".to_string(), 1), ("1".to_string(), 2)]));
    }

    #[test]
    fn a_value_repeated_across_chunks_is_not_unique() {
        let mut acc = Vec::new();
        merge_frames(&mut acc, measure_frame(&chunk(&[Some("a")], &[Some(0)]), &["id"]));
        merge_frames(&mut acc, measure_frame(&chunk(&[Some("a")], &[Some(0)]), &["id"]));
        assert_eq!(acc.remove(0).finish().unique, Some(false));
    }

    #[test]
    fn too_many_distinct_values_are_not_listed() {
        let ids: Vec<String> = (0..=MAX_TRACKED_VALUES).map(|i| format!("v{i}")).collect();
        let s = Column::new("x".into(), ids);
        assert_eq!(ColumnStats::measure(&s, false).finish().values, None);
        let wide: Vec<i32> = (0..=MAX_TRACKED_VALUES as i32).map(|i| i * 1000).collect();
        assert_eq!(ColumnStats::measure(&Column::new("w".into(), wide), false).finish().values, None);
    }
}
