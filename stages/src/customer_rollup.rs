//! Per-customer reductions of the event tables, for `features`.
//!
//! Each event table is read with polars' streaming engine (the Parquet is decoded, filtered
//! to the feature window and projected to the needed columns in parallel) and its batches
//! are handed over in file order and folded into arrays indexed by `customer_row` (ingest's
//! link from an event to its customer). Folding in file order makes every floating-point
//! sum the same from run to run, so the features file is byte-identical for the same
//! inputs; polars' own streaming group-by merges partial sums in whatever order its threads
//! finish. Memory is a few numbers per customer, whatever the number of events.
//!
//! Means skip nulls (the mean of the non-null values); a customer with no events in a
//! table, or only null values, gets 0. Distinct contacts are counted by a 64-bit hash of the
//! number: two different numbers of one customer collide with probability about k²/2⁶⁵
//! for k numbers. Calls grouped by customer are counted run by run as they pass; calls in
//! any other order take a second pass that sorts every (customer, contact) pair.

use crate::table_ingest::CUSTOMER_ROW;
use polars::prelude::*;
use rayon::prelude::*;
use std::sync::{Arc, Mutex};

/// Named feature columns, one value per customer row.
pub type FeatureColumns = Vec<(&'static str, Vec<f64>)>;

/// An inclusive range of days since 1970-01-01.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub from: i32,
    pub to: i32,
}

impl Window {
    /// The `days` days before `end`, and `end` itself.
    pub fn ending(end: i32, days: i32) -> Window {
        Window { from: end - days, to: end }
    }

    fn contains(self, day: i32) -> bool {
        self.from <= day && day <= self.to
    }

    /// The polars predicate selecting rows whose `column` lies in the window.
    fn predicate(self, column: &str) -> Expr {
        let day = col(column).cast(DataType::Int32);
        day.clone().gt_eq(lit(self.from)).and(day.lt_eq(lit(self.to)))
    }
}

/// Something folded from the batches of one table, in file order.
pub trait Rollup: Send + 'static {
    /// The columns the fold reads (projection pushdown reads only these).
    fn columns(&self) -> Vec<&'static str>;
    /// The rows to fold (predicate pushdown skips the rest).
    fn predicate(&self) -> Expr;
    /// Folds one batch.
    fn fold(&mut self, batch: &DataFrame) -> PolarsResult<()>;
}

/// Folds every batch of `lf` into `rollup`, in file order.
pub fn fold_table<R: Rollup>(lf: LazyFrame, rollup: R) -> PolarsResult<R> {
    let mut columns: Vec<Expr> = rollup.columns().into_iter().map(col).collect();
    columns.push(col(CUSTOMER_ROW));
    let predicate = rollup.predicate().and(col(CUSTOMER_ROW).is_not_null());
    let shared = Arc::new(Mutex::new(Ok::<R, PolarsError>(rollup)));
    let sink = Arc::clone(&shared);
    let plan = lf.filter(predicate).select(columns).sink_batches(
        PlanCallback::new(move |batch: DataFrame| {
            let mut state = sink.lock().unwrap_or_else(|p| p.into_inner());
            let failed = match state.as_mut() {
                Ok(r) => r.fold(&batch).err(),
                Err(_) => return Ok(true),
            };
            if let Some(e) = failed {
                *state = Err(e);
                return Ok(true); // stop
            }
            Ok(false)
        }),
        true,
        None,
    )?;
    plan.collect_with_engine(Engine::Streaming)?;
    let state = Arc::try_unwrap(shared)
        .map_err(|_| PolarsError::ComputeError("a batch callback outlived the query".into()))?;
    state.into_inner().unwrap_or_else(|p| p.into_inner())
}

fn rows_of(batch: &DataFrame) -> PolarsResult<&UInt32Chunked> {
    batch.column(CUSTOMER_ROW)?.u32()
}

fn days_of<'a>(batch: &'a DataFrame, column: &str) -> PolarsResult<&'a Int32Chunked> {
    Ok(batch.column(column)?.date()?.physical())
}

fn counts(n: &[u32]) -> Vec<f64> {
    n.iter().map(|&k| f64::from(k)).collect()
}

/// A running sum and count of the non-null values of one column, per customer.
#[derive(Debug, Clone, Default)]
struct MeanOf {
    sum: Vec<f64>,
    n: Vec<u32>,
}

impl MeanOf {
    fn new(customers: usize) -> MeanOf {
        MeanOf { sum: vec![0.0; customers], n: vec![0; customers] }
    }
    fn add(&mut self, c: usize, x: Option<f64>) {
        if let Some(x) = x {
            self.sum[c] += x;
            self.n[c] += 1;
        }
    }
    fn means(&self) -> Vec<f64> {
        self.sum.iter().zip(&self.n).map(|(s, &n)| if n == 0 { 0.0 } else { s / n as f64 }).collect()
    }
}

fn f64_values(batch: &DataFrame, column: &str) -> PolarsResult<Float64Chunked> {
    Ok(batch.column(column)?.cast(&DataType::Float64)?.f64()?.clone())
}

/// The values of a column as one slice when it has a single chunk and no nulls (the usual
/// case), for the fast loops; `None` sends the caller to the general loop.
fn dense<T: PolarsNumericType>(ca: &ChunkedArray<T>) -> Option<&[T::Native]> {
    ca.cont_slice().ok()
}

/// Transactions up to the snapshot date.
pub struct Transactions {
    snapshot: i32,
    recent: Window,
    count: Vec<u32>,
    first: Vec<i32>,
    last: Vec<i32>,
    amount: MeanOf,
    /// Welford's running mean and sum of squared deviations, for the standard deviation.
    mean: Vec<f64>,
    m2: Vec<f64>,
    recent_count: Vec<u32>,
    recent_sum: Vec<f64>,
}

impl Transactions {
    pub fn new(customers: usize, snapshot: i32) -> Transactions {
        Transactions {
            snapshot,
            recent: Window::ending(snapshot, 30),
            count: vec![0; customers],
            first: vec![i32::MAX; customers],
            last: vec![i32::MIN; customers],
            amount: MeanOf::new(customers),
            mean: vec![0.0; customers],
            m2: vec![0.0; customers],
            recent_count: vec![0; customers],
            recent_sum: vec![0.0; customers],
        }
    }

    /// recency_days, frequency, monetary_total, monetary_avg, monetary_std, tenure_days,
    /// recent_frequency, recent_monetary (DESIGN.md section 6), one value per customer row.
    pub fn features(self) -> FeatureColumns {
        let s = self.snapshot;
        let n = self.count.len();
        let per = |f: &dyn Fn(usize) -> f64| (0..n).map(f).collect::<Vec<f64>>();
        let days_since = |days: &[i32]| per(&|c| if self.count[c] > 0 { (s - days[c]) as f64 } else { 0.0 });
        let std = per(&|c| {
            let k = self.amount.n[c];
            if k > 1 {
                (self.m2[c] / (k - 1) as f64).sqrt()
            } else {
                0.0
            }
        });
        let (recency, tenure) = (days_since(&self.last), days_since(&self.first));
        let (frequency, recent_frequency) = (counts(&self.count), counts(&self.recent_count));
        let avg = self.amount.means();
        vec![
            ("recency_days", recency),
            ("frequency", frequency),
            ("monetary_total", self.amount.sum),
            ("monetary_avg", avg),
            ("monetary_std", std),
            ("tenure_days", tenure),
            ("recent_frequency", recent_frequency),
            ("recent_monetary", self.recent_sum),
        ]
    }
}

impl Transactions {
    #[inline]
    fn add(&mut self, c: usize, day: i32, x: Option<f64>) {
        self.count[c] += 1;
        self.first[c] = self.first[c].min(day);
        self.last[c] = self.last[c].max(day);
        self.amount.add(c, x);
        if let Some(x) = x {
            let k = self.amount.n[c] as f64;
            let delta = x - self.mean[c];
            self.mean[c] += delta / k;
            self.m2[c] += delta * (x - self.mean[c]);
        }
        if self.recent.contains(day) {
            self.recent_count[c] += 1;
            self.recent_sum[c] += x.unwrap_or(0.0);
        }
    }
}

impl Rollup for Transactions {
    fn columns(&self) -> Vec<&'static str> {
        vec!["transaction_date", "amount"]
    }
    fn predicate(&self) -> Expr {
        col("transaction_date").cast(DataType::Int32).lt_eq(lit(self.snapshot))
    }
    fn fold(&mut self, batch: &DataFrame) -> PolarsResult<()> {
        let rows = rows_of(batch)?;
        let days = days_of(batch, "transaction_date")?;
        let amounts = f64_values(batch, "amount")?;
        if let (Some(r), Some(d), Some(a)) = (dense(rows), dense(days), dense(&amounts)) {
            for ((&c, &day), &x) in r.iter().zip(d).zip(a) {
                self.add(c as usize, day, Some(x));
            }
            return Ok(());
        }
        for ((c, day), x) in rows.iter().zip(days.iter()).zip(amounts.iter()) {
            if let (Some(c), Some(day)) = (c, day) {
                self.add(c as usize, day, x);
            }
        }
        Ok(())
    }
}

/// Calls of the last 30 days.
pub struct Calls {
    window: Window,
    count: Vec<u32>,
    duration: MeanOf,
    data_mb: Vec<f64>,
    international: MeanOf,
    peak: MeanOf,
    contacts: RunDistinct,
}

impl Calls {
    pub fn new(customers: usize, snapshot: i32) -> Calls {
        Calls {
            window: Window::ending(snapshot, 30),
            count: vec![0; customers],
            duration: MeanOf::new(customers),
            data_mb: vec![0.0; customers],
            international: MeanOf::new(customers),
            peak: MeanOf::new(customers),
            contacts: RunDistinct::new(customers),
        }
    }

    /// calls_count_30d, calls_duration_avg_30d, calls_duration_total_30d, data_usage_gb_30d,
    /// international_calls_ratio, peak_hour_ratio, and unique_contacts_30d when the calls were
    /// grouped by customer (otherwise `None`: count them with [`Contacts`]).
    pub fn features(self) -> (FeatureColumns, Option<Vec<f64>>) {
        let (avg, ratio_int, ratio_peak) =
            (self.duration.means(), self.international.means(), self.peak.means());
        let columns = vec![
            ("calls_count_30d", counts(&self.count)),
            ("calls_duration_avg_30d", avg),
            ("calls_duration_total_30d", self.duration.sum),
            ("data_usage_gb_30d", self.data_mb.into_iter().map(|mb| mb / 1024.0).collect()),
            ("international_calls_ratio", ratio_int),
            ("peak_hour_ratio", ratio_peak),
        ];
        (columns, self.contacts.finish().map(|c| counts(&c)))
    }

    #[inline]
    fn add(
        &mut self,
        c: usize,
        duration: Option<f64>,
        mb: Option<f64>,
        international: Option<i32>,
        peak: Option<i32>,
    ) {
        self.count[c] += 1;
        self.duration.add(c, duration);
        self.data_mb[c] += mb.unwrap_or(0.0);
        self.international.add(c, international.map(f64::from));
        self.peak.add(c, peak.map(f64::from));
    }
}

impl Rollup for Calls {
    fn columns(&self) -> Vec<&'static str> {
        vec!["duration_seconds", "data_usage_mb", "is_international", "is_peak_hour", "called_number_hash"]
    }
    fn predicate(&self) -> Expr {
        self.window.predicate("call_date")
    }
    fn fold(&mut self, batch: &DataFrame) -> PolarsResult<()> {
        let rows = rows_of(batch)?;
        let duration = f64_values(batch, "duration_seconds")?;
        let data = f64_values(batch, "data_usage_mb")?;
        let international = batch.column("is_international")?.i32()?;
        let peak = batch.column("is_peak_hour")?.i32()?;
        let contacts = batch.column("called_number_hash")?.str()?;
        let all = (dense(rows), dense(&duration), dense(&data), dense(international), dense(peak));
        if let (Some(r), Some(d), Some(mb), Some(i), Some(p)) = all {
            for k in 0..r.len() {
                self.add(r[k] as usize, Some(d[k]), Some(mb[k]), Some(i[k]), Some(p[k]));
            }
        } else {
            let values =
                rows.iter().zip(duration.iter()).zip(data.iter()).zip(international.iter()).zip(peak.iter());
            for ((((c, d), mb), i), p) in values {
                if let Some(c) = c {
                    self.add(c as usize, d, mb, i, p);
                }
            }
        }
        for (c, contact) in rows.iter().zip(contacts.iter()) {
            if let (Some(c), Some(contact)) = (c, contact) {
                self.contacts.add(c, hash_of(contact));
            }
        }
        Ok(())
    }
}

fn hash_of(text: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(text.as_bytes())
}

/// Distinct contacts per customer over the whole window, for calls not grouped by customer:
/// every (customer, contact hash) pair is collected, then sorted and counted.
pub struct Contacts {
    window: Window,
    customers: usize,
    pairs: Vec<(u32, u64)>,
}

impl Contacts {
    pub fn new(customers: usize, snapshot: i32) -> Contacts {
        Contacts { window: Window::ending(snapshot, 30), customers, pairs: Vec::new() }
    }

    /// unique_contacts_30d.
    pub fn counts(mut self) -> Vec<f64> {
        self.pairs.par_sort_unstable();
        self.pairs.dedup();
        let mut n = vec![0u32; self.customers];
        for (c, _) in &self.pairs {
            n[*c as usize] += 1;
        }
        counts(&n)
    }
}

impl Rollup for Contacts {
    fn columns(&self) -> Vec<&'static str> {
        vec!["called_number_hash"]
    }
    fn predicate(&self) -> Expr {
        self.window.predicate("call_date")
    }
    fn fold(&mut self, batch: &DataFrame) -> PolarsResult<()> {
        let rows = rows_of(batch)?;
        let contacts = batch.column("called_number_hash")?.str()?;
        for (c, contact) in rows.iter().zip(contacts.iter()) {
            if let (Some(c), Some(contact)) = (c, contact) {
                self.pairs.push((c, hash_of(contact)));
            }
        }
        Ok(())
    }
}

/// Support tickets of the last 90 days.
pub struct Tickets {
    window: Window,
    count: Vec<u32>,
    escalated: Vec<f64>,
    resolution: MeanOf,
    complaint: MeanOf,
    unresolved: Vec<u32>,
}

impl Tickets {
    pub fn new(customers: usize, snapshot: i32) -> Tickets {
        Tickets {
            window: Window::ending(snapshot, 90),
            count: vec![0; customers],
            escalated: vec![0.0; customers],
            resolution: MeanOf::new(customers),
            complaint: MeanOf::new(customers),
            unresolved: vec![0; customers],
        }
    }

    /// support_tickets_90d, support_escalations_90d, avg_resolution_time_h, complaint_ratio,
    /// unresolved_tickets.
    pub fn features(self) -> FeatureColumns {
        vec![
            ("support_tickets_90d", self.count.iter().map(|&n| n as f64).collect()),
            ("support_escalations_90d", self.escalated.clone()),
            ("avg_resolution_time_h", self.resolution.means()),
            ("complaint_ratio", self.complaint.means()),
            ("unresolved_tickets", self.unresolved.iter().map(|&n| n as f64).collect()),
        ]
    }
}

impl Rollup for Tickets {
    fn columns(&self) -> Vec<&'static str> {
        vec!["is_escalated", "resolution_hours", "is_complaint", "is_resolved"]
    }
    fn predicate(&self) -> Expr {
        self.window.predicate("ticket_date")
    }
    fn fold(&mut self, batch: &DataFrame) -> PolarsResult<()> {
        let rows = rows_of(batch)?;
        let escalated = f64_values(batch, "is_escalated")?;
        let resolution = f64_values(batch, "resolution_hours")?;
        let complaint = f64_values(batch, "is_complaint")?;
        let resolved = batch.column("is_resolved")?.i32()?;
        let values = rows.iter().zip(escalated.iter()).zip(resolution.iter()).zip(complaint.iter());
        for ((((c, e), h), k), r) in values.zip(resolved.iter()) {
            let Some(c) = c else { continue };
            let c = c as usize;
            self.count[c] += 1;
            self.escalated[c] += e.unwrap_or(0.0);
            self.resolution.add(c, h);
            self.complaint.add(c, k);
            if r == Some(0) {
                self.unresolved[c] += 1;
            }
        }
        Ok(())
    }
}

/// Distinct values per customer for rows grouped by customer (all rows of a customer
/// adjacent, as most extracts are): each run of one customer's rows is deduplicated when it
/// ends, so memory is one run. If a customer turns up in two separate runs the rows were
/// not grouped, and [`RunDistinct::finish`] says so; [`Contacts`] then counts them.
struct RunDistinct {
    counts: Vec<u32>,
    /// Whether a customer has had a run already.
    started: Vec<bool>,
    current: Option<u32>,
    run: Vec<u64>,
    grouped: bool,
}

impl RunDistinct {
    fn new(customers: usize) -> RunDistinct {
        RunDistinct {
            counts: vec![0; customers],
            started: vec![false; customers],
            current: None,
            run: Vec::new(),
            grouped: true,
        }
    }

    #[inline]
    fn add(&mut self, customer: u32, hash: u64) {
        if self.current != Some(customer) {
            self.end_run();
            let started = &mut self.started[customer as usize];
            self.grouped &= !*started;
            *started = true;
            self.current = Some(customer);
        }
        self.run.push(hash);
    }

    fn end_run(&mut self) {
        let Some(c) = self.current.take() else { return };
        self.run.sort_unstable();
        self.run.dedup();
        self.counts[c as usize] = self.run.len() as u32;
        self.run.clear();
    }

    /// The counts, or `None` when the rows were not grouped by customer.
    fn finish(mut self) -> Option<Vec<u32>> {
        self.end_run();
        self.grouped.then_some(self.counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_count_distinct_values_of_grouped_rows_and_notice_scattered_ones() {
        let mut grouped = RunDistinct::new(3);
        for (c, h) in [(0, 5), (0, 5), (0, 6), (2, 1), (2, 1)] {
            grouped.add(c, h);
        }
        assert_eq!(grouped.finish(), Some(vec![2, 0, 1]));
        let mut scattered = RunDistinct::new(3);
        for (c, h) in [(0, 5), (2, 1), (0, 5), (0, 6)] {
            scattered.add(c, h);
        }
        assert_eq!(scattered.finish(), None);
    }

    #[test]
    fn windows_include_both_ends() {
        let w = Window::ending(100, 30);
        assert!(w.contains(70) && w.contains(100));
        assert!(!w.contains(69) && !w.contains(101));
    }
}
