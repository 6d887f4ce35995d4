//! The policy's settings as Rancher's Kubewarden UI asks for them (`questions-ui.yml`), and the
//! defaults the generated manifests carry.
//!
//! Both come from one table so that a form field and a manifest default cannot disagree; tests
//! hold the table to the README's settings reference and to the policy's own defaults.

use serde_norway::{Mapping, Value};

const SETTINGS: &str = "Settings";

/// One form field. `variable` is a dotted path into the settings object, as Rancher's questions
/// use it for nested values.
#[derive(Debug, Clone)]
pub struct Question {
    /// The settings key, e.g. `hookPuller.serviceAccountName`.
    pub variable: String,
    /// The field's label in the form.
    pub label: &'static str,
    /// The help text under the field.
    pub description: &'static str,
    /// The form section the field is shown in.
    pub group: &'static str,
    /// The field's type and default, which is also the manifests' default.
    pub kind: FieldKind,
}

/// A form field's type in Rancher's questions, with its default value.
#[derive(Debug, Clone)]
pub enum FieldKind {
    /// A choice among fixed values (`mode`).
    Enum {
        /// The values offered.
        options: &'static [&'static str],
        /// The value preselected, the policy's default.
        default: &'static str,
    },
    /// Free text (a ServiceAccount name).
    String {
        /// The policy's default.
        default: &'static str,
    },
    /// A checkbox.
    Boolean {
        /// The policy's default.
        default: bool,
    },
    /// `map[`: string keys to string values (matchLabels).
    Map {
        /// The one default label, `(key, value)`.
        default: (&'static str, &'static str),
    },
    /// `sequence[` of LabelSelector requirements (matchExpressions), empty by default.
    Requirements,
}

/// A role's three fields: its ServiceAccount and its selector's two halves.
fn role(
    key: &str,
    group: &'static str,
    service_account: &'static str,
    label: (&'static str, &'static str),
    texts: [&'static str; 3],
) -> [Question; 3] {
    [
        Question {
            variable: format!("{key}.serviceAccountName"),
            label: "ServiceAccount",
            description: texts[0],
            group,
            kind: FieldKind::String {
                default: service_account,
            },
        },
        Question {
            variable: format!("{key}.selector.matchLabels"),
            label: "Selector: matchLabels",
            description: texts[1],
            group,
            kind: FieldKind::Map { default: label },
        },
        Question {
            variable: format!("{key}.selector.matchExpressions"),
            label: "Selector: matchExpressions",
            description: texts[2],
            group,
            kind: FieldKind::Requirements,
        },
    ]
}

const EXPRESSIONS: &str = "Optional LabelSelector requirements, ANDed with matchLabels \
    (operators In, NotIn, Exists, DoesNotExist).";

/// Every setting, in the order of the README's settings reference.
pub fn questions() -> Vec<Question> {
    let mut q = vec![Question {
        variable: "mode".into(),
        label: "Mode",
        description: "mutate: fix the ServiceAccount names, automountServiceAccountToken and the \
            token volume Kubernetes injected into a Pod; reject: never change an object, reject \
            every violation instead.",
        group: SETTINGS,
        kind: FieldKind::Enum {
            options: &["mutate", "reject"],
            default: "mutate",
        },
    }];
    q.extend(role(
        "hookPuller",
        "Hook image puller",
        "hook-image-puller",
        ("component", "hook-image-puller"),
        [
            "The hook puller's ServiceAccount (Zero to JupyterHub value \
             prePuller.hook.serviceAccountImagePuller.name). With fullnameOverride: NAME the \
             chart names it NAME-hook-image-puller.",
            "How hook puller pods and their DaemonSet are recognised.",
            EXPRESSIONS,
        ],
    ));
    q.extend(role(
        "continuousPuller",
        "Continuous image puller",
        "continuous-image-puller",
        ("component", "continuous-image-puller"),
        [
            "The continuous puller's ServiceAccount: the continuous puller DaemonSet's name, \
             under which Zero to JupyterHub 4.1.0 and later create it whatever \
             prePuller.continuous.serviceAccount.name says. With fullnameOverride: NAME it is \
             NAME-continuous-image-puller.",
            "How continuous puller pods and their DaemonSet are recognised.",
            EXPRESSIONS,
        ],
    ));
    q.push(Question {
        variable: "awaiter.enabled".into(),
        label: "Judge the hook image awaiter",
        description: "Off: the awaiter's rules are turned off and its ServiceAccount is no \
            longer reserved (awaiter: {enabled: false}; unlike awaiter: null, this survives a \
            JSON merge patch).",
        group: "Hook image awaiter",
        kind: FieldKind::Boolean { default: true },
    });
    q.extend(role(
        "awaiter",
        "Hook image awaiter",
        "hook-image-awaiter",
        ("component", "image-puller"),
        [
            "The hook-image-awaiter Job's ServiceAccount (Zero to JupyterHub value \
             prePuller.hook.serviceAccount.name). With fullnameOverride: NAME the chart names it \
             NAME-hook-image-awaiter.",
            "How the awaiter Job is recognised (the chart labels it component: image-puller).",
            EXPRESSIONS,
        ],
    ));
    q.push(Question {
        variable: "reserveServiceAccounts".into(),
        label: "Reserve the ServiceAccounts",
        description: "A workload that matches no role may not run as any of the configured \
            ServiceAccounts.",
        group: SETTINGS,
        kind: FieldKind::Boolean { default: true },
    });
    q.push(Question {
        variable: "serviceAccountObjects".into(),
        label: "Judge the puller ServiceAccount objects",
        description: "Also require automountServiceAccountToken: false on the two puller \
            ServiceAccount objects (the chart does not set it).",
        group: SETTINGS,
        kind: FieldKind::Boolean { default: false },
    });
    q.push(Question {
        variable: "requireExistingServiceAccounts".into(),
        label: "Require the ServiceAccounts to exist",
        description: "Before admitting a workload of a role that runs as its role's \
            ServiceAccount, look that ServiceAccount up in the object's namespace and reject \
            when it does not exist. Context-aware: the policy needs spec.contextAwareResources \
            with v1 ServiceAccount.",
        group: SETTINGS,
        kind: FieldKind::Boolean { default: false },
    });
    q
}

fn s(v: &str) -> Value {
    Value::String(v.to_owned())
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Mapping(entries.into_iter().map(|(k, v)| (s(k), v)).collect())
}

impl Question {
    /// The default as settings YAML: the form's preset and the generated manifests' value.
    pub fn default_value(&self) -> Value {
        match &self.kind {
            FieldKind::Enum { default, .. } | FieldKind::String { default } => s(default),
            FieldKind::Boolean { default } => Value::Bool(*default),
            FieldKind::Map { default: (k, v) } => map(vec![(k, s(v))]),
            FieldKind::Requirements => Value::Sequence(Vec::new()),
        }
    }

    fn to_yaml(&self) -> Value {
        let mut entries = vec![
            ("variable", s(&self.variable)),
            ("label", s(self.label)),
            ("description", s(self.description)),
            ("group", s(self.group)),
            ("required", Value::Bool(false)),
            ("default", self.default_value()),
        ];
        match &self.kind {
            FieldKind::Enum { options, .. } => {
                entries.push(("type", s("enum")));
                entries.push((
                    "options",
                    Value::Sequence(options.iter().map(|o| s(o)).collect()),
                ));
            }
            FieldKind::String { .. } => entries.push(("type", s("string"))),
            FieldKind::Boolean { .. } => entries.push(("type", s("boolean"))),
            FieldKind::Map { .. } => entries.push(("type", s("map["))),
            FieldKind::Requirements => {
                entries.push(("type", s("sequence[")));
                entries.push((
                    "sequence_questions",
                    Value::Sequence(vec![
                        map(vec![
                            ("variable", s("key")),
                            ("label", s("Label key")),
                            ("type", s("string")),
                            ("required", Value::Bool(true)),
                            ("default", s("")),
                        ]),
                        map(vec![
                            ("variable", s("operator")),
                            ("label", s("Operator")),
                            ("type", s("enum")),
                            ("required", Value::Bool(true)),
                            ("default", s("In")),
                            (
                                "options",
                                Value::Sequence(
                                    ["In", "NotIn", "Exists", "DoesNotExist"]
                                        .iter()
                                        .map(|o| s(o))
                                        .collect(),
                                ),
                            ),
                        ]),
                        map(vec![
                            ("variable", s("values")),
                            ("label", s("Values (none for Exists and DoesNotExist)")),
                            ("type", s("array[")),
                            ("required", Value::Bool(false)),
                            ("default", Value::Sequence(Vec::new())),
                        ]),
                    ]),
                ));
            }
        }
        map(entries)
    }
}

/// `questions-ui.yml`.
pub fn questions_ui() -> anyhow::Result<String> {
    let doc = map(vec![(
        "questions",
        Value::Sequence(questions().iter().map(Question::to_yaml).collect()),
    )]);
    Ok(serde_norway::to_string(&doc)?)
}

/// The settings object the form's defaults make, nested along the dotted variables. Empty
/// lists are left out: they mean the same as an absent key and only add noise to a manifest.
pub fn default_settings() -> Mapping {
    let mut root = Mapping::new();
    for q in questions() {
        let value = q.default_value();
        if matches!(&value, Value::Sequence(v) if v.is_empty()) {
            continue;
        }
        let path: Vec<&str> = q.variable.split('.').collect();
        let mut node = &mut root;
        for key in &path[..path.len() - 1] {
            let entry = node
                .entry(s(key))
                .or_insert_with(|| Value::Mapping(Mapping::new()));
            node = match entry {
                Value::Mapping(m) => m,
                _ => unreachable!("a settings path crosses a scalar"),
            };
        }
        node.insert(s(path[path.len() - 1]), value);
    }
    root
}
