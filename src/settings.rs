//! Policy settings: which ServiceAccount each prepuller role must use and how its pods are
//! recognised. Every key is optional; the defaults are Zero to JupyterHub's own names, so the
//! policy works unconfigured for a chart installed without `fullnameOverride`.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::json::decode_object;
use crate::names;
use crate::roles::{Role, RoleKind};
use crate::selector::{KeyConstraint, LabelSelector, LabelSet};

/// What the policy does with a violation it can fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Fix what can be fixed (ServiceAccount names, automount, the injected token volume).
    #[default]
    Mutate,
    /// Never change an object: reject every violation.
    Reject,
}

/// Only a string names a mode. serde's derived enum also reads `{"reject": null}`, and answers
/// `null` or a list with "expected value at line 1 column 9", which names no mode.
impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Name;
        impl Visitor<'_> for Name {
            type Value = Mode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`mutate` or `reject`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Mode, E> {
                match v {
                    "mutate" => Ok(Mode::Mutate),
                    "reject" => Ok(Mode::Reject),
                    _ => Err(E::unknown_variant(v, &["mutate", "reject"])),
                }
            }
        }
        d.deserialize_str(Name)
    }
}

// Every struct-typed key is decoded with `decode_object`: serde's derived structs also read a
// list by position (`hookPuller: ["my-hook-sa", {...}]` as a name and a selector), which no
// policy resource means.

/// One role as the user wrote it: either key may be left out to keep the default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RoleInput {
    service_account_name: Option<String>,
    #[serde(default, deserialize_with = "decode_object")]
    selector: Option<LabelSelector>,
}

/// The awaiter as the user wrote it: a role that can also be turned off with `enabled: false`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AwaiterInput {
    /// `false` turns the awaiter's rules off, like `awaiter: null`, but survives a JSON merge
    /// patch (RFC 7386 deletes a key patched to null, which brings the default awaiter back).
    enabled: Option<bool>,
    service_account_name: Option<String>,
    #[serde(default, deserialize_with = "decode_object")]
    selector: Option<LabelSelector>,
}

/// The settings as written in the policy's `settings:`; turned into [`Settings`] by `resolve`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
struct SettingsInput {
    mode: Mode,
    #[serde(deserialize_with = "decode_object")]
    hook_puller: Option<RoleInput>,
    #[serde(deserialize_with = "decode_object")]
    continuous_puller: Option<RoleInput>,
    /// Absent keeps the default awaiter; an explicit `null` turns the awaiter rules off.
    #[serde(deserialize_with = "decode_object")]
    awaiter: Option<AwaiterInput>,
    reserve_service_accounts: bool,
    service_account_objects: bool,
    require_existing_service_accounts: bool,
}

/// What each key means when it is missing.
impl Default for SettingsInput {
    fn default() -> Self {
        SettingsInput {
            mode: Mode::default(),
            hook_puller: None,
            continuous_puller: None,
            awaiter: Some(AwaiterInput::default()),
            reserve_service_accounts: true,
            service_account_objects: false,
            require_existing_service_accounts: false,
        }
    }
}

impl SettingsInput {
    fn resolve(self) -> Settings {
        Settings {
            mode: self.mode,
            hook_puller: resolve_role(RoleKind::HookPuller, self.hook_puller),
            continuous_puller: resolve_role(RoleKind::ContinuousPuller, self.continuous_puller),
            // Turned off, the other keys are kept but not read, so that a merge patch of
            // `enabled: false` onto a configured awaiter, and back, works.
            awaiter: self.awaiter.filter(|a| a.enabled != Some(false)).map(|a| {
                let role = RoleInput {
                    service_account_name: a.service_account_name,
                    selector: a.selector,
                };
                resolve_role(RoleKind::Awaiter, Some(role))
            }),
            reserve_service_accounts: self.reserve_service_accounts,
            service_account_objects: self.service_account_objects,
            require_existing_service_accounts: self.require_existing_service_accounts,
        }
    }
}

/// The settings resolved and validated: every default filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Whether fixable violations are fixed or rejected.
    pub mode: Mode,
    /// `hookPuller`: the hook DaemonSet's account and selector.
    pub hook_puller: Role,
    /// `continuousPuller`: the continuous DaemonSet's account and selector.
    pub continuous_puller: Role,
    /// `awaiter`: `None` (`awaiter: null` or `awaiter: {enabled: false}`) turns the awaiter's
    /// rules off and frees its account.
    pub awaiter: Option<Role>,
    /// Refuse workloads of no role that run as a role's ServiceAccount, so no other Pod gets a
    /// prepuller's identity (or its RBAC).
    pub reserve_service_accounts: bool,
    /// Also judge the pullers' ServiceAccount objects: they must turn automount off themselves.
    pub service_account_objects: bool,
    /// Look a role's ServiceAccount up (context-aware) before admitting a workload that runs as it.
    pub require_existing_service_accounts: bool,
}

impl Default for Settings {
    fn default() -> Self {
        SettingsInput::default().resolve()
    }
}

/// The role of this kind, with the keys the user wrote in place of its defaults.
fn resolve_role(kind: RoleKind, input: Option<RoleInput>) -> Role {
    let input = input.unwrap_or_default();
    let default = kind.default_role();
    Role {
        kind,
        service_account_name: input
            .service_account_name
            .unwrap_or(default.service_account_name),
        selector: input.selector.unwrap_or(default.selector),
    }
}

impl Settings {
    /// Decodes settings JSON (`null` and `{}` give the defaults) and validates them: what
    /// `validate_settings` answers. Errors name the offending key, e.g.
    /// `hookPuller.selector.matchLabels: unknown field ...`.
    pub fn from_json(raw: &str) -> Result<Settings, String> {
        let settings = Self::decode(raw)?;
        settings.validate()?;
        Ok(settings)
    }

    /// Decodes settings JSON without the checks across keys (names, selectors as label sets):
    /// what `validate` reads. Every host validates the settings before the first `validate`
    /// (policy-server when it loads the policy, kwctl before it runs it) and never calls it
    /// with settings it refused, so repeating those checks on every request (a third of an
    /// accept's cost, docs/performance.md) would guard against nothing a host can send.
    pub(crate) fn decode(raw: &str) -> Result<Settings, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed == "null" {
            return Ok(Settings::default());
        }
        if !trimmed.starts_with('{') {
            return Err(format!(
                "the settings must be a map of keys, not {}",
                trimmed.chars().next().map_or("nothing", |c| match c {
                    '[' => "a list",
                    '"' => "a string",
                    _ => "a scalar",
                })
            ));
        }
        let de = &mut serde_json::Deserializer::from_str(raw);
        let input: SettingsInput = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.inner();
            let mut text = inner.to_string();
            // A wrong value is named by its key; the position is in the JSON policy-server
            // wrote from the policy's YAML, which the operator never sees. A syntax error has
            // no key to name: its position stays.
            if inner.is_data() {
                let at = format!(" at line {} column {}", inner.line(), inner.column());
                if let Some(bare) = text.strip_suffix(&at) {
                    text = bare.to_owned();
                }
            }
            if path == "." {
                text
            } else {
                format!("{path}: {text}")
            }
        })?;
        Ok(input.resolve())
    }

    /// The configured roles, pullers first.
    pub(crate) fn roles(&self) -> impl Iterator<Item = &Role> {
        [&self.hook_puller, &self.continuous_puller]
            .into_iter()
            .chain(self.awaiter.as_ref())
    }

    /// The configured role of this kind (the awaiter may be off); prepuller-check reads its
    /// ServiceAccount from here, not from defaults of its own.
    pub fn role(&self, kind: RoleKind) -> Option<&Role> {
        self.roles().find(|r| r.kind == kind)
    }

    /// The role whose ServiceAccount has this name, if any.
    pub(crate) fn owner_of(&self, service_account: &str) -> Option<&Role> {
        self.roles()
            .find(|r| r.service_account_name == service_account)
    }

    fn validate(&self) -> Result<(), String> {
        let roles: Vec<&Role> = self.roles().collect();
        let mut sets = Vec::with_capacity(roles.len());
        for role in &roles {
            let key = role.kind.settings_key();
            let sa = &role.service_account_name;
            names::validate_dns1123_subdomain(sa)
                .map_err(|e| format!("{key}.serviceAccountName: {sa:?} {e}"))?;
            if sa == "default" {
                return Err(format!(
                    "{key}.serviceAccountName: \"default\" is not allowed: the {} must have a ServiceAccount of its own",
                    role.kind.description()
                ));
            }
            role.selector.validate(&format!("{key}.selector"))?;
            sets.push(validate_role_selector(role)?);
        }
        for (i, a) in roles.iter().enumerate() {
            for (j, b) in roles.iter().enumerate().skip(i + 1) {
                if a.service_account_name == b.service_account_name {
                    return Err(format!(
                        "{}.serviceAccountName: {:?} is also {}.serviceAccountName; each role needs its own ServiceAccount",
                        b.kind.settings_key(),
                        b.service_account_name,
                        a.kind.settings_key()
                    ));
                }
                if let Some(labels) = sets[i].common_labels(&sets[j]) {
                    return Err(format!(
                        "{b}.selector and {a}.selector both match Pods labelled {}, so such a Pod's role would be ambiguous and it would be rejected; make the two selectors exclusive, such as different values of one label (the defaults: component: {} and component: {})",
                        show(&labels),
                        a.kind.chart_component(),
                        b.kind.chart_component(),
                        a = a.kind.settings_key(),
                        b = b.kind.settings_key(),
                    ));
                }
            }
        }
        for (role, set) in roles.iter().zip(&sets) {
            validate_against_chart_pods(role, set)?;
        }
        Ok(())
    }
}

/// `{component: x, app: y}`, or `{}` for a Pod without labels.
fn show(labels: &std::collections::BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// Zero to JupyterHub's Pods other than the prepullers', by their `component` label, with the
/// labels the chart (3.x and 4.x) gives their pod templates; no other label is assumed. A role
/// selector matching one of these label maps would take that component's Pods for prepullers
/// (the proxy made to run as `hook-image-awaiter`, for instance).
const CHART_COMPONENTS: [(&str, &[&str]); 6] = [
    (
        "hub",
        &[
            "hub.jupyter.org/network-access-proxy-api",
            "hub.jupyter.org/network-access-proxy-http",
            "hub.jupyter.org/network-access-singleuser",
        ],
    ),
    (
        "proxy",
        &[
            "hub.jupyter.org/network-access-hub",
            "hub.jupyter.org/network-access-singleuser",
        ],
    ),
    ("autohttps", &["hub.jupyter.org/network-access-proxy-http"]),
    ("user-scheduler", &[]),
    ("user-placeholder", &[]),
    (
        "singleuser-server",
        &[
            "hub.jupyter.org/network-access-hub",
            "hub.jupyter.org/username",
            "hub.jupyter.org/servername",
            "chart",
            "heritage",
            "helm.sh/chart",
            "app.kubernetes.io/managed-by",
        ],
    ),
];

/// The label maps of one chart component's Pods: `component` and, since chart 4.1,
/// `app.kubernetes.io/component` name it; `app` (`jupyterhub`, or the chart's `nameOverride`)
/// and `release` are always there with a value the policy cannot know; the modern
/// `app.kubernetes.io/name` and `instance`, and the component's own `extra` labels, may be there
/// with any value (user pods' labels come from KubeSpawner and the hub's configuration).
fn chart_component(component: &'static str, extra: &[&'static str]) -> LabelSet<'static> {
    let mut keys = vec![
        ("component", KeyConstraint::one_of([component])),
        (
            "app.kubernetes.io/component",
            KeyConstraint::one_of_or_absent([component]),
        ),
        ("app", KeyConstraint::present()),
        ("release", KeyConstraint::any()),
        ("app.kubernetes.io/name", KeyConstraint::any()),
        ("app.kubernetes.io/instance", KeyConstraint::any()),
    ];
    keys.extend(extra.iter().map(|k| (*k, KeyConstraint::any())));
    LabelSet::exactly(keys)
}

/// The checks on one role's selector as a set of label maps ([`LabelSet`]): it must match some
/// Pod, fix some label to a value, and match none of the chart's other components.
fn validate_role_selector(role: &Role) -> Result<LabelSet<'_>, String> {
    let key = role.kind.settings_key();
    let set = LabelSet::of(&role.selector);
    if let Some(label) = set.contradiction() {
        return Err(format!(
            "{key}.selector: matches no Pod: its requirements on label {label:?} exclude each other, so the {}'s Pods would be judged as workloads of no role (and rejected as borrowers of its ServiceAccount); make the requirements on {label:?} agree",
            role.kind.description()
        ));
    }
    if !set.pins_a_value() {
        return Err(format!(
            "{key}.selector: fixes no label to a value: Exists, NotIn and DoesNotExist alone also match Pods of other components (every chart Pod carries component), which would be judged as the {}; add a matchLabels entry or an In expression, such as component: {}",
            role.kind.description(),
            role.kind.chart_component()
        ));
    }
    for (component, extra) in CHART_COMPONENTS {
        if set
            .common_labels(&chart_component(component, extra))
            .is_some()
        {
            return Err(format!(
                "{key}.selector: matches the Pods of Zero to JupyterHub's {component} (component: {component}, app: jupyterhub), which would be judged as the {}; select the role's own Pods, such as component: {}",
                role.kind.description(),
                role.kind.chart_component()
            ));
        }
    }
    Ok(set)
}

/// The Pods Zero to JupyterHub (3.0.0 to 4.4) makes for a role, as label maps: `component`
/// with the role's value in every version; `app.kubernetes.io/component` with it on pod
/// templates since 4.1.0, absent before; `app` (`jupyterhub`, or the chart's `nameOverride`) and
/// `release` (the release's name), always there with a value the policy cannot know; and any
/// other label besides: `app.kubernetes.io/name` and `instance` (since 4.1.0), the chart's
/// `prePuller.labels` (on the awaiter Job's Pods in every version, on the pullers' since 4.3.3),
/// what controllers add, and what a kustomization or post-renderer adds.
fn chart_pods(kind: RoleKind) -> LabelSet<'static> {
    let component = kind.chart_component();
    LabelSet::at_least([
        ("component", KeyConstraint::one_of([component])),
        (
            "app.kubernetes.io/component",
            KeyConstraint::one_of_or_absent([component]),
        ),
        ("app", KeyConstraint::present()),
        ("release", KeyConstraint::present()),
    ])
}

/// A role's selector against the Pods the chart makes for each role ([`chart_pods`]). It must
/// match none of another role's: that role's Pods would be judged by this role's rules, and
/// the awaiter's Pods exist whether or not `awaiter.enabled` is true (its Job runs with the
/// hook; judged as a puller's, it would lose the token it needs). And it must be able to match
/// its own role's, or the chart's own Pods of the role are judged as workloads of no role.
fn validate_against_chart_pods(role: &Role, set: &LabelSet<'_>) -> Result<(), String> {
    let key = role.kind.settings_key();
    let desc = role.kind.description();
    let own = role.kind.chart_component();
    for other in RoleKind::ALL.into_iter().filter(|k| *k != role.kind) {
        if set.common_labels(&chart_pods(other)).is_none() {
            continue;
        }
        let value = other.chart_component();
        let (whose, consequence) = match other {
            RoleKind::Awaiter => (
                format!(
                    "Zero to JupyterHub labels the awaiter Job's Pods component: {value}, whether or not awaiter.enabled is true"
                ),
                format!(
                    "which would be judged as the {desc} and lose the token the awaiter needs to read the hook image puller DaemonSet"
                ),
            ),
            _ => (
                format!("Zero to JupyterHub labels them component: {value}"),
                format!("which would be judged as the {desc}"),
            ),
        };
        return Err(format!(
            "{key}.selector: can match the {}'s Pods ({whose}), {consequence}; select the {desc}'s own Pods, such as component: {own}",
            other.description()
        ));
    }
    if let Some(label) = set.conflict(&chart_pods(role.kind)) {
        return Err(format!(
            "{key}.selector: cannot match the {desc}'s own Pods: {}, which its requirements on label {label:?} exclude, so the chart's {desc} would be judged as a workload of no role (and rejected as a borrower of its own ServiceAccount); select it on what the chart sets, such as component: {own} (a label of your own may stand beside it, not instead: alone it can also match the other roles' Pods)",
            chart_label(&label, own)
        ));
    }
    Ok(())
}

/// What Zero to JupyterHub sets in `label` on a role's Pods whose component is `value`.
fn chart_label(label: &str, value: &str) -> String {
    match label {
        "component" => format!("Zero to JupyterHub labels them component: {value}"),
        "app.kubernetes.io/component" => format!(
            "Zero to JupyterHub labels them app.kubernetes.io/component: {value} (since chart 4.1.0; earlier charts leave it out)"
        ),
        "app" => {
            "Zero to JupyterHub always labels them app (jupyterhub, or the chart's nameOverride)"
                .to_owned()
        }
        _ => format!("Zero to JupyterHub always labels them {label} (the release's name)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_null_give_zero_to_jupyterhub_defaults() {
        for raw in ["", "null", "{}", " { } "] {
            let s = Settings::from_json(raw).expect(raw);
            assert_eq!(s, Settings::default());
        }
        let s = Settings::default();
        assert_eq!(s.mode, Mode::Mutate);
        assert_eq!(s.hook_puller.service_account_name, "hook-image-puller");
        assert_eq!(
            s.continuous_puller.service_account_name,
            "continuous-image-puller"
        );
        let awaiter = s.awaiter.as_ref().expect("awaiter on by default");
        assert_eq!(awaiter.service_account_name, "hook-image-awaiter");
        assert_eq!(
            awaiter.selector,
            LabelSelector::with_label("component", "image-puller")
        );
        assert!(s.reserve_service_accounts);
        assert!(!s.service_account_objects);
    }

    #[test]
    fn partial_roles_keep_their_other_default() {
        let s = Settings::from_json(
            r#"{"mode":"reject","hookPuller":{"serviceAccountName":"myhub-hook-image-puller"},
                "continuousPuller":{"selector":{"matchLabels":{"component":"continuous-image-puller","release":"myhub"}}},
                "reserveServiceAccounts":false,"serviceAccountObjects":true}"#,
        )
        .expect("valid");
        assert_eq!(s.mode, Mode::Reject);
        assert_eq!(
            s.hook_puller.service_account_name,
            "myhub-hook-image-puller"
        );
        assert_eq!(
            s.hook_puller.selector,
            LabelSelector::with_label("component", "hook-image-puller")
        );
        assert_eq!(
            s.continuous_puller.service_account_name,
            "continuous-image-puller"
        );
        assert_eq!(
            s.continuous_puller.selector.match_labels,
            litemap::LiteMap::from_iter([
                ("component".to_owned(), "continuous-image-puller".to_owned()),
                ("release".to_owned(), "myhub".to_owned())
            ])
        );
        assert!(!s.reserve_service_accounts);
        assert!(s.service_account_objects);
    }

    #[test]
    fn awaiter_null_turns_it_off() {
        let s = Settings::from_json(r#"{"awaiter":null}"#).expect("valid");
        assert!(s.awaiter.is_none());
        assert_eq!(s.roles().count(), 2);
    }

    fn error(raw: &str) -> String {
        Settings::from_json(raw).expect_err(raw)
    }

    #[test]
    fn invalid_settings_name_the_key() {
        assert!(
            error(r#"{"bogus":1}"#)
                .starts_with("bogus: unknown field `bogus`, expected one of `mode`")
        );
        assert!(
            error(r#"{"hookPuller":{"serviceAccount":"x"}}"#)
                .starts_with("hookPuller.serviceAccount: unknown field `serviceAccount`")
        );
        assert!(error(r#"{"mode":"audit"}"#).starts_with("mode: unknown variant `audit`"));
        assert!(
            error(r#"{"reserveServiceAccounts":"yes"}"#)
                .starts_with("reserveServiceAccounts: invalid type")
        );
        assert!(
            error(r#"{"hookPuller":{"selector":{"matchLabels":{"a":1}}}}"#)
                .starts_with("hookPuller.selector.matchLabels.a: invalid type")
        );
        assert!(
            error(r#"{"awaiter":{"selector":{"matchExpressions":[{"key":"a","operator":"Gt"}]}}}"#)
                .starts_with("awaiter.selector.matchExpressions[0].operator: unknown variant `Gt`")
        );
        assert!(
            error(r#"{"hookPuller":{"serviceAccountName":"Hook_Puller"}}"#).starts_with(
                "hookPuller.serviceAccountName: \"Hook_Puller\" is not a valid DNS-1123 subdomain"
            )
        );
        assert!(
            error(r#"{"continuousPuller":{"serviceAccountName":"default"}}"#)
                .starts_with("continuousPuller.serviceAccountName: \"default\" is not allowed")
        );
        assert!(error(r#"{"awaiter":{"serviceAccountName":"hook-image-puller"}}"#)
            .starts_with("awaiter.serviceAccountName: \"hook-image-puller\" is also hookPuller.serviceAccountName"));
        assert!(
            error(r#"{"hookPuller":{"selector":{}}}"#)
                .starts_with("hookPuller.selector: fixes no label to a value")
        );
        assert!(
            error(r#"{"awaiter":{"selector":{"matchLabels":{"batch.kubernetes.io/job-name":"hook-image-awaiter"}}}}"#)
                .starts_with("awaiter.selector: label \"batch.kubernetes.io/job-name\" is added by Kubernetes after admission")
        );
        assert!(error(
            r#"{"continuousPuller":{"selector":{"matchLabels":{"component":"hook-image-puller"}}}}"#
        )
        .starts_with("continuousPuller.selector and hookPuller.selector both match Pods labelled {component: hook-image-puller}"));
        assert_eq!(
            error("[1,2]"),
            "the settings must be a map of keys, not a list"
        );
        assert_eq!(
            error("true"),
            "the settings must be a map of keys, not a scalar"
        );
        assert!(error("{\"mode\":").contains("EOF"));
    }

    /// Every struct-typed key is a map: a list is not read by position (issue 22), and `mode`
    /// names its values whatever it is given.
    #[test]
    fn settings_are_objects() {
        for (raw, expected) in [
            (
                r#"{"hookPuller":["my-hook-sa",{"matchLabels":{"component":"hook-image-puller"}}]}"#,
                "hookPuller: invalid type: sequence, expected a map",
            ),
            (
                r#"{"continuousPuller":["continuous-image-puller"]}"#,
                "continuousPuller: invalid type: sequence, expected a map",
            ),
            (
                r#"{"awaiter":[true,"hook-image-awaiter"]}"#,
                "awaiter: invalid type: sequence, expected a map",
            ),
            (
                r#"{"hookPuller":{"selector":[{"component":"hook-image-puller"}]}}"#,
                "hookPuller.selector: invalid type: sequence, expected a map",
            ),
            (
                r#"{"awaiter":{"selector":[{}, []]}}"#,
                "awaiter.selector: invalid type: sequence, expected a map",
            ),
            (
                r#"{"continuousPuller":{"selector":{"matchLabels":{"component":"continuous-image-puller"},"matchExpressions":[["tier","NotIn",["x"]]]}}}"#,
                "continuousPuller.selector.matchExpressions[0]: invalid type: sequence, expected a map",
            ),
            (
                r#"{"mode":null}"#,
                "mode: invalid type: null, expected `mutate` or `reject`",
            ),
            (
                r#"{"mode":["reject"]}"#,
                "mode: invalid type: sequence, expected `mutate` or `reject`",
            ),
            (
                r#"{"mode":{"reject":null}}"#,
                "mode: invalid type: map, expected `mutate` or `reject`",
            ),
            (
                r#"{"mode":"Reject"}"#,
                "mode: unknown variant `Reject`, expected `mutate` or `reject`",
            ),
        ] {
            assert_eq!(error(raw), expected, "{raw}");
        }
        // Null keeps meaning what it meant: the default role, no requirement, the awaiter off.
        for raw in [
            r#"{"hookPuller":null}"#,
            r#"{"hookPuller":{"selector":null}}"#,
            r#"{"hookPuller":{"selector":{"matchLabels":{"component":"hook-image-puller"},"matchExpressions":null}}}"#,
        ] {
            assert_eq!(Settings::from_json(raw), Ok(Settings::default()), "{raw}");
        }
        assert_eq!(
            Settings::from_json(r#"{"mode":"re\u006aect"}"#).map(|s| s.mode),
            Ok(Mode::Reject)
        );
    }

    #[test]
    fn owner_of_finds_reserved_accounts() {
        let s = Settings::default();
        assert_eq!(
            s.owner_of("hook-image-awaiter").map(|r| r.kind),
            Some(RoleKind::Awaiter)
        );
        assert!(s.owner_of("default").is_none());
        let off = Settings::from_json(r#"{"awaiter":null}"#).expect("valid");
        assert!(off.owner_of("hook-image-awaiter").is_none());
    }

    /// The issue's examples, each refused with its whole message.
    #[test]
    fn selectors_are_checked_as_label_sets() {
        assert_eq!(
            error(
                r#"{"continuousPuller":{"selector":{"matchExpressions":[{"key":"component","operator":"In","values":["hook-image-puller"]}]}}}"#
            ),
            OVERLAP
        );
        assert_eq!(
            error(
                r#"{"hookPuller":{"selector":{"matchLabels":{"component":"hook-image-puller"},"matchExpressions":[{"key":"component","operator":"NotIn","values":["hook-image-puller"]}]}}}"#
            ),
            EMPTY
        );
        assert_eq!(
            error(
                r#"{"awaiter":{"selector":{"matchExpressions":[{"key":"component","operator":"Exists"}]}}}"#
            ),
            UNPINNED
        );
        assert_eq!(
            error(r#"{"awaiter":{"selector":{"matchLabels":{"component":"proxy"}}}}"#),
            PROXY
        );
    }

    pub(crate) const OVERLAP: &str = "continuousPuller.selector and hookPuller.selector both match Pods labelled {component: hook-image-puller}, so such a Pod's role would be ambiguous and it would be rejected; make the two selectors exclusive, such as different values of one label (the defaults: component: hook-image-puller and component: continuous-image-puller)";
    pub(crate) const EMPTY: &str = "hookPuller.selector: matches no Pod: its requirements on label \"component\" exclude each other, so the hook image puller's Pods would be judged as workloads of no role (and rejected as borrowers of its ServiceAccount); make the requirements on \"component\" agree";
    pub(crate) const UNPINNED: &str = "awaiter.selector: fixes no label to a value: Exists, NotIn and DoesNotExist alone also match Pods of other components (every chart Pod carries component), which would be judged as the hook image awaiter; add a matchLabels entry or an In expression, such as component: image-puller";
    pub(crate) const PROXY: &str = "awaiter.selector: matches the Pods of Zero to JupyterHub's proxy (component: proxy, app: jupyterhub), which would be judged as the hook image awaiter; select the role's own Pods, such as component: image-puller";

    #[test]
    fn selectors_matching_the_charts_other_components_are_refused() {
        for component in [
            "hub",
            "proxy",
            "autohttps",
            "user-scheduler",
            "user-placeholder",
            "singleuser-server",
        ] {
            for selector in [
                format!(r#"{{"matchLabels":{{"component":"{component}"}}}}"#),
                format!(
                    r#"{{"matchExpressions":[{{"key":"app.kubernetes.io/component","operator":"In","values":["{component}","x"]}}]}}"#
                ),
            ] {
                let e = error(&format!(r#"{{"hookPuller":{{"selector":{selector}}}}}"#));
                assert!(
                    e.starts_with(&format!(
                        "hookPuller.selector: matches the Pods of Zero to JupyterHub's {component} (component: {component}, app: jupyterhub)"
                    )),
                    "{selector}: {e}"
                );
            }
        }
        // Selecting on labels every chart Pod carries matches the first component checked.
        for selector in [
            r#"{"matchLabels":{"app":"jupyterhub"}}"#,
            r#"{"matchLabels":{"release":"jhub"}}"#,
            r#"{"matchLabels":{"app":"jupyterhub","release":"jhub","app.kubernetes.io/name":"jupyterhub"}}"#,
        ] {
            let e = error(&format!(r#"{{"awaiter":{{"selector":{selector}}}}}"#));
            assert!(
                e.starts_with("awaiter.selector: matches the Pods of Zero to JupyterHub's hub"),
                "{selector}: {e}"
            );
        }
        // A label the chart gives no Pod of another component tells the role apart.
        for selector in [
            r#"{"matchLabels":{"app":"jupyterhub","prepuller":"hook"},"matchExpressions":[{"key":"component","operator":"NotIn","values":["continuous-image-puller","image-puller"]}]}"#,
            r#"{"matchExpressions":[{"key":"component","operator":"NotIn","values":["continuous-image-puller","image-puller"]},{"key":"app","operator":"In","values":["jupyterhub"]},{"key":"hub.jupyter.org/node-purpose","operator":"In","values":["user"]}]}"#,
        ] {
            let s = Settings::from_json(&format!(r#"{{"hookPuller":{{"selector":{selector}}}}}"#));
            assert!(s.is_ok(), "{selector}: {s:?}");
        }
    }

    #[test]
    fn realistic_settings_are_accepted() {
        for raw in [
            // The README's fullnameOverride example.
            r#"{"hookPuller":{"serviceAccountName":"myhub-hook-image-puller"},"continuousPuller":{"serviceAccountName":"myhub-continuous-image-puller"},"awaiter":{"serviceAccountName":"myhub-hook-image-awaiter"}}"#,
            // Every role on the modern label, and one release of several.
            r#"{"hookPuller":{"selector":{"matchLabels":{"app.kubernetes.io/component":"hook-image-puller"}}},"continuousPuller":{"selector":{"matchLabels":{"app.kubernetes.io/component":"continuous-image-puller"}}},"awaiter":{"selector":{"matchLabels":{"app.kubernetes.io/component":"image-puller"}}}}"#,
            r#"{"hookPuller":{"selector":{"matchLabels":{"component":"hook-image-puller","release":"jhub"}}},"continuousPuller":{"selector":{"matchLabels":{"component":"continuous-image-puller","release":"jhub"}}},"awaiter":{"selector":{"matchLabels":{"component":"image-puller","release":"jhub"}}}}"#,
            // Two spellings of one value, and a negative requirement beside a pinned one.
            r#"{"continuousPuller":{"selector":{"matchExpressions":[{"key":"component","operator":"In","values":["continuous-image-puller","cip"]},{"key":"tier","operator":"DoesNotExist"}]}}}"#,
            r#"{"hookPuller":{"selector":{"matchExpressions":[{"key":"component","operator":"In","values":["hook-image-puller"]},{"key":"tier","operator":"NotIn","values":["x"]}]}}}"#,
            // Selectors on a label of your own, beside what the chart sets.
            r#"{"hookPuller":{"selector":{"matchLabels":{"component":"hook-image-puller","prepuller":"hook"}}},"awaiter":{"enabled":false}}"#,
        ] {
            let s = Settings::from_json(raw);
            assert!(s.is_ok(), "{raw}: {s:?}");
        }
        // One role on the modern label and the others on the legacy one: a Pod can carry both.
        assert!(
            error(r#"{"hookPuller":{"selector":{"matchLabels":{"app.kubernetes.io/component":"hook-image-puller"}}}}"#)
                .starts_with("continuousPuller.selector and hookPuller.selector both match Pods labelled {app.kubernetes.io/component: hook-image-puller, component: continuous-image-puller}")
        );
    }

    /// Issue 22: the awaiter's Pods are chart Pods whatever `awaiter.enabled` says, and a
    /// selector that cannot match its own role's chart Pods turns the chart's puller into a
    /// borrower. Each message whole.
    #[test]
    fn selectors_are_checked_against_the_charts_role_pods() {
        let awaiters = "continuousPuller.selector: can match the hook image awaiter's Pods (Zero to JupyterHub labels the awaiter Job's Pods component: image-puller, whether or not awaiter.enabled is true), which would be judged as the continuous image puller and lose the token the awaiter needs to read the hook image puller DaemonSet; select the continuous image puller's own Pods, such as component: continuous-image-puller";
        for raw in [
            r#"{"awaiter":{"enabled":false},"continuousPuller":{"selector":{"matchLabels":{"component":"image-puller"}}}}"#,
            r#"{"awaiter":null,"continuousPuller":{"selector":{"matchLabels":{"component":"image-puller"}}}}"#,
            // The awaiter on, selected with a label of its own: the chart's awaiter Pods
            // without that label are still there.
            r#"{"awaiter":{"selector":{"matchLabels":{"component":"image-puller","prepuller":"awaiter"}}},"continuousPuller":{"selector":{"matchLabels":{"component":"image-puller","prepuller":"continuous"}}}}"#,
        ] {
            assert_eq!(error(raw), awaiters, "{raw}");
        }
        // A label of your own alone also matches the awaiter's Pods when they carry it
        // (prePuller.labels reaches the awaiter Job's Pods in every chart version).
        assert!(
            error(r#"{"awaiter":{"enabled":false},"hookPuller":{"selector":{"matchLabels":{"prepuller":"hook"},"matchExpressions":[{"key":"component","operator":"NotIn","values":["continuous-image-puller"]}]}}}"#)
                .starts_with("hookPuller.selector: can match the hook image awaiter's Pods")
        );
        assert_eq!(
            error(
                r#"{"continuousPuller":{"selector":{"matchLabels":{"component":"continuous-image-puller","tier":"c"}}},"hookPuller":{"selector":{"matchLabels":{"tier":"h"},"matchExpressions":[{"key":"component","operator":"NotIn","values":["image-puller"]}]}}}"#
            ),
            "hookPuller.selector: can match the continuous image puller's Pods (Zero to JupyterHub labels them component: continuous-image-puller), which would be judged as the hook image puller; select the hook image puller's own Pods, such as component: hook-image-puller"
        );
        for (raw, label, fact) in [
            (
                r#"{"continuousPuller":{"selector":{"matchLabels":{"prepuller":"continuous"},"matchExpressions":[{"key":"component","operator":"DoesNotExist"}]}}}"#,
                "component",
                "Zero to JupyterHub labels them component: continuous-image-puller",
            ),
            (
                r#"{"continuousPuller":{"selector":{"matchLabels":{"prepuller":"continuous"},"matchExpressions":[{"key":"component","operator":"NotIn","values":["continuous-image-puller","hook-image-puller","image-puller"]}]}}}"#,
                "component",
                "Zero to JupyterHub labels them component: continuous-image-puller",
            ),
            (
                r#"{"continuousPuller":{"selector":{"matchLabels":{"component":"continuous-image-puller","app.kubernetes.io/component":"continuous"}}}}"#,
                "app.kubernetes.io/component",
                "Zero to JupyterHub labels them app.kubernetes.io/component: continuous-image-puller (since chart 4.1.0; earlier charts leave it out)",
            ),
            (
                r#"{"continuousPuller":{"selector":{"matchLabels":{"component":"continuous-image-puller"},"matchExpressions":[{"key":"app","operator":"DoesNotExist"}]}}}"#,
                "app",
                "Zero to JupyterHub always labels them app (jupyterhub, or the chart's nameOverride)",
            ),
            (
                r#"{"continuousPuller":{"selector":{"matchLabels":{"component":"continuous-image-puller"},"matchExpressions":[{"key":"release","operator":"DoesNotExist"}]}}}"#,
                "release",
                "Zero to JupyterHub always labels them release (the release's name)",
            ),
        ] {
            assert_eq!(
                error(raw),
                format!(
                    "continuousPuller.selector: cannot match the continuous image puller's own Pods: {fact}, which its requirements on label {label:?} exclude, so the chart's continuous image puller would be judged as a workload of no role (and rejected as a borrower of its own ServiceAccount); select it on what the chart sets, such as component: continuous-image-puller (a label of your own may stand beside it, not instead: alone it can also match the other roles' Pods)"
                ),
                "{raw}"
            );
        }
        // Labels the chart does not set stay free, in any spelling; so does the modern label's
        // absence (charts before 4.1.0).
        for raw in [
            r#"{"continuousPuller":{"selector":{"matchLabels":{"component":"continuous-image-puller"},"matchExpressions":[{"key":"app.kubernetes.io/component","operator":"DoesNotExist"},{"key":"tier","operator":"Exists"}]}}}"#,
            r#"{"continuousPuller":{"selector":{"matchLabels":{"component":"continuous-image-puller","app":"myhub","release":"jhub","app.kubernetes.io/name":"myhub"}}}}"#,
        ] {
            let s = Settings::from_json(raw);
            assert!(s.is_ok(), "{raw}: {s:?}");
        }
    }

    #[test]
    fn awaiter_enabled_false_turns_it_off_and_survives_a_merge_patch() {
        let off = Settings::from_json(r#"{"awaiter":{"enabled":false}}"#).expect("valid");
        assert!(off.awaiter.is_none());
        assert_eq!(
            off,
            Settings::from_json(r#"{"awaiter":null}"#).expect("valid")
        );
        // A merge patch of {enabled: false} onto a configured awaiter keeps its other keys,
        // which are then not read; {enabled: true} turns the configured awaiter back on.
        let patched = Settings::from_json(
            r#"{"awaiter":{"enabled":false,"serviceAccountName":"myhub-hook-image-awaiter"}}"#,
        )
        .expect("valid");
        assert!(patched.awaiter.is_none());
        let on = Settings::from_json(
            r#"{"awaiter":{"enabled":true,"serviceAccountName":"myhub-hook-image-awaiter"}}"#,
        )
        .expect("valid");
        assert_eq!(
            on.awaiter.map(|a| a.service_account_name),
            Some("myhub-hook-image-awaiter".to_owned())
        );
        assert_eq!(
            Settings::from_json(r#"{"awaiter":{"enabled":true}}"#).expect("valid"),
            Settings::default()
        );
        assert!(
            error(r#"{"awaiter":{"enabled":"no"}}"#).starts_with("awaiter.enabled: invalid type")
        );
        assert!(
            error(r#"{"hookPuller":{"enabled":false}}"#)
                .starts_with("hookPuller.enabled: unknown field `enabled`")
        );
    }
}
