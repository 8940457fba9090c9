//! `churnflow generate --drift SPEC`: a drifted month moves exactly the feature columns its
//! keys map to (docs/stages-data.md, "A drifted month"), `churnflow drift` on the features of
//! the real pipeline stages being the judge; and the spec's errors, combinations and output.
use crate::support::{Project, Test, DATA_PIPELINE};
use std::collections::BTreeSet;

const CUSTOMERS: &str = "3000";

/// A month of `CUSTOMERS` customers drawn with `seed` (shifted by `drift`), run through the
/// features stages at `snapshot_date`; returns the project holding data/features.parquet.
fn month(seed: u64, drift: Option<&str>, snapshot_date: &str) -> Project {
    let p = Project::new().file("pipeline.yaml", DATA_PIPELINE).file(
        "params.yaml",
        &format!("validation:\n  min_rows: 1000\nfeatures:\n  snapshot_date: \"{snapshot_date}\"\n"),
    );
    let seed = seed.to_string();
    let mut args = vec!["generate", "--customers", CUSTOMERS, "--seed", &seed, "--out", "data/raw"];
    if let Some(spec) = drift {
        args.extend(["--drift", spec]);
    }
    p.ok(&args);
    p.ok(&["repro"]);
    p
}

/// The columns `churnflow drift --json` flags in `current`'s features against `reference`'s.
fn drifted(reference: &Project, current: &Project) -> BTreeSet<String> {
    let path = |p: &Project| p.path("data/features.parquet").to_string_lossy().into_owned();
    let j = reference
        .ok(&["drift", "--reference", &path(reference), "--current", &path(current), "--json"])
        .json();
    assert_eq!(j["compared_columns"], 27, "{j}");
    j["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .filter(|c| c["drift"] == true)
        .map(|c| c["column"].as_str().expect("column name").to_string())
        .collect()
}

fn set(columns: &[&str]) -> BTreeSet<String> {
    columns.iter().map(|c| c.to_string()).collect()
}

/// The documented mapping, key by key: another seed drifts nothing; `price` alone moves the
/// price columns; `snapshot` + `usage` + `contract` (features at the new date) move the usage
/// columns and contract_type and nothing else — so `snapshot` moves none.
#[test]
fn generate_drift_moves_exactly_the_feature_columns_its_keys_map_to() {
    let specs: [(u64, Option<&str>, &str); 4] = [
        (1, None, "2024-06-30"),
        (2, None, "2024-06-30"),
        (3, Some("price"), "2024-06-30"),
        (4, Some("snapshot=+1m, usage=+30%, contract=month-to-month:+25pp"), "2024-07-31"),
    ];
    let months: Vec<Project> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            specs.iter().map(|&(seed, drift, date)| scope.spawn(move || month(seed, drift, date))).collect();
        handles.into_iter().map(|h| h.join().expect("month")).collect()
    });
    let [base, other_seed, price, next_month] = &months[..] else { unreachable!() };

    assert_eq!(drifted(base, other_seed), set(&[]), "another seed, no --drift");
    assert_eq!(drifted(base, price), set(&["plan_monthly_eur", "recent_monetary"]), "price");
    assert_eq!(
        drifted(base, next_month),
        set(&["calls_duration_avg_30d", "calls_duration_total_30d", "contract_type", "data_usage_gb_30d"]),
        "snapshot + usage + contract"
    );
}

/// The churn label responds to the shifts the way the model says: dearer plans and more
/// month-to-month contracts bring more churn, heavier use less (2,000 customers, same seed).
#[test]
fn generate_drift_moves_the_churn_rate_the_plausible_way() {
    let p = Project::new();
    let rate = |drift: Option<&str>| -> f64 {
        let mut args = vec!["generate", "--customers", "2000", "--seed", "9", "--out", "raw"];
        if let Some(spec) = drift {
            args.extend(["--drift", spec]);
        }
        let out = p.ok(&args).stdout();
        let pct = out.split(" customers (").nth(1).and_then(|s| s.split(' ').next()).expect("churn rate");
        pct.parse().expect("a number")
    };
    let base = rate(None);
    assert!(rate(Some("price=+30%")) > base + 1.0, "dearer plans, more churn");
    assert!(rate(Some("contract=month-to-month:+30pp")) > base + 1.0, "more month-to-month, more churn");
    assert!(rate(Some("contract=two-year:+30pp")) < base - 1.0, "more two-year contracts, less churn");
    assert!(rate(Some("usage=+100%")) < base - 0.5, "heavier use, less churn");
    assert_eq!(rate(Some("snapshot=+3m")), base, "a later date alone changes no customer");
}

#[test]
fn generate_drift_says_what_it_shifted_and_combines_with_snapshot_date_and_defects() {
    let p = Test::new()
        .args([
            "generate",
            "--customers",
            "300",
            "--seed",
            "5",
            "--out",
            "raw",
            "--snapshot-date",
            "2024-01-31",
            "--drift",
            "snapshot=+1m,price=+10%",
            "--defects",
        ])
        .stdout_contains(
            "shifted: snapshot=+1m,price=+10%; in effect from 2024-01-30; snapshot date 2024-02-29 \
             (give the features stage snapshot_date: \"2024-02-29\")\n",
        )
        .run();
    // The month end stays a month end; events run up to it and never after.
    for f in ["customers.csv", "transactions.csv", "cdr.csv", "support_tickets.csv"] {
        let text = p.read(&format!("raw/{f}"));
        let last = text
            .lines()
            .skip(1)
            .flat_map(|l| l.split(',').filter(|c| c.len() == 10 && c.as_bytes()[4] == b'-'))
            .max()
            .expect("a date")
            .to_string();
        assert!(last.as_str() <= "2024-02-29", "{f}: {last}");
        if f != "customers.csv" {
            assert!(last.as_str() >= "2024-02-20", "{f}: the last events are near the snapshot: {last}");
        }
    }
    // --defects: the same faults on the drifted data.
    let customers = p.read("raw/customers.csv");
    let rows: Vec<&str> = customers.lines().collect();
    assert!(rows[2].contains(",,"), "customer row 2 has a blank price: {}", rows[2]);
    assert_eq!(rows.last(), Some(&rows[1]), "the first customer is exported twice");
    assert!(p.read("raw/support_tickets.csv").contains(",X0000000,"), "an orphan ticket");

    // A spec that shifts nothing but the date: the same customers as --snapshot-date.
    p.ok(&["generate", "--customers", "300", "--seed", "5", "--out", "a", "--drift", "snapshot=-1m"]);
    p.ok(&["generate", "--customers", "300", "--seed", "5", "--out", "b", "--snapshot-date", "2024-05-31"]);
    for f in ["customers.csv", "transactions.csv", "cdr.csv", "support_tickets.csv"] {
        assert!(p.read(&format!("a/{f}")) == p.read(&format!("b/{f}")), "{f} differs");
    }
    // Without --drift nothing is said about shifts.
    let plain = p.ok(&["generate", "--customers", "20", "--out", "c"]).stdout();
    assert!(!plain.contains("shifted"), "{plain}");
}

#[test]
fn generate_drift_spec_errors_are_usage_errors_naming_the_part() {
    for (spec, says) in [
        ("prise=+10%", "--drift: 'prise=+10%': unknown key 'prise'; the keys are snapshot, usage, price, contract\n  help: did you mean 'price'?"),
        ("usage=+25%,contrct=one-year:+5pp", "'contrct=one-year:+5pp': unknown key 'contrct'; the keys are snapshot, usage, price, contract\n  help: did you mean 'contract'?"),
        ("contract=month-to-moth:+5pp", "unknown contract type 'month-to-moth'; the types are month-to-month, one-year, two-year\n  help: did you mean 'month-to-month'?"),
        ("usage=25", "'usage=25': '25' has no '%'; usage takes a percent change such as +10% or -5%, from -90% to +300%"),
        ("price=+150%", "'price=+150%': +150% is out of range"),
        ("price=+10%,price=+5%", "'price=+5%': price is given twice"),
        ("snapshot=2024-07-31", "for a date use --snapshot-date"),
        ("snapshot=+1q", "unknown unit 'q'"),
        ("contract=month-to-month:+60pp", "month-to-month is 55 % of customers, so it can gain from -55pp to +45pp"),
        ("contract=one-year:+5", "'+5' is not percentage points"),
        ("usage,,price", "an empty part"),
        (" ", "the spec is empty"),
        ("usage=+∞%", "is not a percent"),
    ] {
        Test::new()
            .args(["generate", "--customers", "10", "--out", "raw", "--drift", spec])
            .stderr_contains(says)
            .status(2)
            .run();
    }
}
