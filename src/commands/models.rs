//! `churnflow models list|show|rollback|verify`: the registry's champions and audit log.
use crate::compare::metrics::{metric_cell, DEFAULT_PRECISION};
use crate::error::Result;
use crate::store::objects::Store;
use crate::store::project_lock::ProjectLock;
use crate::store::registry::{EventAction, Registry, RegistryError};
use crate::store::short_hash;
use clap::Subcommand;
use serde_json::json;
use std::path::Path;

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Every registry event, newest last, marking the current champion.
    List {
        /// The events and the champion as JSON (`"schema": 1`).
        #[arg(long)]
        json: bool,
    },
    /// One model: `champion` (default) or a hash prefix.
    Show {
        /// `champion` or a hash prefix from `models list`.
        #[arg(default_value = "champion")]
        name: String,
        /// The model's summary, lineage and events as JSON (`"schema": 1`).
        #[arg(long)]
        json: bool,
    },
    /// Make the previous champion (or --to MODEL) the champion again.
    Rollback {
        /// The model to make champion: a hash prefix from `models list` (default: the
        /// champion before the current one).
        #[arg(long, value_name = "MODEL")]
        to: Option<String>,
        /// Why, for the audit log.
        #[arg(long, default_value = "manual rollback")]
        reason: String,
    },
    /// Check the audit log's hash chain and the stored model files.
    Verify,
}

fn short(h: &Option<String>) -> String {
    h.as_deref().map(short_hash).unwrap_or("-").to_string()
}

pub fn run(root: &Path, command: ModelsCommand) -> Result<u8> {
    match command {
        ModelsCommand::List { json: as_json } => {
            let registry = Registry::load(root)?;
            let champion = registry.champion();
            let events = registry.events();
            if as_json {
                crate::commands::print_json(&json!({"schema": 1, "champion": champion, "events": events}))?;
                return Ok(0);
            }
            if events.is_empty() {
                println!("The registry is empty: no model has been promoted yet.");
                return Ok(0);
            }
            println!(
                "{:>4}  {:<8}  {:<12}  {:<12}  {:<20}  reason",
                "seq", "action", "model", "baseline", "when"
            );
            for e in &events {
                let action = match e.action {
                    EventAction::Promote => "promote",
                    EventAction::Reject => "reject",
                    EventAction::Rollback => "rollback",
                };
                println!(
                    "{:>4}  {:<8}  {:<12}  {:<12}  {:<20}  {}",
                    e.seq,
                    action,
                    short(&e.model),
                    short(&e.baseline),
                    e.when,
                    e.reason
                );
            }
            println!("champion: {}", champion.as_deref().unwrap_or("(none)"));
            Ok(0)
        }
        ModelsCommand::Show { name, json: as_json } => {
            let registry = Registry::load(root)?;
            let hash = registry.resolve(&name)?;
            let events: Vec<_> =
                registry.events().into_iter().filter(|e| e.model.as_deref() == Some(&hash)).collect();
            let path = registry.model_path(&hash);
            let is_champion = registry.champion().as_deref() == Some(hash.as_str());
            if as_json {
                crate::commands::print_json(&json!({
                    "schema": 1, "model": hash, "champion": is_champion,
                    "file": path.as_ref().map(|p| p.strip_prefix(root).unwrap_or(p).display().to_string()),
                    "events": events,
                }))?;
                return Ok(0);
            }
            println!("model:    {hash}{}", if is_champion { "  (champion)" } else { "" });
            if let Some(p) = &path {
                println!("file:     {}", p.strip_prefix(root).unwrap_or(p).display());
            }
            for e in &events {
                println!("event {}: {:?} at {} by {}: {}", e.seq, e.action, e.when, e.who, e.reason);
                if let Some(m) = e.metrics.as_object() {
                    let keys = ["auc_roc", "pr_auc", "recall", "precision", "log_loss"];
                    let shown: Vec<String> = keys
                        .iter()
                        .filter_map(|k| {
                            let v = m.get(*k)?;
                            Some(format!("{k}={}", metric_cell(Some(v), DEFAULT_PRECISION)))
                        })
                        .collect();
                    if !shown.is_empty() {
                        println!("    {}", shown.join(" "));
                    }
                }
            }
            Ok(0)
        }
        ModelsCommand::Rollback { to, reason } => {
            let _lock = ProjectLock::acquire(Store::new(root).dir())?;
            let registry = Registry::load(root)?;
            let event = registry.rollback(to.as_deref(), &reason)?;
            println!(
                "champion is now {} (was {}); recorded as event {}",
                short(&event.model),
                short(&event.baseline),
                event.seq
            );
            Ok(0)
        }
        ModelsCommand::Verify => {
            let registry = Registry::load(root)?;
            match registry.verify() {
                Ok(n) => {
                    println!("registry OK: {n} event(s), hash chain intact, model files match");
                    Ok(0)
                }
                Err(e) => Err(RegistryError::VerifyFailed(e).into()),
            }
        }
    }
}
