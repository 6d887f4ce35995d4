//! `artifacthub-pkg.yml` and `artifacthub-repo.yml`: what `kwctl scaffold artifacthub` writes,
//! from metadata.yml and the questions, and the check of a package against Artifact Hub's
//! package format.

use anyhow::{Context, Result, bail};
use serde_norway::{Mapping, Value};

use policy_artifact::metadata::{self, Metadata};

const KWCTL_RECOMMENDATION: &str =
    "https://artifacthub.io/packages/helm/kubewarden/kubewarden-controller";

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Mapping(entries.into_iter().map(|(k, v)| (s(k), v)).collect())
}

/// The body of the README section `## {title}`, up to the next `## ` heading.
pub fn readme_section(readme: &str, title: &str) -> Result<String> {
    let heading = format!("## {title}");
    let mut lines = readme.lines();
    lines
        .by_ref()
        .find(|l| l.trim_end() == heading)
        .with_context(|| format!("README.md has no `{heading}` section"))?;
    let mut in_code = false;
    let body: Vec<&str> = lines
        .take_while(|l| {
            if l.starts_with("```") {
                in_code = !in_code;
            }
            in_code || !l.starts_with("## ")
        })
        .collect();
    let body = body.join("\n").trim().to_owned();
    if body.is_empty() {
        bail!("README.md's `{heading}` section is empty");
    }
    Ok(body + "\n")
}

/// The install text `kwctl scaffold artifacthub` writes (policy-evaluator's `compose_install`):
/// pull with kwctl, scaffold a manifest; plus where this repository's ready-made manifest is.
/// kwctl writes the pull command without `registry://`, which `kwctl pull` needs; it is added.
/// Artifact Hub shows this behind its INSTALL button: brief, and true for the version it is in.
pub fn install(image: &str, source: &str, version: &str) -> String {
    format!(
        "The policy can be obtained using [kwctl](https://docs.kubewarden.io/howtos/install-kwctl):\n\
         ```console\n\
         kwctl pull registry://{image}\n\
         ```\n\
         Then, generate the policy manifest and tune it to your liking. For example:\n\
         ```console\n\
         kwctl scaffold manifest -t ClusterAdmissionPolicy registry://{image}\n\
         ```\n\
         Or apply `manifests/clusteradmissionpolicy.yaml` from the source repository at tag \
         `v{version}` ({source}): the same manifest with every setting at its default, in monitor \
         mode, limited to the `jhub` namespace.\n"
    )
}

/// The artifact links kwctl lists: the module attached to the GitHub release when the source is
/// on GitHub, and the source itself.
fn links(source: &str, version: &str) -> Value {
    let mut links = Vec::new();
    if source.starts_with("https://github.com/") {
        links.push(map(vec![
            ("name", s("policy")),
            (
                "url",
                s(&format!(
                    "{}/releases/download/v{version}/policy.wasm",
                    source.trim_end_matches('/')
                )),
            ),
        ]));
    }
    links.push(map(vec![("name", s("source")), ("url", s(source))]));
    Value::Sequence(links)
}

/// The Artifact Hub package, as a YAML mapping in kwctl's key order.
pub fn package(metadata: &Metadata, created_at: &str, questions_ui: &str) -> Result<Mapping> {
    let version = metadata.version()?;
    let install = install(
        &metadata.image_reference()?,
        metadata.required(metadata::SOURCE)?,
        version,
    );
    let keywords = metadata
        .required(metadata::KEYWORDS)?
        .split(',')
        .map(|k| s(k.trim()))
        .collect();
    let maintainers = crate::metadata::authors(metadata)?
        .into_iter()
        .map(|m| map(vec![("name", s(&m.name)), ("email", s(&m.address))]))
        .collect();
    let rules = serde_norway::to_string(&metadata.rules)?;
    let mut annotations = vec![("kubewarden/mutation", s(&metadata.mutating.to_string()))];
    if !metadata.context_aware_resources.is_empty() {
        annotations.push((
            "kubewarden/contextAwareResources",
            s(&serde_norway::to_string(&metadata.context_aware_resources)?),
        ));
    }
    annotations.push(("kubewarden/questions-ui", s(questions_ui)));
    annotations.push((
        "kubewarden/resources",
        s(metadata.required(metadata::RESOURCES)?),
    ));
    annotations.push(("kubewarden/rules", s(&rules)));

    let pkg = map(vec![
        ("version", s(version)),
        ("name", s(metadata.required(metadata::TITLE)?)),
        ("displayName", s(metadata.required(metadata::DISPLAY_NAME)?)),
        ("createdAt", s(created_at)),
        ("description", s(metadata.required(metadata::DESCRIPTION)?)),
        ("license", s(metadata.required(metadata::LICENSE)?)),
        ("homeURL", s(metadata.required(metadata::URL)?)),
        (
            "containersImages",
            Value::Sequence(vec![map(vec![
                ("name", s("policy")),
                ("image", s(&metadata.image_reference()?)),
            ])]),
        ),
        ("keywords", Value::Sequence(keywords)),
        (
            "links",
            links(metadata.required(metadata::SOURCE)?, version),
        ),
        ("install", s(&install)),
        ("maintainers", Value::Sequence(maintainers)),
        ("provider", map(vec![("name", s("kubewarden"))])),
        (
            "recommendations",
            Value::Sequence(vec![map(vec![("url", s(KWCTL_RECOMMENDATION))])]),
        ),
        ("annotations", map(annotations)),
    ]);
    match pkg {
        Value::Mapping(m) => Ok(m),
        _ => unreachable!(),
    }
}

/// The problems of a package against Artifact Hub's package format, for the fields this project
/// writes (<https://github.com/artifacthub/hub>, docs/metadata/artifacthub-pkg.yml): `version`
/// SemVer 2, `name` alphanumerics and dashes, `displayName`, `createdAt` RFC 3339 and
/// `description` required; links and maintainers with both their fields; annotations strings
/// only; URLs absolute http(s). Artifact Hub rejects (or silently drops) a package that breaks
/// these, and only when it next scans the repository, long after the release.
pub fn package_problems(pkg: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(map) = pkg.as_mapping() else {
        return vec!["the package is not a YAML mapping".to_owned()];
    };
    let text = |key: &str| pkg.get(key).and_then(Value::as_str);
    let url_ok = |u: &str| {
        (u.starts_with("https://") || u.starts_with("http://"))
            && !u.contains(char::is_whitespace)
            && u.split("://").nth(1).is_some_and(|rest| !rest.is_empty())
    };
    for key in ["version", "name", "displayName", "createdAt", "description"] {
        if text(key).is_none_or(|v| v.trim().is_empty()) {
            problems.push(format!("`{key}` is required (a non-empty string)"));
        }
    }
    if let Some(v) = text("version")
        && semver::Version::parse(v).is_err()
    {
        problems.push(format!("`version` {v:?} is not SemVer 2"));
    }
    if let Some(n) = text("name")
        && !n.is_empty()
        && !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        problems.push(format!(
            "`name` {n:?} may hold only letters, digits and dashes"
        ));
    }
    if let Some(at) = text("createdAt")
        && chrono::DateTime::parse_from_rfc3339(at).is_err()
    {
        problems.push(format!("`createdAt` {at:?} is not RFC 3339"));
    }
    for key in ["homeURL", "logoURL"] {
        match pkg.get(key) {
            None => {}
            Some(Value::String(u)) if url_ok(u) => {}
            Some(other) => problems.push(format!("`{key}` {other:?} is not an http(s) URL")),
        }
    }
    for key in [
        "license",
        "install",
        "readme",
        "appVersion",
        "digest",
        "logoPath",
    ] {
        if let Some(v) = pkg.get(key)
            && !v.is_string()
        {
            problems.push(format!("`{key}` must be a string"));
        }
    }
    let list = |key: &str, problems: &mut Vec<String>| -> Vec<Value> {
        match pkg.get(key) {
            None => Vec::new(),
            Some(Value::Sequence(items)) => items.clone(),
            Some(_) => {
                problems.push(format!("`{key}` must be a list"));
                Vec::new()
            }
        }
    };
    for (i, image) in list("containersImages", &mut problems).iter().enumerate() {
        let ok = image
            .get("image")
            .and_then(Value::as_str)
            .is_some_and(|r| r.contains('/') && !r.contains(char::is_whitespace));
        if !ok {
            problems.push(format!(
                "`containersImages[{i}].image` must be a REGISTRY/PATH:TAG reference"
            ));
        }
    }
    for (i, keyword) in list("keywords", &mut problems).iter().enumerate() {
        if !keyword.is_string() {
            problems.push(format!("`keywords[{i}]` must be a string"));
        }
    }
    for (i, link) in list("links", &mut problems).iter().enumerate() {
        if link
            .get("name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            problems.push(format!("`links[{i}].name` is required"));
        }
        if !link.get("url").and_then(Value::as_str).is_some_and(url_ok) {
            problems.push(format!("`links[{i}].url` must be an http(s) URL"));
        }
    }
    for (i, m) in list("maintainers", &mut problems).iter().enumerate() {
        if m.get("name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            problems.push(format!("`maintainers[{i}].name` is required"));
        }
        if !m
            .get("email")
            .and_then(Value::as_str)
            .is_some_and(|e| e.contains('@'))
        {
            problems.push(format!(
                "`maintainers[{i}].email` must be an e-mail address"
            ));
        }
    }
    for (i, r) in list("recommendations", &mut problems).iter().enumerate() {
        if !r.get("url").and_then(Value::as_str).is_some_and(url_ok) {
            problems.push(format!("`recommendations[{i}].url` must be an http(s) URL"));
        }
    }
    if let Some(provider) = pkg.get("provider")
        && provider
            .get("name")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        problems.push("`provider.name` is required when `provider` is given".to_owned());
    }
    match pkg.get("annotations") {
        None => {}
        Some(Value::Mapping(a)) => {
            for (k, v) in a {
                if !k.is_string() || !v.is_string() {
                    problems.push(format!(
                        "annotation {k:?} must map a string to a string (quote booleans)"
                    ));
                }
            }
        }
        Some(_) => problems.push("`annotations` must be a mapping".to_owned()),
    }
    for key in map.keys() {
        let known = [
            "version",
            "name",
            "alternativeName",
            "category",
            "displayName",
            "createdAt",
            "description",
            "logoPath",
            "logoURL",
            "digest",
            "license",
            "homeURL",
            "appVersion",
            "containersImages",
            "containsSecurityUpdates",
            "operator",
            "deprecated",
            "prerelease",
            "keywords",
            "links",
            "readme",
            "install",
            "changes",
            "maintainers",
            "provider",
            "ignore",
            "recommendations",
            "screenshots",
            "annotations",
        ];
        if !key.as_str().is_some_and(|k| known.contains(&k)) {
            problems.push(format!("{key:?} is not an Artifact Hub package field"));
        }
    }
    problems
}

/// `artifacthub-repo.yml`: the owners who may claim the repository on Artifact Hub.
pub fn repository(metadata: &Metadata) -> Result<String> {
    let owners = crate::metadata::authors(metadata)?
        .into_iter()
        .map(|m| map(vec![("name", s(&m.name)), ("email", s(&m.address))]))
        .collect();
    let doc = map(vec![("owners", Value::Sequence(owners))]);
    Ok(format!(
        "# Artifact Hub repository metadata (https://artifacthub.io/docs/topics/repositories/).\n\
         # Generated by `make artifacthub` from metadata.yml: do not edit.\n{}",
        serde_norway::to_string(&doc)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_sections_stop_at_the_next_heading_but_not_inside_code() {
        let readme =
            "# T\n\n## Install\n\nfirst\n```sh\n## not a heading\n```\nlast\n\n## Release\n\nx\n";
        assert_eq!(
            readme_section(readme, "Install").unwrap(),
            "first\n```sh\n## not a heading\n```\nlast\n"
        );
        assert_eq!(readme_section(readme, "Release").unwrap(), "x\n");
        let err = readme_section(readme, "Usage").unwrap_err().to_string();
        assert!(err.contains("no `## Usage` section"), "{err}");
    }

    #[test]
    fn the_install_text_is_kwctls_pull_and_scaffold() {
        let text = install("ghcr.io/o/p:v1.2.3", "https://github.com/o/r", "1.2.3");
        assert!(
            text.contains("kwctl pull registry://ghcr.io/o/p:v1.2.3\n"),
            "{text}"
        );
        assert!(text.contains(
            "kwctl scaffold manifest -t ClusterAdmissionPolicy registry://ghcr.io/o/p:v1.2.3\n"
        ));
        assert!(
            text.contains("at tag `v1.2.3` (https://github.com/o/r)"),
            "{text}"
        );
        assert!(
            text.lines().count() < 12,
            "the install text is meant to be brief: {text}"
        );
    }

    fn problems_of(yaml: &str) -> Vec<String> {
        package_problems(&serde_norway::from_str(yaml).unwrap())
    }

    #[test]
    fn packages_are_checked_against_artifact_hubs_format() {
        let good = "version: 1.2.3\nname: my-policy\ndisplayName: My policy\n\
                    createdAt: 2026-01-02T03:04:05Z\ndescription: d\nhomeURL: https://x.org\n\
                    links: [{name: source, url: 'https://x.org/r'}]\n\
                    maintainers: [{name: n, email: n@x.org}]\n\
                    annotations: {kubewarden/mutation: 'true'}\n";
        assert_eq!(problems_of(good), Vec::<String>::new());
        let bad = "version: v1.2\nname: my policy\ncreatedAt: yesterday\ndescription: ''\n\
                   links: [{name: source}]\nmaintainers: [{name: n}]\n\
                   annotations: {kubewarden/mutation: true}\ninstallation: x\n";
        let problems = problems_of(bad).join("\n");
        for expected in [
            "`displayName` is required",
            "`description` is required",
            "`version` \"v1.2\" is not SemVer 2",
            "`name` \"my policy\" may hold only letters, digits and dashes",
            "`createdAt` \"yesterday\" is not RFC 3339",
            "`links[0].url` must be an http(s) URL",
            "`maintainers[0].email` must be an e-mail address",
            "annotation String(\"kubewarden/mutation\") must map a string to a string",
            "String(\"installation\") is not an Artifact Hub package field",
        ] {
            assert!(
                problems.contains(expected),
                "{expected:?} not in:\n{problems}"
            );
        }
    }

    #[test]
    fn links_point_at_the_release_asset_only_on_github() {
        let gh = serde_norway::to_string(&links("https://github.com/o/r", "1.2.3")).unwrap();
        assert!(gh.contains("url: https://github.com/o/r/releases/download/v1.2.3/policy.wasm"));
        let other =
            serde_norway::to_string(&links("https://git.example.org/o/r", "1.2.3")).unwrap();
        assert!(!other.contains("releases") && other.contains("name: source"));
    }
}
