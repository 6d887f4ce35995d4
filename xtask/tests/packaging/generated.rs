//! The checked-in generated files: up to date, consistent with each other, and describing the
//! settings the policy really has.

use policy_artifact::Metadata;
use prepuller_serviceaccount_policy::settings::Settings;
use serde_norway::Value;
use xtask::scaffold::{self, artifacthub, manifests, questions};

use crate::{annotated_wasm, root};

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json(value: &Value) -> serde_json::Value {
    serde_json::to_value(value).unwrap()
}

fn metadata() -> Metadata {
    Metadata::load(&root().join("metadata.yml")).unwrap()
}

#[test]
fn generated_files_are_up_to_date() {
    scaffold::check(&root()).unwrap();
}

#[test]
fn drift_is_reported_with_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["metadata.yml", "Cargo.toml", "README.md"] {
        std::fs::copy(root().join(file), dir.path().join(file)).unwrap();
    }
    scaffold::write(dir.path()).unwrap();
    scaffold::check(dir.path()).unwrap();
    let edited = std::fs::read_to_string(dir.path().join("metadata.yml"))
        .unwrap()
        .replace(
            "io.kubewarden.policy.severity: medium",
            "io.kubewarden.policy.severity: high",
        );
    std::fs::write(dir.path().join("metadata.yml"), edited).unwrap();
    let err = scaffold::check(dir.path()).unwrap_err().to_string();
    assert!(err.contains("run `make artifacthub`"), "{err}");
    assert!(
        err.contains("manifests/clusteradmissionpolicy.yaml differs"),
        "{err}"
    );
    assert!(
        err.contains("manifests/admissionpolicy.yaml differs"),
        "{err}"
    );
    assert!(!err.contains("questions-ui.yml"), "{err}");
}

/// The keys of the README's settings reference table (`| \`key\` | default | meaning |`).
fn readme_setting_keys() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = artifacthub::readme_section(&readme, "Settings").unwrap();
    let keys: Vec<String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`'))
        .map(|(key, _)| key.to_owned())
        .collect();
    assert!(
        keys.len() >= 6,
        "the README settings table was not found: {keys:?}"
    );
    keys
}

#[test]
fn the_questions_cover_every_documented_setting_and_nothing_else() {
    let variables: Vec<String> = questions::questions()
        .into_iter()
        .map(|q| q.variable)
        .collect();
    let keys = readme_setting_keys();
    for key in &keys {
        assert!(
            variables
                .iter()
                .any(|v| v == key || v.starts_with(&format!("{key}."))),
            "README setting {key} has no question in questions-ui.yml"
        );
    }
    for variable in &variables {
        let top = variable.split('.').next().unwrap();
        assert!(
            keys.iter()
                .any(|k| k == top || k.starts_with(&format!("{top}."))),
            "question {variable} is not a documented setting"
        );
    }
    let file = yaml(scaffold::QUESTIONS_UI);
    let listed: Vec<&str> = file["questions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|q| q["variable"].as_str().unwrap())
        .collect();
    assert_eq!(listed, variables);
}

#[test]
fn the_defaults_are_the_policys_own() {
    let defaults = serde_json::to_string(&questions::default_settings()).unwrap();
    assert_eq!(Settings::from_json(&defaults).unwrap(), Settings::default());
    for path in [
        scaffold::CLUSTER_ADMISSION_POLICY,
        scaffold::ADMISSION_POLICY,
    ] {
        let settings = json(&yaml(path)["spec"]["settings"]);
        assert_eq!(
            Settings::from_json(&settings.to_string()).unwrap(),
            Settings::default(),
            "{path}"
        );
    }
}

#[test]
fn the_compiled_policy_accepts_the_manifest_settings_and_the_fullname_override_ones() {
    let policy = policy_host::Policy::load(&annotated_wasm()).unwrap();
    let settings = json(&yaml(scaffold::CLUSTER_ADMISSION_POLICY)["spec"]["settings"]);
    let verdict = policy.validate_settings(&settings).unwrap();
    assert!(verdict.valid, "{:?}", verdict.message);
    let myhub = serde_json::json!({
        "hookPuller": {"serviceAccountName": "myhub-hook-image-puller"},
        "continuousPuller": {"serviceAccountName": "myhub-continuous-image-puller"},
        "awaiter": {"serviceAccountName": "myhub-hook-image-awaiter"},
    });
    let verdict = policy.validate_settings(&myhub).unwrap();
    assert!(verdict.valid, "{:?}", verdict.message);
}

#[test]
fn the_manifests_are_what_kwctl_scaffolds_for_this_metadata() {
    let metadata = metadata();
    let image = metadata.image_reference().unwrap();
    // With the default settings (`serviceAccountObjects: false`) the serviceaccounts rule is
    // left out, and a comment says how to add it back.
    let (kept, left_out) = manifests::manifest_rules(&metadata, &questions::default_settings());
    assert!(!left_out.is_empty());
    let rules = serde_json::to_value(&kept).unwrap();
    for (path, kind) in [
        (scaffold::CLUSTER_ADMISSION_POLICY, "ClusterAdmissionPolicy"),
        (scaffold::ADMISSION_POLICY, "AdmissionPolicy"),
    ] {
        let doc = json(&yaml(path));
        assert_eq!(doc["apiVersion"], "policies.kubewarden.io/v1", "{path}");
        assert_eq!(doc["kind"], kind);
        assert_eq!(doc["metadata"]["name"], "prepuller-serviceaccount");
        assert_eq!(
            doc["metadata"]["annotations"]["io.kubewarden.policy.severity"],
            "medium"
        );
        assert_eq!(
            doc["metadata"]["annotations"]["io.kubewarden.policy.category"],
            "Resource validation"
        );
        assert_eq!(doc["spec"]["module"], image.as_str());
        assert_eq!(doc["spec"]["rules"], rules);
        assert_eq!(doc["spec"]["mutating"], true);
        assert_eq!(doc["spec"]["backgroundAudit"], true);
        assert_eq!(doc["spec"]["mode"], "monitor");
        let text = std::fs::read_to_string(root().join(path)).unwrap();
        assert!(
            text.contains("Add it back here together with\n  # `serviceAccountObjects: true`"),
            "{path}"
        );
        assert!(
            text.starts_with("# Generated by `make manifests` (`cargo run -p xtask -- scaffold`")
        );
    }
    let cap = json(&yaml(scaffold::CLUSTER_ADMISSION_POLICY));
    assert_eq!(
        cap["spec"]["namespaceSelector"],
        serde_json::json!({"matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["jhub"]}
        ]})
    );
    let ap = json(&yaml(scaffold::ADMISSION_POLICY));
    assert_eq!(ap["metadata"]["namespace"], "jhub");
    assert!(ap["spec"].get("namespaceSelector").is_none());
}

/// The package the release workflow will write for the version being developed (not a file in
/// the tree: it is published only once the version's artifact exists).
#[test]
fn the_artifact_hub_package_describes_this_release() {
    let metadata = metadata();
    let file = scaffold::package_file(&root()).unwrap();
    assert_eq!(file.path, scaffold::ARTIFACTHUB_PKG);
    let version = metadata.version().unwrap();
    let image = metadata.image_reference().unwrap();
    assert!(
        file.content.contains(&format!(
            "# Artifact Hub's record of release v{version}, written by the release workflow\n\
             # (.github/workflows/release.yml) after {image} was pushed\n"
        )),
        "{}",
        file.content
    );
    let parsed: Value = serde_norway::from_str(&file.content).unwrap();
    assert_eq!(artifacthub::package_problems(&parsed), Vec::<String>::new());
    let pkg = json(&parsed);
    assert_eq!(pkg["version"], version);
    assert_eq!(pkg["name"], "prepuller-serviceaccount");
    assert_eq!(pkg["displayName"], "JupyterHub Prepuller ServiceAccount");
    assert!(chrono::DateTime::parse_from_rfc3339(pkg["createdAt"].as_str().unwrap()).is_ok());
    assert_eq!(
        pkg["containersImages"],
        serde_json::json!([{"name": "policy", "image": image}])
    );
    assert_eq!(pkg["keywords"][0], "jupyterhub");
    assert_eq!(
        pkg["links"][0]["url"],
        format!(
            "https://github.com/prepuller-serviceaccount-policy/prepuller-serviceaccount-policy/releases/download/v{version}/policy.wasm"
        )
    );
    assert_eq!(
        pkg["maintainers"],
        serde_json::json!([{"name": "prepuller-serviceaccount-policy developers", "email": "maintainers@prepuller-policy.dev"}])
    );
    // kwctl's short install text, not the README's Install section.
    let install = pkg["install"].as_str().unwrap();
    assert!(
        install.starts_with(&format!(
            "The policy can be obtained using [kwctl](https://docs.kubewarden.io/howtos/install-kwctl):\n```console\nkwctl pull registry://{image}\n```\n"
        )),
        "{install}"
    );
    assert!(install.contains(&format!(
        "kwctl scaffold manifest -t ClusterAdmissionPolicy registry://{image}"
    )));
    assert!(install.contains(scaffold::CLUSTER_ADMISSION_POLICY));
    let annotations = &pkg["annotations"];
    assert_eq!(annotations["kubewarden/mutation"], "true");
    assert_eq!(
        annotations["kubewarden/resources"],
        "Pod, DaemonSet, Deployment, StatefulSet, ReplicaSet, ReplicationController, Job, CronJob, ServiceAccount"
    );
    // Artifact Hub lists what the policy can judge: every rule of metadata.yml.
    let rules: serde_json::Value =
        json(&serde_norway::from_str(annotations["kubewarden/rules"].as_str().unwrap()).unwrap());
    assert_eq!(rules, serde_json::to_value(&metadata.rules).unwrap());
    assert_eq!(
        annotations["kubewarden/questions-ui"].as_str().unwrap(),
        questions::questions_ui().unwrap()
    );
    let repo = json(&yaml(scaffold::ARTIFACTHUB_REPO));
    assert_eq!(
        repo["owners"][0]["email"],
        "maintainers@prepuller-policy.dev"
    );
}

/// A checked-in package is the latest release's: the check refuses one for a later version (an
/// artifact that does not exist) and one Artifact Hub would refuse; `--artifacthub-pkg` writes
/// one that passes.
#[test]
fn a_committed_package_must_be_a_released_one_artifact_hub_accepts() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["metadata.yml", "Cargo.toml", "README.md"] {
        std::fs::copy(root().join(file), dir.path().join(file)).unwrap();
    }
    scaffold::write(dir.path()).unwrap();
    scaffold::check(dir.path()).unwrap();
    let written = scaffold::write_package(dir.path()).unwrap();
    scaffold::check(dir.path()).unwrap();

    let version = metadata().version().unwrap().to_owned();
    let text = std::fs::read_to_string(&written).unwrap();
    let mut next = semver::Version::parse(&version).unwrap();
    next.minor += 1;
    std::fs::write(
        &written,
        text.replace(
            &format!("version: {version}\n"),
            &format!("version: {next}\n"),
        ),
    )
    .unwrap();
    let err = scaffold::check(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "it is for {next}, after the version being developed ({version})"
        )),
        "{err}"
    );

    std::fs::write(
        &written,
        text.replace("kubewarden/mutation: 'true'", "kubewarden/mutation: true"),
    )
    .unwrap();
    let err = scaffold::check(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("annotation String(\"kubewarden/mutation\") must map a string to a string"),
        "{err}"
    );
}

#[test]
fn the_readme_install_section_pulls_this_version() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let install = artifacthub::readme_section(&readme, "Install").unwrap();
    let image = metadata().image_reference().unwrap();
    assert!(
        install.contains(&image),
        "README.md's Install section does not name {image}: update it with the version"
    );
    assert!(install.contains(scaffold::CLUSTER_ADMISSION_POLICY));
    assert!(install.contains("namespaceSelector"));
}
