//! Running stages: the scheduler, child processes, progress lines, and the `__stage`
//! protocol by which this binary runs a built-in kind in a child of itself.
//!
//! * [`scheduler`] — `repro`: decides each stage once its upstream is done (with `plan`),
//!   restores, runs, stores and records it; independent stages in parallel;
//! * [`checkout`] — outs a lock records, put back into the workspace from the store;
//! * [`process`] — one command in its own process group, its output in a log, Ctrl-C;
//! * [`progress`] — the lines `repro` prints while it works;
//! * [`stage_call`] — the whole `__stage` protocol: subcommand name, call file, summary line.
//!
//! `exec` builds on `plan`, `pipeline`, `store` and `remote` (`repro --pull/--push`, per
//! stage); it never imports `cli`, `commands` or `experiments`.
pub(crate) mod checkout;
pub(crate) mod process;
pub(crate) mod progress;
pub(crate) mod scheduler;
pub(crate) mod stage_call;
