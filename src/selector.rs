//! Kubernetes LabelSelectors, as the settings spell them, and matching them against labels.
//!
//! The policy recognises a puller by its labels, so this matcher must behave exactly like the API
//! server's: `matchLabels` and every `matchExpressions` requirement are ANDed, `NotIn` and
//! `DoesNotExist` match when the key is absent, and an object without labels is matched like one
//! with an empty label set.

use std::collections::BTreeMap;
use std::fmt;

use litemap::LiteMap;

use serde::Deserialize;

use crate::json::{CowStr, decode_objects};
use crate::names;

/// Labels of one object. Keys and values borrow from the request unless they carry JSON escapes.
/// A sorted `Vec`: the API server writes them sorted (Go sorts map keys), so decoding appends,
/// and a handful of labels costs one small allocation, not a tree node.
pub type Labels<'a> = LiteMap<CowStr<'a>, CowStr<'a>>;

/// Decodes an object's labels, a JSON object of strings (a key given twice keeps its last value).
pub fn decode_labels<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Labels<'de>, D::Error> {
    crate::json::decode_map(d)
}

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
    #[serde(default, deserialize_with = "crate::json::decode_map")]
    pub match_labels: LiteMap<String, String>,
    /// Requirements that must all hold as well; each a map, never a list read by position.
    #[serde(default, deserialize_with = "requirements")]
    pub match_expressions: Vec<Requirement>,
}

/// `matchExpressions`, each entry a map; `null` is no requirement, as in Kubernetes.
fn requirements<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Requirement>, D::Error> {
    Ok(decode_objects(d)?.unwrap_or_default())
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
            match_labels: LiteMap::from_sorted_store_unchecked(vec![(
                key.to_owned(),
                value.to_owned(),
            )]),
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

    /// Checks what the API server would refuse in a LabelSelector, and what a role's selector
    /// must not do on its own: read a label that Kubernetes adds after mutating admission
    /// ([`ADDED_AFTER_ADMISSION`]). What a selector matches (nothing, Pods of any component,
    /// another role's Pods) is decided on its [`LabelSet`], by the settings that name the role.
    pub fn validate(&self, key: &str) -> Result<(), String> {
        let added = self
            .match_labels
            .keys()
            .chain(self.match_expressions.iter().map(|r| &r.key))
            .find(|k| ADDED_AFTER_ADMISSION.contains(&k.as_str()));
        if let Some(k) = added {
            return Err(format!(
                "{key}: label {k:?} is added by Kubernetes after admission webhooks run (to Pods and Jobs, never to the controller that creates them), so a selector on it would judge the controller and its Pods differently; select on a label of the pod template, such as component"
            ));
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
}

/// The selector as the settings would spell it in YAML's flow style, for messages:
/// `{matchLabels: {component: x}, matchExpressions: [{key: k, operator: In, values: [a, b]}]}`.
/// Keys and values need no quotes: a valid selector's are label keys and values.
impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.match_labels.is_empty() {
            let pairs: Vec<String> = self
                .match_labels
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            parts.push(format!("matchLabels: {{{}}}", pairs.join(", ")));
        }
        if !self.match_expressions.is_empty() {
            let items: Vec<String> = self
                .match_expressions
                .iter()
                .map(|r| {
                    let values = if r.values.is_empty() {
                        String::new()
                    } else {
                        format!(", values: [{}]", r.values.join(", "))
                    };
                    format!("{{key: {}, operator: {:?}{values}}}", r.key, r.operator)
                })
                .collect();
            parts.push(format!("matchExpressions: [{}]", items.join(", ")));
        }
        write!(f, "{{{}}}", parts.join(", "))
    }
}

/// The values a label may take under some requirements: only those of a finite set (`In`,
/// `matchLabels`), or any value but those of a finite set (`NotIn`, `Exists`). Sets are sorted,
/// deduplicated and borrow from the selector, so that a large selector costs little more.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Values<'a> {
    Only(Vec<&'a str>),
    AllBut(Vec<&'a str>),
}

fn sorted<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = values.into_iter().collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// What one label key may be, under every requirement on it: a value from [`Values`], or
/// absent when `absent` is true.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyConstraint<'a> {
    values: Values<'a>,
    absent: bool,
}

impl<'a> KeyConstraint<'a> {
    /// No requirement: any value, or no label.
    pub fn any() -> Self {
        KeyConstraint {
            values: Values::AllBut(Vec::new()),
            absent: true,
        }
    }

    /// The label must not be there (`DoesNotExist`).
    pub fn absent() -> Self {
        KeyConstraint {
            values: Values::Only(Vec::new()),
            absent: true,
        }
    }

    /// The label must be there, with any value (`Exists`).
    pub fn present() -> Self {
        KeyConstraint {
            values: Values::AllBut(Vec::new()),
            absent: false,
        }
    }

    /// The label must be there with one of `values` (`In`, or `matchLabels` with one value).
    pub fn one_of(values: impl IntoIterator<Item = &'a str>) -> Self {
        KeyConstraint {
            values: Values::Only(sorted(values)),
            absent: false,
        }
    }

    /// The label may be absent, or there with one of `values` (a chart label some versions
    /// leave out).
    pub fn one_of_or_absent(values: impl IntoIterator<Item = &'a str>) -> Self {
        KeyConstraint {
            absent: true,
            ..Self::one_of(values)
        }
    }

    /// The label may be absent, or there with any value but `values` (`NotIn`).
    fn none_of(values: impl IntoIterator<Item = &'a str>) -> Self {
        KeyConstraint {
            values: Values::AllBut(sorted(values)),
            absent: true,
        }
    }

    /// What both constraints allow.
    fn and(&self, other: &KeyConstraint<'a>) -> KeyConstraint<'a> {
        use Values::{AllBut, Only};
        let has = |set: &[&str], v: &str| set.binary_search(&v).is_ok();
        let values = match (&self.values, &other.values) {
            (Only(a), Only(b)) => Only(a.iter().copied().filter(|v| has(b, v)).collect()),
            (Only(a), AllBut(b)) | (AllBut(b), Only(a)) => {
                Only(a.iter().copied().filter(|v| !has(b, v)).collect())
            }
            (AllBut(a), AllBut(b)) => AllBut(sorted(a.iter().chain(b).copied())),
        };
        KeyConstraint {
            values,
            absent: self.absent && other.absent,
        }
    }

    /// A label (`Some(value)`) or its absence (`None`) that satisfies the constraint, if any.
    /// Label values are strings without a bound on their number, so "any value but a finite
    /// set" always has one.
    fn witness(&self) -> Option<Option<String>> {
        if self.absent {
            return Some(None);
        }
        match &self.values {
            Values::Only(set) => set.first().map(|v| Some((*v).to_owned())),
            Values::AllBut(set) => std::iter::once("x".to_owned())
                .chain((1..=set.len()).map(|i| format!("x{i}")))
                .find(|v| set.binary_search(&v.as_str()).is_err())
                .map(Some),
        }
    }

    /// Whether the label must be there with a value from a finite set.
    fn pins(&self) -> bool {
        !self.absent && matches!(self.values, Values::Only(_))
    }
}

/// The label maps a selector matches, as a constraint per key: the exact decision procedure
/// behind the settings' checks (a selector that matches nothing, fixes no value, or can match
/// the Pods of another role or of another chart component).
///
/// A label map is a finite map from keys to string values, and a selector's requirements each
/// constrain one key, so the requirements on one key intersect into one [`KeyConstraint`] and
/// keys are independent: a set of label maps is empty iff one key's constraint is unsatisfiable,
/// and two sets share a label map iff every key's two constraints intersect satisfiably.
/// Semantics are Kubernetes' (`labels.Selector`): `NotIn` and `DoesNotExist` hold when the key
/// is absent. Reasoning on spellings instead (comparing sorted selectors) misses equal sets
/// spelled differently (`matchLabels` against `In` of one value) and overlapping ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSet<'a> {
    keys: BTreeMap<&'a str, KeyConstraint<'a>>,
    /// What keys not in `keys` may be: [`KeyConstraint::any`] for a selector (it says nothing
    /// about them) and for Pods that may carry labels of their operator's besides those known,
    /// [`KeyConstraint::absent`] for a known label map such as a chart component's Pods.
    others: KeyConstraint<'a>,
}

impl<'a> LabelSet<'a> {
    /// The label maps `selector` matches.
    pub fn of(selector: &'a LabelSelector) -> LabelSet<'a> {
        let mut keys: BTreeMap<&'a str, KeyConstraint<'a>> = BTreeMap::new();
        let mut add = |key: &'a str, c: KeyConstraint<'a>| {
            keys.entry(key)
                .and_modify(|old| *old = old.and(&c))
                .or_insert(c);
        };
        for (k, v) in &selector.match_labels {
            add(k, KeyConstraint::one_of([v.as_str()]));
        }
        for r in &selector.match_expressions {
            let values = r.values.iter().map(String::as_str);
            let c = match r.operator {
                Operator::In => KeyConstraint::one_of(values),
                Operator::NotIn => KeyConstraint::none_of(values),
                Operator::Exists => KeyConstraint::present(),
                Operator::DoesNotExist => KeyConstraint::absent(),
            };
            add(&r.key, c);
        }
        LabelSet {
            keys,
            others: KeyConstraint::any(),
        }
    }

    /// Label maps with exactly these keys constrained, and no other label.
    pub fn exactly(keys: impl IntoIterator<Item = (&'a str, KeyConstraint<'a>)>) -> LabelSet<'a> {
        LabelSet {
            keys: keys.into_iter().collect(),
            others: KeyConstraint::absent(),
        }
    }

    /// Label maps with these keys constrained, and any other labels besides.
    pub fn at_least(keys: impl IntoIterator<Item = (&'a str, KeyConstraint<'a>)>) -> LabelSet<'a> {
        LabelSet {
            keys: keys.into_iter().collect(),
            others: KeyConstraint::any(),
        }
    }

    /// The first key (in key order) whose requirements exclude each other, when the set is
    /// empty.
    pub fn contradiction(&self) -> Option<&'a str> {
        self.keys
            .iter()
            .find(|(_, c)| c.witness().is_none())
            .map(|(k, _)| *k)
    }

    /// Whether every label map of the set has some key with a value from a finite set: the
    /// set is then not "every Pod with (or without) these keys", whatever its values.
    pub fn pins_a_value(&self) -> bool {
        self.keys.values().any(KeyConstraint::pins)
    }

    /// A label map in both sets, if they share one; `None` means no object can match both.
    pub fn common_labels(&self, other: &LabelSet<'_>) -> Option<BTreeMap<String, String>> {
        self.meet(other).ok()
    }

    /// The first key (in key order) on which no label map of `other` satisfies this set, if
    /// they share no label map: the label that keeps them apart.
    pub fn conflict(&self, other: &LabelSet<'_>) -> Option<String> {
        self.meet(other).err()
    }

    /// A label map in both sets, or the first key whose two constraints exclude each other.
    fn meet(&self, other: &LabelSet<'_>) -> Result<BTreeMap<String, String>, String> {
        let mut labels = BTreeMap::new();
        let mut keys: Vec<&str> = self.keys.keys().chain(other.keys.keys()).copied().collect();
        keys.sort_unstable();
        keys.dedup();
        for k in keys {
            let mine = self.keys.get(k).unwrap_or(&self.others);
            let theirs = other.keys.get(k).unwrap_or(&other.others);
            match mine.and(theirs).witness() {
                None => return Err(k.to_owned()),
                Some(Some(value)) => {
                    labels.insert(k.to_owned(), value);
                }
                Some(None) => {}
            }
        }
        // Keys neither set names: both allow absence (a selector, or a set with others free,
        // allows anything, a known label map only absence), so leaving them out satisfies both.
        Ok(labels)
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
pub(crate) mod tests {
    use super::*;
    use std::borrow::Cow;

    /// A label map from pairs, as a request's would borrow them.
    pub(crate) fn labels(pairs: &[(&'static str, &'static str)]) -> Labels<'static> {
        pairs
            .iter()
            .map(|(k, v)| (CowStr(Cow::Borrowed(*k)), CowStr(Cow::Borrowed(*v))))
            .collect()
    }

    fn selector(json: &str) -> LabelSelector {
        serde_json::from_str(json).expect("test selector")
    }

    /// The label maps a test selector matches (the selector lives as long as the test run).
    fn set(json: &str) -> LabelSet<'static> {
        LabelSet::of(Box::leak(Box::new(selector(json))))
    }

    #[test]
    fn match_labels_decode_like_a_map_in_any_order() {
        // Out of order and a key given twice: sorted, the last value kept (as a BTreeMap and
        // Go's decoder do), so lookups by key find every pair.
        let s = selector(r#"{"matchLabels":{"release":"a","component":"c","release":"jhub"}}"#);
        let pairs: Vec<_> = s.match_labels.iter().collect();
        assert_eq!(
            pairs,
            [
                (&"component".to_owned(), &"c".to_owned()),
                (&"release".to_owned(), &"jhub".to_owned())
            ]
        );
        assert!(s.matches(&labels(&[("component", "c"), ("release", "jhub")])));
        assert!(!s.matches(&labels(&[("component", "c"), ("release", "a")])));
        let e = serde_json::from_str::<LabelSelector>(r#"{"matchLabels":[["a","b"]]}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("invalid type: sequence, expected a map"),
            "{e}"
        );
        let e = serde_json::from_str::<LabelSelector>(r#"{"matchLabels":null}"#)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("invalid type: null, expected a map"), "{e}");
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
    fn match_labels_is_in_of_one_value() {
        let a = set(r#"{"matchLabels":{"component":"hook-image-puller"}}"#);
        let b = set(
            r#"{"matchExpressions":[{"key":"component","operator":"In","values":["hook-image-puller"]}]}"#,
        );
        assert_eq!(a, b);
        assert_eq!(
            a.common_labels(&b),
            Some(BTreeMap::from([(
                "component".to_owned(),
                "hook-image-puller".to_owned()
            )]))
        );
    }

    #[test]
    fn sets_overlap_when_one_label_map_satisfies_both() {
        let hook = set(r#"{"matchLabels":{"component":"hook-image-puller"}}"#);
        // Different keys: a Pod may carry both labels.
        let modern = set(r#"{"matchLabels":{"app.kubernetes.io/component":"x"}}"#);
        assert_eq!(
            hook.common_labels(&modern).map(|l| l.len()),
            Some(2),
            "both labels"
        );
        // NotIn also matches a Pod without the label, DoesNotExist excludes it.
        let not_in = set(
            r#"{"matchExpressions":[{"key":"tier","operator":"NotIn","values":["a"]},{"key":"component","operator":"In","values":["hook-image-puller","c"]}]}"#,
        );
        assert!(hook.common_labels(&not_in).is_some());
        let without = set(
            r#"{"matchLabels":{"component":"c"},"matchExpressions":[{"key":"tier","operator":"Exists"}]}"#,
        );
        assert!(hook.common_labels(&without).is_none());
        let absent = set(
            r#"{"matchLabels":{"component":"c"},"matchExpressions":[{"key":"tier","operator":"DoesNotExist"}]}"#,
        );
        assert!(without.common_labels(&absent).is_none());
        assert!(not_in.common_labels(&absent).is_some());
        // NotIn of every value of an In: disjoint.
        let excluded = set(
            r#"{"matchExpressions":[{"key":"component","operator":"NotIn","values":["hook-image-puller","c"]},{"key":"app","operator":"In","values":["j"]}]}"#,
        );
        assert!(excluded.common_labels(&not_in).is_none());
        assert!(excluded.common_labels(&hook).is_none());
    }

    #[test]
    fn contradictions_and_pinned_values() {
        let s = set(
            r#"{"matchLabels":{"component":"hook-image-puller"},"matchExpressions":[{"key":"component","operator":"NotIn","values":["hook-image-puller"]}]}"#,
        );
        assert_eq!(s.contradiction(), Some("component"));
        for empty in [
            r#"{"matchExpressions":[{"key":"a","operator":"Exists"},{"key":"a","operator":"DoesNotExist"}]}"#,
            r#"{"matchExpressions":[{"key":"a","operator":"In","values":["x"]},{"key":"a","operator":"In","values":["y"]}]}"#,
        ] {
            assert_eq!(set(empty).contradiction(), Some("a"), "{empty}");
        }
        assert_eq!(
            set(r#"{"matchExpressions":[{"key":"a","operator":"NotIn","values":["x"]},{"key":"a","operator":"DoesNotExist"}]}"#)
                .contradiction(),
            None
        );
        for loose in [
            "{}",
            r#"{"matchExpressions":[{"key":"component","operator":"Exists"}]}"#,
            r#"{"matchExpressions":[{"key":"a","operator":"NotIn","values":["x"]},{"key":"b","operator":"DoesNotExist"}]}"#,
        ] {
            assert!(!set(loose).pins_a_value(), "{loose}");
        }
        for pinned in [
            r#"{"matchLabels":{"a":"b"}}"#,
            r#"{"matchExpressions":[{"key":"a","operator":"Exists"},{"key":"a","operator":"In","values":["x","y"]}]}"#,
        ] {
            assert!(set(pinned).pins_a_value(), "{pinned}");
        }
    }

    #[test]
    fn sets_with_other_labels_free_and_the_key_that_keeps_sets_apart() {
        let chart = LabelSet::at_least([
            ("component", KeyConstraint::one_of(["hook-image-puller"])),
            ("release", KeyConstraint::present()),
        ]);
        // Labels the set does not constrain may be there, with any value.
        let own = set(r#"{"matchLabels":{"component":"hook-image-puller","tier":"t"}}"#);
        assert_eq!(
            own.common_labels(&chart).map(|l| l.len()),
            Some(3),
            "component, release and tier"
        );
        assert_eq!(own.conflict(&chart), None);
        let absent = set(
            r#"{"matchLabels":{"component":"hook-image-puller"},"matchExpressions":[{"key":"release","operator":"DoesNotExist"},{"key":"tier","operator":"DoesNotExist"}]}"#,
        );
        assert_eq!(absent.conflict(&chart).as_deref(), Some("release"));
        // The first key in key order, of either set.
        let both = set(
            r#"{"matchLabels":{"component":"x","release":"r"},"matchExpressions":[{"key":"app","operator":"In","values":["a"]}]}"#,
        );
        let other = LabelSet::exactly([("component", KeyConstraint::one_of(["y"]))]);
        assert_eq!(both.conflict(&other).as_deref(), Some("app"));
        assert_eq!(both.conflict(&chart).as_deref(), Some("component"));
    }

    /// The decision procedure against brute force: over keys `a`, `b`, `c` and values `x`,
    /// `y`, `z`, every label map (each key absent or one of `x`, `y`, `z`, `w`; `w` stands for
    /// every value no selector names) is tried against both selectors.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        const KEYS: [&str; 3] = ["a", "b", "c"];
        const VALUES: [&str; 3] = ["x", "y", "z"];

        fn values() -> impl Strategy<Value = Vec<String>> {
            proptest::sample::subsequence(VALUES.to_vec(), 1..=3)
                .prop_map(|v| v.into_iter().map(str::to_owned).collect())
        }

        fn requirement() -> impl Strategy<Value = Requirement> {
            let key = proptest::sample::select(KEYS.to_vec()).prop_map(str::to_owned);
            (key, 0..4u8, values()).prop_map(|(key, op, values)| {
                let (operator, values) = match op {
                    0 => (Operator::In, values),
                    1 => (Operator::NotIn, values),
                    2 => (Operator::Exists, Vec::new()),
                    _ => (Operator::DoesNotExist, Vec::new()),
                };
                Requirement {
                    key,
                    operator,
                    values,
                }
            })
        }

        fn label_selector() -> impl Strategy<Value = LabelSelector> {
            let name = |set: [&'static str; 3]| {
                proptest::sample::select(set.to_vec()).prop_map(str::to_owned)
            };
            (
                proptest::collection::btree_map(name(KEYS), name(VALUES), 0..3),
                proptest::collection::vec(requirement(), 0..4),
            )
                .prop_map(|(match_labels, match_expressions)| LabelSelector {
                    match_labels: match_labels.into_iter().collect(),
                    match_expressions,
                })
        }

        /// Every label map over the alphabet.
        fn label_maps() -> Vec<Labels<'static>> {
            let choices = ["", "x", "y", "z", "w"];
            let mut maps = vec![Labels::new()];
            for key in KEYS {
                maps = maps
                    .into_iter()
                    .flat_map(|m| {
                        choices.iter().map(move |v| {
                            let mut m = m.clone();
                            if !v.is_empty() {
                                m.insert(CowStr(Cow::Borrowed(key)), CowStr(Cow::Borrowed(*v)));
                            }
                            m
                        })
                    })
                    .collect();
            }
            maps
        }

        fn owned(labels: &BTreeMap<String, String>) -> Labels<'_> {
            labels
                .iter()
                .map(|(k, v)| (CowStr(Cow::Borrowed(k)), CowStr(Cow::Borrowed(v))))
                .collect()
        }

        proptest! {
            #[test]
            fn overlap_iff_a_label_map_matches_both(s in label_selector(), t in label_selector()) {
                let common = LabelSet::of(&s).common_labels(&LabelSet::of(&t));
                let brute = label_maps().into_iter().any(|m| s.matches(&m) && t.matches(&m));
                prop_assert_eq!(common.is_some(), brute);
                if let Some(labels) = common {
                    prop_assert!(s.matches(&owned(&labels)) && t.matches(&owned(&labels)));
                }
            }

            #[test]
            fn empty_iff_no_label_map_matches(s in label_selector()) {
                let set = LabelSet::of(&s);
                let brute = label_maps().into_iter().any(|m| s.matches(&m));
                prop_assert_eq!(set.contradiction().is_none(), brute);
                prop_assert_eq!(set.common_labels(&set).is_some(), brute);
            }

            #[test]
            fn a_pinned_value_excludes_some_label_map(s in label_selector()) {
                // A satisfiable set pins no value iff it matches a label map whose keys are
                // each absent or `w`, a value no selector names.
                let set = LabelSet::of(&s);
                prop_assume!(set.contradiction().is_none());
                let free = label_maps().into_iter().any(|m| {
                    m.values().all(|v| v.as_str() == "w") && s.matches(&m)
                });
                prop_assert_eq!(set.pins_a_value(), !free);
            }
        }
    }

    #[test]
    fn selectors_are_shown_as_the_settings_spell_them() {
        assert_eq!(
            selector(r#"{"matchLabels":{"component":"x","app":"y"},"matchExpressions":[{"key":"tier","operator":"NotIn","values":["a","b"]},{"key":"t","operator":"Exists"}]}"#)
                .to_string(),
            "{matchLabels: {app: y, component: x}, matchExpressions: [{key: tier, operator: NotIn, values: [a, b]}, {key: t, operator: Exists}]}"
        );
        assert_eq!(selector("{}").to_string(), "{}");
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
}
