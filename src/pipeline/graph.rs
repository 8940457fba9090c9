//! The stage graph: edges from outs to the deps that read them, order, and selection.
//!
//! Stage B depends on stage A when one of B's deps is, or lies inside, one of A's outs.
//! A cycle is an error that names every stage on it.
use crate::error::{Diagnostic, Error, Result};
use crate::pipeline::paths;
use crate::pipeline::resolve::Pipeline;
use crate::pipeline::spec::PIPELINE_FILE;
use petgraph::algo::{kosaraju_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::{Dfs, Reversed};
use petgraph::Direction;

#[derive(Debug, Clone)]
pub struct Graph {
    /// Node weights are indices into `Pipeline::stages`.
    graph: DiGraph<usize, ()>,
    /// Stage indices in an order where every stage comes after its upstream stages.
    order: Vec<usize>,
}

impl Graph {
    pub fn build(pipeline: &Pipeline) -> Result<Graph> {
        let mut graph = DiGraph::new();
        let nodes: Vec<NodeIndex> = (0..pipeline.stages.len()).map(|i| graph.add_node(i)).collect();
        for (consumer, stage) in pipeline.stages.iter().enumerate() {
            for dep in &stage.deps {
                for (producer, other) in pipeline.stages.iter().enumerate() {
                    if producer != consumer
                        && other.outs.iter().any(|o| paths::is_within(&dep.value, &o.path))
                        && !graph.contains_edge(nodes[producer], nodes[consumer])
                    {
                        graph.add_edge(nodes[producer], nodes[consumer], ());
                    }
                }
            }
        }
        let order = match toposort(&graph, None) {
            Ok(order) => order.into_iter().map(|n| graph[n]).collect(),
            Err(_) => return Err(cycle_error(pipeline, &graph)),
        };
        Ok(Graph { graph, order })
    }

    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// Stages that `stage` reads from directly.
    pub fn upstream(&self, stage: usize) -> Vec<usize> {
        let mut up: Vec<usize> = self
            .graph
            .neighbors_directed(NodeIndex::new(stage), Direction::Incoming)
            .map(|n| self.graph[n])
            .collect();
        up.sort_unstable();
        up
    }

    /// Stages that read from `stage` directly.
    pub fn downstream(&self, stage: usize) -> Vec<usize> {
        let mut down: Vec<usize> = self
            .graph
            .neighbors_directed(NodeIndex::new(stage), Direction::Outgoing)
            .map(|n| self.graph[n])
            .collect();
        down.sort_unstable();
        down
    }

    /// `targets` and everything upstream of them (or downstream with `downstream`).
    pub fn closure(&self, targets: &[usize], downstream: bool) -> Vec<bool> {
        let mut keep = vec![false; self.order.len()];
        for &t in targets {
            let start = NodeIndex::new(t);
            if downstream {
                let mut dfs = Dfs::new(&self.graph, start);
                while let Some(n) = dfs.next(&self.graph) {
                    keep[self.graph[n]] = true;
                }
            } else {
                let reversed = Reversed(&self.graph);
                let mut dfs = Dfs::new(reversed, start);
                while let Some(n) = dfs.next(reversed) {
                    keep[self.graph[n]] = true;
                }
            }
        }
        keep
    }

    /// Every edge as (upstream, downstream) stage indices, sorted.
    pub fn edges(&self) -> Vec<(usize, usize)> {
        let mut edges: Vec<(usize, usize)> = self
            .graph
            .edge_indices()
            .filter_map(|e| self.graph.edge_endpoints(e))
            .map(|(a, b)| (self.graph[a], self.graph[b]))
            .collect();
        edges.sort_unstable();
        edges
    }
}

fn cycle_error(pipeline: &Pipeline, graph: &DiGraph<usize, ()>) -> Error {
    // A strongly connected component with more than one node is a cycle; walk it in edge
    // order so the message reads as a path.
    let scc = kosaraju_scc(graph).into_iter().find(|c| c.len() > 1).unwrap_or_default();
    let Some(&start) = scc.iter().min_by_key(|n| graph[**n]) else {
        return Error::usage(Diagnostic::new(PIPELINE_FILE, None, "the stages form a cycle"));
    };
    // Breadth-first from `start` to the first node with an edge back to it: the shortest cycle.
    let mut parent: std::collections::HashMap<NodeIndex, NodeIndex> = Default::default();
    let mut queue = std::collections::VecDeque::from([start]);
    let mut last = start;
    'search: while let Some(n) = queue.pop_front() {
        let mut next: Vec<NodeIndex> =
            graph.neighbors_directed(n, Direction::Outgoing).filter(|m| scc.contains(m)).collect();
        next.sort_by_key(|m| graph[*m]);
        for m in next {
            if m == start {
                last = n;
                break 'search;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(m) {
                e.insert(n);
                queue.push_back(m);
            }
        }
    }
    let mut path = vec![last];
    while let Some(&p) = parent.get(path.last().unwrap_or(&start)) {
        path.push(p);
    }
    if path.last() != Some(&start) {
        path.push(start);
    }
    path.reverse();
    let names: Vec<&str> = path.iter().map(|n| pipeline.stages[graph[*n]].name.as_str()).collect();
    let first = &pipeline.stages[graph[start]];
    Error::usage(
        Diagnostic::new(
            PIPELINE_FILE,
            first.at,
            format!("the stages form a cycle: {} -> {}", names.join(" -> "), names[0]),
        )
        .hint("each stage must only read what stages before it write; break the cycle by removing one of these deps"),
    )
}
