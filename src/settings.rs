//! Policy settings: which ServiceAccount each prepuller role must use and how its pods are
//! recognised. Every key is optional; the defaults are Zero to JupyterHub's own names, so the
//! policy works unconfigured for a chart installed without `fullnameOverride`.

use serde::{Deserialize, Deserializer};

use crate::names;
use crate::roles::{Role, RoleKind};
use crate::selector::LabelSelector;

/// What the policy does with a violation it can fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Fix what can be fixed (ServiceAccount names, automount, the injected token volume).
    #[default]
    Mutate,
    /// Never change an object: reject every violation.
    Reject,
}

/// One role as the user wrote it: either key may be left out to keep the default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RoleInput {
    service_account_name: Option<String>,
    selector: Option<LabelSelector>,
}

/// The settings as written in the policy's `settings:`; turned into [`Settings`] by `resolve`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SettingsInput {
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    hook_puller: Option<RoleInput>,
    #[serde(default)]
    continuous_puller: Option<RoleInput>,
    /// Absent keeps the default awaiter; an explicit `null` turns the awaiter rules off.
    #[serde(default = "awaiter_default", deserialize_with = "explicit_null")]
    awaiter: Option<Option<RoleInput>>,
    #[serde(default = "yes")]
    reserve_service_accounts: bool,
    #[serde(default)]
    service_account_objects: bool,
    #[serde(default)]
    require_existing_service_accounts: bool,
}

fn awaiter_default() -> Option<Option<RoleInput>> {
    None
}

fn yes() -> bool {
    true
}

/// Tells `awaiter: null` (off) apart from a missing `awaiter` key (default).
fn explicit_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<RoleInput>>, D::Error> {
    Ok(Some(Option::<RoleInput>::deserialize(d)?))
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
    /// `awaiter`: `None` (`awaiter: null`) turns the awaiter's rules off and frees its account.
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
        Settings {
            mode: Mode::Mutate,
            hook_puller: RoleKind::HookPuller.default_role(),
            continuous_puller: RoleKind::ContinuousPuller.default_role(),
            awaiter: Some(RoleKind::Awaiter.default_role()),
            reserve_service_accounts: true,
            service_account_objects: false,
            require_existing_service_accounts: false,
        }
    }
}

fn resolve_role(kind: RoleKind, input: Option<RoleInput>) -> Role {
    let mut role = kind.default_role();
    if let Some(input) = input {
        if let Some(sa) = input.service_account_name {
            role.service_account_name = sa;
        }
        if let Some(selector) = input.selector {
            role.selector = selector;
        }
    }
    role
}

impl Settings {
    /// Decodes settings JSON (`null` and `{}` give the defaults) and validates them. Errors name
    /// the offending key, e.g. `hookPuller.selector.matchLabels: unknown field ...`.
    pub fn from_json(raw: &str) -> Result<Settings, String> {
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
            if path == "." {
                e.inner().to_string()
            } else {
                format!("{path}: {}", e.inner())
            }
        })?;
        let settings = Settings {
            mode: input.mode,
            hook_puller: resolve_role(RoleKind::HookPuller, input.hook_puller),
            continuous_puller: resolve_role(RoleKind::ContinuousPuller, input.continuous_puller),
            awaiter: match input.awaiter {
                None => Some(RoleKind::Awaiter.default_role()),
                Some(None) => None,
                Some(Some(a)) => Some(resolve_role(RoleKind::Awaiter, Some(a))),
            },
            reserve_service_accounts: input.reserve_service_accounts,
            service_account_objects: input.service_account_objects,
            require_existing_service_accounts: input.require_existing_service_accounts,
        };
        settings.validate()?;
        Ok(settings)
    }

    /// The configured roles, pullers first.
    pub fn roles(&self) -> impl Iterator<Item = &Role> {
        [&self.hook_puller, &self.continuous_puller]
            .into_iter()
            .chain(self.awaiter.as_ref())
    }

    /// The configured role of this kind (the awaiter may be off).
    pub fn role(&self, kind: RoleKind) -> Option<&Role> {
        self.roles().find(|r| r.kind == kind)
    }

    /// The role whose ServiceAccount has this name, if any.
    pub fn owner_of(&self, service_account: &str) -> Option<&Role> {
        self.roles()
            .find(|r| r.service_account_name == service_account)
    }

    fn validate(&self) -> Result<(), String> {
        let roles: Vec<&Role> = self.roles().collect();
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
        }
        for (i, a) in roles.iter().enumerate() {
            for b in &roles[i + 1..] {
                if a.service_account_name == b.service_account_name {
                    return Err(format!(
                        "{}.serviceAccountName: {:?} is also {}.serviceAccountName; each role needs its own ServiceAccount",
                        b.kind.settings_key(),
                        b.service_account_name,
                        a.kind.settings_key()
                    ));
                }
                if a.selector.normalized() == b.selector.normalized() {
                    return Err(format!(
                        "{}.selector: identical to {}.selector, so the two roles cannot be told apart",
                        b.kind.settings_key(),
                        a.kind.settings_key()
                    ));
                }
            }
        }
        Ok(())
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
                "continuousPuller":{"selector":{"matchLabels":{"app.kubernetes.io/component":"continuous-image-puller"}}},
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
            s.continuous_puller.selector,
            LabelSelector::with_label("app.kubernetes.io/component", "continuous-image-puller")
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
                .starts_with("hookPuller.selector: the selector requires no label")
        );
        assert!(
            error(r#"{"awaiter":{"selector":{"matchLabels":{"batch.kubernetes.io/job-name":"hook-image-awaiter"}}}}"#)
                .starts_with("awaiter.selector: label \"batch.kubernetes.io/job-name\" is added by Kubernetes after admission")
        );
        assert!(error(
            r#"{"continuousPuller":{"selector":{"matchLabels":{"component":"hook-image-puller"}}}}"#
        )
        .starts_with("continuousPuller.selector: identical to hookPuller.selector"));
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
}
