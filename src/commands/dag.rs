//! `churnflow dag`: the stage graph as text, Graphviz dot, Mermaid or JSON.
use crate::error::Result;
use crate::pipeline::graph::Graph;
use crate::pipeline::resolve::Pipeline;
use clap::Args;
use serde_json::json;
use std::path::Path;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  churnflow dag\n  churnflow dag --mermaid >> README.md\n  churnflow dag --dot | dot -Tsvg > dag.svg"
)]
pub struct DagArgs {
    /// Graphviz DOT (`churnflow dag --dot | dot -Tsvg > dag.svg`).
    #[arg(long, group = "format")]
    pub dot: bool,
    /// A Mermaid flowchart (renders in GitHub Markdown).
    #[arg(long, group = "format")]
    pub mermaid: bool,
    /// Stages, their deps, outs and edges as JSON (`"schema": 1`).
    #[arg(long, group = "format")]
    pub json: bool,
}

pub fn run(root: &Path, args: &DagArgs) -> Result<u8> {
    let pipeline = Pipeline::load(root)?;
    let graph = Graph::build(&pipeline)?;
    let name = |i: usize| pipeline.stages[i].name.as_str();
    if args.json {
        let stages: Vec<serde_json::Value> = graph
            .order()
            .iter()
            .map(|&i| {
                let s = &pipeline.stages[i];
                json!({
                    "name": s.name,
                    "action": s.action_text(),
                    "deps": s.deps.iter().map(|d| d.value.clone()).collect::<Vec<_>>(),
                    "outs": s.outs.iter().map(|o| o.path.clone()).collect::<Vec<_>>(),
                    "upstream": graph.upstream(i).into_iter().map(|u| name(u).to_string()).collect::<Vec<_>>(),
                })
            })
            .collect();
        let edges: Vec<[&str; 2]> = graph.edges().into_iter().map(|(a, b)| [name(a), name(b)]).collect();
        crate::commands::print_json(&json!({"schema": 1, "stages": stages, "edges": edges}))?;
    } else if args.dot {
        println!("digraph pipeline {{");
        println!("  rankdir=LR;");
        for &i in graph.order() {
            println!("  \"{}\";", name(i));
        }
        for (a, b) in graph.edges() {
            println!("  \"{}\" -> \"{}\";", name(a), name(b));
        }
        println!("}}");
    } else if args.mermaid {
        println!("flowchart LR");
        for &i in graph.order() {
            println!("  {}[\"{}\"]", mermaid_id(name(i)), name(i));
        }
        for (a, b) in graph.edges() {
            println!("  {} --> {}", mermaid_id(name(a)), mermaid_id(name(b)));
        }
    } else {
        let width = pipeline.stages.iter().map(|s| s.name.len()).max().unwrap_or(0);
        for &i in graph.order() {
            let up: Vec<&str> = graph.upstream(i).into_iter().map(name).collect();
            if up.is_empty() {
                println!("{}", name(i));
            } else {
                println!("{:width$}  <- {}", name(i), up.join(", "));
            }
        }
    }
    Ok(0)
}

fn mermaid_id(name: &str) -> String {
    name.replace('-', "_")
}
