//! Whether a stale stage can be restored from a run record instead of running — decided
//! here and nowhere else (`status`, `repro --dry-run` and the executor all ask).
use crate::pipeline::resolve::Stage;
use crate::store::objects::{RunRecord, Store};

/// The run record of `stage` for `fingerprint`, if the stage may use run records and the
/// store has every object needed to restore each of its outs.
pub(crate) fn run_record(store: &Store, stage: &Stage, fingerprint: &str) -> Option<RunRecord> {
    if !stage.uses_run_records() {
        return None;
    }
    let run = store.read_run(fingerprint)?;
    let complete = stage.outs.iter().all(|o| run.outs.get(&o.path).is_some_and(|r| store.can_restore(r)));
    complete.then_some(run)
}
