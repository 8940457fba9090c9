//! The fast CSV path's tests, across its layers.

use super::cells::*;
use super::chunks::*;
use super::fields::*;
use super::parser::*;
use crate::io::table::Ty;
use polars::prelude::*;

fn parse(text: &str, specs: &[(&str, Ty)]) -> Result<ParsedChunk, ChunkError> {
    let header_end = text.find('\n').unwrap();
    let names = text[..header_end].split(',').map(String::from).collect();
    let header = CsvHeader { names, data_start: header_end as u64 + 1 };
    ChunkParser::new(&header, specs).parse(text.as_bytes()[header_end + 1..].to_vec(), true)
}

#[test]
fn iso_dates_are_days_since_the_epoch_and_impossible_days_are_refused() {
    assert_eq!(parse_iso_date(b"1970-01-01"), Some(0));
    assert_eq!(parse_iso_date(b"2024-06-30"), Some(19_904));
    assert_eq!(parse_iso_date(b"2000-02-29"), Some(11_016));
    assert_eq!(parse_iso_date(b"1969-12-31"), Some(-1));
    assert_eq!(parse_iso_date(b"2023-02-29"), None);
    assert_eq!(parse_iso_date(b"2024-13-01"), None);
    assert_eq!(parse_iso_date(b"2024-6-30"), None);
    assert_eq!(parse_iso_date(b"01/05/2024"), None);
}

#[test]
fn quoted_fields_keep_commas_quotes_and_line_breaks() {
    let text = "id,region,x\na,\"North, \"\"upper\"\"\",1\nb,\"two\nlines\",2\r\nc,plain,3";
    let c = parse(text, &[("id", Ty::Str), ("region", Ty::Str), ("x", Ty::Int)]).unwrap();
    assert_eq!(c.rows, 3);
    let region: Vec<_> = c.columns[1].str().unwrap().iter().collect();
    assert_eq!(region, [Some("North, \"upper\""), Some("two\nlines"), Some("plain")]);
}

#[test]
fn blank_cells_are_null_and_unwanted_columns_are_skipped() {
    let c = parse(
        "a,skip,b,d\n x ,zz,  ,\n,zz,2.5,2024-01-02\n",
        &[("a", Ty::Str), ("b", Ty::F64), ("d", Ty::Date)],
    )
    .unwrap();
    assert_eq!(c.rows, 2);
    assert_eq!(c.columns[0].str().unwrap().get(0), Some("x"));
    assert_eq!(c.columns[0].null_count(), 1);
    assert_eq!(c.columns[1].null_count(), 1);
    assert_eq!(c.columns[1].f64().unwrap().get(1), Some(2.5));
    assert_eq!(c.columns[2].dtype(), &DataType::Date);
    assert_eq!(c.columns[2].null_count(), 1);
}

#[test]
fn a_bad_cell_is_reported_with_its_row_and_column() {
    let e = parse("a,n\nx,1\ny,thirty\n", &[("a", Ty::Str), ("n", Ty::F64)]).err().unwrap();
    assert_eq!(e.row, 1);
    assert!(e.message("t.csv", 1).contains("t.csv: row 2"), "{}", e.message("t.csv", 1));
    assert!(e.message("t.csv", 1).contains("column 'n': value 'thirty' is not a number"));
    let e = parse("n\ninf\n", &[("n", Ty::F64)]).err().unwrap();
    assert!(matches!(e.problem, Problem::Cell { non_finite: true, .. }));
}

#[test]
fn delimiters_are_found_exactly_in_every_byte_position() {
    // Bytes next to a delimiter (0x2b, 0x2d, 0x09, 0x0b, 0x00, 0x80, 0xff) must not match.
    let bytes: Vec<u8> = b"a,\x2b\x2d,\n\x09\x0b\x00,\x80\xff\n,,x\n".to_vec();
    for shift in 0..9 {
        let mut padded = vec![b'z'; shift];
        padded.extend_from_slice(&bytes);
        let mut found = Vec::new();
        push_delimiters(&padded, &mut found);
        let expected: Vec<u32> = padded
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b',' || b == b'\n')
            .map(|(i, _)| i as u32 + 1)
            .collect();
        assert_eq!(found, expected, "shift {shift}");
    }
}

#[test]
fn plain_decimals_parse_exactly_like_the_general_parser() {
    for text in
        ["0", "17", "58.52", "-3.75", "+2.5", "0.1", "123456789.012345", "999999999999999", ".5", "7."]
    {
        let general: f64 = fast_float2::parse(text.as_bytes()).unwrap();
        assert_eq!(parse_plain_decimal(text.as_bytes()), Some(general), "{text}");
    }
    for text in
        ["1e5", "1.2.3", "-", ".", "nan", "1234567890123456", "123456789012345678901234", "12a", "1.-2"]
    {
        assert_eq!(parse_plain_decimal(text.as_bytes()), None, "{text}");
    }
}

#[test]
fn irregular_chunks_take_the_record_by_record_path_with_the_same_results() {
    // A blank line, CRLF endings and no final line break.
    let c = parse("a,b\n1,x\r\n\n2,  y \r\n3,z", &[("a", Ty::Int), ("b", Ty::Str)]).unwrap();
    assert_eq!(c.rows, 3);
    let b: Vec<_> = c.columns[1].str().unwrap().iter().collect();
    assert_eq!(b, [Some("x"), Some("y"), Some("z")]);
    let regular = parse("a,b\n1,x\r\n2,  y \r\n3,z", &[("a", Ty::Int), ("b", Ty::Str)]).unwrap();
    assert_eq!(regular.columns, c.columns);
}

#[test]
fn long_text_values_point_into_the_chunk_and_keep_their_bytes() {
    let c = parse("id,t\n1,a-value-longer-than-twelve\n2,short\n", &[("t", Ty::Text)]).unwrap();
    let t: Vec<_> = c.columns[0].str().unwrap().iter().collect();
    assert_eq!(t, [Some("a-value-longer-than-twelve"), Some("short")]);
}

#[test]
fn text_that_is_not_utf8_names_its_row() {
    let header = CsvHeader { names: vec!["a".into()], data_start: 0 };
    let e =
        ChunkParser::new(&header, &[("a", Ty::Str)]).parse(b"ok\n\xff\xfe\n".to_vec(), true).err().unwrap();
    assert_eq!(e, ChunkError { row: 1, problem: Problem::NotUtf8 { column: "a".into() } });
}

#[test]
fn a_record_with_too_few_fields_is_reported() {
    let e = parse("a,b\n1,2\n3\n", &[("a", Ty::Int)]).err().unwrap();
    assert_eq!(e, ChunkError { row: 1, problem: Problem::FieldCount { found: 1, expected: 2 } });
}

#[test]
fn an_open_quote_at_the_end_is_an_error() {
    let e = parse("a\n\"abc\n", &[("a", Ty::Str)]).err().unwrap();
    assert_eq!(e.problem, Problem::UnterminatedQuote);
}
