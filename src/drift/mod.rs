//! The two sides of `churnflow drift`, found: `registry:<model>` (by default the champion) is
//! the data that model was trained on — its lineage's `training_data_blake3`, an object in
//! the store (`artifacts/objects/`); anything else is a table or a prediction-log folder,
//! relative to the project root. The report itself is the stages crate's
//! (`churnflow_stages::drift_report`); the `drift` section of params.yaml goes with it.
use crate::error::{Error, Result};
use crate::pipeline::params::Params;
use crate::store::model_ref::ModelSpec;
use crate::store::objects::Store;
use crate::store::short_hash;
use churnflow_stages::{DriftOptions, DriftReport, DriftSide};
use std::path::Path;

/// A reference spec's prefix that names a registry model.
const REGISTRY: &str = "registry:";

/// The reference side and, for a registry model, its id and label columns and its file.
struct Reference {
    side: DriftSide,
    columns: Option<(String, String)>,
    model: Option<std::path::PathBuf>,
}

/// Resolves `registry:<model>` to its training data in the store, or a path to itself.
fn reference(root: &Path, spec: &str) -> Result<Reference> {
    if !spec.starts_with(REGISTRY) {
        return Ok(Reference { side: path_side(root, spec), columns: None, model: None });
    }
    let located = ModelSpec::parse(root, spec).locate()?;
    let model = churnflow_stages::load_model(&located.path)?;
    let hash = model.lineage.training_data_blake3.clone();
    let Ok(path) = Store::new(root).training_data(&model) else {
        return Err(Error::BadInput(format!(
            "the data {} ({spec}) was trained on, object {} in the store, is gone: `churnflow gc` removes \
             objects that no pipeline.lock refers to any more. Get it back by running `churnflow repro` \
             with the pipeline and params that trained it (the split writes it again), or compare \
             against a table you have: `churnflow drift --reference TABLE`",
            located.shown,
            short_hash(&hash)
        )));
    };
    Ok(Reference {
        side: DriftSide {
            path,
            shown: format!(
                "{spec}: the training data of {} (store object {})",
                located.shown,
                short_hash(&hash)
            ),
        },
        columns: Some((model.id_column.clone(), model.label_column.clone())),
        model: Some(located.path.clone()),
    })
}

fn path_side(root: &Path, given: &str) -> DriftSide {
    let p = Path::new(given);
    DriftSide { path: if p.is_absolute() { p.to_path_buf() } else { root.join(p) }, shown: given.to_string() }
}

/// The drift of `current` (a table or a log folder) against `reference` (`registry:<model>`
/// or a table), with the `drift` section of the project's params.yaml. `log_since` (RFC 3339
/// UTC) keeps only the prediction-log lines from then on.
pub(crate) fn drift(
    root: &Path,
    reference_spec: &str,
    current: &str,
    log_since: Option<String>,
) -> Result<DriftReport> {
    let params = Params::load(root).map_err(Error::usage)?;
    let reference = reference(root, reference_spec)?;
    let mut options = DriftOptions {
        params: params.get("drift").cloned().unwrap_or(serde_json::Value::Null),
        log_since,
        reference_model: reference.model,
        ..DriftOptions::default()
    };
    if let Some((id, label)) = reference.columns {
        if !options.id_columns.contains(&id) {
            options.id_columns.push(id);
        }
        options.label_column = label;
    }
    Ok(churnflow_stages::drift_report(&reference.side, &path_side(root, current), &options)?)
}
