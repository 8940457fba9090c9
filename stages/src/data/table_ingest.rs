//! Ingesting one table of the `events` layout: typed columns in, one Parquet file and the
//! table's [`profile`] out, in a single pass over the raw file.
//!
//! A CSV file is cut into chunks ([`crate::data::typed_csv`]) that worker threads parse, profile,
//! link to their customers and encode; the row groups are written in file order
//! ([`crate::data::ordered`], [`crate::data::parquet_out`]). Memory stays at a few chunks per thread
//! whatever the file size. A Parquet input (or a CSV whose quoted line breaks straddle a
//! chunk boundary) is read whole through [`crate::io::table`] instead.
//!
//! Event tables gain a column `customer_row` (UInt32): the 0-based row of the event's
//! customer in `customers.parquet`, null when the customer_id is blank or not a customer.
//! It is the join key of `features` and gives `validate` its referential-integrity count.

use crate::contract::StageError;
use crate::data::ordered::ordered_map;
use crate::data::parquet_out::{self, ColumnEncoding, ParquetLayout, ParquetOut};
use crate::data::profile::{self, ColumnProfile, ColumnStats, TableProfile};
use crate::data::typed_csv::{self, ChunkParser};
use crate::io::table::{self, Ty};
use crate::progress::Reporter;
use polars::prelude::*;
use polars_arrow::array::Array;
use std::path::Path;

/// The name of the column linking an event to its customer.
pub(crate) const CUSTOMER_ROW: &str = "customer_row";

/// Bytes of CSV per chunk: large enough for efficient row groups (~200,000 CDR rows), small
/// enough that a few chunks per thread fit in memory easily and that the allocator recycles
/// a chunk's buffers instead of mapping fresh memory for each one.
const CHUNK_BYTES: u64 = 12 << 20;

/// customer_id → row of the customers table (first occurrence).
#[derive(Default)]
pub(crate) struct CustomerIndex {
    rows: PlHashMap<Box<str>, u32>,
}

impl CustomerIndex {
    fn add(&mut self, ids: &StringChunked, first_row: u32) {
        for (i, id) in ids.iter().enumerate() {
            if let Some(id) = id {
                self.rows.entry(id.into()).or_insert(first_row + i as u32);
            }
        }
    }

    /// The `customer_row` column for `ids`, and how many non-null ids are not customers.
    fn link(&self, ids: &StringChunked) -> (UInt32Chunked, u64) {
        let mut unknown = 0u64;
        let mut values: Vec<u32> = Vec::with_capacity(ids.len());
        let mut valid = polars_arrow::bitmap::MutableBitmap::with_capacity(ids.len());
        for arr in ids.downcast_iter() {
            // Event tables are usually grouped by customer: remember the last answer. Equal
            // views (length, bytes or buffer position) mean equal ids, so most rows cost a
            // 16-byte comparison instead of a lookup.
            let mut last: Option<(u128, Option<u32>)> = None;
            for (i, view) in arr.views().iter().enumerate() {
                if !arr.is_valid(i) {
                    values.push(0);
                    valid.push(false);
                    continue;
                }
                let key = view.as_u128();
                let row = match last {
                    Some((prev, row)) if prev == key => row,
                    _ => {
                        let row = self.rows.get(arr.value(i)).copied();
                        last = Some((key, row));
                        row
                    }
                };
                unknown += u64::from(row.is_none());
                values.push(row.unwrap_or(0));
                valid.push(row.is_some());
            }
        }
        let validity: Option<polars_arrow::bitmap::Bitmap> = (valid.unset_bits() > 0).then(|| valid.into());
        let arr =
            polars_arrow::array::PrimitiveArray::<u32>::new(ArrowDataType::UInt32, values.into(), validity);
        (UInt32Chunked::with_chunk(CUSTOMER_ROW.into(), arr), unknown)
    }
}

/// How to ingest one table.
pub(crate) struct TableSpec<'a> {
    /// The table's name in the ingested dir (`<name>.parquet`).
    pub name: &'a str,
    pub columns: &'a [(&'a str, Ty)],
    /// Columns whose uniqueness the profile proves.
    pub keys: &'a [&'a str],
}

/// What ingesting one table produced.
pub(crate) struct Ingested {
    pub profile: TableProfile,
    /// For the customers table: its index, for linking the event tables.
    pub customers: Option<CustomerIndex>,
}

/// Where a table's events get their customers from.
pub(crate) enum Link<'a> {
    /// This is the customers table: build the index.
    BuildIndex,
    /// An event table: add `customer_row` from the index.
    To(&'a CustomerIndex),
}

/// Ingests `path` (`shown` in messages) into `out` as `spec` says; `progress` counts the
/// file's bytes (chunk by chunk on the CSV fast path, the whole file at once otherwise).
pub(crate) fn ingest_table(
    path: &Path,
    shown: &str,
    spec: &TableSpec<'_>,
    link: Link<'_>,
    out: &Path,
    progress: &Reporter<'_>,
) -> Result<Ingested, StageError> {
    let before = progress.done();
    let done = ingest_table_in_chunks(path, shown, spec, link, out, CHUNK_BYTES, progress)?;
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    progress.add(size.saturating_sub(progress.done() - before));
    Ok(done)
}

fn ingest_table_in_chunks(
    path: &Path,
    shown: &str,
    spec: &TableSpec<'_>,
    link: Link<'_>,
    out: &Path,
    chunk_bytes: u64,
    progress: &Reporter<'_>,
) -> Result<Ingested, StageError> {
    let ext = table::check_file(path, shown)?;
    let required: Vec<&str> = spec.columns.iter().map(|(n, _)| *n).collect();
    if ext == "csv" {
        table::check_csv_header(path, shown, &required)?;
        if let Some(done) = ingest_csv_chunks(path, shown, spec, &link, out, chunk_bytes, progress)? {
            return Ok(done);
        }
    }
    let mut df = table::read_typed(path, shown, spec.columns)?;
    let mut unknown = None;
    let mut index = None;
    match link {
        Link::BuildIndex => {
            let mut i = CustomerIndex::default();
            i.add(
                df.column("customer_id")
                    .and_then(|c| c.str())
                    .map_err(table::polars_err(shown, "customer_id"))?,
                0,
            );
            index = Some(i);
        }
        Link::To(customers) => {
            let ids = df
                .column("customer_id")
                .and_then(|c| c.str())
                .map_err(table::polars_err(shown, "customer_id"))?;
            let (rows, n) = customers.link(ids);
            unknown = Some(n);
            df.with_column(rows.into_column()).map_err(table::polars_err(shown, "customer_row"))?;
        }
    }
    let stats = profile::measure_frame(&df, spec.keys);
    let layout =
        layout_for(df.schema(), spec).map_err(table::polars_err(shown, "cannot plan the Parquet file"))?;
    let rows = parquet_out::write_frame(&df, &layout, out)?;
    Ok(Ingested { profile: table_profile(spec.name, rows, stats, unknown), customers: index })
}

fn table_profile(name: &str, rows: u64, stats: Vec<ColumnStats>, unknown: Option<u64>) -> TableProfile {
    let columns: Vec<ColumnProfile> = stats.into_iter().map(ColumnStats::finish).collect();
    TableProfile { name: name.to_string(), rows, columns, unknown_customer_rows: unknown }
}

/// The encoding of each column. Measured on 11M CDR rows (encode + LZ4, one core): plain is
/// cheapest for ids, hashes, dates, measurements and the event tables' customer_id (rows of
/// a customer are usually adjacent, which LZ4 squeezes to almost nothing); dictionary
/// encoding pays for the flags (bit-packed to a bit or two per row) and the customers'
/// category columns. Everything is compressed: left uncompressed, the measurements made
/// the CDR file 50 % larger, and writing it became the bottleneck.
fn layout_for(schema: &Schema, spec: &TableSpec<'_>) -> PolarsResult<ParquetLayout> {
    let encodings: Vec<ColumnEncoding> = schema
        .iter_names()
        .map(|n| match spec.columns.iter().find(|(c, _)| *c == n.as_str()).map(|(_, t)| *t) {
            Some(Ty::Int) => ColumnEncoding::Dictionary,
            Some(Ty::Str) if spec.name == "customers" && n.as_str() != "customer_id" => {
                ColumnEncoding::Dictionary
            }
            _ => ColumnEncoding::Plain,
        })
        .collect();
    ParquetLayout::new(schema, &encodings)
}

/// One parsed, profiled and encoded chunk.
struct Done {
    group: crate::data::parquet_out::EncodedRowGroup,
    stats: Vec<ColumnStats>,
    rows: usize,
    unknown: u64,
    /// The customers table: the chunk's ids, for the index (built in file order).
    ids: Option<StringChunked>,
}

/// The CSV fast path; `None` when a quoted line break straddles a chunk boundary.
fn ingest_csv_chunks(
    path: &Path,
    shown: &str,
    spec: &TableSpec<'_>,
    link: &Link<'_>,
    out: &Path,
    chunk_bytes: u64,
    progress: &Reporter<'_>,
) -> Result<Option<Ingested>, StageError> {
    let (file, len) = typed_csv::open(path, shown)?;
    let header = typed_csv::read_header(&file, shown)?;
    let parser = ChunkParser::new(&header, spec.columns);
    let chunks = typed_csv::plan_chunks(&file, header.data_start, len, chunk_bytes)
        .map_err(|e| StageError::new(format!("{shown}: cannot read the file: {e}")))?;
    let mut schema = Schema::default();
    for (n, t) in spec.columns {
        schema.with_column((*n).into(), t.dtype());
    }
    if matches!(link, Link::To(_)) {
        schema.with_column(CUSTOMER_ROW.into(), DataType::UInt32);
    }
    let layout =
        layout_for(&schema, spec).map_err(table::polars_err(shown, "cannot plan the Parquet file"))?;
    let mut writer = ParquetOut::create(out, &layout)?;
    let shown_out = out.display().to_string();

    /// Why a chunk stopped: bad data (reported with its row once earlier chunks are counted),
    /// a quoted line break across chunks (take the careful path), or another error.
    enum Stop {
        Bad(typed_csv::ChunkError),
        Stage(StageError),
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let last = chunks.len().saturating_sub(1);
    // Chunk buffers are recycled once parsed (unless a text column points into one).
    let buffers: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
    let produce = |i: usize| -> Result<Done, Stop> {
        let (start, end) = chunks[i];
        let mut buf = buffers.lock().unwrap_or_else(|p| p.into_inner()).pop().unwrap_or_default();
        typed_csv::read_range(&file, start, end, &mut buf)
            .map_err(|e| Stop::Stage(StageError::new(format!("{shown}: cannot read the file: {e}"))))?;
        let mut parsed = parser.parse(buf, i == last).map_err(Stop::Bad)?;
        if let Some(spare) = parsed.spare.take() {
            buffers.lock().unwrap_or_else(|p| p.into_inner()).push(spare);
        }
        let mut columns = parsed.columns;
        let mut unknown = 0;
        let mut ids = None;
        let id_at = spec.columns.iter().position(|(n, _)| *n == "customer_id");
        match (link, id_at) {
            (Link::To(customers), Some(at)) => {
                let (rows, n) = customers.link(
                    columns[at].str().map_err(|e| Stop::Stage(table::polars_err(shown, "customer_id")(e)))?,
                );
                unknown = n;
                columns.push(rows.into_column());
            }
            (Link::BuildIndex, Some(at)) => {
                ids = Some(
                    columns[at]
                        .str()
                        .map_err(|e| Stop::Stage(table::polars_err(shown, "customer_id")(e)))?
                        .clone(),
                );
            }
            _ => {}
        }
        let df = DataFrame::new(parsed.rows, columns)
            .map_err(|e| Stop::Stage(table::polars_err(shown, "chunk")(e)))?;
        let stats = profile::measure_frame(&df, spec.keys);
        let group = layout
            .encode(&df)
            .map_err(|e| Stop::Stage(table::polars_err(&shown_out, "cannot encode Parquet")(e)))?;
        Ok(Done { group, stats, rows: parsed.rows, unknown, ids })
    };

    let mut rows = 0u64;
    let mut unknown = 0u64;
    let mut stats: Vec<ColumnStats> = Vec::new();
    let mut index = matches!(link, Link::BuildIndex).then(CustomerIndex::default);
    let result = ordered_map(chunks.len(), threads, 2 * threads, produce, |i, done: Done| {
        progress.add(chunks[i].1 - chunks[i].0);
        if let (Some(index), Some(ids)) = (&mut index, &done.ids) {
            index.add(ids, rows as u32);
        }
        rows += done.rows as u64;
        unknown += done.unknown;
        profile::merge_frames(&mut stats, done.stats);
        writer.append(done.group).map_err(Stop::Stage)
    });
    match result {
        Ok(()) => {}
        Err(Stop::Bad(e)) if e.problem == typed_csv::Problem::QuoteAcrossChunks => return Ok(None),
        // `rows` counts the records of every chunk before the failing one.
        Err(Stop::Bad(e)) => return Err(StageError::new(e.message(shown, rows + 1))),
        Err(Stop::Stage(e)) => return Err(e),
    }
    if stats.is_empty() {
        // A header-only file: the stats of an empty frame.
        let empty = DataFrame::empty_with_schema(&schema);
        stats = profile::measure_frame(&empty, spec.keys);
    }
    let written = writer.finish()?;
    let unknown = matches!(link, Link::To(_)).then_some(unknown);
    Ok(Some(Ingested { profile: table_profile(spec.name, written, stats, unknown), customers: index }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CUSTOMERS: &[(&str, Ty)] = &[("customer_id", Ty::Str), ("plan", Ty::F64)];
    const EVENTS: &[(&str, Ty)] = &[("event_id", Ty::Text), ("customer_id", Ty::Str), ("amount", Ty::F64)];

    struct Case {
        dir: tempfile::TempDir,
    }

    impl Case {
        fn new() -> Case {
            Case { dir: tempfile::tempdir().unwrap() }
        }
        fn write(&self, name: &str, text: &str) -> std::path::PathBuf {
            let p = self.dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        }
        fn ingest(
            &self,
            name: &str,
            spec: &TableSpec<'_>,
            link: Link<'_>,
            chunk: u64,
        ) -> Result<Ingested, StageError> {
            let out = self.dir.path().join(format!("{}.parquet", spec.name));
            ingest_table_in_chunks(
                &self.dir.path().join(name),
                name,
                spec,
                link,
                &out,
                chunk,
                &Reporter::silent(),
            )
        }
        fn read(&self, table: &str) -> DataFrame {
            table::read_table(&self.dir.path().join(format!("{table}.parquet"))).unwrap()
        }
    }

    fn customers_csv(n: usize) -> String {
        let mut t = String::from("customer_id,plan\n");
        for i in 0..n {
            t.push_str(&format!("C{i:04},{}.5\n", i % 7));
        }
        t
    }

    fn events_csv(n: usize, customers: usize) -> String {
        let mut t = String::from("event_id,customer_id,amount\n");
        for i in 0..n {
            t.push_str(&format!("E{i:05},C{:04},{}\n", (i * 7) % customers, i % 100));
        }
        t
    }

    const CUSTOMER_SPEC: TableSpec<'static> =
        TableSpec { name: "customers", columns: CUSTOMERS, keys: &["customer_id"] };
    const EVENT_SPEC: TableSpec<'static> = TableSpec { name: "events", columns: EVENTS, keys: &["event_id"] };

    #[test]
    fn tiny_chunks_give_the_same_table_and_profile_as_one_chunk() {
        let c = Case::new();
        c.write("customers.csv", &customers_csv(50));
        c.write("events.csv", &events_csv(3000, 50));
        let one = c.ingest("customers.csv", &CUSTOMER_SPEC, Link::BuildIndex, 1 << 30).unwrap();
        let index = one.customers.unwrap();
        let whole = c.ingest("events.csv", &EVENT_SPEC, Link::To(&index), 1 << 30).unwrap();
        let whole_df = c.read("events");
        let many = c.ingest("events.csv", &EVENT_SPEC, Link::To(&index), 97).unwrap();
        let many_df = c.read("events");
        assert_eq!(whole_df, many_df);
        assert_eq!(whole.profile, many.profile);
        assert_eq!(many.profile.rows, 3000);
        assert_eq!(many.profile.unknown_customer_rows, Some(0));
        assert_eq!(many.profile.column("event_id").unwrap().unique, Some(true));
        assert_eq!(many.profile.column("amount").unwrap().max, Some(99.0));
        // customer_row links each event to its customer's row.
        let rows = many_df.column(CUSTOMER_ROW).unwrap().u32().unwrap().clone();
        assert_eq!(rows.get(1), Some(7));
        assert_eq!(rows.get(10), Some((70 % 50) as u32));
    }

    #[test]
    fn a_bad_cell_in_a_later_chunk_names_its_row_in_the_whole_file() {
        let c = Case::new();
        let mut events = events_csv(500, 5);
        events = events.replacen("E00321,C0002,21", "E00321,C0002,twenty-one", 1);
        c.write("events.csv", &events);
        let e = c.ingest("events.csv", &EVENT_SPEC, Link::BuildIndex, 64).err().expect("bad cell");
        assert!(e.message.contains("events.csv: row 322 "), "{}", e.message);
        assert!(e.message.contains("column 'amount': value 'twenty-one' is not a number"), "{}", e.message);
        assert!(!c.dir.path().join("events.parquet").exists(), "a failed table leaves no file");
    }

    #[test]
    fn a_quoted_line_break_across_a_chunk_boundary_is_read_correctly() {
        let c = Case::new();
        let mut t = String::from("event_id,customer_id,amount\n");
        for i in 0..200 {
            t.push_str(&format!("\"E{i}\nsecond line\",C0001,{i}\n"));
        }
        c.write("events.csv", &t);
        let done = c.ingest("events.csv", &EVENT_SPEC, Link::BuildIndex, 50).unwrap();
        assert_eq!(done.profile.rows, 200);
        let df = c.read("events");
        assert_eq!(df.column("event_id").unwrap().str().unwrap().get(199), Some("E199\nsecond line"));
    }

    #[test]
    fn unknown_and_duplicated_keys_show_in_the_profile() {
        let c = Case::new();
        c.write("customers.csv", "customer_id,plan\nC1,1\nC2,2\nC1,3\n");
        let customers = c.ingest("customers.csv", &CUSTOMER_SPEC, Link::BuildIndex, 16).unwrap();
        assert_eq!(customers.profile.column("customer_id").unwrap().unique, Some(false));
        let index = customers.customers.unwrap();
        c.write("events.csv", "event_id,customer_id,amount\nE1,C1,1\nE2,C9,2\nE3,,3\nE4,C2,4\n");
        let events = c.ingest("events.csv", &EVENT_SPEC, Link::To(&index), 16).unwrap();
        assert_eq!(events.profile.unknown_customer_rows, Some(1), "C9 is unknown; a blank id is not counted");
        let rows: Vec<Option<u32>> =
            c.read("events").column(CUSTOMER_ROW).unwrap().u32().unwrap().iter().collect();
        assert_eq!(rows, [Some(0), None, None, Some(1)], "the first C1 row wins");
    }

    #[test]
    fn a_header_only_file_gives_an_empty_table() {
        let c = Case::new();
        c.write("events.csv", "event_id,customer_id,amount\n");
        let done = c.ingest("events.csv", &EVENT_SPEC, Link::BuildIndex, 1 << 20).unwrap();
        assert_eq!(done.profile.rows, 0);
        assert_eq!(c.read("events").height(), 0);
    }
}
