//! Which Zero to JupyterHub chart version made an object, as far as its labels say, so that a
//! message's Helm advice fits it: before 4.1.0 the chart has no value for the puller
//! ServiceAccounts (`prePuller.hook.serviceAccountImagePuller`, `prePuller.continuous.
//! serviceAccount`), and its values schema (`additionalProperties: false`) makes `helm upgrade`
//! refuse them; from 4.1.0 both exist and create the ServiceAccounts by default.
//!
//! The chart writes `chart` and `helm.sh/chart` (`jupyterhub-VERSION`, chartpress's semver with
//! `+` written `_`) on the objects it renders, never on a pod template, so a Pod does not say
//! (docs/decisions.md, "The chart's role labels").

use crate::selector::Labels;

/// The chart version an object's labels name, as the advice needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartVersion {
    /// No label names a version the advice can rely on: a Pod, a hand-written object, another
    /// chart, or a development build between 4.0.0 and 4.1.0 (`4.0.1-0.dev.git...`), which may
    /// or may not have the values.
    Unknown,
    /// A release before 4.1.0 (the version, as the label writes it): no value for the puller
    /// ServiceAccounts.
    WithoutPullerAccounts(String),
    /// 4.1.0 or later: the values exist and the chart creates both puller ServiceAccounts.
    WithPullerAccounts(String),
}

/// The labels that name the chart, the modern one first.
const CHART_LABELS: [&str; 2] = ["helm.sh/chart", "chart"];

/// The version the first chart label found in `maps` names (the object's own labels first).
pub fn of<'m, 'a: 'm>(maps: impl IntoIterator<Item = &'m Labels<'a>>) -> ChartVersion {
    maps.into_iter()
        .flat_map(|labels| CHART_LABELS.into_iter().filter_map(|k| labels.get(k)))
        .find_map(|value| parse(value.as_str()))
        .unwrap_or(ChartVersion::Unknown)
}

/// `jupyterhub-X.Y.Z`, with an optional `-prerelease` and `_build`; `None` for anything else.
/// prepuller-check's advice reads a label with it too, so both say the same of a version.
pub fn parse(label: &str) -> Option<ChartVersion> {
    let version = label.strip_prefix("jupyterhub-")?;
    let release = version.split('_').next().unwrap_or_default();
    let (core, prerelease) = match release.split_once('-') {
        Some((core, pre)) => (core, !pre.is_empty()),
        None => (release, false),
    };
    let mut numbers = core.split('.').map(|n| n.parse::<u64>().ok());
    let (Some(Some(major)), Some(Some(minor)), Some(Some(patch)), None) = (
        numbers.next(),
        numbers.next(),
        numbers.next(),
        numbers.next(),
    ) else {
        return None;
    };
    let core = (major, minor, patch);
    let shown = version.to_owned();
    // A prerelease comes before its version: 4.1.0-beta.1 may lack the values, 4.1.1-0.dev
    // (built after 4.1.0) has them, and 4.0.1-0.dev (between 4.0.0 and 4.1.0) is unknown.
    Some(if core >= (4, 1, 0) {
        if prerelease && core == (4, 1, 0) {
            ChartVersion::Unknown
        } else {
            ChartVersion::WithPullerAccounts(shown)
        }
    } else if !prerelease || core <= (4, 0, 0) {
        ChartVersion::WithoutPullerAccounts(shown)
    } else {
        ChartVersion::Unknown
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selector::tests::labels;

    #[test]
    fn versions_as_the_chart_writes_them() {
        use ChartVersion::{Unknown, WithPullerAccounts as With, WithoutPullerAccounts as Without};
        for (label, expected) in [
            ("jupyterhub-4.0.0", Without("4.0.0".into())),
            ("jupyterhub-3.3.8", Without("3.3.8".into())),
            ("jupyterhub-4.0.0-beta.4", Without("4.0.0-beta.4".into())),
            ("jupyterhub-4.1.0", With("4.1.0".into())),
            ("jupyterhub-4.4.0", With("4.4.0".into())),
            (
                "jupyterhub-4.1.1-0.dev.git.7000.h1a2b3c4d",
                With("4.1.1-0.dev.git.7000.h1a2b3c4d".into()),
            ),
            ("jupyterhub-4.0.0_build.1", Without("4.0.0_build.1".into())),
            ("jupyterhub-4.1.0-beta.1", Unknown),
            ("jupyterhub-4.0.1-0.dev.git.6900.h2fa8b1a2", Unknown),
            ("jupyterhub-4.1", Unknown),
            ("jupyterhub-4.1.0.1", Unknown),
            ("jupyterhub-x.y.z", Unknown),
            ("binderhub-4.0.0", Unknown),
            ("", Unknown),
        ] {
            assert_eq!(
                of([&labels(&[("helm.sh/chart", label)])]),
                expected,
                "{label}"
            );
        }
    }

    #[test]
    fn the_first_chart_label_found_decides() {
        let object = labels(&[
            ("chart", "jupyterhub-4.0.0"),
            ("helm.sh/chart", "jupyterhub-4.4.0"),
        ]);
        let template = labels(&[("chart", "jupyterhub-3.3.8")]);
        assert_eq!(
            of([&object, &template]),
            ChartVersion::WithPullerAccounts("4.4.0".into())
        );
        assert_eq!(
            of([&labels(&[]), &template]),
            ChartVersion::WithoutPullerAccounts("3.3.8".into())
        );
        // A label that names no version is passed over.
        let other = labels(&[
            ("helm.sh/chart", "binderhub-1.0.0"),
            ("chart", "jupyterhub-4.1.0"),
        ]);
        assert_eq!(
            of([&other]),
            ChartVersion::WithPullerAccounts("4.1.0".into())
        );
        assert_eq!(of([&labels(&[])]), ChartVersion::Unknown);
    }
}
