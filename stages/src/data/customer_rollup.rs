//! Per-customer reductions of the event tables, for `features`.
//!
//! Each event table is read with polars' streaming engine (the Parquet is decoded, filtered
//! to the feature window and projected to the needed columns in parallel) and its batches
//! are handed over in file order. Every batch is grouped by `customer_row` (ingest's link
//! from an event to its customer) with polars expressions — counts, sums, extremes, sums of
//! squared deviations, distinct counts — and the per-customer partials of the batch are
//! merged into arrays indexed by `customer_row`. No event is visited by a Rust loop; the
//! merge visits one partial per customer per batch.
//!
//! Polars cuts the stream into batches by its thread count, so the rows are re-cut at fixed
//! positions ([`ROWS_PER_BATCH`]) before they are grouped, and partials are merged in file
//! order: every floating-point sum is then the same on every machine, and the features file
//! is byte-identical for the same inputs (polars' own streaming group-by merges partial
//! sums in whatever order its threads finish). Memory is a few numbers per customer,
//! whatever the number of events.
//!
//! Means skip nulls (the mean of the non-null values); a customer with no events in a
//! table, or only null values, gets 0. Distinct contacts are exact: within a batch polars
//! counts them; a customer whose calls continue from one batch into the next (calls grouped
//! by customer, as most extracts and ingest's output are) has the contacts of its previous
//! batch carried over and united. Calls in any other order ([`Calls::features`] says so)
//! are counted by one polars group-by over the whole window ([`distinct_contacts`]).

use crate::data::table_ingest::CUSTOMER_ROW;
use crate::progress::Reporter;
use polars::prelude::*;
use polars_core::series::IsSorted;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// Named feature columns, one value per customer row.
pub(crate) type FeatureColumns = Vec<(&'static str, Vec<f64>)>;

/// An inclusive range of days since 1970-01-01.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub from: i32,
    pub to: i32,
}

impl Window {
    /// The `days` days before `end`, and `end` itself.
    pub(crate) fn ending(end: i32, days: i32) -> Window {
        Window { from: end - days, to: end }
    }

    /// The polars predicate selecting rows whose `column` lies in the window.
    fn predicate(self, column: &str) -> Expr {
        let day = col(column).cast(DataType::Int32);
        day.clone().gt_eq(lit(self.from)).and(day.lt_eq(lit(self.to)))
    }
}

/// Something reduced from the batches of one table, in file order.
pub(crate) trait Rollup: Send + 'static {
    /// The row-level values the reduction needs, computed by the streaming engine in
    /// parallel (projection pushdown reads only the columns they name).
    fn inputs(&self) -> Vec<Expr>;
    /// The rows to reduce (predicate pushdown skips the rest).
    fn predicate(&self) -> Expr;
    /// The per-customer partials of one batch, as plain aggregations (sum, count, min, ...)
    /// of [`Rollup::inputs`] in a group-by over `customer_row`; plain aggregations take
    /// polars' fast paths, expressions inside an aggregation would not.
    fn partials(&self) -> Vec<Expr>;
    /// Adds the partials of one batch: one row per customer of `batch`, in order of first
    /// appearance, with `customer_row` and then the columns of [`Rollup::partials`].
    fn merge(&mut self, partials: &DataFrame, batch: &DataFrame) -> PolarsResult<()>;
}

/// Rows per scan. Polars maps the whole Parquet file, and every page a scan has touched
/// counts towards the process's resident memory until that scan ends, so a table is read in
/// parts of this many rows, one scan after the other: at 2.1M customers the CDR table
/// (125 M rows, 2.3 GB) is 8 scans, and its mapped pages stay near 0.3 GB instead of 2 GB.
const ROWS_PER_SCAN: u64 = 1 << 24;

/// Rows per reduced batch. Polars cuts a scan into batches according to its thread count,
/// and sums of partial sums grouped differently differ in the last bits; so the filtered
/// rows are re-cut at fixed positions (every this many rows of each scan) before they are
/// reduced, and the output is the same on every machine, whatever its number of cores.
const ROWS_PER_BATCH: usize = 1 << 17;

/// Reduces every batch of `lf` into `rollup`, in file order; `progress` counts the table's
/// rows as each scan ends.
pub(crate) fn fold_table<R: Rollup>(lf: LazyFrame, rollup: R, progress: &Reporter<'_>) -> PolarsResult<R> {
    fold_in_parts(lf, rollup, ROWS_PER_SCAN, ROWS_PER_BATCH, progress)
}

/// Batches of any size in, batches of exactly `size` rows (the last one of a scan
/// shorter) reduced: where polars cut the stream does not matter.
struct Rebatch<R> {
    rollup: R,
    size: usize,
    pending: Option<DataFrame>,
}

impl<R: Rollup> Rebatch<R> {
    fn push(&mut self, batch: DataFrame) -> PolarsResult<()> {
        let mut pending = match self.pending.take() {
            Some(mut p) => {
                p.vstack_mut(&batch)?;
                p
            }
            None => batch,
        };
        while pending.height() >= self.size {
            let rest = pending.slice(self.size as i64, pending.height() - self.size);
            let mut head = pending.slice(0, self.size);
            head.rechunk_mut();
            add_batch(&mut self.rollup, &head)?;
            pending = rest;
        }
        self.pending = Some(pending);
        Ok(())
    }

    /// Reduces what is left (the end of a scan).
    fn flush(&mut self) -> PolarsResult<()> {
        match self.pending.take() {
            Some(mut rest) => {
                rest.rechunk_mut();
                add_batch(&mut self.rollup, &rest)
            }
            None => Ok(()),
        }
    }
}

/// [`fold_table`], with scans of `rows_per_scan` rows cut into batches of `rows_per_batch`.
fn fold_in_parts<R: Rollup>(
    lf: LazyFrame,
    rollup: R,
    rows_per_scan: u64,
    rows_per_batch: usize,
    progress: &Reporter<'_>,
) -> PolarsResult<R> {
    let mut columns = rollup.inputs();
    columns.push(col(CUSTOMER_ROW));
    let predicate = rollup.predicate().and(col(CUSTOMER_ROW).is_not_null());
    let rows = lf.clone().select([len().cast(DataType::UInt64)]).collect()?;
    let rows = rows.columns()[0].u64()?.get(0).unwrap_or(0);
    let rebatch = Rebatch { rollup, size: rows_per_batch.max(1), pending: None };
    let shared = Arc::new(Mutex::new(Ok::<Rebatch<R>, PolarsError>(rebatch)));
    for offset in (0..rows).step_by(rows_per_scan as usize) {
        let sink = Arc::clone(&shared);
        let plan = lf
            .clone()
            .slice(offset as i64, rows_per_scan as IdxSize)
            .filter(predicate.clone())
            .select(columns.clone())
            .sink_batches(
                PlanCallback::new(move |batch: DataFrame| {
                    // `true` stops the query.
                    Ok(!step(&sink, |r| r.push(batch)))
                }),
                true,
                None,
            )?;
        plan.collect_with_engine(Engine::Streaming)?;
        progress.add(rows_per_scan.min(rows - offset));
        if !step(&shared, Rebatch::flush) {
            break;
        }
    }
    let state = Arc::try_unwrap(shared)
        .map_err(|_| PolarsError::ComputeError("a batch callback outlived the query".into()))?;
    state.into_inner().unwrap_or_else(|p| p.into_inner()).map(|r| r.rollup)
}

/// Runs `f` on the reduction unless an earlier step failed; a failure is kept for the
/// caller. Whether to go on.
fn step<R>(
    state: &Mutex<PolarsResult<Rebatch<R>>>,
    f: impl FnOnce(&mut Rebatch<R>) -> PolarsResult<()>,
) -> bool {
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    let Ok(r) = state.as_mut() else { return false };
    match f(r) {
        Ok(()) => true,
        Err(e) => {
            *state = Err(e);
            false
        }
    }
}

fn add_batch<R: Rollup>(rollup: &mut R, batch: &DataFrame) -> PolarsResult<()> {
    if batch.height() == 0 {
        return Ok(());
    }
    // Events grouped by customer in customer order (as generated extracts and most exports
    // are) have a sorted customer_row: flagged so, the group-by takes contiguous slices of
    // rows instead of hashing every row and gathering every value by index.
    let mut batch = batch.clone();
    let rows = batch.column(CUSTOMER_ROW)?.u32()?;
    if rows.cont_slice().is_ok_and(|r| r.is_sorted()) {
        let mut sorted = rows.clone();
        sorted.set_sorted_flag(IsSorted::Ascending);
        batch.with_column(sorted.into_column())?;
    }
    // The in-memory engine sums each group's rows in row order: deterministic.
    let partials =
        batch.clone().lazy().group_by_stable([col(CUSTOMER_ROW)]).agg(rollup.partials()).collect()?;
    rollup.merge(&partials, &batch)
}

/// The customer rows of a batch's partials, each below `customers` (the rows of
/// customers.parquet).
fn customers_of(partials: &DataFrame, customers: usize) -> PolarsResult<Vec<usize>> {
    let rows = partials.column(CUSTOMER_ROW)?.u32()?;
    rows.iter()
        .map(|r| match r.map(|r| r as usize) {
            Some(r) if r < customers => Ok(r),
            Some(r) => Err(PolarsError::ComputeError(
                format!(
                    "an event names customer row {r}, but customers.parquet has {customers} rows: \
                     the ingested tables do not belong together (run ingest again)"
                )
                .into(),
            )),
            None => Err(PolarsError::ComputeError("a null customer_row group".into())),
        })
        .collect()
}

/// A partial column as numbers, null as 0 (a sum or count over no values).
fn numbers(partials: &DataFrame, name: &str) -> PolarsResult<Vec<f64>> {
    let c = partials.column(name)?.cast(&DataType::Float64)?;
    Ok(c.f64()?.iter().map(|x| x.unwrap_or(0.0)).collect())
}

/// A partial column of days (minima or maxima of a date), null as `missing`.
fn days(partials: &DataFrame, name: &str, missing: i32) -> PolarsResult<Vec<i32>> {
    let c = partials.column(name)?.cast(&DataType::Int32)?;
    Ok(c.i32()?.iter().map(|x| x.unwrap_or(missing)).collect())
}

fn counts(n: &[u32]) -> Vec<f64> {
    n.iter().map(|&k| f64::from(k)).collect()
}

/// `column` as a number (flags and measurements alike).
fn number(column: &str) -> Expr {
    col(column).cast(DataType::Float64)
}

/// A sum and count of the non-null values of one column, per customer.
#[derive(Debug, Clone, Default)]
struct MeanOf {
    sum: Vec<f64>,
    n: Vec<u32>,
}

impl MeanOf {
    fn new(customers: usize) -> MeanOf {
        MeanOf { sum: vec![0.0; customers], n: vec![0; customers] }
    }
    /// The partials feeding it from input `name`: `<name>_sum` and `<name>_n`.
    fn partials(name: &str) -> [Expr; 2] {
        [col(name).sum().alias(format!("{name}_sum")), col(name).count().alias(format!("{name}_n"))]
    }
    fn merge(&mut self, customers: &[usize], partials: &DataFrame, name: &str) -> PolarsResult<()> {
        let (sum, n) = (numbers(partials, &format!("{name}_sum"))?, numbers(partials, &format!("{name}_n"))?);
        for (i, &c) in customers.iter().enumerate() {
            self.sum[c] += sum[i];
            self.n[c] += n[i] as u32;
        }
        Ok(())
    }
    fn means(&self) -> Vec<f64> {
        self.sum.iter().zip(&self.n).map(|(s, &n)| if n == 0 { 0.0 } else { s / n as f64 }).collect()
    }
}

/// Transactions up to the snapshot date.
pub(crate) struct Transactions {
    snapshot: i32,
    recent: Window,
    count: Vec<u32>,
    first: Vec<i32>,
    last: Vec<i32>,
    amount: MeanOf,
    /// The running sum of squared deviations from the mean of the amounts, merged batch by
    /// batch (Chan et al.), for the standard deviation.
    m2: Vec<f64>,
    recent_count: Vec<u32>,
    recent_sum: Vec<f64>,
}

impl Transactions {
    pub(crate) fn new(customers: usize, snapshot: i32) -> Transactions {
        Transactions {
            snapshot,
            recent: Window::ending(snapshot, 30),
            count: vec![0; customers],
            first: vec![i32::MAX; customers],
            last: vec![i32::MIN; customers],
            amount: MeanOf::new(customers),
            m2: vec![0.0; customers],
            recent_count: vec![0; customers],
            recent_sum: vec![0.0; customers],
        }
    }

    /// recency_days, frequency, monetary_total, monetary_avg, monetary_std, tenure_days,
    /// recent_frequency, recent_monetary (formulas in docs/stages-data.md, kind `features`), one value per customer row.
    pub(crate) fn features(self) -> FeatureColumns {
        let s = self.snapshot;
        let n = self.count.len();
        let per = |f: &dyn Fn(usize) -> f64| (0..n).map(f).collect::<Vec<f64>>();
        let days_since = |days: &[i32]| per(&|c| if self.count[c] > 0 { (s - days[c]) as f64 } else { 0.0 });
        let std = per(&|c| {
            let k = self.amount.n[c];
            if k > 1 {
                (self.m2[c].max(0.0) / (k - 1) as f64).sqrt()
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

impl Rollup for Transactions {
    fn inputs(&self) -> Vec<Expr> {
        let recent = self.recent.predicate("transaction_date").cast(DataType::Float64);
        vec![
            col("transaction_date").cast(DataType::Int32).alias("day"),
            number("amount").alias("amount"),
            recent.clone().alias("recent"),
            (number("amount") * recent).alias("recent_amount"),
        ]
    }
    fn predicate(&self) -> Expr {
        col("transaction_date").cast(DataType::Int32).lt_eq(lit(self.snapshot))
    }
    fn partials(&self) -> Vec<Expr> {
        let [sum, n] = MeanOf::partials("amount");
        vec![
            len().alias("n"),
            col("day").min().alias("first"),
            col("day").max().alias("last"),
            sum,
            n,
            // The population variance (0 for one value), a numerically stable fast path.
            col("amount").var(0).alias("var"),
            col("recent").sum().alias("recent_n"),
            col("recent_amount").sum().alias("recent_sum"),
        ]
    }
    fn merge(&mut self, partials: &DataFrame, _: &DataFrame) -> PolarsResult<()> {
        let customers = customers_of(partials, self.count.len())?;
        let (n, first, last) =
            (numbers(partials, "n")?, days(partials, "first", i32::MAX)?, days(partials, "last", i32::MIN)?);
        let (sum, k, var) =
            (numbers(partials, "amount_sum")?, numbers(partials, "amount_n")?, numbers(partials, "var")?);
        let (recent_n, recent_sum) = (numbers(partials, "recent_n")?, numbers(partials, "recent_sum")?);
        for (i, &c) in customers.iter().enumerate() {
            self.count[c] += n[i] as u32;
            self.first[c] = self.first[c].min(first[i]);
            self.last[c] = self.last[c].max(last[i]);
            self.recent_count[c] += recent_n[i] as u32;
            self.recent_sum[c] += recent_sum[i];
            // Chan et al.: the squared deviations of two parts from their common mean.
            let (na, nb) = (f64::from(self.amount.n[c]), k[i]);
            if nb > 0.0 {
                let m2 = var[i] * nb;
                self.m2[c] = if na == 0.0 {
                    m2
                } else {
                    let delta = sum[i] / nb - self.amount.sum[c] / na;
                    self.m2[c] + m2 + delta * delta * na * nb / (na + nb)
                };
            }
            self.amount.sum[c] += sum[i];
            self.amount.n[c] += nb as u32;
        }
        Ok(())
    }
}

/// Calls of the last 30 days.
pub(crate) struct Calls {
    window: Window,
    count: Vec<u32>,
    duration: MeanOf,
    data_mb: Vec<f64>,
    international: MeanOf,
    peak: MeanOf,
    contacts: CarriedDistinct,
}

impl Calls {
    pub(crate) fn new(customers: usize, snapshot: i32) -> Calls {
        Calls {
            window: Window::ending(snapshot, 30),
            count: vec![0; customers],
            duration: MeanOf::new(customers),
            data_mb: vec![0.0; customers],
            international: MeanOf::new(customers),
            peak: MeanOf::new(customers),
            contacts: CarriedDistinct::new(customers),
        }
    }

    /// calls_count_30d, calls_duration_avg_30d, calls_duration_total_30d, data_usage_gb_30d,
    /// international_calls_ratio, peak_hour_ratio, and unique_contacts_30d when the calls were
    /// grouped by customer (otherwise `None`: count them with [`distinct_contacts`]).
    pub(crate) fn features(self) -> (FeatureColumns, Option<Vec<f64>>) {
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
}

const CONTACT: &str = "called_number_hash";

impl Rollup for Calls {
    fn inputs(&self) -> Vec<Expr> {
        vec![
            number("duration_seconds").alias("duration"),
            number("data_usage_mb").alias("mb"),
            number("is_international").alias("international"),
            number("is_peak_hour").alias("peak"),
            col(CONTACT),
        ]
    }
    fn predicate(&self) -> Expr {
        self.window.predicate("call_date")
    }
    fn partials(&self) -> Vec<Expr> {
        let mut p = vec![len().alias("n"), col("mb").sum().alias("mb")];
        p.extend(MeanOf::partials("duration"));
        p.extend(MeanOf::partials("international"));
        p.extend(MeanOf::partials("peak"));
        // n_unique counts null as a value.
        p.push(col(CONTACT).n_unique().alias("contacts"));
        p.push(col(CONTACT).null_count().alias("contacts_null"));
        p
    }
    fn merge(&mut self, partials: &DataFrame, batch: &DataFrame) -> PolarsResult<()> {
        let customers = customers_of(partials, self.count.len())?;
        let (n, mb) = (numbers(partials, "n")?, numbers(partials, "mb")?);
        for (i, &c) in customers.iter().enumerate() {
            self.count[c] += n[i] as u32;
            self.data_mb[c] += mb[i];
        }
        self.duration.merge(&customers, partials, "duration")?;
        self.international.merge(&customers, partials, "international")?;
        self.peak.merge(&customers, partials, "peak")?;
        let (with_null, nulls) = (numbers(partials, "contacts")?, numbers(partials, "contacts_null")?);
        let distinct: Vec<f64> =
            with_null.iter().zip(&nulls).map(|(n, z)| if *z > 0.0 { n - 1.0 } else { *n }).collect();
        self.contacts.merge(&customers, &distinct, batch)
    }
}

/// Distinct contacts per customer for calls grouped by customer, batch by batch: polars
/// counts each batch's distinct contacts per customer; only the customer at the end of a
/// batch can continue into the next one, so its contacts are kept and united with the next
/// batch's. A customer turning up again in a later batch any other way means the calls were
/// not grouped, and [`CarriedDistinct::finish`] says so.
struct CarriedDistinct {
    counts: Vec<u32>,
    /// Whether a customer has been seen in an earlier batch.
    seen: Vec<bool>,
    /// The customer ending the previous batch, and its contacts so far.
    carry: Option<(usize, HashSet<String>)>,
    grouped: bool,
}

impl CarriedDistinct {
    fn new(customers: usize) -> CarriedDistinct {
        CarriedDistinct {
            counts: vec![0; customers],
            seen: vec![false; customers],
            carry: None,
            grouped: true,
        }
    }

    /// `customers[i]` has `distinct[i]` distinct contacts in `batch`.
    fn merge(&mut self, customers: &[usize], distinct: &[f64], batch: &DataFrame) -> PolarsResult<()> {
        if !self.grouped {
            return Ok(());
        }
        let mut carry = self.carry.take();
        let mut continued = None;
        for (i, &c) in customers.iter().enumerate() {
            if !self.seen[c] {
                self.seen[c] = true;
                self.counts[c] = distinct[i] as u32;
            } else if i == 0 && carry.as_ref().is_some_and(|(carried, _)| *carried == c) {
                continued = carry.take().map(|(_, contacts)| contacts);
            } else {
                self.grouped = false;
                return Ok(());
            }
        }
        let Some(&last) = customers.last() else { return Ok(()) };
        if let Some(mut contacts) = continued {
            // The carried customer's contacts united with this batch's.
            contacts.extend(contacts_of(batch, customers[0])?);
            self.counts[customers[0]] = contacts.len() as u32;
            if customers.len() == 1 {
                self.carry = Some((last, contacts));
                return Ok(());
            }
        }
        self.carry = Some((last, contacts_of(batch, last)?.collect()));
        Ok(())
    }

    /// The counts, or `None` when the calls were not grouped by customer.
    fn finish(self) -> Option<Vec<u32>> {
        self.grouped.then_some(self.counts)
    }
}

/// The distinct contacts of customer row `c` in `batch`.
fn contacts_of(batch: &DataFrame, c: usize) -> PolarsResult<impl Iterator<Item = String>> {
    let rows = batch.column(CUSTOMER_ROW)?.u32()?;
    let lf = match rows.cont_slice() {
        // Sorted: the customer's rows are one slice, found by binary search.
        Ok(r) if rows.is_sorted_flag() == IsSorted::Ascending => {
            let (from, to) =
                (r.partition_point(|&x| (x as usize) < c), r.partition_point(|&x| (x as usize) <= c));
            batch.slice(from as i64, to - from).lazy()
        }
        _ => batch.clone().lazy().filter(col(CUSTOMER_ROW).eq(lit(c as u32))),
    };
    let mine = lf.select([col(CONTACT).drop_nulls().unique()]).collect()?;
    let values: Vec<String> = mine.column(CONTACT)?.str()?.iter().flatten().map(str::to_string).collect();
    Ok(values.into_iter())
}

/// unique_contacts_30d for calls in any order: one polars group-by over the calls of the
/// window (memory grows with the distinct (customer, contact) pairs).
pub(crate) fn distinct_contacts(cdr: LazyFrame, customers: usize, snapshot: i32) -> PolarsResult<Vec<f64>> {
    let per_customer = crate::io::table::collect_streaming(
        cdr.filter(Window::ending(snapshot, 30).predicate("call_date").and(col(CUSTOMER_ROW).is_not_null()))
            .group_by([col(CUSTOMER_ROW)])
            .agg([col(CONTACT).drop_nulls().n_unique().alias("contacts")]),
    )?;
    let mut out = vec![0.0; customers];
    for (&c, n) in customers_of(&per_customer, customers)?.iter().zip(numbers(&per_customer, "contacts")?) {
        out[c] = n;
    }
    Ok(out)
}

/// Support tickets of the last 90 days.
pub(crate) struct Tickets {
    window: Window,
    count: Vec<u32>,
    escalated: Vec<f64>,
    resolution: MeanOf,
    complaint: MeanOf,
    unresolved: Vec<u32>,
}

impl Tickets {
    pub(crate) fn new(customers: usize, snapshot: i32) -> Tickets {
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
    pub(crate) fn features(self) -> FeatureColumns {
        vec![
            ("support_tickets_90d", counts(&self.count)),
            ("support_escalations_90d", self.escalated.clone()),
            ("avg_resolution_time_h", self.resolution.means()),
            ("complaint_ratio", self.complaint.means()),
            ("unresolved_tickets", counts(&self.unresolved)),
        ]
    }
}

impl Rollup for Tickets {
    fn inputs(&self) -> Vec<Expr> {
        vec![
            number("is_escalated").alias("escalated"),
            number("resolution_hours").alias("resolution"),
            number("is_complaint").alias("complaint"),
            col("is_resolved").eq(lit(0)).cast(DataType::Float64).alias("unresolved"),
        ]
    }
    fn predicate(&self) -> Expr {
        self.window.predicate("ticket_date")
    }
    fn partials(&self) -> Vec<Expr> {
        let mut p = vec![
            len().alias("n"),
            col("escalated").sum().alias("escalated"),
            col("unresolved").sum().alias("unresolved"),
        ];
        p.extend(MeanOf::partials("resolution"));
        p.extend(MeanOf::partials("complaint"));
        p
    }
    fn merge(&mut self, partials: &DataFrame, _: &DataFrame) -> PolarsResult<()> {
        let customers = customers_of(partials, self.count.len())?;
        let (n, escalated, unresolved) =
            (numbers(partials, "n")?, numbers(partials, "escalated")?, numbers(partials, "unresolved")?);
        for (i, &c) in customers.iter().enumerate() {
            self.count[c] += n[i] as u32;
            self.escalated[c] += escalated[i];
            self.unresolved[c] += unresolved[i] as u32;
        }
        self.resolution.merge(&customers, partials, "resolution")?;
        self.complaint.merge(&customers, partials, "complaint")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Calls of `rows` (customer, contact), cut into batches after the given row counts.
    fn contacts_in_batches(customers: usize, rows: &[(u32, &str)], cuts: &[usize]) -> Option<Vec<u32>> {
        let mut distinct = CarriedDistinct::new(customers);
        let mut start = 0;
        for end in cuts.iter().copied().chain([rows.len()]) {
            let part = &rows[start..end];
            start = end;
            let batch = df!(
                CUSTOMER_ROW => part.iter().map(|r| r.0).collect::<Vec<_>>(),
                CONTACT => part.iter().map(|r| r.1).collect::<Vec<_>>(),
            )
            .unwrap();
            let partials = batch
                .clone()
                .lazy()
                .group_by_stable([col(CUSTOMER_ROW)])
                .agg([col(CONTACT).drop_nulls().n_unique().alias("contacts")])
                .collect()
                .unwrap();
            let customers = customers_of(&partials, 3).unwrap();
            distinct.merge(&customers, &numbers(&partials, "contacts").unwrap(), &batch).unwrap();
        }
        distinct.finish()
    }

    #[test]
    fn distinct_contacts_of_grouped_calls_are_united_across_batch_boundaries() {
        // Customer 0 spans three batches, customer 2 two; "a" repeats across the cuts.
        let rows = [(0, "a"), (0, "b"), (0, "a"), (0, "c"), (0, "a"), (2, "x"), (2, "y"), (2, "x")];
        for cuts in [&[][..], &[2], &[1, 3], &[5], &[6], &[2, 4, 6], &[1, 2, 3, 4, 5, 6, 7]] {
            assert_eq!(contacts_in_batches(3, &rows, cuts), Some(vec![3, 0, 2]), "cuts {cuts:?}");
        }
    }

    #[test]
    fn calls_of_a_customer_in_two_separate_runs_are_noticed() {
        let rows = [(0, "a"), (2, "x"), (0, "b")];
        // Within one batch the group-by copes; across batches the rows are not grouped.
        assert_eq!(contacts_in_batches(3, &rows, &[]), Some(vec![2, 0, 1]));
        assert_eq!(contacts_in_batches(3, &rows, &[2]), None);
        assert_eq!(contacts_in_batches(3, &[(0, "a"), (2, "x"), (1, "z"), (0, "b")], &[2, 3]), None);
        // The customer first met last in a batch may go on in the next one, wherever its
        // other rows in the batch were.
        assert_eq!(
            contacts_in_batches(3, &[(0, "a"), (2, "x"), (0, "b"), (2, "y")], &[3]),
            Some(vec![2, 0, 2])
        );
    }

    #[test]
    fn a_table_read_in_several_scans_gives_what_one_scan_gives() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cdr.parquet");
        let rows = 300;
        let mut calls = df!(
            CUSTOMER_ROW => (0..rows).map(|i| (i / 7) as u32).collect::<Vec<_>>(),
            "call_date" => (0..rows).map(|i| 19_900 + (i % 40) as i32).collect::<Vec<_>>(),
            "duration_seconds" => (0..rows).map(|i| (i % 13) as f64 * 1.5).collect::<Vec<_>>(),
            "data_usage_mb" => (0..rows).map(|i| (i % 5) as f64 / 3.0).collect::<Vec<_>>(),
            "is_international" => (0..rows).map(|i| (i % 2) as i32).collect::<Vec<_>>(),
            "is_peak_hour" => (0..rows).map(|i| (i % 3 == 0) as i32).collect::<Vec<_>>(),
            CONTACT => (0..rows).map(|i| format!("n{}", i % 4)).collect::<Vec<_>>(),
        )
        .unwrap();
        calls.with_column(calls.column("call_date").unwrap().cast(&DataType::Date).unwrap()).unwrap();
        ParquetWriter::new(std::fs::File::create(&path).unwrap()).finish(&mut calls).unwrap();
        let scan = || LazyFrame::scan_parquet(path.to_str().unwrap().into(), Default::default()).unwrap();
        let customers = rows / 7 + 1;
        let whole =
            fold_in_parts(scan(), Calls::new(customers, 19_935), 1 << 20, 1 << 20, &Reporter::silent())
                .unwrap()
                .features();
        for part in [7, 100, 299] {
            let parts =
                fold_in_parts(scan(), Calls::new(customers, 19_935), part, 1 << 20, &Reporter::silent())
                    .unwrap()
                    .features();
            // Sums added up in other groupings may differ in the last bit.
            for ((name, got), (_, want)) in parts.0.iter().zip(&whole.0) {
                for (c, (a, b)) in got.iter().zip(want).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                        "{name}[{c}], scans of {part} rows: {a} vs {b}"
                    );
                }
            }
            assert_eq!(parts.1, whole.1, "distinct contacts, scans of {part} rows");
        }
        assert!(whole.1.as_ref().is_some_and(|c| c[1] > 0.0), "{:?}", whole.1);
    }

    #[test]
    fn where_polars_cuts_the_stream_does_not_change_a_single_bit() {
        let rows = 1000;
        let raw = df!(
            CUSTOMER_ROW => (0..rows).map(|i| (i / 37) as u32).collect::<Vec<_>>(),
            "transaction_date" => (0..rows).map(|i| 19_900 + (i % 50) as i32).collect::<Vec<_>>(),
            "amount" => (0..rows).map(|i| (i % 97) as f64 * 0.1 + 0.01).collect::<Vec<_>>(),
        )
        .unwrap();
        let t = Transactions::new(rows / 37 + 1, 19_960);
        let mut inputs = t.inputs();
        inputs.push(col(CUSTOMER_ROW));
        let prepared = raw.lazy().select(inputs).collect().unwrap();
        let reduce = |cuts: &[usize]| {
            let mut r = Rebatch { rollup: Transactions::new(rows / 37 + 1, 19_960), size: 64, pending: None };
            let mut start = 0;
            for end in cuts.iter().copied().chain([rows]) {
                r.push(prepared.slice(start as i64, end - start)).unwrap();
                start = end;
            }
            r.flush().unwrap();
            r.rollup.features()
        };
        let whole = reduce(&[]);
        for cuts in [(1..rows).collect::<Vec<_>>(), vec![7, 300, 305, 640], vec![64, 128, 999]] {
            assert!(reduce(&cuts) == whole, "cut at {:?}...", &cuts[..cuts.len().min(4)]);
        }
    }

    #[test]
    fn an_event_of_a_customer_row_past_the_customers_is_an_error_not_a_panic() {
        let batch = df!(
            CUSTOMER_ROW => [0u32, 5],
            "transaction_date" => [19_900i32, 19_900],
            "amount" => [1.0, 2.0],
        )
        .unwrap();
        let mut t = Transactions::new(2, 19_960);
        let mut inputs = t.inputs();
        inputs.push(col(CUSTOMER_ROW));
        let e = add_batch(&mut t, &batch.lazy().select(inputs).collect().unwrap()).unwrap_err();
        assert!(e.to_string().contains("customer row 5, but customers.parquet has 2 rows"), "{e}");
    }

    #[test]
    fn a_standard_deviation_merged_from_batches_matches_one_pass() {
        let amounts = [10.0, 12.5, 7.25, 30.0, 0.5, 19.75, 8.0];
        let mut t = Transactions::new(1, 20_000);
        for part in [&amounts[..3], &amounts[3..4], &amounts[4..]] {
            let batch = df!(
                CUSTOMER_ROW => vec![0u32; part.len()],
                "transaction_date" => vec![19_990i32; part.len()],
                "amount" => part.to_vec(),
            )
            .unwrap();
            let mut inputs = t.inputs();
            inputs.push(col(CUSTOMER_ROW));
            add_batch(&mut t, &batch.lazy().select(inputs).collect().unwrap()).unwrap();
        }
        let features = t.features();
        let std = &features.iter().find(|(n, _)| *n == "monetary_std").unwrap().1;
        let mean = amounts.iter().sum::<f64>() / 7.0;
        let expected = (amounts.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / 6.0).sqrt();
        assert!((std[0] - expected).abs() < 1e-12, "{} vs {expected}", std[0]);
    }
}
