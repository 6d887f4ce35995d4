//! prepuller-check end to end on the compiled module (`make policy.wasm`, or `$POLICY_WASM`),
//! compiled once for the whole suite, against the Zero to JupyterHub releases rendered by Helm
//! in test_data/releases/. Reports are compared exactly with the insta snapshots of
//! tests/expected/ (`INSTA_UPDATE=always cargo test --locked -p prepuller-check` rewrites them,
//! then review the diff; docs/development.md); exit statuses are asserted.

mod support;

use std::path::{Path, PathBuf};

use policy_host::policy_path;
use support::{RELEASES, expect, policy_module, read, release, root, shape_settings};

/// `prepuller-check --color never ARGS` on the module without metadata.
fn check(args: &[&str]) -> (String, u8) {
    support::check_on(policy_module(), args)
}

/// Checks release `name` in namespace jhub with `args`: the report must be snapshot `expected`
/// (tests/expected/`expected`.snap) and the exit status `exit`.
fn check_release(name: &str, args: &[&str], expected: &str, exit: u8) -> String {
    let file = release(name);
    let mut argv = vec![file.as_str(), "-n", "jhub"];
    argv.extend_from_slice(args);
    let (report, status) = check(&argv);
    expect(expected, &report);
    assert_eq!(status, exit, "{name} {args:?}\n{report}");
    report
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
    // Monitor mode fails only for what the API server refuses whatever the policy answers:
    // the continuous puller's Pods of chart 4.1.0 and later with custom names.
    for name in RELEASES {
        let refused = name.ends_with("custom-sa") && !name.contains("4.0.0");
        let report = check_release(
            name,
            &[
                "--policy",
                "manifests/clusteradmissionpolicy.yaml",
                "--settings-json",
                shape_settings(name),
            ],
            &format!("{name}.monitor.txt"),
            u8::from(refused),
        );
        let verdict = if refused {
            "(monitor mode: the policy admits everything, but the API server would refuse something)\n"
        } else {
            "(monitor mode: the cluster admits everything)\n"
        };
        assert!(report.ends_with(verdict), "{report}");
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
fn mode_reject_advises_the_account_mutate_would_move_the_pullers_onto() {
    // Rejected without a patch: the advice still names the ServiceAccount each puller's fix
    // moves it onto (the settings' own, custom here), read from the policy's findings.
    let file = release("z2jh-4.0.0-default");
    let (report, status) = check(&[
        file.as_str(),
        "-n",
        "jhub",
        "--settings-json",
        r#"{"mode":"reject","hookPuller":{"serviceAccountName":"my-hook"}}"#,
    ]);
    assert_eq!(status, 1, "{report}");
    for puller in [
        "DaemonSet jhub/hook-image-puller",
        "DaemonSet jhub/continuous-image-puller",
    ] {
        let at = report.find(&format!("== {puller} ")).expect(puller);
        assert_eq!(
            report[at..].lines().nth(1).unwrap().trim(),
            "REJECT",
            "{report}"
        );
    }
    assert!(report.contains("DaemonSet jhub/hook-image-puller: chart jupyterhub-4.0.0 has no value for the hook image puller's ServiceAccount (prePuller.hook.serviceAccountImagePuller arrives in chart 4.1.0, and the values schema of earlier charts refuses it): upgrade the chart to 4.1.0 or later, which creates ServiceAccount \"hook-image-puller\" and runs the puller as it (then set hookPuller.serviceAccountName: hook-image-puller in the policy settings); or create ServiceAccount \"my-hook\" (kubectl create serviceaccount my-hook -n jhub), onto which the policy (mode: mutate) moves the puller\n"), "{report}");
    assert!(report.contains("or create ServiceAccount \"continuous-image-puller\" (kubectl create serviceaccount continuous-image-puller -n jhub), onto which the policy (mode: mutate) moves the puller\n"), "{report}");
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
    let text = read("manifests/clusteradmissionpolicy.yaml");
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

/// A workload the rules do not send is stored as it is, but its controller still creates Pods,
/// which the rules may send and the ServiceAccount plugin judges anyway: the check follows them.
#[test]
fn a_workload_not_sent_still_has_its_pods_judged() {
    let dir = tempfile::tempdir().unwrap();
    let text = read("manifests/clusteradmissionpolicy.yaml");
    let mut policy: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    policy["spec"]["mode"] = "protect".into();
    let rules = policy["spec"]["rules"].as_sequence_mut().unwrap();
    rules.retain(|rule| rule["resources"][0] == "pods");
    assert_eq!(rules.len(), 1);
    let path = dir.path().join("pods-only.yaml");
    std::fs::write(&path, serde_norway::to_string(&policy).unwrap()).unwrap();
    let (report, exit) = check(&[
        &release("z2jh-4.0.0-default"),
        "-n",
        "jhub",
        "--policy",
        path.to_str().unwrap(),
    ]);
    assert_eq!(exit, 1, "the pullers' Pods are refused: {report}");
    assert!(
        report.contains(
            "== DaemonSet jhub/continuous-image-puller [test_data/releases/z2jh-4.0.0-default.yaml, document 19: jupyterhub/templates/image-puller/daemonset-continuous.yaml]\n   NOT SENT (no rule of the policy matches)\n   -> Pod jhub/continuous-image-puller-"
        ),
        "{report}"
    );
    assert!(
        report.contains("serviceaccount \"continuous-image-puller\" not found"),
        "{report}"
    );
}

/// The same for a stored workload whose next UPDATE the rules do not send: its rollout still
/// creates Pods.
#[test]
fn a_next_update_not_sent_still_has_its_rollout_judged() {
    let dir = tempfile::tempdir().unwrap();
    let text = read("manifests/clusteradmissionpolicy.yaml");
    let mut policy: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    policy["spec"]["mode"] = "protect".into();
    for rule in policy["spec"]["rules"].as_sequence_mut().unwrap() {
        if rule["apiGroups"][0] == "apps" {
            rule["operations"] = serde_norway::from_str("[CREATE]").unwrap();
        }
    }
    let path = dir.path().join("apps-create-only.yaml");
    std::fs::write(&path, serde_norway::to_string(&policy).unwrap()).unwrap();
    let (report, exit) = check(&[
        &release("z2jh-4.0.0-default"),
        "-n",
        "jhub",
        "--as-audit",
        "--policy",
        path.to_str().unwrap(),
    ]);
    assert_eq!(exit, 1, "the rollout's Pods are refused: {report}");
    assert!(
        report.contains(
            "   next UPDATE changing the pod template: NOT SENT\n      -> Pod jhub/continuous-image-puller-: MUTATE"
        ),
        "{report}"
    );
    assert!(
        report.contains("serviceaccount \"continuous-image-puller\" not found"),
        "{report}"
    );
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

/// What `kubectl get pods,serviceaccounts,daemonsets,deployments,statefulsets,jobs,cronjobs,
/// replicasets -n jhub -o json` prints for a running chart 4.0.0 release installed without the
/// policy: what `helm install` left (the hooks deleted once they succeeded), the namespace's
/// `default` ServiceAccount, and the ReplicaSets and Pods the controllers made, every object
/// as stored.
fn stored_dump(dir: &Path) -> PathBuf {
    use serde_json::{Value, json};
    const KINDS: [&str; 8] = [
        "Pod",
        "ServiceAccount",
        "DaemonSet",
        "Deployment",
        "StatefulSet",
        "Job",
        "CronJob",
        "ReplicaSet",
    ];
    let mut documents = Vec::new();
    prepuller_check::input::parse("r", &read(&release("z2jh-4.0.0-default")), &mut documents)
        .unwrap();
    let mut objects: Vec<Value> = vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}),
    ];
    objects.extend(
        documents
            .into_iter()
            .map(|d| d.object)
            .filter(|o| KINDS.contains(&o["kind"].as_str().unwrap()))
            .filter(|o| {
                !o["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
                    .as_str()
                    .is_some_and(|p| p.contains("hook-succeeded"))
            }),
    );
    for o in &mut objects {
        o["metadata"]["namespace"] = "jhub".into();
    }
    let mut queue: Vec<Value> = objects
        .iter()
        .filter(|o| o["kind"] != "ServiceAccount" && o["spec"]["replicas"] != 0)
        .cloned()
        .collect();
    while let Some(parent) = queue.pop() {
        for mut child in policy_host::chain::children(&parent).unwrap() {
            if let Some(prefix) = child["metadata"]["generateName"].as_str() {
                child["metadata"]["name"] = format!("{prefix}x7k2p").into();
            }
            queue.push(child.clone());
            objects.push(child);
        }
    }
    objects.sort_by_key(|o| KINDS.iter().position(|k| o["kind"] == *k));
    for (i, o) in objects.iter_mut().enumerate() {
        o["metadata"]["uid"] = format!("00000000-0000-4000-8000-{i:012}").into();
        o["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z".into();
    }
    let path = dir.join("dump.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(
            &json!({"apiVersion": "v1", "kind": "List", "items": objects}),
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
    // The continuous puller's next rollout is moved onto a ServiceAccount the dump shows does
    // not exist: the API server refuses its Pods.
    assert_eq!(exit, 1, "{report}");
    assert!(report.contains("   next UPDATE changing the pod template: MUTATE\n      spec.template.spec.serviceAccountName: (unset) -> \"continuous-image-puller\"\n      warning: spec.template.spec.serviceAccountName: changed from unset (runs as \"default\") to \"continuous-image-puller\" (prepuller policy: own ServiceAccount, no API token)\n      -> Pod jhub/continuous-image-puller-: REFUSED by the API server (as system:serviceaccount:kube-system:daemon-set-controller): pods \"continuous-image-puller-\" is forbidden: error looking up service account jhub/continuous-image-puller: serviceaccount \"continuous-image-puller\" not found\n"), "{report}");
    assert!(report.contains("audit (PolicyReport): fail"), "{report}");
    // Once the ServiceAccount exists, the rollout's Pods are admitted.
    let (report, exit) = check(&[
        dump.to_str().unwrap(),
        "--existing-serviceaccount",
        "jhub/continuous-image-puller",
    ]);
    assert_eq!(exit, 0, "{report}");
    assert!(report.contains("      -> Pod jhub/continuous-image-puller-: ACCEPT (as system:serviceaccount:kube-system:daemon-set-controller)\n"), "{report}");
    // Without the ServiceAccounts (`kubectl get` without serviceaccounts) nothing says whether
    // they exist: the report says so instead of passing silently.
    let text = std::fs::read_to_string(&dump).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    value["items"]
        .as_array_mut()
        .unwrap()
        .retain(|o| o["kind"] != "ServiceAccount");
    let without = dir.path().join("without-serviceaccounts.json");
    std::fs::write(&without, value.to_string()).unwrap();
    let (report, exit) = check(&[without.to_str().unwrap()]);
    assert_eq!(exit, 0, "{report}");
    assert!(
        report.contains(&format!(
            "\nnote: {}\n",
            prepuller_check::accounts::SERVICE_ACCOUNTS_UNCHECKED
        )),
        "{report}"
    );
}

/// The test cases of a JUnit report that failed, by name.
fn junit_failures(junit: &str) -> Vec<String> {
    let mut failed = Vec::new();
    for case in junit.split("<testcase ").skip(1) {
        let case = &case[..case.find("</testcase>").unwrap_or(case.len())];
        if case.contains("<failure") {
            let name = case
                .split("name=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            failed.push(name.to_owned());
        }
    }
    failed
}

#[test]
fn fail_on_mutate_fails_the_same_objects_in_every_output() {
    // The stored 4.0.0 release with the continuous puller's ServiceAccount created: nothing is
    // refused, but the puller DaemonSet's next UPDATE (and its recreation) and its Pod are
    // mutated.
    let dir = tempfile::tempdir().unwrap();
    let dump = stored_dump(dir.path());
    let base = [
        dump.to_str().unwrap(),
        "--existing-serviceaccount",
        "jhub/continuous-image-puller",
    ];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        check(&args)
    };
    let (report, exit) = with(&[]);
    assert_eq!(exit, 0, "{report}");
    assert!(
        report.contains("   next UPDATE changing the pod template: MUTATE\n"),
        "{report}"
    );
    let (junit, exit) = with(&["--output", "junit"]);
    assert_eq!(exit, 0, "{junit}");
    assert_eq!(junit_failures(&junit), Vec::<String>::new(), "{junit}");

    let (report, exit) = with(&["--fail-on-mutate"]);
    assert_eq!(exit, 1, "{report}");
    assert!(report.ends_with("(the cluster would admit everything, but the policy would change something (--fail-on-mutate))\n"), "{report}");
    let (junit, junit_exit) = with(&["--fail-on-mutate", "--output", "junit"]);
    assert_eq!(junit_exit, 1, "{junit}");
    assert_eq!(
        junit_failures(&junit),
        [
            "Pod jhub/continuous-image-puller-x7k2p",
            "DaemonSet jhub/continuous-image-puller"
        ],
        "{junit}"
    );
    assert!(
        junit.contains("tests=\"15\" skipped=\"0\" errors=\"0\" failures=\"2\""),
        "{junit}"
    );
    assert!(junit.contains("next UPDATE mutated:\n   spec.template.spec.serviceAccountName: (unset) -&gt; &quot;continuous-image-puller&quot;\n"), "{junit}");
    let (json, json_exit) = with(&["--fail-on-mutate", "--output", "json"]);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!((value["exit"].as_u64(), json_exit), (Some(1), 1));
    assert_eq!(value["summary"]["failed"], 2);
}

#[test]
fn without_serviceaccounts_the_report_says_existence_is_not_checked() {
    // The 4.0.0 release's pullers alone: nothing tells which ServiceAccounts exist.
    let dir = tempfile::tempdir().unwrap();
    let text = read(&release("z2jh-4.0.0-default"));
    let pullers: Vec<&str> = text
        .split("\n---\n")
        .filter(|d| d.contains("\nkind: DaemonSet\n"))
        .collect();
    assert_eq!(pullers.len(), 2);
    let path = dir.path().join("pullers.yaml");
    std::fs::write(&path, format!("---\n{}\n", pullers.join("\n---\n"))).unwrap();
    let path_text = path.to_str().unwrap();
    let (report, exit) = check(&[path_text, "-n", "jhub"]);
    let report = report.replace(path_text, "pullers.yaml");
    expect("z2jh-4.0.0-pullers-only.txt", &report);
    assert_eq!(exit, 0, "{report}");
    let note = prepuller_check::accounts::SERVICE_ACCOUNTS_UNCHECKED;
    assert_eq!(
        report.lines().nth(1),
        Some(format!("note: {note}").as_str()),
        "{report}"
    );
    let (json, exit) = check(&[path_text, "-n", "jhub", "--output", "json"]);
    assert_eq!(exit, 0);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["service_accounts_checked"], false);
    assert_eq!(value["notes"], serde_json::json!([note]));
    // Naming one turns the check on: the Pods of both pullers are refused.
    let (json, exit) = check(&[
        path_text,
        "-n",
        "jhub",
        "--output",
        "json",
        "--existing-serviceaccount",
        "jhub/hub",
    ]);
    assert_eq!(exit, 1);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["service_accounts_checked"], true);
    assert_eq!(value.get("notes"), None);
    assert_eq!(value["summary"]["derived_refused"], 2);
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
    // The policy resource's spec.mode, named apart from the settings' mode.
    assert_eq!(value["policy_mode"], "protect");
    assert!(value.get("mode").is_none());
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
    assert!(
        junit.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
        "{junit}"
    );
    assert!(junit.contains("<testsuite name=\"prepuller-check\" tests=\"28\" skipped=\"18\" errors=\"0\" failures=\"2\">"), "{junit}");
    assert_eq!(value["summary"]["failed"], 2);
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
    // The rules name no resource of its group: the guessed resource decides nothing.
    assert!(!out.contains("guessed"), "{out}");

    // Rules that name resources of its group: whether it is sent rests on the guess, said.
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        "apiVersion: policies.kubewarden.io/v1\nkind: ClusterAdmissionPolicy\n\
         metadata: {name: p}\nspec:\n  module: x\n  rules:\n  \
         - {apiGroups: [example.org], apiVersions: [v1], resources: [gadgets], operations: [CREATE]}\n",
    )
    .unwrap();
    let (out, _) = check(&[
        path.to_str().unwrap(),
        "-n",
        "jhub",
        "--policy",
        policy.to_str().unwrap(),
    ]);
    assert!(
        out.contains(
            "Gadget (example.org/v1): not a kind Kubernetes or Kubewarden serves, so its resource \
             is guessed as \"gadgets\" (its CustomResourceDefinition's spec.names.plural is the \
             real one), and the policy's rules name resources of its group: whether the webhook \
             receives it is judged on that guess"
        ),
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

fn input(name: &str) -> String {
    format!("prepuller-check/tests/inputs/{name}")
}

#[test]
fn every_pod_is_refused_when_its_serviceaccount_does_not_exist() {
    // The ServiceAccount admission plugin looks a Pod's ServiceAccount up before the webhooks
    // and again after them, for every Pod, not only for those controllers derive.
    let file = input("debug-pods.yaml");
    let (report, exit) = check(&[&file, "-n", "jhub"]);
    expect("debug-pods.txt", &report);
    assert_eq!(exit, 1, "{report}");
    assert!(report.contains("   then REFUSED by the API server: pods \"puller-debug\" is forbidden: error looking up service account jhub/hook-image-puller: serviceaccount \"hook-image-puller\" not found\n"), "{report}");
    assert!(report.contains("== Pod jhub/hub-debug [prepuller-check/tests/inputs/debug-pods.yaml, document 3]\n   REFUSED by the API server before the webhooks: pods \"hub-debug\" is forbidden: error looking up service account jhub/hub-debug: serviceaccount \"hub-debug\" not found\n"), "{report}");
    assert!(report.contains("summary: 4 objects: 2 accepted, 1 mutated, 0 rejected, 0 not sent, 2 refused by the API server; 0 derived objects admitted, 0 refused (the cluster would refuse something)\n"), "{report}");
    // With both ServiceAccounts in the cluster, everything is admitted.
    let (report, exit) = check(&[
        &file,
        "-n",
        "jhub",
        "--existing-serviceaccount",
        "jhub/hook-image-puller",
        "--existing-serviceaccount",
        "jhub/hub-debug",
    ]);
    assert_eq!(exit, 0, "{report}");
    assert!(report.contains("summary: 4 objects: 3 accepted, 1 mutated, 0 rejected, 0 not sent; 0 derived objects admitted, 0 refused (the cluster would admit everything)\n"), "{report}");
    // JSON and JUnit say the same.
    let (json, _) = check(&[&file, "-n", "jhub", "--output", "json"]);
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["summary"]["refused_by_api_server"], 2);
    assert_eq!(value["objects"][1]["admission"]["decision"], "mutate");
    assert_eq!(
        value["objects"][1]["refused_by_api_server"],
        "pods \"puller-debug\" is forbidden: error looking up service account jhub/hook-image-puller: serviceaccount \"hook-image-puller\" not found"
    );
    assert_eq!(value["objects"][2]["admission"]["decision"], "not-sent");
    let (junit, _) = check(&[&file, "-n", "jhub", "--output", "junit"]);
    assert!(junit.contains("failures=\"2\""), "{junit}");
    assert!(junit.contains("<failure message=\"REFUSED by the API server\">refused by the API server: pods &quot;hub-debug&quot; is forbidden"), "{junit}");
}

#[test]
fn no_objects_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    std::fs::write(at("empty.yaml"), "").unwrap();
    std::fs::write(at("comments.yaml"), "# nothing rendered\n---\n---\n").unwrap();
    std::fs::write(
        at("empty-list.json"),
        r#"{"apiVersion": "v1", "kind": "List", "items": []}"#,
    )
    .unwrap();
    std::fs::create_dir(at("no-manifests")).unwrap();
    std::fs::write(at("no-manifests/notes.txt"), "not a manifest").unwrap();
    std::fs::create_dir(at("empty-manifests")).unwrap();
    std::fs::write(at("empty-manifests/a.yaml"), "\n").unwrap();
    let cases = [
        ("empty.yaml", "the file holds no Kubernetes object"),
        ("comments.yaml", "the file holds no Kubernetes object"),
        ("empty-list.json", "the file holds no Kubernetes object"),
        (
            "no-manifests",
            "the directory has no *.yaml, *.yml or *.json file",
        ),
        (
            "empty-manifests",
            "its *.yaml, *.yml and *.json files hold no Kubernetes object",
        ),
    ];
    for (name, why) in cases {
        let path = at(name);
        let (out, exit) = check(&[&path]);
        assert_eq!(
            (out.as_str(), exit),
            (
                format!("error: {path}: no objects passed to check: {why}\n").as_str(),
                2
            )
        );
    }
    // One empty input among good ones is still refused: it is a failed render.
    let (out, exit) = check(&[&release("z2jh-4.4.0-default"), &at("empty.yaml")]);
    assert_eq!(exit, 2, "{out}");
}

#[test]
fn write_fixed_changes_nothing_but_what_the_policy_changed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("fixed");
    let out_text = out.to_str().unwrap().to_owned();
    // The same file name in two folders, and Pods created directly.
    for folder in ["staging", "prod"] {
        std::fs::create_dir(dir.path().join(folder)).unwrap();
        std::fs::copy(
            root().join(release("z2jh-4.0.0-default")),
            dir.path().join(folder).join("release.yaml"),
        )
        .unwrap();
    }
    let staging = dir.path().join("staging/release.yaml");
    let prod = dir.path().join("prod/release.yaml");
    let pods = input("debug-pods.yaml");
    let (report, exit) = check(&[
        staging.to_str().unwrap(),
        prod.to_str().unwrap(),
        &pods,
        "-n",
        "jhub",
        "--existing-serviceaccount",
        "jhub/hook-image-puller",
        "--existing-serviceaccount",
        "jhub/continuous-image-puller",
        "--existing-serviceaccount",
        "jhub/hub-debug",
        "--write-fixed",
        &out_text,
    ]);
    assert_eq!(exit, 0, "{report}");
    let mut written: Vec<String> = walk(&out)
        .iter()
        .map(|p| p.strip_prefix(&out).unwrap().to_str().unwrap().to_owned())
        .collect();
    written.sort();
    assert_eq!(
        written,
        [
            "debug-pods.yaml",
            "prod/release.yaml",
            "staging/release.yaml"
        ]
    );
    // Every document as it was, but for the policy's changes: no namespace added.
    let read = |path: &Path| {
        let mut documents = Vec::new();
        let text = std::fs::read_to_string(path).unwrap();
        prepuller_check::input::parse("x", &text, &mut documents).unwrap();
        documents
    };
    for (input, fixed) in [
        (staging.clone(), out.join("staging/release.yaml")),
        (prod.clone(), out.join("prod/release.yaml")),
        (root().join(&pods), out.join("debug-pods.yaml")),
    ] {
        let (before, after) = (read(&input), read(&fixed));
        assert_eq!(before.len(), after.len());
        for (b, a) in before.iter().zip(&after) {
            assert_eq!(b.source, a.source);
            let patch = json_patch::diff(&b.object, &a.object);
            let changed: Vec<String> = patch.0.iter().map(|op| op.path().to_string()).collect();
            let name = b.object["metadata"]["name"].as_str().unwrap();
            let expected: &[&str] = match name {
                "hook-image-puller" | "continuous-image-puller"
                    if b.object["kind"] == "DaemonSet" =>
                {
                    &["/spec/template/spec/serviceAccountName"]
                }
                "puller-debug" => &[
                    "/spec/automountServiceAccountToken",
                    "/spec/serviceAccountName",
                ],
                _ => &[],
            };
            assert_eq!(changed, expected, "{name}: {patch:?}");
            if expected.is_empty() {
                // What the policy did not change is written as it was, comments included.
                assert_eq!(a.text, b.text, "{name}");
            } else {
                // What it changed keeps its keys in their order.
                let keys = |text: &Option<String>, pointer: &str| -> Vec<String> {
                    let yaml: serde_norway::Value =
                        serde_norway::from_str(&text.as_ref().unwrap()[3..]).unwrap();
                    let mut at = &yaml;
                    for key in pointer.split('/').filter(|k| !k.is_empty()) {
                        at = &at[key];
                    }
                    at.as_mapping()
                        .unwrap()
                        .keys()
                        .map(|k| k.as_str().unwrap().to_owned())
                        .collect()
                };
                let spec = if b.object["kind"] == "Pod" {
                    "/spec"
                } else {
                    "/spec/template/spec"
                };
                for pointer in ["", "/metadata", "/spec"]
                    .into_iter()
                    .filter(|p| *p != spec)
                {
                    assert_eq!(
                        keys(&a.text, pointer),
                        keys(&b.text, pointer),
                        "{name} {pointer}"
                    );
                }
                // The added keys come after the others, in the order the patch adds them.
                let mut order = keys(&b.text, spec);
                order.extend(
                    changed
                        .iter()
                        .map(|c| c.rsplit('/').next().unwrap().to_owned()),
                );
                assert_eq!(keys(&a.text, spec), order, "{name}");
                assert!(a.text.as_ref().unwrap().starts_with(&format!(
                    "---\n{}",
                    b.source.as_ref().map(|s| format!("# Source: {s}\n")).unwrap_or_default()
                )));
            }
        }
    }
    let fixed_pod = &read(&out.join("debug-pods.yaml"))[1].object;
    assert_eq!(fixed_pod["spec"]["serviceAccountName"], "hook-image-puller");
    // The fixed manifests need no mutation any more.
    let (report, exit) = check(&[
        out.join("prod/release.yaml").to_str().unwrap(),
        out.join("debug-pods.yaml").to_str().unwrap(),
        "-n",
        "jhub",
        "--fail-on-mutate",
        "--existing-serviceaccount",
        "jhub/hook-image-puller",
        "--existing-serviceaccount",
        "jhub/continuous-image-puller",
        "--existing-serviceaccount",
        "jhub/hub-debug",
    ]);
    assert_eq!(exit, 0, "{report}");
    assert!(
        report.contains("32 objects: 14 accepted, 0 mutated, 0 rejected, 18 not sent"),
        "{report}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn a_module_that_is_not_webassembly_is_one_line() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prepuller-check"))
        .current_dir(root())
        .args([&release("z2jh-4.4.0-default"), "--module", "Cargo.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "prepuller-check: error: Cargo.toml: not a WebAssembly module (it does not start with \\0asm)\n"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn the_charts_own_naming_of_the_continuous_pullers_serviceaccount_is_explained() {
    // Chart 4.1.0 and later name the continuous puller's ServiceAccount after the DaemonSet,
    // not after prePuller.continuous.serviceAccount.name, which the DaemonSet runs as.
    for name in ["z2jh-4.1.0-custom-sa", "z2jh-4.4.0-custom-sa"] {
        let version = &name[5..10];
        let report = check_release(
            name,
            &["--settings-json", shape_settings(name)],
            &format!("{name}.protect.txt"),
            1,
        );
        let advice = format!(
            "What to change:\n   DaemonSet jhub/continuous-image-puller: chart jupyterhub-{version} names the continuous image puller's ServiceAccount after the DaemonSet (\"continuous-image-puller\"), not after prePuller.continuous.serviceAccount.name (\"jhub-continuous-puller\"), which the DaemonSet runs as: the release never creates \"jhub-continuous-puller\", so the API server refuses the puller's Pods. Set prePuller.continuous.serviceAccount.name=continuous-image-puller (and continuousPuller.serviceAccountName: continuous-image-puller in the policy settings), or create ServiceAccount \"jhub-continuous-puller\" yourself (kubectl create serviceaccount jhub-continuous-puller -n jhub), or, when the cluster already has it, name it with --existing-serviceaccount jhub/jhub-continuous-puller\nsummary: "
        );
        assert!(report.contains(&advice), "{report}");
        // The third way out works.
        let (report, exit) = check(&[
            &release(name),
            "-n",
            "jhub",
            "--settings-json",
            shape_settings(name),
            "--existing-serviceaccount",
            "jhub/jhub-continuous-puller",
        ]);
        assert_eq!(exit, 0, "{report}");
        assert!(!report.contains("What to change:"), "{report}");
    }
    // The same release with the default names: the policy moves the continuous puller onto the
    // ServiceAccount the chart created, and the others onto ServiceAccounts nobody creates.
    let (report, exit) = check(&[&release("z2jh-4.4.0-custom-sa"), "-n", "jhub"]);
    assert_eq!(exit, 1, "{report}");
    let advice = &report[report.find("What to change:\n").expect("advice")..];
    assert_eq!(
        advice,
        r#"What to change:
   DaemonSet jhub/continuous-image-puller: chart jupyterhub-4.4.0 names the continuous image puller's ServiceAccount after the DaemonSet ("continuous-image-puller"), not after prePuller.continuous.serviceAccount.name ("jhub-continuous-puller"), which the DaemonSet runs as: the release never creates "jhub-continuous-puller" (the policy moves the puller onto "continuous-image-puller"). Set prePuller.continuous.serviceAccount.name=continuous-image-puller, or create ServiceAccount "jhub-continuous-puller" yourself (kubectl create serviceaccount jhub-continuous-puller -n jhub), or, when the cluster already has it, name it with --existing-serviceaccount jhub/jhub-continuous-puller
   DaemonSet jhub/hook-image-puller: chart jupyterhub-4.4.0 runs the hook image puller as ServiceAccount "jhub-hook-puller", which the release creates, the policy settings expect "hook-image-puller": set hookPuller.serviceAccountName: jhub-hook-puller in them, or prePuller.hook.serviceAccountImagePuller.name=hook-image-puller (the chart then creates it and runs the hook image puller as it)
   Job jhub/hook-image-awaiter: chart jupyterhub-4.4.0 runs the hook image awaiter as ServiceAccount "jhub-awaiter", which the release creates, the policy settings expect "hook-image-awaiter": set awaiter.serviceAccountName: jhub-awaiter in them, or prePuller.hook.serviceAccount.name=hook-image-awaiter (the chart then creates it and runs the hook image awaiter as it)
summary: 30 objects: 9 accepted, 3 mutated, 0 rejected, 18 not sent; 8 derived objects admitted, 2 refused (the cluster would refuse something)
"#
    );
}

#[test]
fn chart_values_are_advised_only_for_what_the_chart_rendered() {
    // The 4.4.0 release with two CronJobs labelled as the continuous puller beside it.
    let (report, exit) = check(&[
        &release("z2jh-4.4.0-default"),
        &input("user-cronjob.yaml"),
        "-n",
        "jhub",
    ]);
    assert_eq!(exit, 0, "{report}");
    let advice = &report[report.find("What to change:\n").expect("advice")..];
    assert_eq!(
        advice,
        "What to change:\n   CronJob jhub/refresh-images: not rendered by the Zero to JupyterHub chart as one of its image pullers or its awaiter, so no chart value applies: make the changes above in its own manifest (--write-fixed writes them); if it is no image puller, give its Pods labels that no role's selector in the policy settings matches\n   CronJob jhub/refresh-images-by-hand: not rendered by the Zero to JupyterHub chart as one of its image pullers or its awaiter, so no chart value applies: make the changes above in its own manifest (--write-fixed writes them); if it is no image puller, give its Pods labels that no role's selector in the policy settings matches\nsummary: 32 objects: 12 accepted, 2 mutated, 0 rejected, 18 not sent; 14 derived objects admitted, 0 refused (the cluster would admit everything)\n"
    );
}

#[test]
fn the_advice_fits_the_charts_version() {
    // Chart 4.0.0 has neither puller ServiceAccount value (its values schema refuses them):
    // upgrade, or create the ServiceAccounts. This is `make run-examples`' last report.
    let report = check_release(
        "z2jh-4.0.0-default",
        &[],
        "z2jh-4.0.0-default.protect.txt",
        1,
    );
    let advice = &report[report.find("What to change:\n").expect("advice")..];
    assert_eq!(
        advice,
        "What to change:\n   DaemonSet jhub/continuous-image-puller: chart jupyterhub-4.0.0 has no value for the continuous image puller's ServiceAccount (prePuller.continuous.serviceAccount arrives in chart 4.1.0, and the values schema of earlier charts refuses it): upgrade the chart to 4.1.0 or later, which creates ServiceAccount \"continuous-image-puller\" and runs the puller as it; or create ServiceAccount \"continuous-image-puller\" (kubectl create serviceaccount continuous-image-puller -n jhub), onto which the policy (mode: mutate) moves the puller\n   DaemonSet jhub/hook-image-puller: chart jupyterhub-4.0.0 has no value for the hook image puller's ServiceAccount (prePuller.hook.serviceAccountImagePuller arrives in chart 4.1.0, and the values schema of earlier charts refuses it): upgrade the chart to 4.1.0 or later, which creates ServiceAccount \"hook-image-puller\" and runs the puller as it; or create ServiceAccount \"hook-image-puller\" (kubectl create serviceaccount hook-image-puller -n jhub), onto which the policy (mode: mutate) moves the puller\nsummary: 28 objects: 8 accepted, 2 mutated, 0 rejected, 18 not sent; 8 derived objects admitted, 2 refused (the cluster would refuse something)\n"
    );
    assert!(!report.contains(".create=true"), "{report}");
    // Chart 4.4.0 with the default names checked against a fullnameOverride release: the chart
    // runs the pullers as their own ServiceAccounts, the settings name others.
    let report = check_release(
        "z2jh-4.4.0-fullnameoverride",
        &[],
        "z2jh-4.4.0-fullnameoverride.wrong-settings-mutate.txt",
        1,
    );
    let advice = &report[report.find("What to change:\n").expect("advice")..];
    assert_eq!(
        advice,
        "What to change:\n   DaemonSet jhub/myhub-continuous-image-puller: chart jupyterhub-4.4.0 runs the continuous image puller as ServiceAccount \"myhub-continuous-image-puller\", which the release creates, the policy settings expect \"continuous-image-puller\": set continuousPuller.serviceAccountName: myhub-continuous-image-puller in them\n   DaemonSet jhub/myhub-hook-image-puller: chart jupyterhub-4.4.0 runs the hook image puller as ServiceAccount \"myhub-hook-image-puller\", which the release creates, the policy settings expect \"hook-image-puller\": set hookPuller.serviceAccountName: myhub-hook-image-puller in them, or prePuller.hook.serviceAccountImagePuller.name=hook-image-puller (the chart then creates it and runs the hook image puller as it)\n   Job jhub/myhub-hook-image-awaiter: chart jupyterhub-4.4.0 runs the hook image awaiter as ServiceAccount \"myhub-hook-image-awaiter\", which the release creates, the policy settings expect \"hook-image-awaiter\": set awaiter.serviceAccountName: myhub-hook-image-awaiter in them, or prePuller.hook.serviceAccount.name=hook-image-awaiter (the chart then creates it and runs the hook image awaiter as it)\nsummary: 30 objects: 9 accepted, 3 mutated, 0 rejected, 18 not sent; 7 derived objects admitted, 3 refused (the cluster would refuse something)\n"
    );
}

#[test]
fn colour_is_anstreams_choice_for_the_color_option() {
    let coloured = |color: &str, env: &[(&str, &str)]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_prepuller-check"));
        command
            .current_dir(root())
            .args([
                &release("z2jh-4.0.0-default"),
                "-n",
                "jhub",
                "--color",
                color,
            ])
            .arg("--module")
            .arg(policy_path())
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR")
            .env_remove("CLICOLOR_FORCE");
        for (key, value) in env {
            command.env(key, value);
        }
        let out = command.output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let stdout = String::from_utf8(out.stdout).unwrap();
        let plain = anstream::adapter::strip_str(&stdout).to_string();
        assert!(plain.contains("\n   MUTATE\n"), "{plain}");
        stdout.contains("\n   \x1b[33mMUTATE\x1b[0m\n")
    };
    // Standard output is a pipe here.
    assert!(!coloured("auto", &[]));
    assert!(coloured("auto", &[("CLICOLOR_FORCE", "1")]));
    assert!(!coloured(
        "auto",
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]
    ));
    assert!(coloured("always", &[("NO_COLOR", "1")]));
    assert!(!coloured("never", &[("CLICOLOR_FORCE", "1")]));
}
