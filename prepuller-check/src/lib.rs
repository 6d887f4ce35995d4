//! `prepuller-check`: what the prepuller policy does to a JupyterHub release, offline, with the
//! real module. Every object of a `helm template` output or a `kubectl get` dump is sent through
//! the compiled module as the API server sends it, in the runtime stack policy-server uses
//! (policy-host: waPC over wasmtime, the module compiled once), with the scope of the policy
//! resource; then what its controllers derive from it. docs/check.md is the reference.

#![warn(missing_docs)]

pub mod accounts;
pub mod advice;
pub mod changes;
pub mod check;
mod derive;
mod fixed;
pub mod helm;
pub mod input;
pub mod kube;
pub mod model;
pub mod policyreport;
pub mod postrender;
pub mod report;
pub mod scaffold;
pub mod scope;
pub mod server;
mod stored;

use std::path::{Path, PathBuf};

use anstream::{AutoStream, ColorChoice};
use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use policy_artifact::Metadata;
use policy_artifact::oci::{self, Transport};
use policy_host::Policy;
use serde_json::Value;

use crate::check::{Checker, Options};
use crate::scope::{PolicyMode, Scope};

/// The output forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// For people.
    Text,
    /// For tools: every object, the summary and the exit status.
    Json,
    /// JUnit XML, for CI systems: one test case per object.
    Junit,
    /// The reports Kubewarden's audit scanner would write, as YAML (`--report-kind`).
    Policyreport,
}

/// When to colour the text report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Colour {
    /// As anstream decides for standard output: on a terminal, unless NO_COLOR is set (or
    /// CLICOLOR=0); CLICOLOR_FORCE colours when it is not a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl Colour {
    /// The styled text as standard output gets it: kept, or stripped of its styles, as anstream
    /// decides for `--color` (auto: terminal, NO_COLOR, CLICOLOR, CLICOLOR_FORCE).
    fn apply(self, styled: String) -> String {
        let choice = match self {
            Colour::Auto => ColorChoice::Auto,
            Colour::Always => ColorChoice::AlwaysAnsi,
            Colour::Never => ColorChoice::Never,
        };
        match AutoStream::new(std::io::stdout(), choice).current_choice() {
            ColorChoice::Never => anstream::adapter::strip_str(&styled).to_string(),
            _ => styled,
        }
    }
}

/// The command line.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "prepuller-check",
    version,
    about = "What the prepuller ServiceAccount policy would do to a JupyterHub release: every \
             object through the compiled module, offline.",
    after_help = "Exit status: 0 when the cluster would admit everything (mutations allowed), 1 \
                  when anything would be rejected (or mutated, with --fail-on-mutate), 2 for \
                  unusable input, settings or module. Reference: docs/check.md.",
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// A subcommand instead of the check.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Files, directories (their *.yaml, *.yml, *.json) or `-` for standard input: `helm
    /// template` output, `kubectl get -o yaml|json`, single objects.
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// The module, policy, settings and existing ServiceAccounts.
    #[command(flatten)]
    pub policy_args: PolicyArgs,
    /// The namespace of objects without one (as `helm template -n` / `kubectl apply -n`).
    #[arg(short, long, default_value = "default")]
    pub namespace: String,
    /// The user the CREATE requests name.
    #[arg(long, default_value = "kubernetes-admin")]
    pub user: String,
    /// Treat every object as already stored: also show the audit scanner's verdict and the
    /// next UPDATE of its pod template.
    #[arg(long)]
    pub as_audit: bool,
    /// The report's form.
    #[arg(long, value_enum, default_value = "text")]
    pub output: Output,
    /// The report CRDs of `--output policyreport`, as the audit scanner's `--report-kind`.
    #[arg(long, value_enum, default_value = "openreports")]
    pub report_kind: policyreport::ReportKind,
    /// Colour in the text report.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: Colour,
    /// Fail (exit 1) when anything would be mutated.
    #[arg(long)]
    pub fail_on_mutate: bool,
    /// Write every input document, mutated ones as admitted, as YAML into this directory.
    #[arg(long, value_name = "DIR")]
    pub write_fixed: Option<PathBuf>,
    /// The most input read, in bytes.
    #[arg(long, default_value_t = input::DEFAULT_MAX_BYTES)]
    pub max_input_bytes: u64,
    /// Print the objects checked per second to standard error (the benchmark).
    #[arg(long)]
    pub stats: bool,
}

/// What the check judges with, the same options for the check and `post-render`: the module,
/// the policy resource or settings, and the ServiceAccounts the cluster already has.
#[derive(Debug, Clone, clap::Args)]
pub struct PolicyArgs {
    /// The policy module: a file, or `registry://HOST/PATH:TAG` pulled as `kwctl pull` does.
    #[arg(long, default_value = "annotated-policy.wasm")]
    pub module: String,
    /// A ClusterAdmissionPolicy or AdmissionPolicy (as in manifests/): its settings, rules,
    /// namespaceSelector, objectSelector, mode and mutating.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Settings as YAML or JSON, instead of the policy resource's.
    #[arg(long, conflicts_with = "settings_json")]
    pub settings: Option<PathBuf>,
    /// Settings as JSON text.
    #[arg(long)]
    pub settings_json: Option<String>,
    /// A ServiceAccount the cluster already has, `NAMESPACE/NAME` (repeatable).
    #[arg(long = "existing-serviceaccount", value_name = "NS/NAME")]
    pub existing_serviceaccounts: Vec<String>,
}

/// The subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Write the ClusterAdmissionPolicy (or AdmissionPolicy) for a release, from its objects.
    Scaffold(scaffold::Args),
    /// Helm's post-renderer: the release on standard input, the manifests as admitted on
    /// standard output, the report on standard error; exit 1 when the cluster would refuse
    /// something.
    PostRender(postrender::Args),
}

/// A compiled module and what its metadata says.
pub struct Module {
    /// Compiled as policy-server compiles it.
    pub policy: Policy,
    /// Its `io.kubewarden.metadata`, when annotated.
    pub metadata: Option<Metadata>,
    /// How the report names it (a pulled module with its digest).
    pub label: String,
}

impl Module {
    /// Loads a file or pulls a `registry://` reference.
    pub fn load(spec: &str) -> Result<Module> {
        let (bytes, label) = if spec.starts_with("registry://") {
            let reference = oci::parse_reference(spec)?;
            let pulled = oci::pull(&reference, Transport::from_env(), None)?;
            let label = format!("{spec} ({})", pulled.digest);
            (pulled.module, label)
        } else {
            let bytes = std::fs::read(spec).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound && spec == "annotated-policy.wasm" {
                    anyhow::anyhow!(
                        "annotated-policy.wasm: not found in the current directory: build it \
                         with `make annotated-policy.wasm`, or name the module with --module \
                         (a file or registry://HOST/PATH:TAG)"
                    )
                } else {
                    anyhow::anyhow!("{spec}: cannot read: {e}")
                }
            })?;
            (bytes, spec.to_owned())
        };
        ensure_webassembly(&bytes, &label)?;
        let metadata = Metadata::of_module(&bytes).with_context(|| label.clone())?;
        let policy = Policy::policy_server(&bytes).with_context(|| label.clone())?;
        Ok(Module {
            policy,
            metadata,
            label,
        })
    }
}

/// One line for a file that is no module at all, rather than the WebAssembly reader's
/// multi-line dump of the bytes it expected and found.
fn ensure_webassembly(bytes: &[u8], label: &str) -> Result<()> {
    if !bytes.starts_with(b"\0asm") {
        bail!("{label}: not a WebAssembly module (it does not start with \\0asm)");
    }
    Ok(())
}

/// What a run produced: the report's text and the exit status.
#[derive(Debug)]
pub struct RunResult {
    /// The report, in the chosen form.
    pub output: String,
    /// 0, 1 or 2.
    pub exit: u8,
    /// How many objects were checked, for `--stats`.
    pub objects: usize,
}

/// Errors of this kind are the user's (exit 2); the message is the whole line.
pub fn run(cli: &Cli, module: &Module) -> Result<RunResult> {
    let (scope, existing) = prepare(cli, module)?;
    let documents = input::read_all(&cli.inputs, cli.max_input_bytes)?;
    Ok(check_documents(cli, module, &scope, &documents, existing)?.0)
}

/// The scope with settings the module accepts (as policy-server checks them at start-up), and
/// the ServiceAccounts the cluster already has: what every check needs before its input.
fn prepare(cli: &Cli, module: &Module) -> Result<(Scope, Vec<(String, String)>)> {
    let scope = load_scope(cli, module)?;
    if let Some(problem) = server::validate_settings(&module.policy, &scope.settings)? {
        bail!("the settings are not valid: {problem}");
    }
    let existing = existing_service_accounts(&cli.policy_args.existing_serviceaccounts)?;
    Ok((scope, existing))
}

/// The check of documents already read: the report in the chosen form, and the report itself
/// (for the post-renderer, which writes the documents as admitted).
fn check_documents(
    cli: &Cli,
    module: &Module,
    scope: &Scope,
    documents: &[input::Document],
    existing: Vec<(String, String)>,
) -> Result<(RunResult, model::Report)> {
    let options = Options {
        namespace: cli.namespace.clone(),
        user: cli.user.clone(),
        existing_service_accounts: existing,
        as_audit: cli.as_audit,
    };
    let report = Checker::new(&module.policy, scope, &options).check(documents)?;
    let outcome = report::outcome(&report, scope.policy_mode, cli.fail_on_mutate);
    if let Some(dir) = &cli.write_fixed {
        write_fixed(dir, documents, &report)?;
    }
    let header = format!(
        "prepuller-check: module {}; policy {} (spec.mode: {}, spec.mutating: {}); settings {}",
        module.label,
        scope.policy_id,
        match scope.policy_mode {
            PolicyMode::Protect => "protect",
            PolicyMode::Monitor => "monitor",
        },
        scope.mutating,
        serde_json::to_string(&scope.settings)?
    );
    let output = match cli.output {
        Output::Text => {
            cli.color
                .apply(report::text(&report, &header, &outcome, scope.policy_mode))
        }
        Output::Json => report::json(&report, &outcome, scope.policy_mode)? + "\n",
        Output::Junit => report::junit(&report, &outcome, scope.policy_mode)?,
        Output::Policyreport => policyreport::yaml(
            &report,
            documents,
            &module.policy,
            scope,
            &options,
            cli.policy_args.policy.as_deref(),
            cli.report_kind,
        )?,
    };
    let result = RunResult {
        output,
        exit: outcome.exit,
        objects: report.objects.len(),
    };
    Ok((result, report))
}

/// `--existing-serviceaccount NS/NAME` arguments, checked.
fn existing_service_accounts(arguments: &[String]) -> Result<Vec<(String, String)>> {
    let mut existing = Vec::new();
    for sa in arguments {
        match sa.split_once('/') {
            Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
                existing.push((ns.to_owned(), name.to_owned()))
            }
            _ => bail!("--existing-serviceaccount {sa:?} is not NAMESPACE/NAME"),
        }
    }
    Ok(existing)
}

fn load_scope(cli: &Cli, module: &Module) -> Result<Scope> {
    let mut scope = match &cli.policy_args.policy {
        Some(path) => Scope::from_policy_file(path, module.metadata.as_ref(), &cli.namespace)?,
        None => Scope::from_module(module.metadata.as_ref()),
    };
    if let Some(path) = &cli.policy_args.settings {
        scope.settings = policy_host::read_settings(path)?;
    }
    if let Some(text) = &cli.policy_args.settings_json {
        let value: Value = serde_json::from_str(text).context("--settings-json is not JSON")?;
        scope.settings = if value.is_null() {
            serde_json::json!({})
        } else {
            value
        };
    }
    Ok(scope)
}

/// `--write-fixed`: each input file's documents, with the policy's changes and nothing else,
/// under its own name in `dir` (JSON as YAML, standard input as `stdin.yaml`). Inputs of the
/// same name from different folders keep as much of their path as tells them apart.
fn write_fixed(dir: &Path, documents: &[input::Document], report: &model::Report) -> Result<()> {
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    let names = fixed_names(documents)?;
    for (document, object) in documents.iter().zip(&report.objects) {
        let name = &names[&document.file];
        let text = match (&document.text, &object.fixed) {
            (Some(text), None) => text.clone(),
            (Some(text), Some(fixed)) => match edited(text, &document.object, fixed) {
                Some(edited) => edited,
                None => as_yaml(document, fixed)?,
            },
            (None, fixed) => as_yaml(document, fixed.as_ref().unwrap_or(&document.object))?,
        };
        match files.iter_mut().find(|(n, _)| n == name) {
            Some((_, body)) => body.push_str(&text),
            None => files.push((name.clone(), text)),
        }
    }
    for (name, body) in files {
        let path = dir.join(&name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("{}: cannot create", parent.display()))?;
        }
        std::fs::write(&path, body).with_context(|| format!("{}: cannot write", path.display()))?;
    }
    Ok(())
}

/// A document written anew: its `# Source:` and the object as YAML (keys in alphabetical
/// order), for JSON input and what [`edited`] cannot edit.
pub(crate) fn as_yaml(document: &input::Document, object: &Value) -> Result<String> {
    let mut text = String::from("---\n");
    if let Some(source) = &document.source {
        text.push_str(&format!("# Source: {source}\n"));
    }
    text.push_str(&serde_norway::to_string(object)?);
    Ok(text)
}

/// A YAML document with the policy's changes made in place: its leading comments kept, its
/// keys in their order; `None` when that cannot give exactly `fixed` (tags, keys that are not
/// strings), for [`as_yaml`] to write it anew.
pub(crate) fn edited(text: &str, original: &Value, fixed: &Value) -> Option<String> {
    use json_patch::PatchOperation as Op;
    use serde_norway::Value as Yaml;
    let body_at = text
        .split_inclusive('\n')
        .take_while(|l| {
            let l = l.trim();
            l.is_empty() || l.starts_with('#') || l == "---"
        })
        .map(str::len)
        .sum::<usize>();
    let mut yaml: Yaml = serde_norway::from_str(text.get(3..)?).ok()?;
    for op in json_patch::diff(original, fixed).0 {
        let (path, value) = match &op {
            Op::Add(a) => (&a.path, Some(&a.value)),
            Op::Replace(r) => (&r.path, Some(&r.value)),
            Op::Remove(r) => (&r.path, None),
            _ => return None,
        };
        let tokens: Vec<String> = path
            .to_string()
            .split('/')
            .skip(1)
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        let (last, parents) = tokens.split_last()?;
        let mut at = &mut yaml;
        for token in parents {
            at = match at {
                Yaml::Mapping(m) => m.get_mut(token.as_str())?,
                Yaml::Sequence(s) => s.get_mut(token.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        let value = value.map(serde_norway::to_value).transpose().ok()?;
        match (at, value) {
            (Yaml::Mapping(m), Some(value)) => match m.get_mut(last.as_str()) {
                Some(slot) => *slot = value,
                None => {
                    m.insert(Yaml::String(last.clone()), value);
                }
            },
            (Yaml::Mapping(m), None) => {
                m.shift_remove(last.as_str())?;
            }
            (Yaml::Sequence(s), value) => {
                let index = if last == "-" {
                    s.len()
                } else {
                    last.parse::<usize>().ok()?
                };
                match (&op, value) {
                    (Op::Add(_), Some(value)) if index <= s.len() => s.insert(index, value),
                    (Op::Replace(_), Some(value)) => *s.get_mut(index)? = value,
                    (Op::Remove(_), None) if index < s.len() => {
                        s.remove(index);
                    }
                    _ => return None,
                }
            }
            _ => return None,
        }
    }
    if serde_json::to_value(&yaml).ok()? != *fixed {
        return None;
    }
    let mut out = text[..body_at].to_owned();
    if !out.starts_with("---") {
        return None;
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&serde_norway::to_string(&yaml).ok()?);
    Some(out)
}

/// The file each input is written to under `--write-fixed`'s directory: its name (`.json` as
/// `.yaml`, `-` as `stdin.yaml`), with as many of its folders as it takes for no two inputs to
/// share a file.
fn fixed_names(
    documents: &[input::Document],
) -> Result<std::collections::BTreeMap<String, PathBuf>> {
    use std::path::Component;
    let mut inputs: Vec<&str> = Vec::new();
    for d in documents {
        if !inputs.contains(&d.file.as_str()) {
            inputs.push(&d.file);
        }
    }
    // Each input's path components, its file name last, as written under the directory.
    let parts: Vec<Vec<String>> = inputs
        .iter()
        .map(|file| {
            if *file == "-" {
                return vec!["stdin.yaml".to_owned()];
            }
            let mut parts: Vec<String> = Path::new(file)
                .components()
                .filter_map(|c| match c {
                    Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
                    _ => None,
                })
                .collect();
            match parts.last_mut() {
                Some(last) => {
                    if let Some(stem) = last.strip_suffix(".json") {
                        *last = format!("{stem}.yaml");
                    }
                }
                None => parts.push("input.yaml".to_owned()),
            }
            parts
        })
        .collect();
    let suffix = |parts: &[String], n: usize| parts[parts.len().saturating_sub(n)..].to_vec();
    let mut depth = vec![1; inputs.len()];
    loop {
        let names: Vec<Vec<String>> = parts
            .iter()
            .zip(&depth)
            .map(|(p, n)| suffix(p, *n))
            .collect();
        let mut grew = false;
        for i in 0..inputs.len() {
            let clash = (0..inputs.len()).any(|j| j != i && names[j] == names[i]);
            if clash && depth[i] < parts[i].len() {
                depth[i] += 1;
                grew = true;
            }
        }
        if !grew {
            for i in 0..inputs.len() {
                if let Some(j) = (0..inputs.len()).find(|j| *j != i && names[*j] == names[i]) {
                    bail!(
                        "--write-fixed: {} and {} would both be written to {}: rename one",
                        inputs[i],
                        inputs[j],
                        names[i].join("/")
                    );
                }
            }
            return Ok(inputs
                .iter()
                .zip(names)
                .map(|(file, name)| (file.to_string(), name.iter().collect()))
                .collect());
        }
    }
}
