//! The crate's modules import one another without a cycle: each module can be read, tested and
//! changed knowing only those below it (settings are built from the role definitions, role
//! detection reads the settings, the rules use detection, messages render the rules' findings).
//! Read from the source text, so a new `use crate::` that closes a circle fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The top-level modules of `src/` (a file, or a folder with its submodules and tests) and the
/// other top-level modules each one names as `crate::module`, in code and tests alike.
fn graph(src: &Path) -> Graph {
    let mut files: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in std::fs::read_dir(src).expect("src/ is readable") {
        let path = entry.expect("a directory entry").path();
        let name = path
            .file_stem()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        if path.is_dir() {
            let texts = files.entry(name).or_default();
            let mut dirs = vec![path];
            while let Some(dir) = dirs.pop() {
                for e in std::fs::read_dir(dir).expect("readable") {
                    let p = e.expect("a directory entry").path();
                    if p.is_dir() {
                        dirs.push(p);
                    } else if p.extension().is_some_and(|x| x == "rs") {
                        texts.push(std::fs::read_to_string(p).expect("readable"));
                    }
                }
            }
        } else if path.extension().is_some_and(|x| x == "rs") && name != "lib" {
            let text = std::fs::read_to_string(&path).expect("readable");
            files.entry(name).or_default().push(text);
        }
    }
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    let mut graph = Graph::new();
    for (module, texts) in &files {
        let uses = graph.entry(module.clone()).or_default();
        for line in texts.iter().flat_map(|t| t.lines()) {
            // Comments name modules without importing them.
            if line.trim_start().starts_with("//") {
                continue;
            }
            for after in line.split("crate::").skip(1) {
                uses.extend(named(after).into_iter().filter(|m| modules.contains(m)));
            }
        }
        uses.remove(module);
    }
    graph
}

/// The modules at the head of a path after `crate::`: `kinds::X` or `{json, kinds::X}`.
fn named(after: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let Some(group) = after.strip_prefix('{') else {
        return vec![ident(after)];
    };
    let (mut depth, mut heads, mut start) = (0, Vec::new(), 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                heads.push(ident(&group[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    heads.push(ident(&group[start..]));
    heads
}

/// A cycle of imports, as the modules along it, if there is one.
fn cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        graph: &Graph,
        m: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == m) {
            let mut found = path[at..].to_vec();
            found.push(m.to_owned());
            return Some(found);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_owned());
        for next in graph.get(m).into_iter().flatten() {
            if let Some(found) = visit(graph, next, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(m.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|m| visit(graph, m, &mut Vec::new(), &mut done))
}

#[test]
fn the_modules_import_one_another_without_a_cycle() {
    let graph = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    // The reading sees the imports it must: a reader that saw none would find no cycle.
    assert!(graph["settings"].contains("roles"), "{graph:?}");
    assert!(graph["detection"].contains("settings"), "{graph:?}");
    assert_eq!(cycle(&graph), None, "{graph:?}");
}

#[test]
fn a_cycle_is_found_and_grouped_imports_are_read() {
    let mut graph = Graph::new();
    for (m, line) in [
        ("a", "use crate::{b::X, c};"),
        ("b", "use crate::c::{self, Y};"),
        ("c", "let _ = crate::a::z();"),
        ("d", "use crate::a;"),
    ] {
        let mut after = line.split("crate::");
        after.next();
        graph.insert(m.into(), after.flat_map(named).collect());
    }
    assert_eq!(graph["a"], BTreeSet::from(["b".into(), "c".into()]));
    assert_eq!(
        cycle(&graph),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    graph.get_mut("c").expect("c").clear();
    assert_eq!(cycle(&graph), None);
}
