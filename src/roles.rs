//! The prepuller roles: what each one is, what the chart calls it, and the ServiceAccount and
//! selector it has when the settings say nothing.
//!
//! The definitions only: they read no settings, because the settings are built from them
//! (`crate::settings` fills each role's defaults from [`RoleKind::default_role`]). Which role a
//! workload plays, which reads the settings, is `crate::detection`'s; keeping the two apart
//! keeps the module graph free of cycles.

use crate::selector::LabelSelector;

/// The three workloads the policy knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RoleKind {
    /// The DaemonSet a Helm hook runs before an install or upgrade, to pull the new images.
    HookPuller,
    /// The DaemonSet that pulls the images on every node that joins later.
    ContinuousPuller,
    /// The hook's Job that waits for the hook pullers: it reads DaemonSets, so it keeps a token.
    Awaiter,
}

impl RoleKind {
    /// The settings key, used in messages so operators know what to edit.
    pub fn settings_key(self) -> &'static str {
        match self {
            RoleKind::HookPuller => "hookPuller",
            RoleKind::ContinuousPuller => "continuousPuller",
            RoleKind::Awaiter => "awaiter",
        }
    }

    /// The role's name in messages.
    pub fn description(self) -> &'static str {
        match self {
            RoleKind::HookPuller => "hook image puller",
            RoleKind::ContinuousPuller => "continuous image puller",
            RoleKind::Awaiter => "hook image awaiter",
        }
    }

    /// The Zero to JupyterHub Helm value that names this role's ServiceAccount.
    pub fn helm_value(self) -> &'static str {
        match self {
            RoleKind::HookPuller => "prePuller.hook.serviceAccountImagePuller",
            RoleKind::ContinuousPuller => "prePuller.continuous.serviceAccount",
            RoleKind::Awaiter => "prePuller.hook.serviceAccount",
        }
    }

    /// Pullers only pull images; the awaiter reads DaemonSets and so keeps its token.
    pub fn is_puller(self) -> bool {
        !matches!(self, RoleKind::Awaiter)
    }

    /// Every role, pullers first.
    pub const ALL: [RoleKind; 3] = [
        RoleKind::HookPuller,
        RoleKind::ContinuousPuller,
        RoleKind::Awaiter,
    ];

    /// The value Zero to JupyterHub gives this role's Pods in `component` (every chart version)
    /// and `app.kubernetes.io/component` (pod templates since 4.1.0): the awaiter Job's Pods
    /// are `image-puller`, after the template folder.
    pub fn chart_component(self) -> &'static str {
        match self {
            RoleKind::HookPuller => "hook-image-puller",
            RoleKind::ContinuousPuller => "continuous-image-puller",
            RoleKind::Awaiter => "image-puller",
        }
    }

    /// The role as Zero to JupyterHub names it, without `fullnameOverride`.
    pub fn default_role(self) -> Role {
        let sa = match self {
            RoleKind::HookPuller => "hook-image-puller",
            RoleKind::ContinuousPuller => "continuous-image-puller",
            RoleKind::Awaiter => "hook-image-awaiter",
        };
        Role {
            kind: self,
            service_account_name: sa.to_owned(),
            selector: LabelSelector::with_label("component", self.chart_component()),
        }
    }
}

/// A role with its defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Which role this is, and so which rules apply.
    pub kind: RoleKind,
    /// The ServiceAccount its Pods must run as, and that `reserveServiceAccounts` keeps for it.
    pub service_account_name: String,
    /// Matched against the labels the workload's Pods will carry.
    pub selector: LabelSelector,
}
