//! `prepuller-check post-render` through the exec protocol exactly as Helm 3 runs a
//! `--post-renderer` (and Helm 4 a `postrenderer/v1` subprocess plugin): the built binary, the
//! rendered release on standard input, the manifests on standard output, the report on standard
//! error, the exit status stopping the install. Real chart renders from test_data/releases/ and
//! the compiled module (`make policy.wasm`, or `$POLICY_WASM`).

mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};

use policy_host::policy_path;
use serde_json::Value;
use support::{read, release, root};

struct Run {
    stdout: String,
    stderr: String,
    code: i32,
}

/// Runs the binary as Helm does: `PATH [--post-renderer-args...]`, the render of release `name`
/// (test_data/releases/) on stdin.
fn post_render(name: &str, args: &[&str], env: &[(&str, &str)]) -> (String, Run) {
    let root = root();
    let input = read(&release(name));
    let module = policy_path();
    let mut command = Command::new(env!("CARGO_BIN_EXE_prepuller-check"));
    command
        .current_dir(&root)
        .arg("post-render")
        .arg("--module")
        .arg(&module)
        .args(args)
        .env_remove("HELM_NAMESPACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("the binary runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("stdin written");
    let out = child.wait_with_output().expect("the binary ends");
    (
        input,
        Run {
            stdout: String::from_utf8(out.stdout).expect("UTF-8 manifests"),
            stderr: String::from_utf8(out.stderr).expect("UTF-8 report"),
            code: out.status.code().expect("an exit status"),
        },
    )
}

/// Helm's documents: the text between `---` lines, as Helm splits a render.
fn documents(text: &str) -> Vec<&str> {
    text.split("\n---\n").collect()
}

fn yaml(document: &str) -> Value {
    serde_norway::from_str(document).expect("a YAML document")
}

#[test]
fn a_release_that_complies_is_written_back_byte_for_byte() {
    let (input, run) = post_render("z2jh-4.4.0-default", &["-n", "jhub"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, input);
    assert!(
        run.stderr.contains("(the cluster would admit everything)"),
        "{}",
        run.stderr
    );
}

#[test]
fn without_the_namespace_the_install_stops_with_one_line() {
    let (_, run) = post_render("z2jh-4.4.0-default", &[], &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(run.stdout, "", "nothing for Helm to install");
    assert_eq!(
        run.stderr.trim_end().lines().count(),
        1,
        "one line: {}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("Helm does not pass it to a post-renderer")
            && run.stderr.contains("--post-renderer-args -n=NAMESPACE"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_chart_4_0_0_release_is_fixed_but_stopped_for_its_missing_serviceaccounts() {
    let (input, run) = post_render("z2jh-4.0.0-default", &[], &[("HELM_NAMESPACE", "jhub")]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    // The namespace came from HELM_NAMESPACE, the user's variable Helm reads too.
    assert!(
        run.stderr.contains(
            "error looking up service account jhub/hook-image-puller: serviceaccount \"hook-image-puller\" not found"
        ),
        "{}",
        run.stderr
    );
    let (before, after) = (documents(&input), documents(&run.stdout));
    assert_eq!(before.len(), after.len());
    let mut changed = Vec::new();
    for (b, a) in before.iter().zip(&after) {
        if b == a {
            continue;
        }
        let (mut original, fixed) = (yaml(b), yaml(a));
        let name = fixed["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        // The policy's change and nothing else: the puller runs as its own ServiceAccount.
        original["spec"]["template"]["spec"]["serviceAccountName"] = Value::String(name.clone());
        assert_eq!(fixed, original, "{name}");
        // Helm's `# Source:` comment is kept.
        assert_eq!(b.lines().next(), a.lines().next());
        changed.push(name);
    }
    changed.sort();
    assert_eq!(changed, ["continuous-image-puller", "hook-image-puller"]);
}

#[test]
fn with_add_serviceaccounts_a_chart_4_0_0_release_installs_in_one_step() {
    let (input, run) = post_render(
        "z2jh-4.0.0-default",
        &["-n", "jhub", "--add-serviceaccounts"],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.starts_with(
        "prepuller-check post-render: added ServiceAccount jhub/continuous-image-puller for DaemonSet jhub/continuous-image-puller\n\
         prepuller-check post-render: added ServiceAccount jhub/hook-image-puller for DaemonSet jhub/hook-image-puller\n"
    ), "{}", run.stderr);
    let added = run
        .stdout
        .split_once("\n---\n# Source: prepuller-check/")
        .map(|(manifests, _)| manifests)
        .expect("the added ServiceAccounts come last");
    assert_eq!(documents(added).len(), documents(&input).len());
    let tail = &run.stdout[added.len()..];
    assert_eq!(
        tail,
        "\n---\n# Source: prepuller-check/serviceaccount-continuous-image-puller.yaml\n\
         apiVersion: v1\nautomountServiceAccountToken: false\nkind: ServiceAccount\nmetadata:\n  \
         labels:\n    app: jupyterhub\n    app.kubernetes.io/component: continuous-image-puller\n    \
         app.kubernetes.io/instance: jhub\n    app.kubernetes.io/managed-by: Helm\n    \
         app.kubernetes.io/name: jupyterhub\n    chart: jupyterhub-4.0.0\n    component: continuous-image-puller\n    \
         helm.sh/chart: jupyterhub-4.0.0\n    heritage: Helm\n    release: jhub\n  name: continuous-image-puller\n\
         ---\n# Source: prepuller-check/serviceaccount-hook-image-puller.yaml\n\
         apiVersion: v1\nautomountServiceAccountToken: false\nkind: ServiceAccount\nmetadata:\n  \
         annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded\n    \
         helm.sh/hook-weight: '-11'\n  labels:\n    app: jupyterhub\n    app.kubernetes.io/component: hook-image-puller\n    \
         app.kubernetes.io/instance: jhub\n    app.kubernetes.io/managed-by: Helm\n    \
         app.kubernetes.io/name: jupyterhub\n    chart: jupyterhub-4.0.0\n    component: hook-image-puller\n    \
         helm.sh/chart: jupyterhub-4.0.0\n    heritage: Helm\n    hub.jupyter.org/deletable: 'true'\n    release: jhub\n  name: hook-image-puller\n"
    );
}

#[test]
fn unusable_input_is_one_line_and_exit_2() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_prepuller-check"))
        .args(["post-render", "-n", "jhub", "--module"])
        .arg(policy_path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"# nothing rendered\n")
        .expect("stdin written");
    let out = child.wait_with_output().expect("the binary ends");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "prepuller-check post-render: error: -: no objects passed to check: standard input holds no Kubernetes object\n"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn the_helm_4_plugin_runs_the_binary_as_a_postrenderer_v1_subprocess() {
    let root = root();
    let plugin: Value = serde_norway::from_str(
        &std::fs::read_to_string(root.join("helm-plugin/plugin.yaml")).expect("plugin.yaml"),
    )
    .expect("plugin.yaml is YAML");
    assert_eq!(plugin["apiVersion"], "v1");
    assert_eq!(plugin["type"], "postrenderer/v1");
    assert_eq!(plugin["runtime"], "subprocess");
    assert_eq!(plugin["version"], env!("CARGO_PKG_VERSION"));
    let command = plugin["runtimeConfig"]["platformCommand"][0]["command"]
        .as_str()
        .expect("a command");
    // Installed as Helm installs it: the plugin's files in HELM_PLUGIN_DIR, the binary beside
    // them (a release archive); run as Helm's subprocess runtime runs it, the
    // --post-renderer-args appended.
    let dir = tempfile::tempdir().expect("a plugin directory");
    for file in ["plugin.yaml", "post-render.sh"] {
        std::fs::copy(root.join("helm-plugin").join(file), dir.path().join(file)).expect("copied");
    }
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_prepuller-check"),
        dir.path().join("prepuller-check"),
    )
    .expect("the binary beside the plugin");
    let command = command.replace("${HELM_PLUGIN_DIR}", &dir.path().display().to_string());
    let input =
        std::fs::read(root.join(release("z2jh-4.4.0-default"))).expect("the release render");
    let mut child = Command::new(command)
        .arg(format!("--module={}", policy_path().display()))
        .arg("--namespace=jhub")
        .env("HELM_PLUGIN_DIR", dir.path())
        // Helm 4 gives the plugin its own environment only: no HELM_NAMESPACE from `-n`.
        .env_remove("HELM_NAMESPACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the plugin runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&input)
        .expect("stdin written");
    let out = child.wait_with_output().expect("the plugin ends");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, input);
}
