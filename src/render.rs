//! Every message and warning the policy writes, from the structural findings of `checks`.
//! Operators read these in `kubectl` output and PolicyReports: each names the field, the value
//! found, the value expected and the change to make (the Helm value, for Zero to JupyterHub).

use crate::chart::ChartVersion;
use crate::checks::{
    Findings, MountedBy, NameFound, Remedy, Rule, Subject, TOKEN_PATH, Violation, pod_labels_field,
};
use crate::cluster::{Refusal, Unconfirmed};
use crate::detection::{Unmatched, Unrecognised};
use crate::kinds::ResourceKind;
use crate::roles::RoleKind;
use crate::selector::LabelSelector;

/// A message lists at most this many violations; the rest are counted. A pathological object
/// (thousands of containers mounting a token) must not produce a megabyte of status text.
const MAX_LISTED: usize = 20;

/// Why a warning accompanies an accepted object instead of a rejection or a fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftAsIs<'a> {
    /// A Pod's or Job's pod spec cannot change after creation.
    Immutable,
    /// The UPDATE leaves the pod template as it was (a scale, a label, an ownerReference).
    TemplateUnchanged,
    /// A ReplicaSet its Deployment controls: the Deployment (`namespace/name`) is judged instead.
    ControlledBy(&'a str),
}

/// Why a rejection is one, for the message's first words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preface {
    /// Something is not fixable.
    Breaks,
    /// Fixable, but `mode: reject` changes nothing.
    RejectMode,
    /// An audit of a stored object in `mode: reject`: an audit changes nothing in any mode, and
    /// this mode would not have fixed the object at admission either.
    AuditRejectMode,
    /// An UPDATE adds what the stored object did not have.
    Introduced,
    /// An audit of a stored object: what mutation would fix at admission still fails here.
    Audit,
}

fn quoted(s: &str) -> String {
    format!("{s:?}")
}

fn selector_key(role: RoleKind) -> String {
    format!("{}.selector", role.settings_key())
}

/// The object and its role, the first words of every message.
pub fn subject(findings: &Findings) -> String {
    let object = &findings.object;
    match findings.subject {
        Subject::NoRole => object.clone(),
        Subject::Role(role) => format!(
            "{object} ({}, matched by {})",
            role.description(),
            selector_key(role)
        ),
        Subject::Ambiguous => format!("{object} (labels match several prepuller roles)"),
        Subject::AccountOf(role) => format!(
            "{object} (the {} ServiceAccount, {}.serviceAccountName)",
            role.description(),
            role.settings_key()
        ),
    }
}

/// The offending value, as the message shows it.
pub fn found(v: &Violation) -> String {
    match &v.rule {
        Rule::ServiceAccountName { found, .. } => match found {
            NameFound::Name(n) => quoted(n),
            NameFound::Empty { runs_as } => format!("\"\" (runs as {})", quoted(runs_as)),
            NameFound::Unset { runs_as } => format!("unset (runs as {})", quoted(runs_as)),
        },
        Rule::DeprecatedServiceAccount { found, .. } => quoted(found),
        Rule::Automount { found } | Rule::ServiceAccountAutomount { found, .. } => found.describe(),
        Rule::TokenVolume {
            volume, injected, ..
        } => format!(
            "projected volume {} with a serviceAccountToken source{}",
            quoted(volume),
            if *injected {
                " (injected by Kubernetes)"
            } else {
                ""
            }
        ),
        Rule::PodCertificate { volume, signer, .. } => format!(
            "projected volume {} with a podCertificate source for signer {signer} (an API client certificate)",
            quoted(volume)
        ),
        Rule::TokenPathMount {
            container,
            volume,
            mount_path,
        } => format!(
            "volume {} mounted at {mount_path} in container {}",
            quoted(volume),
            quoted(container)
        ),
        Rule::Borrowed { account, .. } => quoted(account),
        Rule::AmbiguousRoles { roles } => {
            let keys: Vec<String> = roles.iter().map(|r| selector_key(*r)).collect();
            format!("labels matching {}", keys.join(" and "))
        }
    }
}

/// The value the rule expects, as the message shows it.
pub fn expected(v: &Violation) -> String {
    match &v.rule {
        Rule::ServiceAccountName { want, .. } | Rule::DeprecatedServiceAccount { want, .. } => {
            quoted(want)
        }
        Rule::Automount { .. } | Rule::ServiceAccountAutomount { .. } => "false".into(),
        Rule::TokenVolume { .. } => "no ServiceAccount token volume".into(),
        Rule::PodCertificate { .. } => "no API client certificate".into(),
        Rule::TokenPathMount { .. } => format!("nothing mounted at {TOKEN_PATH}"),
        Rule::Borrowed { .. } => "a ServiceAccount not reserved for the prepullers".into(),
        Rule::AmbiguousRoles { .. } => "labels matching at most one prepuller role".into(),
    }
}

/// The Helm values that make Zero to JupyterHub (4.1.0 or later, for the pullers) create `want`
/// for `role` and run the role as it. The continuous puller is the exception: the chart names
/// the ServiceAccount it creates after the DaemonSet, whatever `.name` says
/// (`serviceaccount-continuous.yaml`), so a `.name` of another account is run as but never
/// created, and its Pods are refused. When the object is that DaemonSet, its name is the one
/// the settings can use.
fn chart_values(findings: &Findings, role: RoleKind, want: &str) -> String {
    let helm = role.helm_value();
    if role != RoleKind::ContinuousPuller {
        return format!("{helm}.create=true and {helm}.name={want}");
    }
    let unset = format!(
        "{helm}.create=true and {helm}.name left unset, which creates the ServiceAccount under the continuous puller DaemonSet's name and runs the puller as it (the chart creates no other name)"
    );
    match findings.daemonset.as_deref() {
        Some(name) if name == want => unset,
        Some(name) => format!(
            "{unset}, here {}: set {}.serviceAccountName to it in the policy settings to use it",
            quoted(name),
            role.settings_key()
        ),
        None => format!("{unset}, so {want} must be that DaemonSet's name"),
    }
}

/// The command that creates ServiceAccount `want` in the object's namespace.
fn create_command(findings: &Findings, want: &str) -> String {
    match &findings.namespace {
        Some(namespace) => format!("kubectl create serviceaccount {want} -n {namespace}"),
        None => format!("kubectl create serviceaccount {want}"),
    }
}

/// How Zero to JupyterHub comes to run `role` as ServiceAccount `want`, for the chart version
/// the object's labels name. The values are written `Zero to JupyterHub: VALUE=X and VALUE=Y`
/// (or `Zero to JupyterHub 4.1.0 or later: ...` when the version is unknown), ending at `;` or
/// `)`. The awaiter's value exists in every chart version; the pullers' only since 4.1.0.
fn account_advice(findings: &Findings, role: RoleKind, want: &str) -> String {
    let values = chart_values(findings, role, want);
    let by_hand = format!(
        "create it with {} and let the policy's mode: mutate set it",
        create_command(findings, want)
    );
    match &findings.chart {
        chart if has_values(role, chart) => format!("Zero to JupyterHub: {values}"),
        ChartVersion::WithoutPullerAccounts(version) => format!(
            "Zero to JupyterHub {version} has no value for it: upgrade the chart to 4.1.0 or later, which creates it and runs the {} as it by default, or {by_hand}",
            role.description()
        ),
        _ => format!(
            "Zero to JupyterHub 4.1.0 or later: {values}; an older chart has no value for it: upgrade it, or {by_hand}"
        ),
    }
}

/// Whether the chart that made the object has a value for `role`'s ServiceAccount: the
/// awaiter's in every version, the pullers' since 4.1.0.
fn has_values(role: RoleKind, chart: &ChartVersion) -> bool {
    !role.is_puller() || matches!(chart, ChartVersion::WithPullerAccounts(_))
}

/// What the operator should change (for Zero to JupyterHub, the Helm value, as the chart version
/// of `findings`'s object offers it).
pub fn fix(findings: &Findings, v: &Violation) -> String {
    match &v.rule {
        Rule::ServiceAccountName { role, want, .. } => format!(
            "run it as ServiceAccount {} ({}; if yours is named otherwise, set {}.serviceAccountName in the policy settings)",
            quoted(want),
            account_advice(findings, *role, want),
            role.settings_key()
        ),
        Rule::DeprecatedServiceAccount { want, .. } => format!(
            "set the deprecated serviceAccount to {} as well, or drop it",
            quoted(want)
        ),
        Rule::Automount { .. } => "set automountServiceAccountToken: false in the pod spec (Zero to JupyterHub sets it on both puller DaemonSets; look for a patch or overlay that drops it)".into(),
        Rule::TokenVolume { volume, .. } => format!(
            "remove volume {} and its volumeMounts: image pullers never call the Kubernetes API",
            quoted(volume)
        ),
        Rule::PodCertificate { volume, .. } => format!(
            "remove volume {} and its volumeMounts: a certificate for this signer authenticates to the API server as the Pod's ServiceAccount, and image pullers never call the Kubernetes API",
            quoted(volume)
        ),
        Rule::TokenPathMount { .. } => "remove this mount: the ServiceAccount token path must stay empty in image pullers".into(),
        Rule::Borrowed { account, owner } => format!(
            "give this workload a ServiceAccount of its own: {} is reserved for the {} ({}.serviceAccountName, reserveServiceAccounts: true); if it is a {} its pod template's labels must match {}",
            quoted(account),
            owner.description(),
            owner.settings_key(),
            owner.description(),
            selector_key(*owner)
        ),
        Rule::AmbiguousRoles { .. } => {
            "correct the workload's labels, or make the policy's selectors disjoint".into()
        }
        Rule::ServiceAccountAutomount { owner, .. } => format!(
            "set automountServiceAccountToken: false on the {} ServiceAccount (the chart does not set it: add it with a Helm post-renderer or a patch)",
            owner.description()
        ),
    }
}

/// `field is found, expected expected`.
fn head(v: &Violation) -> String {
    format!("{} is {}, expected {}", v.field, found(v), expected(v))
}

/// `field is found, expected expected: fix`.
pub fn describe(findings: &Findings, v: &Violation) -> String {
    format!("{}: {}", head(v), fix(findings, v))
}

fn preface_text(preface: Preface) -> &'static str {
    match preface {
        Preface::Breaks => "breaks the prepuller ServiceAccount policy",
        Preface::RejectMode => {
            "breaks the prepuller ServiceAccount policy (mode: reject, so nothing was changed)"
        }
        Preface::AuditRejectMode => {
            "breaks the prepuller ServiceAccount policy (audit of the stored object; with mode: reject the policy fixes nothing at admission either, so make these changes yourself)"
        }
        Preface::Introduced => "breaks the prepuller ServiceAccount policy with this UPDATE",
        Preface::Audit => {
            "breaks the prepuller ServiceAccount policy (audit of the stored object: with mode: mutate the policy fixes these violations when such an object is admitted, but this one was stored without them fixed; re-apply or recreate it to have them fixed, or make the change yourself)"
        }
    }
}

/// One line per violation joined into the status message, numbered so operators can refer to
/// them, with every field path, value found, value expected and fix.
pub fn rejection(findings: &Findings, violations: &[&Violation], preface: Preface) -> String {
    let mut message = format!("{} {}: ", subject(findings), preface_text(preface));
    list(&mut message, violations, |v| describe(findings, v));
    message
}

/// The rejection of an UPDATE of a Pod or a Job for what it introduces. Their pod spec cannot
/// change, so the fix of a CREATE ("run it as ServiceAccount ...") cannot be applied: each
/// violation says what to undo instead. `relabelled` is the labels field when the UPDATE
/// changed the object's role (the Pod's labels, a suspended Job's template labels), which is
/// then the one thing to undo; `before` are the stored object's violations, to tell which
/// containers newly mount a credential.
pub fn introduced(
    findings: &Findings,
    violations: &[&Violation],
    before: &[Violation],
    relabelled: Option<&str>,
) -> String {
    let kind = findings.kind.name();
    let mut message = format!(
        "{} {}: ",
        subject(findings),
        preface_text(Preface::Introduced)
    );
    if let Some(labels) = relabelled {
        let undo = match findings.subject {
            Subject::Role(role) => format!(
                "its new {labels} make it a {}, but a {kind}'s pod spec cannot change after creation to comply; do not add these labels (to run a {}, create a new {kind} that complies)",
                role.description(),
                role.description()
            ),
            _ => format!(
                "its new {labels} change its role, but a {kind}'s pod spec cannot change after creation to comply; keep the labels it had (or create a new {kind} that complies)"
            ),
        };
        message.push_str(&format!("{undo}: "));
        list(&mut message, violations, head);
    } else {
        list(&mut message, violations, |v| {
            format!("{}: {}", head(v), undo(v, before, kind))
        });
    }
    message
}

/// What to undo for one violation an UPDATE of an immutable pod spec introduces.
fn undo(v: &Violation, before: &[Violation], kind: &str) -> String {
    match &v.rule {
        Rule::TokenPathMount {
            container,
            volume,
            mount_path,
        } if v.field.contains("ephemeralContainers[") => {
            return format!(
                "do not mount volume {} at {mount_path} in the debug container {} (add it without this mount)",
                quoted(volume),
                quoted(container)
            );
        }
        Rule::TokenVolume { volume, .. } | Rule::PodCertificate { volume, .. } => {
            // The containers that mount it now and did not in the stored object.
            let was: &[MountedBy] = before
                .iter()
                .find(|o| o.field == v.field)
                .map(Violation::mounted_by)
                .unwrap_or_default();
            let new: Vec<String> = v
                .mounted_by()
                .iter()
                .filter(|m| !was.contains(m))
                .map(|m| m.is_ephemeral().then(|| quoted(&m.container)))
                .collect::<Option<_>>()
                .unwrap_or_default();
            if !new.is_empty() {
                return format!(
                    "do not mount volume {} in the debug container {} (add it without this mount)",
                    quoted(volume),
                    new.join(" or ")
                );
            }
        }
        _ => {}
    }
    format!(
        "undo this change: a {kind}'s pod spec cannot change after creation (to change it, recreate the {kind})"
    )
}

/// Numbered items, joined, capped at [`MAX_LISTED`].
fn list(message: &mut String, violations: &[&Violation], item: impl Fn(&Violation) -> String) {
    for (i, v) in violations.iter().take(MAX_LISTED).enumerate() {
        if i > 0 {
            message.push_str("; ");
        }
        message.push_str(&format!("({}) {}", i + 1, item(v)));
    }
    if violations.len() > MAX_LISTED {
        message.push_str(&format!("; and {} more", violations.len() - MAX_LISTED));
    }
}

/// One warning per change made, saying what and why.
pub fn mutation_warning(v: &Violation) -> String {
    let what = match &v.remedy {
        Some(Remedy::RemoveInjectedVolume(name)) => format!(
            "{}: removed the injected token volume {name:?} and its volumeMounts",
            v.field
        ),
        _ => format!("{}: changed from {} to {}", v.field, found(v), expected(v)),
    };
    format!("{what} (prepuller policy: own ServiceAccount, no API token)")
}

/// A violation the policy leaves in an accepted object (of `findings`), and why.
pub fn left_as_is_warning(findings: &Findings, v: &Violation, why: LeftAsIs<'_>) -> String {
    let head = head(v);
    match why {
        LeftAsIs::Immutable => format!(
            "{head}: left as is, this field cannot change on UPDATE; recreate the object to fix it"
        ),
        LeftAsIs::TemplateUnchanged => format!(
            "{head}: left as is, this UPDATE does not change the pod template; to fix it: {}",
            fix(findings, v)
        ),
        LeftAsIs::ControlledBy(deployment) => format!(
            "{head}: left as is, this ReplicaSet is controlled by Deployment {deployment}, which would replace any change; fix the Deployment: {}",
            fix(findings, v)
        ),
    }
}

/// Labels on the object that match a role, while its Pods' labels do not.
pub fn unrecognised_warning(kind: ResourceKind, u: &Unrecognised) -> String {
    let template = match kind.pod_template_path() {
        [] => "the pod template's labels".to_owned(),
        _ => pod_labels_field(kind),
    };
    format!(
        "{} match {} but {template} do not: Kubernetes copies only the pod template's labels to the Pods, so they will not be recognised as the {} and are judged as any other workload; to make them {}s, add those labels to {template}",
        u.field,
        selector_key(u.role),
        u.role.description(),
        u.role.description()
    )
}

/// The chart's label for a role on the labels the Pods will carry, while they match no role's
/// selector (`selector` is that role's): the chart's Pods of the role go unjudged.
pub fn unmatched_warning(kind: ResourceKind, u: &Unmatched, selector: &LabelSelector) -> String {
    let role = u.role;
    let value = role.chart_component();
    let pods = if kind == ResourceKind::Pod {
        "this Pod is"
    } else {
        "its Pods are"
    };
    format!(
        "{} carry {}: {value}, Zero to JupyterHub's label for the {desc}, but match no prepuller role ({} is {selector}), so {pods} not judged as the {desc}; make {} match what every chart version puts on the {desc}'s Pods, such as component: {value} (chart 4.0.0 and earlier put app.kubernetes.io/component on the objects only, not on their pod templates)",
        pod_labels_field(kind),
        u.label,
        selector_key(role),
        selector_key(role),
        desc = role.description(),
    )
}

/// An audit of an object whose Pods carry the chart's label for a role that no selector
/// matches: admission accepts it with `warnings`, which a PolicyReport does not show, so the
/// audit fails with them.
pub fn unmatched_audit(findings: &Findings, warnings: &[String]) -> String {
    let mut message = format!(
        "{} is not judged as the prepuller its labels name (audit of the stored object; admission accepts it with this warning, which a PolicyReport does not show): ",
        subject(findings)
    );
    for (i, w) in warnings.iter().enumerate() {
        if i > 0 {
            message.push_str("; ");
        }
        message.push_str(&format!("({}) {w}", i + 1));
    }
    message
}

/// `requireExistingServiceAccounts`, the lookup of a compliant object's ServiceAccount was
/// refused: the warning that comes with admitting it.
pub fn unconfirmed_compliant(
    findings: &Findings,
    unknown: &Unconfirmed,
    why: Refusal,
    answer: &str,
) -> String {
    let (head, fix) = refused_lookup(findings, unknown, "runs as", why, answer);
    format!(
        "{head}. Admitted, since the API server itself refuses Pods whose ServiceAccount does not exist; for the lookup to work, {fix}"
    )
}

/// `requireExistingServiceAccounts`, the lookup of the ServiceAccount `mode: mutate` would set
/// was refused: the rejection, with the cause and the changes to make by hand.
pub fn unconfirmed_mutation(
    findings: &Findings,
    unknown: &Unconfirmed,
    why: Refusal,
    answer: &str,
) -> String {
    let (head, fix) = refused_lookup(findings, unknown, "would be changed to run as", why, answer);
    let mut message = format!(
        "{head}, so nothing was changed. For the lookup to work, {fix}; or make these changes yourself: "
    );
    let all: Vec<&Violation> = findings.violations.iter().collect();
    list(&mut message, &all, |v| describe(findings, v));
    message
}

/// The first words of both messages of a refused lookup (the object, the account it `runs`
/// as, the cause and the host's answer), and what makes the lookup work.
fn refused_lookup(
    findings: &Findings,
    unknown: &Unconfirmed,
    runs: &str,
    why: Refusal,
    answer: &str,
) -> (String, &'static str) {
    let (cause, fix) = refusal(why);
    let head = format!(
        "{} {runs} ServiceAccount {} of namespace {}, which the policy could not look up: {cause} (requireExistingServiceAccounts: true; the host answered {})",
        subject(findings),
        quoted(&unknown.role.service_account_name),
        quoted(&unknown.namespace),
        host_answer(answer),
    );
    (head, fix)
}

/// The API server answered that the role's ServiceAccount is not in the namespace: how to have
/// it, for the chart version the object's labels name.
pub fn missing_account(findings: &Findings, unknown: &Unconfirmed, answer: &str) -> String {
    let (role, namespace) = (unknown.role, unknown.namespace.as_str());
    let name = &role.service_account_name;
    let values = chart_values(findings, role.kind, name);
    let by_chart = match &findings.chart {
        chart if has_values(role.kind, chart) => {
            format!("Have the chart create it (Zero to JupyterHub: {values})")
        }
        ChartVersion::WithoutPullerAccounts(version) => format!(
            "Zero to JupyterHub {version} does not create it: upgrade the chart to 4.1.0 or later, which does by default"
        ),
        _ => format!(
            "Have the chart create it (Zero to JupyterHub 4.1.0 or later: {values}; an older chart cannot: upgrade it)"
        ),
    };
    format!(
        "{} would run as ServiceAccount {} of namespace {}, which does not exist (requireExistingServiceAccounts: true; the host answered {}): the API server will refuse its Pods, and a Helm hook waiting for them will time out. {by_chart}, or create it (kubectl create serviceaccount {name} -n {namespace}), or set {}.serviceAccountName in the policy settings to the ServiceAccount you use",
        subject(findings),
        quoted(name),
        quoted(namespace),
        host_answer(answer),
        role.kind.settings_key()
    )
}

/// A host's answer as a message quotes it: its first line, and how many more it had. The host
/// hands the guest `{:?}` of an `anyhow::Error`, which appends `Caused by:` lines and, with
/// `RUST_BACKTRACE=1` in policy-server's environment, a backtrace of thousands of characters
/// that would fill the rejection; the first line names the error.
fn host_answer(answer: &str) -> String {
    let mut lines = answer.lines();
    let first = lines.next().unwrap_or_default();
    match lines.filter(|l| !l.trim().is_empty()).count() {
        0 => quoted(first),
        1 => format!("{} and 1 more line", quoted(first)),
        more => format!("{} and {more} more lines", quoted(first)),
    }
}

/// Why a lookup was refused, and what makes it work.
fn refusal(why: Refusal) -> (&'static str, &'static str) {
    match why {
        Refusal::NotGranted => (
            "the policy is not granted ServiceAccount lookups",
            "requireExistingServiceAccounts needs a ClusterAdmissionPolicy listing contextAwareResources [{apiVersion: v1, kind: ServiceAccount}] (an AdmissionPolicy cannot look anything up: Kubewarden grants it none, so use the ClusterAdmissionPolicy or set requireExistingServiceAccounts: false; a policy's hostCapabilities must allow kubernetes/get_resource)",
        ),
        Refusal::Forbidden => (
            "the API server forbids policy-server's ServiceAccount to read ServiceAccounts",
            "let policy-server's ServiceAccount get, list and watch serviceaccounts (the ClusterRole and ClusterRoleBinding in the policy's README, Require existing ServiceAccounts)",
        ),
        Refusal::Failed => (
            "the lookup failed (the API server may be unreachable)",
            "check that policy-server reaches the API server (its logs say why the lookup failed)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks;
    use crate::settings::Settings;
    use crate::workload::decode;

    /// The findings of the checks on a Pod, as the messages are made of them: the checks'
    /// own tests assert the structure, these the text.
    fn pod_findings(settings: &Settings, labels: &str, spec: &str) -> Findings {
        let raw = format!(
            r#"{{"kind":"Pod","metadata":{{"name":"p","namespace":"jhub","labels":{labels}}},"spec":{spec}}}"#
        );
        checks::check(settings, &decode(ResourceKind::Pod, &raw).expect("decodes"))
    }

    #[test]
    fn findings_render_the_value_found_and_the_fix() {
        let s = Settings::default();
        let hook = r#"{"component":"hook-image-puller"}"#;
        let f = pod_findings(
            &s,
            hook,
            r#"{"serviceAccountName":"hook-image-puller","automountServiceAccountToken":false}"#,
        );
        assert_eq!(
            subject(&f),
            "Pod jhub/p (hook image puller, matched by hookPuller.selector)"
        );
        let f = pod_findings(
            &s,
            hook,
            r#"{"serviceAccountName":"default","serviceAccount":"default",
            "volumes":[{"name":"kube-api-access-abcde","projected":{"defaultMode":420,"sources":[
                {"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},
                {"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}},
                {"downwardAPI":{"items":[{"fieldRef":{"apiVersion":"v1","fieldPath":"metadata.namespace"},"path":"namespace"}]}}]}}],
            "containers":[{"name":"pause","volumeMounts":[{"name":"kube-api-access-abcde","mountPath":"/var/run/secrets/kubernetes.io/serviceaccount","readOnly":true}]}]}"#,
        );
        let shown: Vec<String> = f.violations.iter().map(found).collect();
        assert_eq!(
            shown,
            [
                "\"default\"",
                "\"default\"",
                "unset (defaults to true)",
                "projected volume \"kube-api-access-abcde\" with a serviceAccountToken source (injected by Kubernetes)"
            ]
        );
        assert!(
            fix(&f, &f.violations[0])
                .contains("prePuller.hook.serviceAccountImagePuller.create=true")
        );
        let f = pod_findings(&s, hook, r#"{"automountServiceAccountToken":false}"#);
        assert_eq!(found(&f.violations[0]), "unset (runs as \"default\")");
        for (value, shown) in [
            ("true", "true"),
            ("null", "null (not a boolean)"),
            ("\"false\"", "\"false\" (not a boolean)"),
        ] {
            let f = pod_findings(
                &s,
                hook,
                &format!(
                    r#"{{"serviceAccountName":"hook-image-puller","automountServiceAccountToken":{value}}}"#
                ),
            );
            assert_eq!(found(&f.violations[0]), shown);
        }
        let f = pod_findings(
            &s,
            r#"{"component":"image-puller"}"#,
            r#"{"serviceAccountName":"default"}"#,
        );
        assert!(fix(&f, &f.violations[0]).contains("prePuller.hook.serviceAccount.create=true"));
        let f = pod_findings(
            &s,
            r#"{"app":"x"}"#,
            r#"{"serviceAccountName":"continuous-image-puller"}"#,
        );
        assert!(fix(&f, &f.violations[0]).contains("reserved for the continuous image puller"));
    }

    fn violation(i: usize) -> Violation {
        Violation {
            field: format!("spec.volumes[{i}]"),
            rule: Rule::TokenVolume {
                volume: format!("v{i}"),
                injected: false,
                mounted_by: vec![],
            },
            remedy: None,
        }
    }

    #[test]
    fn messages_number_and_cap_violations() {
        let findings = Findings {
            violations: (0..25).map(violation).collect(),
            ..Findings::new("Pod a/b".into(), ResourceKind::Pod)
        };
        let all: Vec<&Violation> = findings.violations.iter().collect();
        let m = rejection(&findings, &all[..2], Preface::Breaks);
        assert_eq!(
            m,
            "Pod a/b breaks the prepuller ServiceAccount policy: (1) spec.volumes[0] is projected volume \"v0\" with a serviceAccountToken source, expected no ServiceAccount token volume: remove volume \"v0\" and its volumeMounts: image pullers never call the Kubernetes API; (2) spec.volumes[1] is projected volume \"v1\" with a serviceAccountToken source, expected no ServiceAccount token volume: remove volume \"v1\" and its volumeMounts: image pullers never call the Kubernetes API"
        );
        let m = rejection(&findings, &all, Preface::Breaks);
        assert!(m.contains("(20) spec.volumes[19] is"), "{m}");
        assert!(m.ends_with("; and 5 more"), "{m}");
        assert!(!m.contains("(21)"), "{m}");
    }

    #[test]
    fn warnings_say_what_changed() {
        let mut v = violation(0);
        v.remedy = Some(Remedy::RemoveInjectedVolume("kube-api-access-1".into()));
        assert!(mutation_warning(&v).starts_with(
            "spec.volumes[0]: removed the injected token volume \"kube-api-access-1\" and its volumeMounts"
        ));
        let v = Violation {
            field: "spec.automountServiceAccountToken".into(),
            rule: Rule::Automount {
                found: crate::workload::Automount::Unset,
            },
            remedy: Some(Remedy::SetAutomountFalse),
        };
        assert_eq!(
            mutation_warning(&v),
            "spec.automountServiceAccountToken: changed from unset (defaults to true) to false (prepuller policy: own ServiceAccount, no API token)"
        );
        assert!(
            left_as_is_warning(
                &Findings::new("ReplicaSet jhub/d-1".into(), ResourceKind::ReplicaSet),
                &v,
                LeftAsIs::ControlledBy("jhub/d")
            )
            .contains("controlled by Deployment jhub/d")
        );
    }

    /// Issue 22: before chart 4.1.0 the puller ServiceAccounts have no Helm value (the values
    /// schema refuses one); the advice follows the version the object's labels name.
    #[test]
    fn helm_advice_fits_the_chart_version() {
        let violation = |role: RoleKind, want: &str| Violation {
            field: "spec.template.spec.serviceAccountName".into(),
            rule: Rule::ServiceAccountName {
                role,
                want: want.into(),
                found: NameFound::Unset {
                    runs_as: "default".into(),
                },
            },
            remedy: Some(Remedy::SetServiceAccountName(want.into())),
        };
        let findings = |chart: ChartVersion, namespace: Option<&str>| Findings {
            chart,
            namespace: namespace.map(str::to_owned),
            ..Findings::new("DaemonSet jhub/x".into(), ResourceKind::DaemonSet)
        };
        let hook = violation(RoleKind::HookPuller, "hook-image-puller");
        let with = findings(
            ChartVersion::WithPullerAccounts("4.4.0".into()),
            Some("jhub"),
        );
        assert_eq!(
            fix(&with, &hook),
            r#"run it as ServiceAccount "hook-image-puller" (Zero to JupyterHub: prePuller.hook.serviceAccountImagePuller.create=true and prePuller.hook.serviceAccountImagePuller.name=hook-image-puller; if yours is named otherwise, set hookPuller.serviceAccountName in the policy settings)"#
        );
        let without = findings(
            ChartVersion::WithoutPullerAccounts("4.0.0".into()),
            Some("jhub"),
        );
        assert_eq!(
            fix(&without, &hook),
            r#"run it as ServiceAccount "hook-image-puller" (Zero to JupyterHub 4.0.0 has no value for it: upgrade the chart to 4.1.0 or later, which creates it and runs the hook image puller as it by default, or create it with kubectl create serviceaccount hook-image-puller -n jhub and let the policy's mode: mutate set it; if yours is named otherwise, set hookPuller.serviceAccountName in the policy settings)"#
        );
        let unknown = findings(ChartVersion::Unknown, None);
        let continuous = violation(RoleKind::ContinuousPuller, "myhub-continuous-image-puller");
        assert_eq!(
            fix(&unknown, &continuous),
            r#"run it as ServiceAccount "myhub-continuous-image-puller" (Zero to JupyterHub 4.1.0 or later: prePuller.continuous.serviceAccount.create=true and prePuller.continuous.serviceAccount.name left unset, which creates the ServiceAccount under the continuous puller DaemonSet's name and runs the puller as it (the chart creates no other name), so myhub-continuous-image-puller must be that DaemonSet's name; an older chart has no value for it: upgrade it, or create it with kubectl create serviceaccount myhub-continuous-image-puller and let the policy's mode: mutate set it; if yours is named otherwise, set continuousPuller.serviceAccountName in the policy settings)"#
        );
        // The DaemonSet itself: its name is the ServiceAccount the chart creates.
        let daemonset = |name: &str| Findings {
            daemonset: Some(name.into()),
            ..findings(
                ChartVersion::WithPullerAccounts("4.4.0".into()),
                Some("jhub"),
            )
        };
        assert_eq!(
            fix(&daemonset("myhub-continuous-image-puller"), &continuous),
            r#"run it as ServiceAccount "myhub-continuous-image-puller" (Zero to JupyterHub: prePuller.continuous.serviceAccount.create=true and prePuller.continuous.serviceAccount.name left unset, which creates the ServiceAccount under the continuous puller DaemonSet's name and runs the puller as it (the chart creates no other name); if yours is named otherwise, set continuousPuller.serviceAccountName in the policy settings)"#
        );
        assert_eq!(
            fix(&daemonset("continuous-image-puller"), &continuous),
            r#"run it as ServiceAccount "myhub-continuous-image-puller" (Zero to JupyterHub: prePuller.continuous.serviceAccount.create=true and prePuller.continuous.serviceAccount.name left unset, which creates the ServiceAccount under the continuous puller DaemonSet's name and runs the puller as it (the chart creates no other name), here "continuous-image-puller": set continuousPuller.serviceAccountName to it in the policy settings to use it; if yours is named otherwise, set continuousPuller.serviceAccountName in the policy settings)"#
        );
        // The awaiter's value exists in every chart version.
        let awaiter = violation(RoleKind::Awaiter, "hook-image-awaiter");
        for f in [&with, &without, &unknown] {
            assert_eq!(
                fix(f, &awaiter),
                r#"run it as ServiceAccount "hook-image-awaiter" (Zero to JupyterHub: prePuller.hook.serviceAccount.create=true and prePuller.hook.serviceAccount.name=hook-image-awaiter; if yours is named otherwise, set awaiter.serviceAccountName in the policy settings)"#
            );
        }
        // requireExistingServiceAccounts, not found: how to have the account.
        let missing = |f: &Findings, kind: RoleKind| {
            let role = kind.default_role();
            let unknown = Unconfirmed {
                role: &role,
                namespace: "jhub".into(),
            };
            let m = missing_account(f, &unknown, "404");
            m.split(". ").last().unwrap_or_default().to_owned()
        };
        assert_eq!(
            missing(&without, RoleKind::ContinuousPuller),
            "Zero to JupyterHub 4.0.0 does not create it: upgrade the chart to 4.1.0 or later, which does by default, or create it (kubectl create serviceaccount continuous-image-puller -n jhub), or set continuousPuller.serviceAccountName in the policy settings to the ServiceAccount you use"
        );
        assert_eq!(
            missing(&with, RoleKind::ContinuousPuller),
            "Have the chart create it (Zero to JupyterHub: prePuller.continuous.serviceAccount.create=true and prePuller.continuous.serviceAccount.name left unset, which creates the ServiceAccount under the continuous puller DaemonSet's name and runs the puller as it (the chart creates no other name), so continuous-image-puller must be that DaemonSet's name), or create it (kubectl create serviceaccount continuous-image-puller -n jhub), or set continuousPuller.serviceAccountName in the policy settings to the ServiceAccount you use"
        );
        assert_eq!(
            missing(&without, RoleKind::Awaiter),
            "Have the chart create it (Zero to JupyterHub: prePuller.hook.serviceAccount.create=true and prePuller.hook.serviceAccount.name=hook-image-awaiter), or create it (kubectl create serviceaccount hook-image-awaiter -n jhub), or set awaiter.serviceAccountName in the policy settings to the ServiceAccount you use"
        );
    }

    #[test]
    fn host_answers_are_cut_to_their_first_line() {
        assert_eq!(host_answer("a \"b\""), r#""a \"b\"""#);
        assert_eq!(host_answer(""), r#""""#);
        assert_eq!(
            host_answer("ServiceError: x\n\nCaused by:\n    0: y\n\nStack backtrace:\n   0: z\n"),
            r#""ServiceError: x" and 4 more lines"#
        );
        assert_eq!(host_answer("a\r\nb"), r#""a" and 1 more line"#);
    }

    #[test]
    fn unrecognised_roles_point_at_the_template() {
        let u = Unrecognised {
            role: RoleKind::HookPuller,
            field: "spec.jobTemplate.metadata.labels".into(),
        };
        assert_eq!(
            unrecognised_warning(ResourceKind::CronJob, &u),
            "spec.jobTemplate.metadata.labels match hookPuller.selector but spec.jobTemplate.spec.template.metadata.labels do not: Kubernetes copies only the pod template's labels to the Pods, so they will not be recognised as the hook image puller and are judged as any other workload; to make them hook image pullers, add those labels to spec.jobTemplate.spec.template.metadata.labels"
        );
    }
}
