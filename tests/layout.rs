//! docs/development.md's Layout table held against the tree, so that it cannot drift into a
//! hand-kept list of files that no longer exist: every file or folder it names exists, and every
//! workspace crate, every module file and module folder of a crate's `src/` is named in it.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The extensions of the file names the table names; other backquoted words are identifiers,
/// commands or settings.
const FILE_EXTENSIONS: [&str; 9] = [
    "rs", "yml", "yaml", "py", "sh", "json", "md", "toml", "wasm",
];

/// A crate's entry points, which its row names as the crate itself.
const ENTRY_POINTS: [&str; 2] = ["lib.rs", "main.rs"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Layout table's rows: the first cell, and every backquoted word of the row.
fn rows() -> Vec<(Vec<String>, Vec<String>)> {
    let text = fs::read_to_string(root().join("docs/development.md")).expect("docs/development.md");
    let section = text
        .split("\n## Layout\n")
        .nth(1)
        .expect("docs/development.md has a ## Layout section");
    let section = section.split("\n## ").next().unwrap_or_default();
    section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let first = line.split(" | ").next().unwrap_or_default();
            (backquoted(first), backquoted(line))
        })
        .collect()
}

fn backquoted(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// Whether a backquoted word is a path: no spaces, and a folder (`x/`) or a file with one of
/// [`FILE_EXTENSIONS`].
fn is_path(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "./_-".contains(c))
        && (word.ends_with('/')
            || word
                .rsplit_once('.')
                .is_some_and(|(_, ext)| FILE_EXTENSIONS.contains(&ext)))
}

/// Where a word of a row may point: from the root, or from the folders the row's first cell
/// names (and their crate's `src/`), as a crate's row names its own modules by file name.
fn candidates(word: &str, bases: &[String]) -> Vec<PathBuf> {
    let root = root();
    let mut out = vec![root.join(word)];
    for base in bases.iter().filter(|b| b.ends_with('/')) {
        let krate = base.split('/').next().unwrap_or_default();
        for dir in [
            base.as_str(),
            &format!("{krate}/"),
            &format!("{krate}/src/"),
        ] {
            out.push(root.join(dir).join(word));
        }
    }
    out
}

/// Every path the table names, resolved, and the words that resolve to nothing.
fn named() -> (BTreeSet<PathBuf>, Vec<String>) {
    let mut found = BTreeSet::new();
    let mut missing = Vec::new();
    for (first, words) in rows() {
        for word in words.iter().filter(|w| is_path(w)) {
            let hits: Vec<PathBuf> = candidates(word, &first)
                .into_iter()
                .filter(|p| p.exists())
                .collect();
            if hits.is_empty() {
                missing.push(word.clone());
            }
            found.extend(hits.into_iter().filter_map(|p| p.canonicalize().ok()));
        }
    }
    (found, missing)
}

/// The workspace's members, from the root Cargo.toml.
fn members() -> Vec<String> {
    let text = fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml");
    let list = text
        .split("members = [")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .expect("Cargo.toml has workspace members");
    list.split(',')
        .map(|m| m.trim().trim_matches('"').to_owned())
        .filter(|m| !m.is_empty() && m != ".")
        .collect()
}

/// Whether a folder holds only a module's unit tests (`evaluate/tests.rs`), which belong to the
/// module the table names.
fn tests_only(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .all(|e| e.file_name() == "tests.rs")
    })
}

/// A crate's module files and module folders directly in its `src/`, entry points and unit-test
/// folders left out.
fn modules(src: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(src) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            (p.is_dir() && !tests_only(p))
                || (name.ends_with(".rs") && !ENTRY_POINTS.contains(&name))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_path_the_layout_names_exists() {
    let (_, missing) = named();
    assert!(
        missing.is_empty(),
        "docs/development.md's Layout names what the tree does not have: {missing:?}"
    );
}

#[test]
fn the_layout_names_every_crate_and_module() {
    let (found, _) = named();
    let root = root();
    let mut unnamed = Vec::new();
    let is_named = |path: &Path| path.canonicalize().is_ok_and(|real| found.contains(&real));
    let mut expect = |path: PathBuf, named: bool| {
        if !named {
            unnamed.push(
                path.strip_prefix(&root)
                    .unwrap_or(&path)
                    .display()
                    .to_string(),
            );
        }
    };
    for member in members() {
        // A crate is named by its folder or by its src/.
        let dir = root.join(&member);
        let named = is_named(&dir) || is_named(&dir.join("src"));
        expect(dir, named);
    }
    for src in std::iter::once(root.join("src"))
        .chain(members().iter().map(|m| root.join(m).join("src")))
        .collect::<Vec<_>>()
    {
        for module in modules(&src) {
            let named = is_named(&module);
            expect(module, named);
        }
    }
    assert!(
        unnamed.is_empty(),
        "docs/development.md's Layout does not name these crates or modules: {unnamed:?}"
    );
}

#[test]
fn the_reading_of_the_table_is_not_vacuous() {
    // A table the reader failed to find would pass both tests above with nothing named.
    let (found, _) = named();
    assert!(found.contains(&root().join("src/evaluate.rs").canonicalize().unwrap()));
    assert!(found.len() > 40, "{found:?}");
    assert!(is_path("policy-host/src/") && is_path("cases.yaml") && !is_path("make check"));
    assert!(!is_path("io.kubewarden.metadata"));
}
