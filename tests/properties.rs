//! Properties of the decision, over generated Pods and pod templates (proptest).
//!
//! The cases come from the test kit's grammar (`testkit/src/grammar.rs`, the tame profile: the
//! fields the rules read, and fields they never read), drawn from a byte vector that proptest
//! generates and shrinks; the invariants are the kit's too (`testkit/src/oracle.rs`), shared with
//! the fuzz targets. The policy is called through its waPC entry points, natively; patches are
//! applied as policy-server does (`json_patch::diff(original, mutated)`, then `json_patch::patch`).

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::Config;
use testkit::oracle::pod_volumes;
use testkit::{Answer, Case, Fix, Policy, Profile};

const POLICY: Policy = testkit::policy_of!(prepuller_serviceaccount_policy);

/// Cases of a profile, from the bytes proptest generates (and shrinks towards fewer and smaller
/// bytes: simpler cases). 384 bytes are more than a tame case consumes.
fn case(profile: Profile) -> BoxedStrategy<Case> {
    vec(any::<u8>(), 384..1024)
        .prop_map(move |bytes| Case::from_bytes(&bytes, profile))
        .boxed()
}

fn mode() -> impl Strategy<Value = &'static str> {
    select(vec!["mutate", "reject"])
}

/// 1024 cases per property; `PROPTEST_CASES=100000` for a long run.
fn config() -> Config {
    Config {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(1024),
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// A mutation touches only the paths the rules own, each to an allowed value, and, applied as
    /// policy-server applies it, gives an object accepted with no patch and no warning in both
    /// modes.
    #[test]
    fn a_mutation_is_minimal_and_final(case in case(Profile::Tame)) {
        POLICY.check_mutation(&case.in_mode("mutate"));
    }

    /// `mode: reject` decides like `mode: mutate`, except that it rejects what mutate would fix.
    #[test]
    fn reject_mode_rejects_exactly_what_mutate_mode_fixes(case in case(Profile::Tame)) {
        POLICY.check_modes(&case.in_mode("mutate"));
    }

    /// An audit (a request without userInfo, as Kubewarden's audit scanner sends) never mutates
    /// and passes exactly what admission accepts unchanged, in both modes.
    #[test]
    fn an_audit_fails_what_admission_would_fix(case in case(Profile::Tame), mode in mode()) {
        POLICY.check_audit(&case.in_mode(mode));
    }

    /// A ReplicaSet controlled by a Deployment is left to the Deployment: accepted unchanged, in
    /// both modes.
    #[test]
    fn a_replicaset_of_a_deployment_is_left_to_it(case in case(Profile::Tame), mode in mode()) {
        POLICY.check_left_to_deployment(&case.in_mode(mode));
    }

    /// Removing one violation never turns an accepted object into a rejected one, in either mode.
    #[test]
    fn accepting_is_monotone_in_compliance(
        case in case(Profile::DefaultRoles),
        mode in mode(),
        fix in select(Fix::ALL.to_vec()),
        pick in any::<usize>(),
    ) {
        POLICY.check_monotone(&case, mode, fix, pick);
    }

    /// What is admitted complies, read by the kit rather than by the policy: a role's workload
    /// runs as the role's ServiceAccount, a puller's without an API token.
    #[test]
    fn what_is_admitted_complies(case in case(Profile::DefaultRoles), mode in mode()) {
        POLICY.check_absolute(&case.in_mode(mode));
    }

    /// The answer depends on the input: a role's workload running as `default` is never a
    /// clean accept, and made compliant it is admitted.
    #[test]
    fn the_answer_depends_on_the_input(case in case(Profile::DefaultRoles), mode in mode()) {
        POLICY.check_dependence(&case, mode);
    }

    /// Decisions do not depend on fields no rule reads; the same request with its keys
    /// shuffled and escaped (which no host sends) is answered without a trap.
    #[test]
    fn decisions_ignore_unknown_fields(case in case(Profile::Tame), mode in mode()) {
        POLICY.check_spelling_invariance(&case.in_mode(mode), case.seed);
    }

    /// UPDATEs are judged by what they change, terminating objects are accepted.
    #[test]
    fn updates_and_terminating_objects(
        case in case(Profile::Tame),
        other in case(Profile::Tame),
        mode in mode(),
    ) {
        POLICY.check_updates(&case, other.object(), mode);
    }
}

/// The grammar is not vacuous: tame cases reach every decision, the removal of an injected
/// volume, and the unfixable rules, often enough for the properties above to mean something.
#[test]
fn the_grammar_reaches_every_decision() {
    let (mut accept, mut mutate, mut reject, mut removal) = (0, 0, 0, 0);
    let n = 2000;
    for seed in 0..n {
        let case = Case::from_seed(seed, Profile::Tame);
        match POLICY.decide_value(&case.in_mode("mutate")) {
            Answer::Accept { .. } => accept += 1,
            Answer::Mutate { object, .. } => {
                mutate += 1;
                if pod_volumes(case.kind, &object).len()
                    < pod_volumes(case.kind, case.object()).len()
                {
                    removal += 1;
                }
            }
            Answer::Reject { .. } => reject += 1,
        }
    }
    let floor = n / 20;
    assert!(
        accept > floor && mutate > floor && reject > floor && removal > n / 200,
        "accept {accept}, mutate {mutate} (volume removed {removal}), reject {reject} of {n}"
    );
}
