//! Every out is an ordinary data file, mode 0644, whether a stage wrote it (`repro`) or the
//! store restored it (`checkout`). Regression test for issue #10: the model stages' own
//! atomic writer left `models/model.json`, `reports/metrics.json` and `data/train.parquet`
//! at the temp file's 0600 after `repro`, while `checkout` restored them 0644.
use crate::support::Project;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// examples/telco: a small pipeline whose seven stages write every kind of out (Parquet
/// tables, a directory of tables, JSON, HTML, markdown, the model file).
fn telco() -> Project {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/telco");
    let p = Project::new();
    for f in ["pipeline.yaml", "params.yaml", "data/telco.csv"] {
        p.write(f, &std::fs::read_to_string(example.join(f)).unwrap());
    }
    p
}

/// The folders the telco pipeline writes its outs into.
const OUT_DIRS: [&str; 3] = ["data", "models", "reports"];

/// The outs of the telco pipeline that are `cache: false` (metrics, plots, cards and the
/// promotion decision are committed to git, not kept in the store), so `checkout` leaves them.
const NOT_STORED: [&str; 6] = [
    "reports/comparison.json",
    "reports/metrics.json",
    "reports/model_card.json",
    "reports/model_card.md",
    "reports/plots.json",
    "reports/promotion.json",
];

/// Every file under the out folders except the raw input, with its permission bits.
fn out_modes(p: &Project) -> Vec<(String, u32)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, u32)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                out.push((rel, mode));
            }
        }
    }
    let mut out = Vec::new();
    for d in OUT_DIRS {
        walk(&p.path(d), p.root(), &mut out);
    }
    out.retain(|(rel, _)| rel != "data/telco.csv");
    out.sort();
    out
}

#[track_caller]
fn assert_all_0644(modes: &[(String, u32)], after: &str) {
    for must in ["models/model.json", "reports/metrics.json", "data/train.parquet", "data/test.parquet"] {
        assert!(modes.iter().any(|(rel, _)| rel == must), "{must} missing after {after}: {modes:?}");
    }
    let wrong: Vec<String> =
        modes.iter().filter(|(_, m)| *m != 0o644).map(|(rel, m)| format!("{rel} {m:o}")).collect();
    assert!(wrong.is_empty(), "outs not 0644 after {after}: {}", wrong.join(", "));
}

#[test]
fn every_out_is_0644_after_repro_and_after_checkout() {
    let p = telco();
    p.ok(&["repro"]);
    let after_repro = out_modes(&p);
    assert_all_0644(&after_repro, "repro");

    // Delete every out the store holds (the others are `cache: false`: git restores them).
    for (rel, _) in &after_repro {
        if !NOT_STORED.contains(&rel.as_str()) {
            std::fs::remove_file(p.path(rel)).unwrap();
        }
    }
    let r = p.ok(&["checkout"]);
    assert!(r.stderr().contains("restored models/model.json"), "{}", r.all());
    assert!(r.stderr().contains("restored data/train.parquet"), "{}", r.all());
    let after_checkout = out_modes(&p);
    assert_eq!(
        after_checkout.iter().map(|(rel, _)| rel).collect::<Vec<_>>(),
        after_repro.iter().map(|(rel, _)| rel).collect::<Vec<_>>(),
        "checkout restores the same outs"
    );
    assert_all_0644(&after_checkout, "checkout");
}
