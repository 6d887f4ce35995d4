//! Reading what operators have: `helm template` output (multi-document YAML with `# Source:`
//! comments), `kubectl get -o yaml|json` (a `List`), single objects, from files, directories and
//! standard input. Every problem is one error naming the file and the document, so the
//! command can exit 2 with one clear line; nothing here panics on bad input.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use serde_json::Value;

/// The default bound on the input's total size, so that memory stays bounded (the parsed
/// objects take several times the text).
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// The most objects one run reads (a `List` can hold many per document).
pub const MAX_OBJECTS: usize = 200_000;

/// One Kubernetes object of the input, and where it came from.
#[derive(Debug, Clone)]
pub struct Document {
    /// The file as named on the command line (`-` is standard input).
    pub file: String,
    /// The document's number in its file, from 1.
    pub document: usize,
    /// For an item of a `List`, its index in `items`.
    pub item: Option<usize>,
    /// Helm's `# Source:` comment: the template that produced it.
    pub source: Option<String>,
    /// The object.
    pub object: Value,
    /// For a YAML document that is not a `List`: its text, from its `---` line, so that
    /// `--write-fixed` writes what the policy did not change as it was written.
    pub text: Option<String>,
}

impl Document {
    /// `file, document N` (and `item I`): how messages and reports name a document.
    pub fn location(&self) -> String {
        let mut out = format!("{}, document {}", self.file, self.document);
        if let Some(item) = self.item {
            out.push_str(&format!(", item {item}"));
        }
        out
    }
}

/// Reads every argument: `-` is standard input, a directory is read for its `*.yaml`, `*.yml`
/// and `*.json` files (sorted, not recursively), anything else is a file. `max_bytes` bounds the
/// total text read. Every argument must hold at least one object: as `kubectl apply` refuses
/// "no objects passed to apply", an empty render or a mistyped directory must not pass as a
/// release the cluster admits.
pub fn read_all(args: &[String], max_bytes: u64) -> Result<Vec<Document>> {
    let mut documents = Vec::new();
    let mut budget = max_bytes;
    for arg in args {
        let before = documents.len();
        let what = read_one(arg, &mut budget, max_bytes, &mut documents)?;
        if documents.len() == before {
            bail!("{arg}: no objects passed to check: {what} no Kubernetes object");
        }
    }
    Ok(documents)
}

/// Reads one argument into `documents`; returns how the no-object error names it.
fn read_one(
    arg: &str,
    budget: &mut u64,
    max_bytes: u64,
    documents: &mut Vec<Document>,
) -> Result<&'static str> {
    if arg == "-" {
        let text = read_limited(std::io::stdin().lock(), "-", budget, max_bytes)?;
        parse(arg, &text, documents)?;
        return Ok("standard input holds");
    }
    let path = Path::new(arg);
    if !path.is_dir() {
        let text = read_file(path, arg, budget, max_bytes)?;
        parse(arg, &text, documents)?;
        return Ok("the file holds");
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| anyhow!("{arg}: cannot read the directory: {e}"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        })
        .collect();
    if files.is_empty() {
        bail!(
            "{arg}: no objects passed to check: the directory has no *.yaml, *.yml or *.json file"
        );
    }
    files.sort();
    for file in files {
        let name = file.display().to_string();
        let text = read_file(&file, &name, budget, max_bytes)?;
        parse(&name, &text, documents)?;
    }
    Ok("its *.yaml, *.yml and *.json files hold")
}

/// Standard input, whole, within `max_bytes` (the post-renderer's input: Helm's render).
pub fn read_stdin(max_bytes: u64) -> Result<String> {
    let mut budget = max_bytes;
    read_limited(std::io::stdin().lock(), "-", &mut budget, max_bytes)
}

fn read_file(path: &Path, name: &str, budget: &mut u64, max: u64) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| anyhow!("{name}: cannot read: {e}"))?;
    read_limited(file, name, budget, max)
}

fn read_limited(reader: impl Read, name: &str, budget: &mut u64, max: u64) -> Result<String> {
    let mut bytes = Vec::new();
    reader
        .take(budget.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| anyhow!("{name}: cannot read: {e}"))?;
    if bytes.len() as u64 > *budget {
        bail!("{name}: the input is larger than the limit of {max} bytes (--max-input-bytes)");
    }
    *budget -= bytes.len() as u64;
    String::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "{name}: not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Splits a file into its documents and reads each. JSON text (`kubectl get -o json`) is read
/// as one JSON document; YAML is split at its `---` lines (a document marker cannot occur inside
/// YAML content at the start of a line), keeping each document's `# Source:` comment.
pub fn parse(file: &str, text: &str, out: &mut Vec<Document>) -> Result<()> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        // JSON is YAML, but serde_json reads big `kubectl get -o json` dumps much faster; a
        // JSON stream of several objects is accepted too.
        let stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
        for (i, value) in stream.enumerate() {
            let value =
                value.map_err(|e| anyhow!("{file}, document {}: not valid JSON: {e}", i + 1))?;
            add(file, i + 1, None, None, value, out)?;
        }
        return Ok(());
    }
    let mut number = 0;
    for (chunk, after_marker) in split_documents(text) {
        number += 1;
        let source = chunk
            .lines()
            .take_while(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
            .find_map(|l| l.trim_start().strip_prefix("# Source: "))
            .map(|s| s.trim().to_owned());
        let value: Value = match serde_norway::from_str(chunk) {
            Ok(v) => v,
            Err(e) => bail!("{file}, document {number}: not valid YAML: {e}"),
        };
        if value.is_null() {
            continue;
        }
        let mut text = String::from(if after_marker { "---" } else { "---\n" });
        text.push_str(chunk);
        if !text.ends_with('\n') {
            text.push('\n');
        }
        add(file, number, source, Some(text), value, out)?;
    }
    Ok(())
}

/// The documents' texts, each with whether a `---` line (whose rest it starts with) opened it.
fn split_documents(text: &str) -> Vec<(&str, bool)> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut opened = false;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end();
        let marker = bare == "---" || bare.starts_with("--- ") || bare == "...";
        if marker {
            chunks.push((&text[start..at], opened));
            opened = bare != "...";
            start = at + if bare == "..." { line.len() } else { 3 };
        }
        at += line.len();
    }
    chunks.push((&text[start..], opened));
    // The text before a leading `---` is a document only if it holds something.
    if chunks.len() > 1
        && chunks[0]
            .0
            .lines()
            .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        chunks.remove(0);
    }
    chunks
}

fn add(
    file: &str,
    document: usize,
    source: Option<String>,
    text: Option<String>,
    value: Value,
    out: &mut Vec<Document>,
) -> Result<()> {
    let here = Document {
        file: file.to_owned(),
        document,
        item: None,
        source,
        object: Value::Null,
        text: None,
    };
    let Value::Object(map) = &value else {
        bail!(
            "{}: not a Kubernetes object (a {})",
            here.location(),
            type_name(&value)
        );
    };
    let kind = match map.get("kind") {
        Some(Value::String(kind)) if !kind.is_empty() => kind.clone(),
        Some(_) => bail!("{}: `kind` is not a string", here.location()),
        None => bail!("{}: no `kind`", here.location()),
    };
    if kind == "List" || (kind.ends_with("List") && map.contains_key("items")) {
        let items = match map.get("items") {
            Some(Value::Array(items)) => items.clone(),
            Some(Value::Null) | None => Vec::new(),
            Some(_) => {
                bail!("{}: `items` of a {kind} is not a list", here.location());
            }
        };
        for (i, item) in items.into_iter().enumerate() {
            let mut item = item;
            // `kubectl get deployments -o yaml` drops apiVersion/kind from a typed list's items.
            if let (Value::Object(o), Some(single)) = (&mut item, kind.strip_suffix("List"))
                && !single.is_empty()
                && !o.contains_key("kind")
            {
                o.insert("kind".into(), Value::String(single.to_owned()));
            }
            let location = Document {
                item: Some(i),
                ..here.clone()
            };
            check(&location, &item)?;
            push(
                out,
                Document {
                    object: item,
                    ..location
                },
            )?;
        }
        return Ok(());
    }
    check(&here, &value)?;
    push(
        out,
        Document {
            object: value,
            text,
            ..here
        },
    )
}

fn push(out: &mut Vec<Document>, document: Document) -> Result<()> {
    if out.len() >= MAX_OBJECTS {
        bail!(
            "{}: more than {MAX_OBJECTS} objects in the input; check it in parts",
            document.location()
        );
    }
    out.push(document);
    Ok(())
}

/// What every object needs: a kind, and metadata with a name (or generateName).
fn check(at: &Document, object: &Value) -> Result<()> {
    let Value::Object(map) = object else {
        bail!(
            "{}: not a Kubernetes object (a {})",
            at.location(),
            type_name(object)
        );
    };
    match map.get("kind") {
        Some(Value::String(kind)) if !kind.is_empty() => {}
        Some(_) => bail!("{}: `kind` is not a string", at.location()),
        None => bail!("{}: no `kind`", at.location()),
    }
    match map.get("apiVersion") {
        Some(Value::String(_)) => {}
        Some(_) => bail!("{}: `apiVersion` is not a string", at.location()),
        None => bail!("{}: no `apiVersion`", at.location()),
    }
    let Some(Value::Object(metadata)) = map.get("metadata") else {
        bail!("{}: no `metadata` object", at.location());
    };
    let named = |key: &str| matches!(metadata.get(key), Some(Value::String(s)) if !s.is_empty());
    if !named("name") && !named("generateName") {
        bail!(
            "{}: `metadata` has no `name` (nor `generateName`)",
            at.location()
        );
    }
    if let Some(namespace) = metadata.get("namespace")
        && !namespace.is_string()
    {
        bail!("{}: `metadata.namespace` is not a string", at.location());
    }
    Ok(())
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(text: &str) -> Result<Vec<Document>> {
        let mut out = Vec::new();
        parse("in.yaml", text, &mut out)?;
        Ok(out)
    }

    #[test]
    fn helm_template_sources_are_kept() {
        let out = docs("---\n# Source: chart/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n# Source: chart/templates/b.yaml\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n").unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].source.as_deref(), Some("chart/templates/a.yaml"));
        assert_eq!(out[1].source.as_deref(), Some("chart/templates/b.yaml"));
        assert_eq!(out[1].document, 2);
    }

    #[test]
    fn lists_are_expanded() {
        let out = docs(r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}]}"#).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].item, Some(0));
    }

    #[test]
    fn bad_documents_name_file_and_document() {
        let e = docs("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\nkind: [\n").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("in.yaml, document 2: not valid YAML"),
            "{e}"
        );
        let e = docs("---\napiVersion: v1\nmetadata: {name: a}\n").unwrap_err();
        assert_eq!(e.to_string(), "in.yaml, document 1: no `kind`");
        let e = docs("apiVersion: v1\nkind: Pod\n").unwrap_err();
        assert_eq!(e.to_string(), "in.yaml, document 1: no `metadata` object");
        let e = docs("- a\n- b\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "in.yaml, document 1: not a Kubernetes object (a list)"
        );
    }
}
