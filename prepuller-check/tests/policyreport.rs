//! `--output policyreport` end to end on the compiled module (`make policy.wasm`, or
//! `$POLICY_WASM`): the reports Kubewarden's audit scanner would write for the Zero to JupyterHub
//! releases of test_data/releases/. One is compared exactly with its insta snapshot in
//! tests/expected/ (`INSTA_UPDATE=always cargo test --locked -p prepuller-check` rewrites it,
//! then review the diff; docs/development.md); every report of every release is
//! validated against the CRD it belongs to (tests/fixtures/crds/, from kubewarden-crds) as the API
//! server validates it: the openAPIV3Schema with unknown fields refused (kubectl's strict field
//! validation) and the metadata rules of every object. `kubectl apply --dry-run=client` needs an
//! API server that knows the CRDs, so this is the check that runs offline.

mod support;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::{Value, json};
use support::{RELEASES, expect, policy_module, read, release, root, shape_settings};

/// `prepuller-check --output policyreport ARGS` (paths relative to the workspace root): the
/// output and the exit status.
fn policyreport(args: &[&str]) -> (String, u8) {
    let argv: Vec<&str> = ["--output", "policyreport"]
        .into_iter()
        .chain(args.iter().copied())
        .collect();
    let result =
        support::run_on(policy_module(), &argv).unwrap_or_else(|e| panic!("{args:?}: {e:#}"));
    (result.output, result.exit)
}

/// The YAML documents of the output (its header is comments).
fn documents(output: &str) -> Vec<Value> {
    use serde::Deserialize as _;
    serde_norway::Deserializer::from_str(output)
        .map(|d| Value::deserialize(d).expect("YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

/// The CRD schemas, keyed by (apiVersion, kind), each as JSON Schema with Kubernetes' structural
/// reading: an object schema that lists its properties admits no others (the API server prunes
/// them, and refuses them under kubectl's default strict field validation).
fn schemas() -> &'static Vec<((String, String), jsonschema::Validator)> {
    static SCHEMAS: OnceLock<Vec<((String, String), jsonschema::Validator)>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let dir = root().join("prepuller-check/tests/fixtures/crds");
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let crd: Value =
                serde_norway::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(
                crd["kind"],
                "CustomResourceDefinition",
                "{}",
                path.display()
            );
            let group = crd["spec"]["group"].as_str().unwrap();
            let kind = crd["spec"]["names"]["kind"].as_str().unwrap();
            for version in crd["spec"]["versions"].as_array().unwrap() {
                let mut schema = version["schema"]["openAPIV3Schema"].clone();
                structural(&mut schema);
                let validator = jsonschema::validator_for(&schema).unwrap();
                let api_version = format!("{group}/{}", version["name"].as_str().unwrap());
                out.push(((api_version, kind.to_owned()), validator));
            }
        }
        assert_eq!(out.len(), 2 + 2 * 3, "the four CRDs and their versions");
        out
    })
}

fn structural(schema: &mut Value) {
    let Some(map) = schema.as_object_mut() else {
        return;
    };
    if map.contains_key("properties") && !map.contains_key("additionalProperties") {
        map.insert("additionalProperties".into(), json!(false));
    }
    for key in ["properties"] {
        if let Some(Value::Object(properties)) = map.get_mut(key) {
            properties.values_mut().for_each(structural);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = map.get_mut(key) {
            structural(sub);
        }
    }
}

/// A DNS-1123 label: what a namespace name (and each part of a subdomain) must be.
fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A DNS-1123 subdomain: what most object names, a report's too, must be.
fn dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(dns_label)
}

/// A label value.
fn label_value(s: &str) -> bool {
    s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && s.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
        && s.chars().last().is_none_or(|c| c.is_ascii_alphanumeric())
}

/// Everything the API server and Policy Reporter need of one report; returns its problems.
fn problems(report: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let api_version = report["apiVersion"].as_str().unwrap_or_default();
    let kind = report["kind"].as_str().unwrap_or_default();
    let Some((_, validator)) = schemas()
        .iter()
        .find(|((v, k), _)| v == api_version && k == kind)
    else {
        return vec![format!("no CRD serves {api_version} {kind}")];
    };
    out.extend(
        validator
            .iter_errors(report)
            .map(|e| format!("{}: {e}", e.instance_path())),
    );
    let metadata = &report["metadata"];
    let name = metadata["name"].as_str().unwrap_or_default();
    if !dns_subdomain(name) {
        out.push(format!(
            "metadata.name {name:?} is not a DNS-1123 subdomain"
        ));
    }
    let cluster = kind.starts_with("Cluster");
    match metadata["namespace"].as_str() {
        Some(ns) if cluster => out.push(format!("a {kind} has a namespace ({ns})")),
        Some(ns) if !dns_label(ns) => out.push(format!("metadata.namespace {ns:?}")),
        None if !cluster => out.push(format!("a {kind} without a namespace")),
        _ => {}
    }
    if report["scope"]["namespace"] != metadata["namespace"] {
        out.push("scope.namespace is not the report's namespace".into());
    }
    for (key, value) in metadata["labels"].as_object().into_iter().flatten() {
        if !value.as_str().is_some_and(label_value) {
            out.push(format!("label {key}: {value}"));
        }
    }
    for owner in metadata["ownerReferences"].as_array().into_iter().flatten() {
        for field in ["apiVersion", "kind", "name", "uid"] {
            if owner[field].as_str().is_none_or(str::is_empty) {
                out.push(format!("ownerReferences without {field}"));
            }
        }
    }
    // Policy Reporter shows the scope as the resource of results without one.
    for field in ["apiVersion", "kind", "name"] {
        if report["scope"][field].as_str().is_none_or(str::is_empty) {
            out.push(format!("scope.{field} is empty"));
        }
    }
    let results = report["results"].as_array().cloned().unwrap_or_default();
    for status in ["pass", "fail", "warn", "error", "skip"] {
        let counted = results.iter().filter(|r| r["result"] == status).count();
        if report["summary"][status] != json!(counted) {
            out.push(format!(
                "summary.{status} is {}, the results have {counted}",
                report["summary"][status]
            ));
        }
    }
    out
}

fn assert_valid(output: &str) -> Vec<Value> {
    let reports = documents(output);
    for report in &reports {
        let problems = problems(report);
        assert!(
            problems.is_empty(),
            "{problems:#?}\n{}",
            serde_norway::to_string(report).unwrap()
        );
    }
    reports
}

/// `Kind namespace/name` of a report's scope.
fn scope_of(report: &Value) -> String {
    let s = &report["scope"];
    format!(
        "{} {}/{}",
        s["kind"].as_str().unwrap(),
        s["namespace"].as_str().unwrap_or_default(),
        s["name"].as_str().unwrap()
    )
}

fn scopes(reports: &[Value]) -> BTreeSet<String> {
    reports.iter().map(scope_of).collect()
}

fn results(reports: &[Value], kind_name: &str) -> Vec<Value> {
    reports
        .iter()
        .find(|r| {
            format!(
                "{} {}",
                r["scope"]["kind"].as_str().unwrap(),
                r["scope"]["name"].as_str().unwrap()
            ) == kind_name
        })
        .unwrap_or_else(|| panic!("no report for {kind_name}"))["results"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The workloads of a release the manifest's rules with a CREATE list: what the scanner audits.
fn workloads(name: &str) -> BTreeSet<String> {
    let mut documents = Vec::new();
    prepuller_check::input::parse("r", &read(&release(name)), &mut documents).unwrap();
    documents
        .iter()
        .map(|d| &d.object)
        .filter(|o| {
            [
                "Pod",
                "ReplicationController",
                "Deployment",
                "ReplicaSet",
                "StatefulSet",
                "DaemonSet",
                "Job",
                "CronJob",
            ]
            .contains(&o["kind"].as_str().unwrap())
        })
        .map(|o| {
            format!(
                "{} jhub/{}",
                o["kind"].as_str().unwrap(),
                o["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn the_manifest_on_4_0_0_exactly() {
    let (output, exit) = policyreport(&[
        &release("z2jh-4.0.0-default"),
        "-n",
        "jhub",
        "--policy",
        "manifests/clusteradmissionpolicy.yaml",
    ]);
    expect("z2jh-4.0.0-default.policyreport.yaml", &output);
    assert_eq!(exit, 0, "monitor mode");
    let reports = assert_valid(&output);
    assert_eq!(scopes(&reports), workloads("z2jh-4.0.0-default"));
    // Monitor mode stores the pullers as they are: the audit fails them with the fix.
    for puller in [
        "DaemonSet hook-image-puller",
        "DaemonSet continuous-image-puller",
    ] {
        let results = results(&reports, puller);
        assert_eq!(results.len(), 1);
        assert_eq!(results[0]["result"], "fail", "{puller}");
        assert_eq!(results[0]["severity"], "info", "monitor mode");
        assert!(
            results[0]["message"]
                .as_str()
                .unwrap()
                .contains("serviceAccountName"),
            "{results:?}"
        );
    }
    assert_eq!(
        results(&reports, "Deployment hub")[0]["result"],
        "pass",
        "{output}"
    );
}

#[test]
fn every_release_validates_against_both_crds() {
    for name in RELEASES {
        for kind in ["openreports", "policyreport"] {
            let (output, _) = policyreport(&[
                &release(name),
                "-n",
                "jhub",
                "--policy",
                "manifests/clusteradmissionpolicy.yaml",
                "--settings-json",
                shape_settings(name),
                "--report-kind",
                kind,
            ]);
            let reports = assert_valid(&output);
            assert_eq!(scopes(&reports), workloads(name), "{name} {kind}");
            let expected = if kind == "openreports" {
                ("openreports.io/v1alpha1", "Report")
            } else {
                ("wgpolicyk8s.io/v1alpha2", "PolicyReport")
            };
            for report in &reports {
                assert_eq!(
                    (report["apiVersion"].as_str(), report["kind"].as_str()),
                    (Some(expected.0), Some(expected.1))
                );
                let results = report["results"].as_array().unwrap();
                assert_eq!(results.len(), 1, "{report}");
                let result = &results[0];
                assert_eq!(result["policy"], "clusterwide-prepuller-serviceaccount");
                assert_eq!(result["source"], "kubewarden");
                assert_eq!(result["category"], "Resource validation");
                assert_eq!(
                    result["properties"],
                    json!({"mutating": "true", "policy-name": "prepuller-serviceaccount",
                        "policy-resource-version": "", "policy-uid": ""})
                );
                // Not stored yet: no uid, so no owner (the garbage collector would delete the
                // report) and a stable name.
                assert!(report["metadata"].get("ownerReferences").is_none());
                assert!(report["scope"].get("uid").is_none());
            }
            // Before chart 4.1.0 the pullers run as `default`: monitor mode stores them so and the
            // audit fails them; from 4.1.0 on, with the settings for the release's names, nothing
            // fails.
            let failed: BTreeSet<String> = reports
                .iter()
                .filter(|r| r["summary"]["fail"] == 1)
                .map(scope_of)
                .collect();
            let daemonsets: BTreeSet<String> = workloads(name)
                .into_iter()
                .filter(|w| w.starts_with("DaemonSet "))
                .collect();
            if name.contains("3.3.8") || name.contains("4.0.0") {
                assert_eq!(failed, daemonsets, "{name}\n{output}");
            } else {
                assert!(failed.is_empty(), "{name}: {failed:?}\n{output}");
            }
        }
    }
}

#[test]
fn protect_mode_audits_the_objects_as_admitted() {
    // In protect mode the pullers are stored as mutated: the audit passes them, severity from
    // the policy's annotation.
    let dir = tempfile::tempdir().unwrap();
    let text = read("manifests/clusteradmissionpolicy.yaml");
    let protect = dir.path().join("protect.yaml");
    std::fs::write(&protect, text.replace("mode: monitor", "mode: protect")).unwrap();
    let (output, _) = policyreport(&[
        &release("z2jh-4.0.0-default"),
        "-n",
        "jhub",
        "--policy",
        protect.to_str().unwrap(),
    ]);
    let reports = assert_valid(&output);
    for puller in [
        "DaemonSet hook-image-puller",
        "DaemonSet continuous-image-puller",
    ] {
        let results = results(&reports, puller);
        assert_eq!(results[0]["result"], "pass", "{output}");
        assert_eq!(results[0]["severity"], "medium");
    }
    // Their Pods, moved onto ServiceAccounts chart 4.0.0 does not create, are refused by the API
    // server: never stored, so the pullers are not among the objects whose controllers' objects
    // the scanner audits later.
    assert!(
        output.contains("\n# not shown: the objects the controllers create from these, which the scanner audits too once they exist (the text report shows how they are admitted): Deployment jhub/hub, Deployment jhub/proxy, Deployment jhub/user-scheduler, StatefulSet jhub/user-placeholder, Job jhub/hook-image-awaiter\n"),
        "{output}"
    );
    // Not allowed to mutate: both pullers are rejected, never stored, so no report.
    let validating = dir.path().join("validating.yaml");
    std::fs::write(
        &validating,
        text.replace("mode: monitor", "mode: protect")
            .replace("mutating: true", "mutating: false"),
    )
    .unwrap();
    let (output, exit) = policyreport(&[
        &release("z2jh-4.0.0-default"),
        "-n",
        "jhub",
        "--policy",
        validating.to_str().unwrap(),
    ]);
    assert_eq!(exit, 1);
    let reports = assert_valid(&output);
    let mut expected = workloads("z2jh-4.0.0-default");
    expected.remove("DaemonSet jhub/hook-image-puller");
    expected.remove("DaemonSet jhub/continuous-image-puller");
    assert_eq!(scopes(&reports), expected);
    assert!(output.contains("# rejected at admission, so never stored nor audited: DaemonSet jhub/continuous-image-puller, DaemonSet jhub/hook-image-puller\n"), "{output}");
    assert_eq!(
        results(&reports, "Deployment hub")[0]["properties"]["validating"],
        "true"
    );
}

#[test]
fn cluster_scoped_objects_get_cluster_reports() {
    // A policy whose rules also list ClusterRoles: the scanner's cluster-wide scan audits them
    // into ClusterReports; an AdmissionPolicy never audits them.
    let dir = tempfile::tempdir().unwrap();
    let text = read("manifests/clusteradmissionpolicy.yaml");
    let with_roles = text.replace(
        "  rules:\n",
        "  rules:\n  - apiGroups: [rbac.authorization.k8s.io]\n    apiVersions: [v1]\n    resources: [clusterroles]\n    operations: [CREATE]\n",
    );
    let cluster = dir.path().join("cluster.yaml");
    std::fs::write(&cluster, &with_roles).unwrap();
    for kind in ["openreports", "policyreport"] {
        let (output, _) = policyreport(&[
            &release("z2jh-4.4.0-default"),
            "-n",
            "jhub",
            "--policy",
            cluster.to_str().unwrap(),
            "--report-kind",
            kind,
        ]);
        let reports = assert_valid(&output);
        let cluster_reports: Vec<&Value> = reports
            .iter()
            .filter(|r| r["scope"]["kind"] == "ClusterRole")
            .collect();
        assert_eq!(cluster_reports.len(), 1, "{output}");
        let report = cluster_reports[0];
        assert_eq!(
            report["kind"],
            if kind == "openreports" {
                "ClusterReport"
            } else {
                "ClusterPolicyReport"
            }
        );
        assert!(report["metadata"].get("namespace").is_none());
        assert_eq!(report["scope"]["name"], "jhub-user-scheduler");
        assert_eq!(report["summary"]["pass"], 1);
        assert_eq!(
            reports.len(),
            workloads("z2jh-4.4.0-default").len() + 1,
            "{output}"
        );
    }
    let admission = dir.path().join("admission.yaml");
    std::fs::write(
        &admission,
        with_roles
            .replace("kind: ClusterAdmissionPolicy", "kind: AdmissionPolicy")
            .replace(
                "  name: prepuller-serviceaccount\n",
                "  name: prepuller-serviceaccount\n  namespace: jhub\n",
            ),
    )
    .unwrap();
    let (output, _) = policyreport(&[
        &release("z2jh-4.4.0-default"),
        "-n",
        "jhub",
        "--policy",
        admission.to_str().unwrap(),
    ]);
    let reports = assert_valid(&output);
    assert_eq!(scopes(&reports), workloads("z2jh-4.4.0-default"));
    let result = &reports[0]["results"][0];
    assert_eq!(result["policy"], "namespaced-jhub-prepuller-serviceaccount");
    assert_eq!(result["properties"]["policy-namespace"], "jhub");
}

#[test]
fn stored_objects_keep_their_uid() {
    // A dump of a running 4.0.0 release: each report is named by the object's uid and owned by
    // it, its verdict the audit the text report shows.
    let mut documents = Vec::new();
    prepuller_check::input::parse("r", &read(&release("z2jh-4.0.0-default")), &mut documents)
        .unwrap();
    let items: Vec<Value> = documents
        .into_iter()
        .map(|d| d.object)
        .filter(|o| ["DaemonSet", "Deployment"].contains(&o["kind"].as_str().unwrap()))
        .enumerate()
        .map(|(i, mut o)| {
            o["metadata"]["namespace"] = "jhub".into();
            o["metadata"]["uid"] = format!("00000000-0000-4000-8000-{i:012}").into();
            o["metadata"]["resourceVersion"] = format!("{}", 1000 + i).into();
            o["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z".into();
            o
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump.json");
    std::fs::write(
        &dump,
        json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string(),
    )
    .unwrap();
    let (output, _) = policyreport(&[dump.to_str().unwrap()]);
    let reports = assert_valid(&output);
    assert_eq!(reports.len(), items.len());
    for (report, item) in reports.iter().zip(&items) {
        let uid = &item["metadata"]["uid"];
        assert_eq!(&report["metadata"]["name"], uid);
        assert_eq!(&report["scope"]["uid"], uid);
        assert_eq!(
            report["scope"]["resourceVersion"],
            item["metadata"]["resourceVersion"]
        );
        assert_eq!(
            report["metadata"]["ownerReferences"],
            json!([{"apiVersion": item["apiVersion"], "kind": item["kind"],
                "name": item["metadata"]["name"], "uid": uid}])
        );
        // Without --policy: the check's own name, protect mode, no annotations.
        let result = &report["results"][0];
        assert_eq!(result["policy"], "prepuller-check");
        assert!(result.get("severity").is_none() && result.get("category").is_none());
    }
    // The text report's audit lines, in input order, are the reports' results.
    let output = support::run_on(
        policy_module(),
        &[dump.to_str().unwrap(), "--output", "json"],
    )
    .unwrap()
    .output;
    let json: Value = serde_json::from_str(&output).unwrap();
    let audits: Vec<&Value> = json["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["audit"]["result"])
        .collect();
    let verdicts: Vec<&Value> = reports.iter().map(|r| &r["results"][0]["result"]).collect();
    assert_eq!(audits, verdicts);
    assert!(verdicts.iter().any(|v| *v == "fail"), "{output}");
}

#[test]
fn what_the_scanner_skips() {
    let dir = tempfile::tempdir().unwrap();
    let text = read("manifests/clusteradmissionpolicy.yaml");
    // backgroundAudit: false: the policy is skipped, no report at all.
    let no_audit = dir.path().join("no-audit.yaml");
    std::fs::write(
        &no_audit,
        text.replace("backgroundAudit: true", "backgroundAudit: false"),
    )
    .unwrap();
    let (output, _) = policyreport(&[
        &release("z2jh-4.4.0-default"),
        "-n",
        "jhub",
        "--policy",
        no_audit.to_str().unwrap(),
    ]);
    assert!(documents(&output).is_empty(), "{output}");
    assert!(
        output.contains("# spec.backgroundAudit is false"),
        "{output}"
    );
    // Outside the selected namespace: not audited.
    let (output, _) = policyreport(&[
        &release("z2jh-4.4.0-default"),
        "-n",
        "other",
        "--policy",
        "manifests/clusteradmissionpolicy.yaml",
    ]);
    assert!(documents(&output).is_empty(), "{output}");
    // An objectSelector the objects do not match: the scanner still lists them and writes their
    // reports, without a result.
    let selecting = dir.path().join("selecting.yaml");
    std::fs::write(
        &selecting,
        format!("{text}  objectSelector:\n    matchLabels:\n      audited: \"yes\"\n"),
    )
    .unwrap();
    let (output, _) = policyreport(&[
        &release("z2jh-4.4.0-default"),
        "-n",
        "jhub",
        "--policy",
        selecting.to_str().unwrap(),
    ]);
    let reports = assert_valid(&output);
    assert_eq!(scopes(&reports), workloads("z2jh-4.4.0-default"));
    for report in &reports {
        assert!(report.get("results").is_none(), "{report}");
        assert_eq!(
            report["summary"],
            json!({"pass": 0, "fail": 0, "warn": 0, "error": 0, "skip": 0})
        );
    }
}

#[test]
fn the_validation_refuses_what_the_api_server_refuses() {
    // The checks above can fail: each broken copy of a valid report is refused.
    let (output, _) = policyreport(&[
        &release("z2jh-4.0.0-default"),
        "-n",
        "jhub",
        "--policy",
        "manifests/clusteradmissionpolicy.yaml",
    ]);
    let report = assert_valid(&output).remove(0);
    let broken = |path: &str, value: Value| {
        let mut copy = report.clone();
        *copy.pointer_mut(path).unwrap_or_else(|| panic!("{path}")) = value;
        problems(&copy)
    };
    let refused = |problems: Vec<String>, what: &str| {
        assert!(
            problems.iter().any(|p| p.contains(what)),
            "{what}: {problems:?}"
        );
    };
    refused(
        broken("/results/0/result", json!("maybe")),
        "/results/0/result",
    );
    refused(
        broken("/results/0/severity", json!("Medium")),
        "/results/0/severity",
    );
    refused(
        broken("/results/0/scored", json!("yes")),
        "/results/0/scored",
    );
    refused(broken("/summary/fail", json!(0)), "summary.fail is 0");
    refused(
        broken("/metadata/name", json!("Not_A_Name")),
        "metadata.name",
    );
    refused(
        broken("/metadata/namespace", json!("Jhub")),
        "metadata.namespace",
    );
    refused(
        broken(
            "/metadata/labels/kubewarden.io~1audit-scanner-run-uid",
            json!("a b"),
        ),
        "label kubewarden.io/audit-scanner-run-uid",
    );
    refused(broken("/kind", json!("ClusterReport")), "has a namespace");
    refused(broken("/apiVersion", json!("openreports.io/v1")), "no CRD");
    refused(broken("/scope/name", json!("")), "scope.name");
    // An unknown field, as strict field validation refuses it.
    refused(
        broken("/results/0/source", json!({"engine": "x"})),
        "/results/0/source",
    );
    let mut unknown = report.clone();
    unknown["results"][0]["resources"] = json!([{"kind": "Pod", "extra": 1}]);
    unknown["status"] = json!({});
    let found = problems(&unknown);
    refused(found.clone(), "/results/0/resources/0");
    refused(found, "status");
}

#[test]
fn a_policy_file_as_scaffold_writes_it_with_the_rbac() {
    // `scaffold --require-existing-serviceaccounts` writes the policy, then the RBAC policy-server
    // needs: the reports are the one policy's, context-aware with its grant.
    let dir = tempfile::tempdir().unwrap();
    let text = read("manifests/clusteradmissionpolicy.yaml");
    let with_rbac = dir.path().join("with-rbac.yaml");
    std::fs::write(
        &with_rbac,
        format!(
            "{}  contextAwareResources:\n  - apiVersion: v1\n    kind: ServiceAccount\n---\n{}",
            text.replace(
                "requireExistingServiceAccounts: false",
                "requireExistingServiceAccounts: true"
            ),
            prepuller_check::scaffold::RBAC
        ),
    )
    .unwrap();
    let (output, exit) = policyreport(&[
        &release("z2jh-4.4.0-default"),
        "-n",
        "jhub",
        "--policy",
        with_rbac.to_str().unwrap(),
    ]);
    assert_eq!(exit, 0, "{output}");
    let reports = assert_valid(&output);
    assert_eq!(scopes(&reports), workloads("z2jh-4.4.0-default"));
    for report in &reports {
        assert_eq!(
            report["results"][0]["properties"],
            json!({"mutating": "true", "context-aware": "true",
                "policy-name": "prepuller-serviceaccount",
                "policy-resource-version": "", "policy-uid": ""}),
            "{report}"
        );
        assert_eq!(report["results"][0]["result"], "pass", "{report}");
    }
}

#[test]
fn pods_the_api_server_refuses_get_no_report() {
    // Pods created directly: one runs as a ServiceAccount nobody created, one the policy moves
    // onto the hook puller's, which the input does not create. The API server refuses both, so
    // they are never stored: no report, named in the header. The namespace's ServiceAccount and
    // the Pod that runs as `default` are stored and audited.
    let (output, exit) =
        policyreport(&["prepuller-check/tests/inputs/debug-pods.yaml", "-n", "jhub"]);
    assert_eq!(exit, 1, "{output}");
    let reports = assert_valid(&output);
    assert_eq!(
        scopes(&reports),
        BTreeSet::from([
            "Pod jhub/plain-debug".to_owned(),
            "ServiceAccount jhub/hub".to_owned()
        ])
    );
    assert!(
        output.contains("\n# refused by the API server, their ServiceAccount missing, so never stored nor audited: Pod jhub/puller-debug, Pod jhub/hub-debug\n"),
        "{output}"
    );
}
