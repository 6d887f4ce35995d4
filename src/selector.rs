//! Kubernetes LabelSelectors, as the settings spell them, and matching them against labels.
//!
//! The policy recognises a puller by its labels, so this matcher must behave exactly like the API
//! server's: `matchLabels` and every `matchExpressions` requirement are ANDed, `NotIn` and
//! `DoesNotExist` match when the key is absent, and an object without labels is matched like one
//! with an empty label set.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::json::CowStr;
use crate::names;

/// Labels of one object. Keys and values borrow from the request unless they carry JSON escapes.
pub type Labels<'a> = BTreeMap<CowStr<'a>, CowStr<'a>>;

/// Labels that Kubernetes adds to Pods (or Jobs) after mutating admission, or that controllers
/// add when they create a child: a selector on one of them matches the Pods but never the
/// controller the policy judges first, so the two would be judged by different rules.
pub const ADDED_AFTER_ADMISSION: [&str; 10] = [
    "batch.kubernetes.io/job-name",
    "job-name",
    "batch.kubernetes.io/controller-uid",
    "controller-uid",
    "pod-template-hash",
    "controller-revision-hash",
    "pod-template-generation",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "batch.kubernetes.io/job-completion-index",
];

/// A Kubernetes LabelSelector, as the settings spell it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    /// Labels that must be present with exactly these values.
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    /// Requirements that must all hold as well.
    #[serde(default)]
    pub match_expressions: Vec<Requirement>,
}

/// One `matchExpressions` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Requirement {
    /// The label key the requirement is about.
    pub key: String,
    /// How the label's value is tested.
    pub operator: Operator,
    /// The values of `In` and `NotIn`; the API server requires it empty for the other two.
    #[serde(default)]
    pub values: Vec<String>,
}

/// The operators of a `matchExpressions` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub enum Operator {
    /// The label is present with one of `values`.
    In,
    /// The label is absent, or its value is none of `values`.
    NotIn,
    /// The label is present, whatever its value.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

impl LabelSelector {
    /// A selector with only `matchLabels`, the shape of every default.
    pub fn with_label(key: &str, value: &str) -> Self {
        LabelSelector {
            match_labels: BTreeMap::from([(key.to_owned(), value.to_owned())]),
            match_expressions: Vec::new(),
        }
    }

    /// Whether `labels` satisfy every requirement (Kubernetes' semantics).
    pub fn matches(&self, labels: &Labels<'_>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k.as_str()).is_some_and(|found| *found == *v))
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }

    /// Checks what the API server would refuse in a LabelSelector, and two things a role's
    /// selector must not do. It must require some label to be there (a `matchLabels` entry, or
    /// an `In` or `Exists` expression): a selector of only `NotIn`/`DoesNotExist` matches every
    /// unlabelled Pod in the cluster. And it must not read a label that Kubernetes adds after
    /// mutating admission ([`ADDED_AFTER_ADMISSION`]).
    pub fn validate(&self, key: &str) -> Result<(), String> {
        let positive = !self.match_labels.is_empty()
            || self
                .match_expressions
                .iter()
                .any(|r| matches!(r.operator, Operator::In | Operator::Exists));
        if !positive {
            return Err(format!(
                "{key}: the selector requires no label (it needs a matchLabels entry, or an In or Exists expression), so it would match every workload without those labels"
            ));
        }
        let keys = self
            .match_labels
            .keys()
            .chain(self.match_expressions.iter().map(|r| &r.key));
        for k in keys {
            if ADDED_AFTER_ADMISSION.contains(&k.as_str()) {
                return Err(format!(
                    "{key}: label {k:?} is added by Kubernetes after admission webhooks run (to Pods and Jobs, never to the controller that creates them), so a selector on it would judge the controller and its Pods differently; select on a label of the pod template, such as component"
                ));
            }
        }
        for (k, v) in &self.match_labels {
            names::validate_label_key(k)
                .map_err(|e| format!("{key}.matchLabels: key {k:?} {e}"))?;
            names::validate_label_value(v)
                .map_err(|e| format!("{key}.matchLabels.{k}: value {v:?} {e}"))?;
        }
        for (i, r) in self.match_expressions.iter().enumerate() {
            let at = format!("{key}.matchExpressions[{i}]");
            names::validate_label_key(&r.key).map_err(|e| format!("{at}.key: {:?} {e}", r.key))?;
            match r.operator {
                Operator::In | Operator::NotIn if r.values.is_empty() => {
                    return Err(format!(
                        "{at}.values: operator {:?} needs at least one value",
                        r.operator
                    ));
                }
                Operator::Exists | Operator::DoesNotExist if !r.values.is_empty() => {
                    return Err(format!(
                        "{at}.values: operator {:?} takes no values",
                        r.operator
                    ));
                }
                _ => {}
            }
            for v in &r.values {
                names::validate_label_value(v).map_err(|e| format!("{at}.values: {v:?} {e}"))?;
            }
        }
        Ok(())
    }

    /// The selector with its lists sorted, so that two spellings of the same selector compare
    /// equal when settings are checked for roles that cannot be told apart.
    pub fn normalized(&self) -> LabelSelector {
        let mut expressions: Vec<Requirement> = self
            .match_expressions
            .iter()
            .map(|r| {
                let mut values = r.values.clone();
                values.sort();
                values.dedup();
                Requirement {
                    key: r.key.clone(),
                    operator: r.operator,
                    values,
                }
            })
            .collect();
        expressions
            .sort_by(|a, b| (&a.key, a.operator, &a.values).cmp(&(&b.key, b.operator, &b.values)));
        expressions.dedup();
        LabelSelector {
            match_labels: self.match_labels.clone(),
            match_expressions: expressions,
        }
    }
}

impl Requirement {
    fn matches(&self, labels: &Labels<'_>) -> bool {
        let found = labels.get(self.key.as_str()).map(CowStr::as_str);
        match self.operator {
            Operator::In => found.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Operator::NotIn => found.is_none_or(|v| !self.values.iter().any(|x| x == v)),
            Operator::Exists => found.is_some(),
            Operator::DoesNotExist => found.is_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn labels(pairs: &[(&'static str, &'static str)]) -> Labels<'static> {
        pairs
            .iter()
            .map(|(k, v)| (CowStr(Cow::Borrowed(*k)), CowStr(Cow::Borrowed(*v))))
            .collect()
    }

    fn selector(json: &str) -> LabelSelector {
        serde_json::from_str(json).expect("test selector")
    }

    #[test]
    fn match_labels_needs_every_pair() {
        let s = selector(r#"{"matchLabels":{"component":"hook-image-puller","app":"jupyterhub"}}"#);
        assert!(s.matches(&labels(&[
            ("component", "hook-image-puller"),
            ("app", "jupyterhub"),
            ("release", "x")
        ])));
        assert!(!s.matches(&labels(&[("component", "hook-image-puller")])));
        assert!(!s.matches(&labels(&[("component", "other"), ("app", "jupyterhub")])));
    }

    #[test]
    fn expressions_follow_kubernetes_semantics() {
        let s = selector(
            r#"{"matchExpressions":[
                {"key":"component","operator":"In","values":["a","b"]},
                {"key":"tier","operator":"NotIn","values":["x"]},
                {"key":"app","operator":"Exists"},
                {"key":"skip","operator":"DoesNotExist"}]}"#,
        );
        assert!(s.matches(&labels(&[("component", "b"), ("app", "")])));
        assert!(!s.matches(&labels(&[("component", "c"), ("app", "")])));
        assert!(!s.matches(&labels(&[("component", "a"), ("app", ""), ("tier", "x")])));
        assert!(s.matches(&labels(&[("component", "a"), ("app", ""), ("tier", "y")])));
        assert!(!s.matches(&labels(&[("component", "a")])));
        assert!(!s.matches(&labels(&[("component", "a"), ("app", ""), ("skip", "1")])));
    }

    #[test]
    fn an_empty_label_set_is_matched_like_kubernetes_does() {
        let s = selector(
            r#"{"matchExpressions":[{"key":"tier","operator":"NotIn","values":["x"]},{"key":"skip","operator":"DoesNotExist"}]}"#,
        );
        assert!(s.matches(&Labels::new()));
        assert!(!selector(r#"{"matchLabels":{"a":"b"}}"#).matches(&Labels::new()));
        assert!(
            !selector(r#"{"matchExpressions":[{"key":"a","operator":"Exists"}]}"#)
                .matches(&Labels::new())
        );
    }

    #[test]
    fn a_role_selector_needs_a_positive_requirement() {
        for negative in [
            "{}",
            r#"{"matchExpressions":[{"key":"tier","operator":"NotIn","values":["x"]}]}"#,
            r#"{"matchExpressions":[{"key":"a","operator":"DoesNotExist"},{"key":"b","operator":"NotIn","values":["y"]}]}"#,
        ] {
            let e = selector(negative)
                .validate("hookPuller.selector")
                .unwrap_err();
            assert!(
                e.starts_with("hookPuller.selector: the selector requires no label"),
                "{e}"
            );
        }
        for positive in [
            r#"{"matchLabels":{"a":"b"}}"#,
            r#"{"matchExpressions":[{"key":"a","operator":"In","values":["b"]},{"key":"c","operator":"DoesNotExist"}]}"#,
            r#"{"matchExpressions":[{"key":"a","operator":"Exists"}]}"#,
        ] {
            assert_eq!(selector(positive).validate("s"), Ok(()), "{positive}");
        }
    }

    #[test]
    fn labels_added_after_admission_are_refused() {
        for label in ADDED_AFTER_ADMISSION {
            for json in [
                format!(r#"{{"matchLabels":{{"{label}":"x"}}}}"#),
                format!(
                    r#"{{"matchLabels":{{"component":"x"}},"matchExpressions":[{{"key":"{label}","operator":"DoesNotExist"}}]}}"#
                ),
            ] {
                let e = selector(&json).validate("awaiter.selector").unwrap_err();
                assert!(
                    e.starts_with(&format!(
                        "awaiter.selector: label {label:?} is added by Kubernetes after admission"
                    )),
                    "{e}"
                );
            }
        }
    }

    #[test]
    fn validation_names_the_offending_key() {
        let e = selector(r#"{"matchExpressions":[{"key":"a","operator":"In"}]}"#)
            .validate("awaiter.selector")
            .unwrap_err();
        assert_eq!(
            e,
            "awaiter.selector.matchExpressions[0].values: operator In needs at least one value"
        );
        let e =
            selector(r#"{"matchExpressions":[{"key":"a","operator":"Exists","values":["x"]}]}"#)
                .validate("s")
                .unwrap_err();
        assert_eq!(
            e,
            "s.matchExpressions[0].values: operator Exists takes no values"
        );
        let e = selector(r#"{"matchLabels":{"bad key":"v"}}"#)
            .validate("s")
            .unwrap_err();
        assert!(e.starts_with("s.matchLabels: key \"bad key\""), "{e}");
        let e = selector(r#"{"matchLabels":{"k":"-bad"}}"#)
            .validate("s")
            .unwrap_err();
        assert!(e.starts_with("s.matchLabels.k: value \"-bad\""), "{e}");
    }

    #[test]
    fn unknown_operator_and_fields_fail_to_decode() {
        assert!(
            serde_json::from_str::<LabelSelector>(
                r#"{"matchExpressions":[{"key":"a","operator":"Gt"}]}"#
            )
            .is_err()
        );
        assert!(serde_json::from_str::<LabelSelector>(r#"{"matchLabel":{}}"#).is_err());
    }

    #[test]
    fn normalization_ignores_order() {
        let a = selector(
            r#"{"matchExpressions":[{"key":"b","operator":"In","values":["2","1"]},{"key":"a","operator":"Exists"}]}"#,
        );
        let b = selector(
            r#"{"matchExpressions":[{"key":"a","operator":"Exists"},{"key":"b","operator":"In","values":["1","2"]}]}"#,
        );
        assert_ne!(a, b);
        assert_eq!(a.normalized(), b.normalized());
    }
}
