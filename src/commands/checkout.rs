//! `churnflow checkout`: put the outs recorded in pipeline.lock back into the workspace.
use crate::error::Result;
use crate::exec::checkout::checkout;
use std::path::Path;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  churnflow checkout          # every out recorded in pipeline.lock\n  churnflow checkout train    # only the outs of `train`"
)]
pub struct CheckoutArgs {
    /// Only these stages (default: all).
    pub stages: Vec<String>,
}

pub fn run(root: &Path, args: &CheckoutArgs) -> Result<u8> {
    checkout(root, &args.stages)?;
    Ok(0)
}
