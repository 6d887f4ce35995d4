//! `prepuller-check scaffold` on every release in test_data/releases/, with the annotated
//! module (`make annotated-policy.wasm`, or `$ANNOTATED_WASM`): the written settings pass the
//! compiled module's validate_settings, and the release checked against the written policy is
//! admitted whenever the chart creates the ServiceAccounts its pullers run as, in monitor mode
//! as written and in protect mode, with and without the lookups, in both policy resources.
//! Some written policies are compared exactly with the insta snapshots of tests/expected/scaffold/
//! (`INSTA_UPDATE=always cargo test --locked -p prepuller-check` rewrites them, then review the
//! diff; docs/development.md); every error is one exact line.

mod support;

use std::path::Path;

use policy_host::annotated_path;
use prepuller_check::scaffold::{self, RBAC, Scaffold};
use prepuller_check::{Command, server};
use serde_json::Value;
use support::{annotated_module as module, expect, read, root};

/// `prepuller-check scaffold ARGS` (paths relative to the workspace root) on the shared module.
fn scaffold(args: &[&str]) -> anyhow::Result<Scaffold> {
    let argv: Vec<&str> = std::iter::once("scaffold")
        .chain(args.iter().copied())
        .collect();
    let cli = support::cli(&argv);
    let Some(Command::Scaffold(args)) = &cli.command else {
        panic!("not the scaffold subcommand: {argv:?}");
    };
    scaffold::run(args, module())
}

/// The one-line error of a scaffold that must fail.
fn error(args: &[&str]) -> String {
    match scaffold(args) {
        Ok(written) => panic!("{args:?} wrote:\n{}", written.manifest),
        Err(e) => format!("{e:#}"),
    }
}

/// `prepuller-check --color never ARGS` on the annotated module.
fn check(args: &[&str]) -> (String, u8) {
    support::check_on(module(), args)
}

/// A rendered release of test_data/releases/ and how it was rendered.
struct Render {
    name: String,
    file: String,
    namespace: String,
}

/// Every release in test_data/releases/, with the namespace its values file's first line (the
/// `helm template` command) names.
fn renders() -> Vec<Render> {
    let dir = root().join("test_data/releases");
    let mut out: Vec<Render> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|f| f.strip_suffix(".values.yaml").map(str::to_owned))
        .map(|name| {
            let values = std::fs::read_to_string(dir.join(format!("{name}.values.yaml"))).unwrap();
            let command = values.lines().next().unwrap();
            let namespace = command
                .rsplit_once(" -n ")
                .unwrap_or_else(|| panic!("{name}: no -n in {command:?}"))
                .1
                .trim()
                .to_owned();
            Render {
                file: format!("test_data/releases/{name}.yaml"),
                name,
                namespace,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(out.len() >= 19, "the renders are missing");
    out
}

/// Whether the chart creates every ServiceAccount the release's pullers run as: chart 4.1.0 and
/// later, unless prePuller.continuous.serviceAccount.name is set (`custom-sa`: the chart names
/// the ServiceAccount object after the DaemonSet, which runs as the value). Before 4.1.0 the
/// pullers run as `default` and the written names do not exist yet.
fn creates_puller_serviceaccounts(name: &str) -> bool {
    let version = name.split('-').nth(1).unwrap();
    let numbers: Vec<u32> = version.split('.').map(|n| n.parse().unwrap()).collect();
    numbers >= vec![4, 1, 0] && !name.ends_with("-custom-sa")
}

/// Chart 4.1.0 and later with a custom continuous puller ServiceAccount name: the DaemonSet runs
/// as it, the chart creates the ServiceAccount under the DaemonSet's name.
fn runs_a_puller_the_chart_names_apart(name: &str) -> bool {
    let version = name.split('-').nth(1).unwrap();
    let numbers: Vec<u32> = version.split('.').map(|n| n.parse().unwrap()).collect();
    numbers >= vec![4, 1, 0] && name.ends_with("-custom-sa")
}

fn write_policy(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

fn parse(text: &str) -> Value {
    let mut documents = Vec::new();
    prepuller_check::input::parse("written", text, &mut documents).expect("the output reads");
    documents[0].object.clone()
}

fn in_protect_mode(text: &str) -> String {
    assert_eq!(text.matches("\n  mode: monitor\n").count(), 1, "{text}");
    text.replace("\n  mode: monitor\n", "\n  mode: protect\n")
}

/// The ServiceAccounts the report's refused Pods name.
fn refused_service_accounts(report: &str) -> Vec<String> {
    let mut out: Vec<String> = report
        .lines()
        .filter(|l| l.contains("REFUSED by the API server"))
        .filter_map(|l| {
            let (_, rest) = l.split_once("serviceaccount \"")?;
            Some(rest.split('"').next()?.to_owned())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Checks `render` against the written policy `text` in protect mode: admitted when the chart
/// creates the pullers' ServiceAccounts; otherwise refused, for exactly the ServiceAccounts the
/// scaffold warned about.
fn check_in_protect_mode(
    render: &Render,
    dir: &Path,
    label: &str,
    text: &str,
    warnings: &[String],
) {
    let policy = write_policy(dir, &format!("{label}.yaml"), &in_protect_mode(text));
    let (report, exit) = check(&[&render.file, "-n", &render.namespace, "--policy", &policy]);
    let creates = creates_puller_serviceaccounts(&render.name);
    assert_eq!(
        exit,
        u8::from(!creates),
        "{} {label}:\n{report}",
        render.name
    );
    if creates {
        assert!(warnings.is_empty(), "{}: {warnings:?}", render.name);
        for word in ["MUTATE", "REJECT", "REFUSED"] {
            assert!(!report.contains(word), "{} {label}:\n{report}", render.name);
        }
        return;
    }
    assert!(!warnings.is_empty(), "{}: no warning", render.name);
    if label.ends_with("require-existing") {
        // The lookups reject the pullers whose ServiceAccount is missing, with the fix.
        assert!(
            report.contains("\n   REJECT\n"),
            "{} {label}:\n{report}",
            render.name
        );
        return;
    }
    let refused = refused_service_accounts(&report);
    assert!(!refused.is_empty(), "{} {label}:\n{report}", render.name);
    for sa in &refused {
        assert!(
            warnings.iter().any(|w| w.contains(&format!(" {sa} "))
                || w.contains(&format!(" {sa},"))
                || w.contains(&format!("/{sa} "))),
            "{}: {sa} refused but not warned about: {warnings:?}",
            render.name
        );
    }
    assert_eq!(
        refused.len(),
        warnings.len(),
        "{}: {refused:?} {warnings:?}",
        render.name
    );
}

#[test]
fn every_release_gets_a_policy_its_check_admits() {
    let dir = tempfile::tempdir().unwrap();
    for render in renders() {
        let written = scaffold(&[&render.file, "-n", &render.namespace])
            .unwrap_or_else(|e| panic!("{}: {e:#}", render.name));
        let policy = parse(&written.manifest);
        assert_eq!(policy["kind"], "ClusterAdmissionPolicy");
        assert_eq!(policy["spec"]["mode"], "monitor");
        assert_eq!(policy["spec"]["backgroundAudit"], true);
        assert_eq!(
            policy["spec"]["namespaceSelector"],
            serde_json::json!({"matchLabels": {"kubernetes.io/metadata.name": render.namespace}})
        );
        assert_eq!(
            server::validate_settings(&module().policy, &policy["spec"]["settings"]).unwrap(),
            None,
            "{}",
            render.name
        );
        // As written (monitor mode): every puller sent and answered; the policy admits all, and
        // so does the cluster, unless the release runs its continuous puller as a ServiceAccount
        // the chart does not create (its own naming since 4.1.0): the API server refuses those
        // Pods whatever the policy's mode.
        let file = write_policy(
            dir.path(),
            &format!("{}.yaml", render.name),
            &written.manifest,
        );
        let (report, exit) = check(&[&render.file, "-n", &render.namespace, "--policy", &file]);
        if runs_a_puller_the_chart_names_apart(&render.name) {
            assert_eq!(exit, 1, "{}:\n{report}", render.name);
            assert!(
                report.contains("(monitor mode: the policy admits everything, but the API server would refuse something)"),
                "{}:\n{report}",
                render.name
            );
        } else {
            assert_eq!(exit, 0, "{}:\n{report}", render.name);
        }
        let settings = &policy["spec"]["settings"];
        for key in ["hookPuller", "continuousPuller", "awaiter"] {
            let sa = settings[key]["serviceAccountName"].as_str().unwrap();
            assert!(!sa.is_empty() && sa != "default", "{}", render.name);
        }
        if creates_puller_serviceaccounts(&render.name) {
            assert!(
                report.contains(", 0 would be mutated, 0 would be rejected,"),
                "{}:\n{report}",
                render.name
            );
        }
        check_in_protect_mode(
            &render,
            dir.path(),
            &render.name,
            &written.manifest,
            &written.warnings,
        );

        // The lookups, their grant and the RBAC.
        let written = scaffold(&[
            &render.file,
            "-n",
            &render.namespace,
            "--require-existing-serviceaccounts",
        ])
        .unwrap();
        let policy = parse(&written.manifest);
        assert_eq!(
            policy["spec"]["settings"]["requireExistingServiceAccounts"],
            true
        );
        assert_eq!(
            policy["spec"]["contextAwareResources"],
            serde_json::json!([{"apiVersion": "v1", "kind": "ServiceAccount"}])
        );
        assert!(written.manifest.ends_with(&format!("---\n{RBAC}")));
        check_in_protect_mode(
            &render,
            dir.path(),
            &format!("{}.require-existing", render.name),
            &written.manifest,
            &written.warnings,
        );

        // The namespaced form.
        let written = scaffold(&[
            &render.file,
            "-n",
            &render.namespace,
            "--type",
            "AdmissionPolicy",
        ])
        .unwrap();
        let policy = parse(&written.manifest);
        assert_eq!(policy["kind"], "AdmissionPolicy");
        assert_eq!(policy["metadata"]["namespace"], render.namespace.as_str());
        assert!(policy["spec"].get("namespaceSelector").is_none());
        assert!(
            policy["spec"]["settings"]
                .get("requireExistingServiceAccounts")
                .is_none()
        );
        check_in_protect_mode(
            &render,
            dir.path(),
            &format!("{}.admissionpolicy", render.name),
            &written.manifest,
            &written.warnings,
        );
    }
}

#[test]
fn written_policies_exactly() {
    for (release, namespace, extra, expected) in [
        (
            "z2jh-4.4.0-default",
            "jhub",
            &[][..],
            "z2jh-4.4.0-default.yaml",
        ),
        ("z2jh-4.0.0-default", "jhub", &[], "z2jh-4.0.0-default.yaml"),
        (
            "z2jh-4.4.0-custom-sa",
            "jhub",
            &[],
            "z2jh-4.4.0-custom-sa.yaml",
        ),
        (
            "z2jh-4.4.0-no-continuous",
            "jhub",
            &[],
            "z2jh-4.4.0-no-continuous.yaml",
        ),
        (
            "z2jh-4.0.0-release-prefix",
            "research",
            &["--type", "AdmissionPolicy"],
            "z2jh-4.0.0-release-prefix.admissionpolicy.yaml",
        ),
        (
            "z2jh-4.4.0-release-prefix",
            "research",
            &[
                "--require-existing-serviceaccounts",
                "--name",
                "hub-prod-prepullers",
            ],
            "z2jh-4.4.0-release-prefix.require-existing.yaml",
        ),
    ] {
        let file = format!("test_data/releases/{release}.yaml");
        let mut args = vec![file.as_str(), "-n", namespace];
        args.extend_from_slice(extra);
        let written = scaffold(&args).unwrap();
        expect(&format!("scaffold/{expected}"), &written.manifest);
    }
}

#[test]
fn spec_module_is_the_published_reference_or_the_one_given() {
    let release = "test_data/releases/z2jh-4.4.0-default.yaml";
    let module = |extra: &[&str]| {
        let mut args = vec![release, "-n", "jhub"];
        args.extend_from_slice(extra);
        parse(&scaffold(&args).unwrap().manifest)["spec"]["module"].clone()
    };
    // The module's io.kubewarden.policy.ociUrl and version, as manifests/ name it.
    assert_eq!(
        module(&[]),
        "ghcr.io/prepuller-serviceaccount-policy/policies/prepuller-serviceaccount:v0.1.0"
    );
    // A module pulled from a registry is the one the cluster runs. (`scaffold::run` is handed
    // the shared module: only the reference is read here, nothing is pulled.)
    assert_eq!(
        module(&[
            "--module",
            "registry://registry.example.com/policies/prepuller-serviceaccount@sha256:0123"
        ]),
        "registry.example.com/policies/prepuller-serviceaccount@sha256:0123"
    );
}

#[test]
fn what_the_operator_must_do_first_is_warned() {
    let written = scaffold(&["test_data/releases/z2jh-4.0.0-default.yaml", "-n", "jhub"]).unwrap();
    assert_eq!(
        written.warnings,
        [
            "DaemonSet jhub/hook-image-puller runs as `default`: hook-image-puller is the ServiceAccount chart 4.1.0 and later create for it (Helm values prePuller.hook.serviceAccountImagePuller.create and prePuller.hook.serviceAccountImagePuller.name, which charts before 4.1.0 do not have: their values schema refuses them). Upgrade the chart to 4.1.0 or later, or create ServiceAccount jhub/hook-image-puller (and delete it before that upgrade: Helm does not take over objects it did not create), before enforcing: until it exists, mode: mutate moves the puller to it and the API server refuses its Pods.",
            "DaemonSet jhub/continuous-image-puller runs as `default`: continuous-image-puller is the ServiceAccount chart 4.1.0 and later create for it (Helm values prePuller.continuous.serviceAccount.create and prePuller.continuous.serviceAccount.name, which charts before 4.1.0 do not have: their values schema refuses them). Upgrade the chart to 4.1.0 or later, or create ServiceAccount jhub/continuous-image-puller (and delete it before that upgrade: Helm does not take over objects it did not create), before enforcing: until it exists, mode: mutate moves the puller to it and the API server refuses its Pods.",
        ]
    );
    let written =
        scaffold(&["test_data/releases/z2jh-4.2.0-custom-sa.yaml", "-n", "jhub"]).unwrap();
    assert_eq!(
        written.warnings,
        [
            "DaemonSet jhub/continuous-image-puller runs as ServiceAccount jhub-continuous-puller, which the release does not create (it creates continuous-image-puller instead: the chart names this ServiceAccount object after the workload, whatever prePuller.continuous.serviceAccount.name says): the API server refuses its Pods until jhub/jhub-continuous-puller exists. Create it, or drop prePuller.continuous.serviceAccount.name from the Helm values (the workload then runs as continuous-image-puller) and scaffold again."
        ]
    );
    let written = scaffold(&[
        "test_data/releases/z2jh-4.0.0-release-prefix.yaml",
        "-n",
        "research",
    ])
    .unwrap();
    let settings = &parse(&written.manifest)["spec"]["settings"];
    assert_eq!(
        settings["hookPuller"]["serviceAccountName"],
        "hub-prod-jupyterhub-hook-image-puller"
    );
    assert_eq!(
        settings["awaiter"]["serviceAccountName"],
        "hub-prod-jupyterhub-hook-image-awaiter"
    );
}

/// For a chart before 4.1.0, the puller names written are those chart 4.1.0 and later create
/// for the same release: compared with the ServiceAccounts the later render of the same shape
/// (fullnameOverride, release name) holds.
#[test]
fn names_before_4_1_0_are_the_ones_the_upgraded_chart_creates() {
    for (old, new, namespace) in [
        ("z2jh-3.3.8-default", "z2jh-4.1.0-default", "jhub"),
        ("z2jh-4.0.0-default", "z2jh-4.1.0-default", "jhub"),
        (
            "z2jh-4.0.0-fullnameoverride",
            "z2jh-4.1.0-fullnameoverride",
            "jhub",
        ),
        (
            "z2jh-4.0.0-release-prefix",
            "z2jh-4.4.0-release-prefix",
            "research",
        ),
    ] {
        let file = format!("test_data/releases/{old}.yaml");
        let written = scaffold(&[&file, "-n", namespace]).unwrap();
        let settings = parse(&written.manifest)["spec"]["settings"].clone();
        let created: Vec<String> = objects(new)
            .into_iter()
            .filter(|d| d.object["kind"] == "ServiceAccount")
            .map(|d| d.object["metadata"]["name"].as_str().unwrap().to_owned())
            .collect();
        for key in ["hookPuller", "continuousPuller", "awaiter"] {
            let sa = settings[key]["serviceAccountName"].as_str().unwrap();
            assert!(
                created.iter().any(|c| c == sa),
                "{old}: {key} {sa} not in {new}: {created:?}"
            );
        }
    }
}

/// The objects of a render, parsed.
fn objects(release: &str) -> Vec<prepuller_check::input::Document> {
    let file = format!("test_data/releases/{release}.yaml");
    let mut documents = Vec::new();
    prepuller_check::input::parse(&file, &read(&file), &mut documents).unwrap();
    documents
}

fn is_hook(object: &Value) -> bool {
    object["metadata"]["annotations"]["helm.sh/hook"].is_string()
}

/// `helm template` prints each document under its `# Source:` comment.
fn as_helm_prints(documents: &[prepuller_check::input::Document]) -> String {
    documents
        .iter()
        .map(|d| {
            format!(
                "---\n# Source: {}\n{}",
                d.source.as_deref().unwrap_or_default(),
                serde_norway::to_string(&d.object).unwrap()
            )
        })
        .collect()
}

/// A `kubectl get -o json` dump of a running 4.4.0 release: its objects other than the hooks
/// (which Helm deleted when they succeeded), stored, and the continuous puller's Pod.
fn live_dump(dir: &Path) -> String {
    let mut items: Vec<Value> = objects("z2jh-4.4.0-default")
        .into_iter()
        .map(|d| d.object)
        .filter(|o| !is_hook(o))
        .collect();
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": "continuous-image-puller-x7k2p",
            "labels": {"component": "continuous-image-puller", "app": "jupyterhub", "release": "jhub"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "continuous-image-puller", "uid": "u", "controller": true}]
        },
        "spec": {"serviceAccountName": "continuous-image-puller", "containers": [{"name": "pause", "image": "pause"}]}
    });
    items.push(pod);
    for (i, item) in items.iter_mut().enumerate() {
        item["metadata"]["namespace"] = "jhub".into();
        item["metadata"]["uid"] = format!("00000000-0000-4000-8000-{i:012}").into();
    }
    let dump = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
    write_policy(dir, "dump.json", &serde_json::to_string(&dump).unwrap())
}

#[test]
fn a_live_namespace_with_helm_get_hooks() {
    let dir = tempfile::tempdir().unwrap();
    let dump = live_dump(dir.path());
    // Without the hooks, the hook roles cannot be read from a live namespace.
    let e = error(&[&dump]);
    assert_eq!(
        e,
        "no hook image puller in the input: it is a Helm hook, which Helm deletes once it succeeds, so a live namespace has it only during a helm upgrade: add what `helm get hooks RELEASE -n jhub` prints to the inputs"
    );
    // `helm get hooks jhub -n jhub` prints the hooks as helm template does.
    let hooks: Vec<_> = objects("z2jh-4.4.0-default")
        .into_iter()
        .filter(|d| is_hook(&d.object))
        .collect();
    let hooks = write_policy(dir.path(), "hooks.yaml", &as_helm_prints(&hooks));
    // Helm prints the hooks as rendered, without a namespace: -n gives it.
    let from_dump = scaffold(&[&dump, &hooks, "-n", "jhub"]).unwrap();
    let from_render =
        scaffold(&["test_data/releases/z2jh-4.4.0-default.yaml", "-n", "jhub"]).unwrap();
    let policy = |w: &Scaffold| parse(&w.manifest)["spec"].clone();
    assert_eq!(policy(&from_dump), policy(&from_render));
    assert!(from_dump.warnings.is_empty());
}

#[test]
fn a_release_without_the_hook_gets_the_charts_names() {
    // prePuller.hook.enabled: false renders no hook puller, no awaiter and their ServiceAccounts.
    let dir = tempfile::tempdir().unwrap();
    let kept: Vec<_> = objects("z2jh-4.4.0-default")
        .into_iter()
        .filter(|d| !is_hook(&d.object))
        .collect();
    let file = write_policy(dir.path(), "no-hook.yaml", &as_helm_prints(&kept));
    let written = scaffold(&[&file, "-n", "jhub"]).unwrap();
    // `helm template --no-hooks` prints the same: said, since custom hook names would be missed.
    assert_eq!(
        written.warnings,
        [
            "no hook image puller in the input, so the policy is written for a release with prePuller.hook.enabled: false; if the input was rendered without its hooks (helm template --no-hooks, helm get manifest), add them (helm template without --no-hooks, or helm get hooks) and scaffold again."
        ]
    );
    let policy = parse(&written.manifest);
    let settings = &policy["spec"]["settings"];
    assert_eq!(
        settings["hookPuller"]["serviceAccountName"],
        "hook-image-puller"
    );
    assert_eq!(
        settings["awaiter"]["serviceAccountName"],
        "hook-image-awaiter"
    );
    assert!(
        written.manifest.contains("    # The release runs no hook image puller (prePuller.hook.enabled: false): hook-image-puller and\n"),
        "{}",
        written.manifest
    );
    let policy_file = write_policy(
        dir.path(),
        "policy.yaml",
        &in_protect_mode(&written.manifest),
    );
    let (report, exit) = check(&[&file, "-n", "jhub", "--policy", &policy_file]);
    assert_eq!(exit, 0, "{report}");
}

fn with(release: &str, edit: impl Fn(&mut Value)) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut documents = objects(release);
    for d in &mut documents {
        edit(&mut d.object);
    }
    let file = write_policy(dir.path(), "edited.yaml", &as_helm_prints(&documents));
    (dir, file)
}

#[test]
fn what_cannot_be_identified_is_one_line_and_nothing_written() {
    let default = "test_data/releases/z2jh-4.4.0-default.yaml";
    assert_eq!(
        error(&[default]),
        "DaemonSet hook-image-puller (test_data/releases/z2jh-4.4.0-default.yaml, document 29) names no namespace: give the release's namespace with -n, as to helm template"
    );
    assert_eq!(
        error(&[
            default,
            "test_data/releases/z2jh-4.1.0-default.yaml",
            "-n",
            "jhub"
        ]),
        "2 hook image pullers in the input: DaemonSet jhub/hook-image-puller (test_data/releases/z2jh-4.4.0-default.yaml, document 29), DaemonSet jhub/hook-image-puller (test_data/releases/z2jh-4.1.0-default.yaml, document 29): the settings fit one release; scaffold one release at a time"
    );
    assert_eq!(
        error(&[
            "test_data/releases/z2jh-4.4.0-default.values.yaml",
            "-n",
            "jhub"
        ]),
        "test_data/releases/z2jh-4.4.0-default.values.yaml, document 1: no `kind`"
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write_policy(
        dir.path(),
        "config.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hub, namespace: jhub}\n",
    );
    assert_eq!(
        error(&[&config]).replace(&config, "config.yaml"),
        "no image puller in the input: no DaemonSet from templates/image-puller/daemonset-hook.yaml or templates/image-puller/daemonset-continuous.yaml, nor one whose pod template is labelled component: hook-image-puller or component: continuous-image-puller; give the release's `helm template` output or a `kubectl get` dump of its namespace"
    );
    // The awaiter alone is no release.
    let job: Vec<_> = objects("z2jh-4.4.0-default")
        .into_iter()
        .filter(|d| d.object["kind"] == "Job")
        .collect();
    let job = write_policy(dir.path(), "job.yaml", &as_helm_prints(&job));
    assert!(
        error(&[&job, "-n", "jhub"]).starts_with("no image puller in the input: "),
        "{}",
        error(&[&job, "-n", "jhub"])
    );
    let (_dir, file) = with("z2jh-4.4.0-default", |o| {
        if o["kind"] == "DaemonSet" {
            o["metadata"]["namespace"] = "other".into();
        }
    });
    assert_eq!(
        error(&[&file, "-n", "jhub"]).replace(&file, "edited.yaml"),
        "edited.yaml, document 29: the object is in namespace other, not jhub (-n)"
    );
    let (_dir, file) = with("z2jh-4.4.0-default", |o| {
        if o["metadata"]["name"] == "hook-image-puller" && o["kind"] == "DaemonSet" {
            o["spec"]["template"]["metadata"]["labels"]
                .as_object_mut()
                .unwrap()
                .remove("component");
        }
    });
    assert_eq!(
        error(&[&file, "-n", "jhub"]).replace(&file, "edited.yaml"),
        "DaemonSet jhub/hook-image-puller (edited.yaml, document 29) is the hook image puller, but its pod template has no `component` label, which Zero to JupyterHub gives its Pods on every chart version, so there is no label to select them by: give its pod template the chart's labels, or write the selector yourself (README.md, Settings)"
    );
    let (_dir, file) = with("z2jh-4.4.0-default", |o| {
        if o["metadata"]["name"] == "user-scheduler" && o["kind"] == "Deployment" {
            o["spec"]["template"]["metadata"]["labels"]["component"] = "image-puller".into();
        }
    });
    assert_eq!(
        error(&[&file, "-n", "jhub"]).replace(&file, "edited.yaml"),
        "Deployment jhub/user-scheduler (edited.yaml, document 23) carries component: image-puller too, the label of the hook image awaiter's Pods (Job jhub/hook-image-awaiter), so a selector on it would judge that workload as the hook image awaiter: scaffold one release at a time, or write the selectors yourself (README.md, Settings)"
    );
    let (_dir, file) = with("z2jh-4.4.0-default", |o| {
        if o["kind"] == "Job" {
            o["spec"]["template"]["spec"]["serviceAccountName"] = "default".into();
        }
    });
    assert_eq!(
        error(&[&file, "-n", "jhub"]),
        "Job jhub/hook-image-awaiter runs as ServiceAccount \"default\" (as with prePuller.hook.serviceAccount.create: false), but the policy gives each role a ServiceAccount of its own: set prePuller.hook.serviceAccount.create=true (the chart's default) and scaffold again"
    );
    // Settings the compiled module refuses are never written.
    let (_dir, file) = with("z2jh-4.4.0-default", |o| {
        if o["kind"] == "Job" {
            o["spec"]["template"]["spec"]["serviceAccountName"] = "hook-image-puller".into();
        }
    });
    assert_eq!(
        error(&[&file, "-n", "jhub"]),
        "the settings written from the release are not valid: awaiter.serviceAccountName: \"hook-image-puller\" is also hookPuller.serviceAccountName; each role needs its own ServiceAccount"
    );
    assert_eq!(
        error(&[
            default,
            "-n",
            "jhub",
            "--type",
            "AdmissionPolicy",
            "--require-existing-serviceaccounts"
        ]),
        "--require-existing-serviceaccounts needs a ClusterAdmissionPolicy: Kubewarden grants an AdmissionPolicy no contextAwareResources"
    );
}

#[test]
fn a_module_without_metadata_is_refused() {
    let bare = support::policy_module();
    let cli = support::cli(&[
        "scaffold",
        "test_data/releases/z2jh-4.4.0-default.yaml",
        "-n",
        "jhub",
    ]);
    let Some(Command::Scaffold(args)) = &cli.command else {
        unreachable!()
    };
    assert_eq!(
        format!("{:#}", scaffold::run(args, bare).unwrap_err()),
        "policy.wasm: the module has no Kubewarden metadata, which gives the policy's rules and name: use the annotated module (`make annotated-policy.wasm`, or the published one)"
    );
}

#[test]
fn the_rbac_is_the_readmes() {
    let readme = read("README.md");
    assert!(
        readme.contains(&format!("```yaml\n{RBAC}```")),
        "README.md lost the RBAC"
    );
}

#[test]
fn the_binary_writes_stdout_warns_on_stderr_and_exits_2_with_one_line() {
    use std::process::Command as Process;
    let binary = env!("CARGO_BIN_EXE_prepuller-check");
    let module = annotated_path();
    let run = |args: &[&str]| {
        Process::new(binary)
            .current_dir(root())
            .arg("scaffold")
            .args(args)
            .args(["--module", module.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let out = run(&["test_data/releases/z2jh-4.4.0-custom-sa.yaml", "-n", "jhub"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(parse(&stdout)["kind"], "ClusterAdmissionPolicy");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("prepuller-check scaffold: warning: DaemonSet jhub/continuous-image-puller runs as ServiceAccount jhub-continuous-puller, which the release does not create")
            && stderr.lines().count() == 1,
        "{stderr}"
    );
    let out = run(&["test_data/releases/z2jh-4.4.0-default.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "prepuller-check: error: DaemonSet hook-image-puller (test_data/releases/z2jh-4.4.0-default.yaml, document 29) names no namespace: give the release's namespace with -n, as to helm template\n"
    );
    // The check itself still takes its inputs first.
    let out = Process::new(binary)
        .current_dir(root())
        .args([
            "test_data/releases/z2jh-4.4.0-default.yaml",
            "-n",
            "jhub",
            "--color",
            "never",
        ])
        .args(["--module", module.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_policy_file_holds_one_policy() {
    let dir = tempfile::tempdir().unwrap();
    let release = "test_data/releases/z2jh-4.4.0-default.yaml";
    let written = scaffold(&[release, "-n", "jhub"]).unwrap();
    let twice = write_policy(
        dir.path(),
        "twice.yaml",
        &format!("{}---\n{}", written.manifest, written.manifest),
    );
    let (out, exit) = check(&[release, "-n", "jhub", "--policy", &twice]);
    assert_eq!(exit, 2);
    assert_eq!(
        out.replace(&twice, "twice.yaml"),
        "error: twice.yaml: holds 2 policies; name a file with one\n"
    );
    let (out, exit) = check(&[release, "-n", "jhub", "--policy", release]);
    assert_eq!(exit, 2);
    assert_eq!(
        out,
        format!("error: {release}: holds no ClusterAdmissionPolicy or AdmissionPolicy\n")
    );
}
