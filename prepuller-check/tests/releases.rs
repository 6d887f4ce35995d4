//! prepuller-check end to end on the compiled module (`make policy.wasm`, or `$POLICY_WASM`),
//! compiled once for the whole suite, against the Zero to JupyterHub releases rendered by Helm
//! in test_data/releases/. Reports are compared exactly with tests/expected/ (set
//! `UPDATE_EXPECTED=1` to rewrite them, then review the diff); exit statuses are asserted.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use clap::Parser as _;
use policy_host::{Policy, policy_path, workspace_root};
use prepuller_check::{Cli, Module, run, scope::ModuleMetadata};

fn module() -> &'static Module {
    static MODULE: OnceLock<Module> = OnceLock::new();
    MODULE.get_or_init(|| {
        let path = policy_path();
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run `make policy.wasm`)", path.display()));
        Module {
            policy: Policy::policy_server(&bytes).expect("the module compiles"),
            metadata: ModuleMetadata::of_module(&bytes).expect("metadata readable"),
            // A fixed label, so reports do not depend on where the module was built.
            label: "policy.wasm".into(),
        }
    })
}

fn root() -> PathBuf {
    workspace_root()
}

/// Runs the command line `args` (relative paths from the workspace root) on the shared module.
fn check(args: &[&str]) -> (String, u8) {
    std::env::set_current_dir(root()).expect("workspace root");
    let mut argv = vec!["prepuller-check", "--color", "never"];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(&argv).expect("valid command line");
    match run(&cli, module()) {
        Ok(result) => (result.output, result.exit),
        Err(e) => (format!("error: {e:#}\n"), 2),
    }
}

fn expect(name: &str, actual: &str) {
    let path = root().join("prepuller-check/tests/expected").join(name);
    if std::env::var_os("UPDATE_EXPECTED").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_EXPECTED=1 writes it)", path.display()));
    if expected != actual {
        panic!(
            "{name}: the report differs from {}\n--- actual ---\n{actual}",
            path.display()
        );
    }
}

/// Checks release `name` in namespace jhub with `args`: the report must be `expected` (a file
/// of tests/expected) and the exit status `exit`.
fn check_release(name: &str, args: &[&str], expected: &str, exit: u8) -> String {
    let file = release(name);
    let mut argv = vec![file.as_str(), "-n", "jhub"];
    argv.extend_from_slice(args);
    let (report, status) = check(&argv);
    expect(expected, &report);
    assert_eq!(status, exit, "{name} {args:?}\n{report}");
    report
}

fn release(name: &str) -> String {
    format!("test_data/releases/{name}.yaml")
}

const RELEASES: &[&str] = &[
    "z2jh-3.3.8-default",
    "z2jh-4.0.0-default",
    "z2jh-4.0.0-fullnameoverride",
    "z2jh-4.0.0-custom-sa",
    "z2jh-4.0.0-no-continuous",
    "z2jh-4.0.0-autohttps",
    "z2jh-4.1.0-default",
    "z2jh-4.1.0-custom-sa",
    "z2jh-4.4.0-default",
    "z2jh-4.4.0-fullnameoverride",
    "z2jh-4.4.0-custom-sa",
    "z2jh-4.4.0-no-continuous",
    "z2jh-4.4.0-autohttps",
];

/// The README's settings for a release's shape: the prefixed names of `fullnameOverride`, the
/// names set in the chart's values.
fn shape_settings(release: &str) -> &'static str {
    if release.ends_with("fullnameoverride") {
        r#"{"hookPuller":{"serviceAccountName":"myhub-hook-image-puller"},"continuousPuller":{"serviceAccountName":"myhub-continuous-image-puller"},"awaiter":{"serviceAccountName":"myhub-hook-image-awaiter"}}"#
    } else if release.ends_with("custom-sa") && !release.contains("4.0.0") {
        r#"{"hookPuller":{"serviceAccountName":"jhub-hook-puller"},"continuousPuller":{"serviceAccountName":"jhub-continuous-puller"},"awaiter":{"serviceAccountName":"jhub-awaiter"}}"#
    } else if release.ends_with("custom-sa") {
        r#"{"awaiter":{"serviceAccountName":"jhub-awaiter"}}"#
    } else {
        "{}"
    }
}

/// Chart 4.1.0 and later create the puller ServiceAccounts and set automount off: nothing to
/// change. Before, both pullers run as `default`: mutated (and, from the releases' own
/// ServiceAccounts, their Pods refused by the API server: the puller ServiceAccounts do not
/// exist).
fn expected_exit(release: &str) -> u8 {
    // 4.1.0 and 4.4.0 with custom names: the chart names the continuous puller's
    // ServiceAccount object continuous-image-puller whatever prePuller.continuous.serviceAccount.name
    // says, while its DaemonSet runs as that name (see the render): the API server refuses the Pods.
    u8::from(
        release.contains("3.3.8")
            || release.contains("4.0.0")
            || (release.ends_with("custom-sa") && !release.contains("4.0.0")),
    )
}

#[test]
fn every_release_with_its_shapes_settings_protect() {
    for name in RELEASES {
        check_release(
            name,
            &["--settings-json", shape_settings(name)],
            &format!("{name}.protect.txt"),
            expected_exit(name),
        );
    }
}

#[test]
fn every_release_with_the_manifest_in_monitor_mode() {
    // Monitor mode never fails.
    for name in RELEASES {
        check_release(
            name,
            &[
                "--policy",
                "manifests/clusteradmissionpolicy.yaml",
                "--settings-json",
                shape_settings(name),
            ],
            &format!("{name}.monitor.txt"),
            0,
        );
    }
}

#[test]
fn requiring_existing_serviceaccounts_rejects_what_the_release_lacks() {
    // Chart 4.4.0 creates every puller ServiceAccount: admitted.
    check_release(
        "z2jh-4.4.0-default",
        &[
            "--settings-json",
            r#"{"requireExistingServiceAccounts":true}"#,
        ],
        "z2jh-4.4.0-default.require-existing.txt",
        0,
    );
    // Chart 4.0.0 does not: the pullers are rejected with the fix.
    check_release(
        "z2jh-4.0.0-default",
        &[
            "--settings-json",
            r#"{"requireExistingServiceAccounts":true}"#,
        ],
        "z2jh-4.0.0-default.require-existing.txt",
        1,
    );
    // ... unless the cluster already has them.
    check_release(
        "z2jh-4.0.0-default",
        &[
            "--settings-json",
            r#"{"requireExistingServiceAccounts":true}"#,
            "--existing-serviceaccount",
            "jhub/hook-image-puller",
            "--existing-serviceaccount",
            "jhub/continuous-image-puller",
        ],
        "z2jh-4.0.0-default.require-existing.present.txt",
        0,
    );
}

#[test]
fn wrong_settings_on_a_fullnameoverride_release() {
    // Default names on a fullnameOverride release: every puller moved to a ServiceAccount the
    // release does not have; with requireExistingServiceAccounts, rejected.
    let report = check_release(
        "z2jh-4.4.0-fullnameoverride",
        &[
            "--settings-json",
            r#"{"requireExistingServiceAccounts":true}"#,
        ],
        "z2jh-4.4.0-fullnameoverride.wrong-settings.txt",
        1,
    );
    for puller in [
        "DaemonSet jhub/myhub-hook-image-puller",
        "DaemonSet jhub/myhub-continuous-image-puller",
    ] {
        let at = report.find(&format!("== {puller} ")).expect(puller);
        assert!(
            report[at..].lines().nth(1).unwrap().trim() == "REJECT",
            "{report}"
        );
    }
    // Without the setting the cluster admits the DaemonSets, mutated, and refuses their Pods.
    let report = check_release(
        "z2jh-4.4.0-fullnameoverride",
        &[],
        "z2jh-4.4.0-fullnameoverride.wrong-settings-mutate.txt",
        1,
    );
    assert!(report.contains("error looking up service account jhub/hook-image-puller: serviceaccount \"hook-image-puller\" not found"), "{report}");
}

#[test]
fn both_manifests_as_policy() {
    for manifest in ["clusteradmissionpolicy", "admissionpolicy"] {
        let policy = format!("manifests/{manifest}.yaml");
        check_release(
            "z2jh-4.0.0-default",
            &["--policy", &policy],
            &format!("z2jh-4.0.0-default.{manifest}.txt"),
            0,
        );
        // Outside the selected namespace nothing is sent.
        let (report, exit) = check(&[
            &release("z2jh-4.0.0-default"),
            "-n",
            "other",
            "--policy",
            &policy,
        ]);
        assert_eq!(exit, 0);
        assert!(report.contains("summary: 28 objects: 0 accepted, 0 would be mutated, 0 would be rejected, 28 not sent"), "{report}");
    }
}

#[test]
fn protect_mode_and_a_non_mutating_policy() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        std::fs::read_to_string(root().join("manifests/clusteradmissionpolicy.yaml")).unwrap();
    let protect = text.replace("mode: monitor", "mode: protect");
    let validating = protect.replace("mutating: true", "mutating: false");
    let (p, v) = (
        dir.path().join("protect.yaml"),
        dir.path().join("validating.yaml"),
    );
    std::fs::write(&p, protect).unwrap();
    std::fs::write(&v, validating).unwrap();
    let (report, exit) = check(&[
        &release("z2jh-4.0.0-default"),
        "-n",
        "jhub",
        "--policy",
        p.to_str().unwrap(),
    ]);
    assert_eq!(
        exit, 1,
        "4.0.0's pullers would run as ServiceAccounts it lacks: {report}"
    );
    let (report, exit) = check(&[
        &release("z2jh-4.0.0-default"),
        "-n",
        "jhub",
        "--policy",
        v.to_str().unwrap(),
    ]);
    assert_eq!(exit, 1);
    assert!(report.contains("message: Request rejected by policy clusterwide-prepuller-serviceaccount. The policy attempted to mutate the request, but it is currently configured to not allow mutations."), "{report}");
    let (_, exit) = check(&[
        &release("z2jh-4.4.0-default"),
        "-n",
        "jhub",
        "--policy",
        v.to_str().unwrap(),
    ]);
    assert_eq!(exit, 0);
}

#[test]
fn fail_on_mutate_and_write_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fixed");
    let file = release("z2jh-4.0.0-custom-sa");
    let existing = [
        "--existing-serviceaccount",
        "jhub/hook-image-puller",
        "--existing-serviceaccount",
        "jhub/continuous-image-puller",
    ];
    let mut args = vec![
        file.as_str(),
        "-n",
        "jhub",
        "--settings-json",
        r#"{"awaiter":{"serviceAccountName":"jhub-awaiter"}}"#,
    ];
    args.extend(existing);
    let (report, exit) = check(&args);
    assert_eq!(exit, 0, "{report}");
    let mut failing = args.clone();
    failing.push("--fail-on-mutate");
    assert_eq!(check(&failing).1, 1);
    let mut writing = args.clone();
    let out_text = out.to_str().unwrap().to_owned();
    writing.extend(["--write-fixed", &out_text]);
    assert_eq!(check(&writing).1, 0);
    // The fixed manifests need no mutation any more.
    let fixed = out.join("z2jh-4.0.0-custom-sa.yaml");
    let fixed_text = fixed.to_str().unwrap().to_owned();
    let mut again = vec![
        fixed_text.as_str(),
        "-n",
        "jhub",
        "--fail-on-mutate",
        "--settings-json",
        r#"{"awaiter":{"serviceAccountName":"jhub-awaiter"}}"#,
    ];
    again.extend(existing);
    let (report, exit) = check(&again);
    assert_eq!(exit, 0, "{report}");
    assert!(
        report.contains("28 objects: 10 accepted, 0 mutated, 0 rejected, 18 not sent"),
        "{report}"
    );
    let written = std::fs::read_to_string(&fixed).unwrap();
    assert!(
        written.starts_with("---\n# Source: jupyterhub/templates/hub/netpol.yaml\n"),
        "{written}"
    );
}

/// A `kubectl get -o json` dump of a running 4.0.0 release: its workloads as stored.
fn stored_dump(dir: &Path) -> PathBuf {
    let mut documents = Vec::new();
    prepuller_check::input::parse(
        "r",
        &std::fs::read_to_string(root().join(release("z2jh-4.0.0-default"))).unwrap(),
        &mut documents,
    )
    .unwrap();
    let items: Vec<serde_json::Value> = documents
        .into_iter()
        .map(|d| d.object)
        .filter(|o| {
            ["DaemonSet", "Deployment", "StatefulSet"].contains(&o["kind"].as_str().unwrap())
        })
        .enumerate()
        .map(|(i, mut o)| {
            o["metadata"]["namespace"] = "jhub".into();
            o["metadata"]["uid"] = format!("00000000-0000-4000-8000-{i:012}").into();
            o["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z".into();
            o
        })
        .collect();
    let path = dir.join("dump.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(
            &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}),
        )
        .unwrap(),
    )
    .unwrap();
    path
}

#[test]
fn stored_objects_get_the_audit_and_the_next_update() {
    let dir = tempfile::tempdir().unwrap();
    let dump = stored_dump(dir.path());
    let (report, exit) = check(&[dump.to_str().unwrap()]);
    let report = report.replace(dump.to_str().unwrap(), "dump.json");
    expect("z2jh-4.0.0-stored.txt", &report);
    assert_eq!(exit, 0, "{report}");
    assert!(report.contains("audit (PolicyReport): fail"), "{report}");
}

#[test]
fn json_and_junit_outputs() {
    let (json, exit) = check(&[
        &release("z2jh-4.0.0-default"),
        "-n",
        "jhub",
        "--output",
        "json",
    ]);
    assert_eq!(exit, 1);
    let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(value["exit"], 1);
    assert_eq!(value["summary"]["objects"], 28);
    assert_eq!(value["objects"].as_array().unwrap().len(), 28);
    let (junit, exit) = check(&[
        &release("z2jh-4.0.0-default"),
        "-n",
        "jhub",
        "--output",
        "junit",
    ]);
    assert_eq!(exit, 1);
    assert!(junit.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n<testsuite name=\"prepuller-check\" tests=\"28\" failures=\"2\" errors=\"0\" skipped=\"18\">"), "{junit}");
}

fn bad(text: &str, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, text).unwrap();
    let path_text = path.to_str().unwrap().to_owned();
    let mut args = vec![path_text.as_str()];
    args.extend_from_slice(extra);
    let (out, exit) = check(&args);
    assert_eq!(exit, 2, "{out}");
    out.replace(&path_text, "bad.yaml")
}

#[test]
fn bad_input_is_one_clear_line() {
    assert_eq!(
        bad(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\nkind: [unclosed\n",
            &[]
        ),
        "error: bad.yaml, document 2: not valid YAML: did not find expected ',' or ']' at line 3 column 1, while parsing a flow sequence at line 2 column 7\n"
    );
    assert_eq!(
        bad("apiVersion: v1\nmetadata: {name: a}\n", &[]),
        "error: bad.yaml, document 1: no `kind`\n"
    );
    assert_eq!(
        bad("apiVersion: v1\nkind: Pod\n", &[]),
        "error: bad.yaml, document 1: no `metadata` object\n"
    );
    assert_eq!(
        bad("apiVersion: v1\nkind: Pod\nmetadata: {labels: {}}\n", &[]),
        "error: bad.yaml, document 1: `metadata` has no `name` (nor `generateName`)\n"
    );
    assert_eq!(
        bad("just a string\n", &[]),
        "error: bad.yaml, document 1: not a Kubernetes object (a string)\n"
    );
    assert_eq!(
        bad(
            r#"{"kind": "List", "items": [{"apiVersion": "v1", "kind": "Pod"}]}"#,
            &[]
        ),
        "error: bad.yaml, document 1, item 0: no `metadata` object\n"
    );
    // A YAML alias bomb: serde_norway refuses the repetition.
    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (i, c) in "bcdefghi".chars().enumerate() {
        let prev = (b'a' + i as u8) as char;
        bomb.push_str(&format!(
            "{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
    }
    bomb.push_str("kind: Pod\n");
    let out = bad(&bomb, &[]);
    assert!(
        out.starts_with("error: bad.yaml, document 1: not valid YAML: repetition limit exceeded"),
        "{out}"
    );
    // Bounded input.
    let out = bad(&"# padding\n".repeat(200), &["--max-input-bytes", "1000"]);
    assert_eq!(
        out,
        "error: bad.yaml: the input is larger than the limit of 1000 bytes (--max-input-bytes)\n"
    );
    // Settings the module refuses.
    let out = check(&[
        &release("z2jh-4.4.0-default"),
        "--settings-json",
        r#"{"mode":"audit"}"#,
    ]);
    assert_eq!(out, ("error: the settings are not valid: mode: unknown variant `audit`, expected `mutate` or `reject`\n".to_owned(), 2));
    let out = check(&["test_data/releases/missing.yaml"]);
    assert_eq!(out, ("error: test_data/releases/missing.yaml: cannot read: No such file or directory (os error 2)\n".to_owned(), 2));
}

#[test]
fn unknown_kinds_are_not_sent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.yaml");
    std::fs::write(
        &path,
        "apiVersion: example.org/v1\nkind: Gadget\nmetadata: {name: g}\n",
    )
    .unwrap();
    let (out, exit) = check(&[path.to_str().unwrap(), "-n", "jhub"]);
    assert_eq!(exit, 0);
    assert!(
        out.contains("not sent to the policy:\n   (no rule of the policy matches) Gadget jhub/g\n"),
        "{out}"
    );
}

#[test]
fn the_binary_reads_standard_input_and_exits_2_on_bad_input() {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let binary = env!("CARGO_BIN_EXE_prepuller-check");
    let module = policy_path();
    let mut child = Command::new(binary)
        .args([
            "-",
            "-n",
            "jhub",
            "--module",
            module.to_str().unwrap(),
            "--color",
            "never",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"kind: [\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "prepuller-check: error: -, document 1: not valid YAML: did not find expected node content at line 2 column 1, while parsing a flow node\n"
    );
    let text = std::fs::read(root().join(release("z2jh-4.4.0-default"))).unwrap();
    let mut child = Command::new(binary)
        .args([
            "-",
            "-n",
            "jhub",
            "--module",
            module.to_str().unwrap(),
            "--color",
            "never",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("== DaemonSet jhub/continuous-image-puller [-, document 20: jupyterhub/templates/image-puller/daemonset-continuous.yaml]\n   ACCEPT\n"), "{stdout}");
}
