//! The report in three forms: text for people (styled; lib.rs strips the styles as `--color`
//! and anstream decide), JSON for tools, JUnit XML for CI systems. Which objects fail the check
//! is [`ObjectReport::failure`]'s answer alone, computed once in [`outcome`].

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;

use crate::model::{Derived, Failure, ObjectReport, Report, Verdict};
use crate::scope::PolicyMode;

/// Counts for the summary line and the exit status.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Objects in the input.
    pub objects: usize,
    /// Admitted unchanged (in monitor mode: that the module would admit unchanged).
    pub accepted: usize,
    /// Admitted with a patch (monitor: would be).
    pub mutated: usize,
    /// Refused (monitor: would be).
    pub rejected: usize,
    /// Never sent to the policy.
    pub not_sent: usize,
    /// Pods of the input the API server refuses, their ServiceAccount not existing (before
    /// the webhooks or after them).
    pub refused_by_api_server: usize,
    /// Objects derived by controllers and admitted.
    pub derived_admitted: usize,
    /// Derived objects refused, by the policy or by the API server.
    pub derived_refused: usize,
    /// Stored objects whose PolicyReport would say fail.
    pub audit_failed: usize,
    /// Objects that fail the check (JUnit's failures; the exit status is 1 when any do).
    pub failed: usize,
}

/// Everything the command decides from a report.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The counts.
    pub summary: Summary,
    /// The exit status: 0 admitted, 1 refused (or mutated with `--fail-on-mutate`).
    pub exit: u8,
    /// Per object of the report, in its order: whether and why it fails the check.
    #[serde(skip)]
    pub failures: Vec<Option<Failure>>,
    /// Whether Pods were judged by whether their ServiceAccount exists.
    #[serde(skip)]
    pub service_accounts_checked: bool,
}

/// Counts the report; `fail_on_mutate` makes a mutation fail the check.
pub fn outcome(report: &Report, policy_mode: PolicyMode, fail_on_mutate: bool) -> Outcome {
    let mut s = Summary {
        objects: report.objects.len(),
        ..Summary::default()
    };
    let failures: Vec<Option<Failure>> = report
        .objects
        .iter()
        .map(|o| o.failure(policy_mode, fail_on_mutate))
        .collect();
    s.failed = failures.iter().flatten().count();
    for o in &report.objects {
        match o.admission.would.unwrap_or(o.admission.decision) {
            Verdict::Accept => s.accepted += 1,
            Verdict::Mutate => s.mutated += 1,
            Verdict::Reject => s.rejected += 1,
            // Refused before the webhooks: counted below.
            Verdict::NotSent if o.refused_by_api_server.is_some() => {}
            Verdict::NotSent => s.not_sent += 1,
        }
        if o.refused_by_api_server.is_some() {
            s.refused_by_api_server += 1;
        }
        for d in o.all_derived() {
            if d.refused_by_api_server.is_some()
                || d.admission.would.unwrap_or(d.admission.decision) == Verdict::Reject
            {
                s.derived_refused += 1;
            } else if d.admission.decision != Verdict::NotSent {
                s.derived_admitted += 1;
            }
        }
        if o.audit.as_ref().is_some_and(|a| a.result == "fail") {
            s.audit_failed += 1;
        }
    }
    Outcome {
        exit: u8::from(s.failed > 0),
        summary: s,
        failures,
        service_accounts_checked: report.service_accounts_checked,
    }
}

/// The one summary line.
pub fn summary_line(outcome: &Outcome, policy_mode: PolicyMode) -> String {
    let s = &outcome.summary;
    let would = if policy_mode == PolicyMode::Monitor {
        "would be "
    } else {
        ""
    };
    let mut line = format!(
        "{} objects: {} accepted, {} {would}mutated, {} {would}rejected, {} not sent",
        s.objects, s.accepted, s.mutated, s.rejected, s.not_sent
    );
    if s.refused_by_api_server > 0 {
        let _ = write!(
            line,
            ", {} refused by the API server",
            s.refused_by_api_server
        );
    }
    let _ = write!(
        line,
        "; {} derived objects admitted, {} refused",
        s.derived_admitted, s.derived_refused
    );
    if s.audit_failed > 0 {
        let _ = write!(line, "; {} audit failures", s.audit_failed);
    }
    let refused = outcome
        .failures
        .iter()
        .flatten()
        .any(|f| *f != Failure::Mutated);
    let verdict = match (policy_mode, outcome.exit, refused) {
        (PolicyMode::Monitor, 0, _) => "monitor mode: the cluster admits everything",
        (PolicyMode::Monitor, _, _) => {
            "monitor mode: the policy admits everything, but the API server would refuse something"
        }
        (_, 0, _) => "the cluster would admit everything",
        (_, _, true) => "the cluster would refuse something",
        (_, _, false) => {
            "the cluster would admit everything, but the policy would change something (--fail-on-mutate)"
        }
    };
    let unchecked = if outcome.exit == 0 && !outcome.service_accounts_checked {
        " if the ServiceAccounts its Pods run as exist: not checked, see the note"
    } else {
        ""
    };
    let _ = write!(line, " ({verdict}{unchecked})");
    line
}

/// `text` in the colour of decision `d`.
fn paint(d: Verdict, text: &str) -> String {
    let style = match d {
        Verdict::Accept => AnsiColor::Green.on_default(),
        Verdict::Mutate => AnsiColor::Yellow.on_default(),
        Verdict::Reject => AnsiColor::Red.on_default(),
        Verdict::NotSent => Style::new().dimmed(),
    };
    format!("{style}{text}{style:#}")
}

fn decision_text(admission: &crate::model::Admission) -> (Verdict, String) {
    match admission.would {
        Some(d) => (
            d,
            format!(
                "would {} (monitor mode: accepted, nothing changed)",
                d.word()
            ),
        ),
        None => (admission.decision, admission.decision.word().to_owned()),
    }
}

/// The text report, styled; `header` names the module and policy.
pub fn text(report: &Report, header: &str, outcome: &Outcome, policy_mode: PolicyMode) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{header}");
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    let mut not_sent: Vec<&ObjectReport> = Vec::new();
    for o in &report.objects {
        // Listed by reason only when nothing follows from it: otherwise what its controller
        // derives, or its next UPDATE, is shown under it.
        if o.not_sent.is_some() && o.derived.is_empty() && o.next_update.is_none() {
            not_sent.push(o);
            continue;
        }
        let source = o
            .source
            .as_deref()
            .map(|s| format!(": {s}"))
            .unwrap_or_default();
        let item = o.item.map(|i| format!(", item {i}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "== {} [{}, document {}{item}{source}]",
            o.title(),
            o.file,
            o.document
        );
        let refused = paint(Verdict::Reject, "REFUSED");
        match &o.refused_by_api_server {
            Some(why) if o.admission.decision == Verdict::NotSent => {
                let _ = writeln!(
                    out,
                    "   {refused} by the API server before the webhooks: {why}"
                );
            }
            Some(why) => {
                admission_lines(&mut out, &o.admission, "   ");
                let _ = writeln!(out, "   then {refused} by the API server: {why}");
            }
            None => match &o.not_sent {
                Some(why) => {
                    let _ = writeln!(out, "   {} ({why})", paint(Verdict::NotSent, "NOT SENT"));
                }
                None => admission_lines(&mut out, &o.admission, "   "),
            },
        }
        derived_lines(&mut out, &o.derived, "   ");
        if let Some(audit) = &o.audit {
            match &audit.message {
                Some(m) => {
                    let _ = writeln!(out, "   audit (PolicyReport): fail: {m}");
                }
                None => {
                    let _ = writeln!(out, "   audit (PolicyReport): pass");
                }
            }
        }
        if let Some(update) = &o.next_update {
            let (dec, word) = decision_text(&update.admission);
            let _ = writeln!(
                out,
                "   next UPDATE changing the pod template: {}",
                paint(dec, &word)
            );
            admission_details(&mut out, &update.admission, "      ");
            derived_lines(&mut out, &update.derived, "      ");
        }
    }
    if !not_sent.is_empty() {
        let _ = writeln!(out, "not sent to the policy:");
        let mut reasons: Vec<&str> = Vec::new();
        for o in &not_sent {
            let reason = o.not_sent.as_deref().unwrap_or_default();
            if !reasons.contains(&reason) {
                reasons.push(reason);
            }
        }
        for reason in reasons {
            let names: Vec<String> = not_sent
                .iter()
                .filter(|o| o.not_sent.as_deref() == Some(reason))
                .map(|o| o.title())
                .collect();
            let _ = writeln!(out, "   ({reason}) {}", names.join(", "));
        }
    }
    if report.objects.iter().any(|o| !o.advice.is_empty()) {
        let _ = writeln!(out, "What to change:");
        for o in &report.objects {
            for advice in &o.advice {
                let _ = writeln!(out, "   {}: {advice}", o.title());
            }
        }
    }
    let _ = writeln!(out, "summary: {}", summary_line(outcome, policy_mode));
    out
}

/// The derived objects' lines, `indent` deep.
fn derived_lines(out: &mut String, derived: &[Derived], indent: &str) {
    let refused = paint(Verdict::Reject, "REFUSED");
    for d in derived {
        match &d.refused_by_api_server {
            Some(why) if d.admission.decision == Verdict::NotSent => {
                let _ = writeln!(
                    out,
                    "{indent}-> {}: {refused} by the API server (as {}): {why}",
                    d.object, d.user
                );
            }
            None if d.admission.decision == Verdict::NotSent => {
                let _ = writeln!(out, "{indent}-> {}: not sent (as {})", d.object, d.user);
            }
            _ => {
                let (dec, word) = decision_text(&d.admission);
                let _ = writeln!(
                    out,
                    "{indent}-> {}: {} (as {})",
                    d.object,
                    paint(dec, &word),
                    d.user
                );
                let inner = format!("{indent}     ");
                admission_details(out, &d.admission, &inner);
                if let Some(why) = &d.refused_by_api_server {
                    let _ = writeln!(out, "{inner}then {refused} by the API server: {why}");
                }
            }
        }
    }
}

fn admission_lines(out: &mut String, a: &crate::model::Admission, indent: &str) {
    let (dec, word) = decision_text(a);
    let _ = writeln!(out, "{indent}{}", paint(dec, &word));
    admission_details(out, a, indent);
}

fn admission_details(out: &mut String, a: &crate::model::Admission, indent: &str) {
    for c in &a.changes {
        let _ = writeln!(out, "{indent}{c}");
    }
    for w in &a.warnings {
        let _ = writeln!(out, "{indent}warning: {w}");
    }
    if let Some(m) = &a.message {
        let _ = writeln!(out, "{indent}message: {m}");
    }
}

/// The JSON report: every object, the summary and the exit status.
pub fn json(report: &Report, outcome: &Outcome, policy_mode: PolicyMode) -> anyhow::Result<String> {
    #[derive(Serialize)]
    struct Whole<'a> {
        policy_mode: PolicyMode,
        #[serde(flatten)]
        report: &'a Report,
        summary: &'a Summary,
        exit: u8,
    }
    Ok(serde_json::to_string_pretty(&Whole {
        policy_mode,
        report,
        summary: &outcome.summary,
        exit: outcome.exit,
    })?)
}

/// JUnit XML: one test case per object, failed when it fails the check ([`Outcome::failures`]),
/// skipped when not sent.
pub fn junit(
    report: &Report,
    outcome: &Outcome,
    policy_mode: PolicyMode,
) -> anyhow::Result<String> {
    let mut suite = TestSuite::new("prepuller-check");
    for (o, failure) in report.objects.iter().zip(&outcome.failures) {
        let status = match failure {
            Some(failure) => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status
                    .set_message(failure_headline(o))
                    .set_description(failure_body(o, *failure));
                status
            }
            None if o.not_sent.is_some() => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(format!(
                    "not sent: {}",
                    o.not_sent.as_deref().unwrap_or_default()
                ));
                status
            }
            None => TestCaseStatus::success(),
        };
        let mut case = TestCase::new(o.title(), status);
        case.set_classname(o.file.as_str());
        if failure.is_none() && o.not_sent.is_none() {
            let mut out = decision_text(&o.admission).1 + "\n";
            admission_details(&mut out, &o.admission, "");
            case.set_system_out(out);
        }
        suite.add_test_case(case);
    }
    suite.set_system_out(summary_line(outcome, policy_mode));
    let mut junit = quick_junit::Report::new("prepuller-check");
    junit.add_test_suite(suite);
    Ok(junit.to_string()?)
}

/// A failed test case's message: the object's own decision.
fn failure_headline(o: &ObjectReport) -> String {
    match (&o.refused_by_api_server, o.admission.decision) {
        (Some(_), Verdict::NotSent) => "REFUSED by the API server".to_owned(),
        _ => decision_text(&o.admission).1,
    }
}

/// A failed test case's text: the object's changes, warnings and message, then each refusal
/// (and with `--fail-on-mutate` each change) of its next UPDATE and derived objects.
fn failure_body(o: &ObjectReport, failure: Failure) -> String {
    let mut body = String::new();
    admission_details(&mut body, &o.admission, "");
    if let Some(why) = &o.refused_by_api_server {
        let _ = writeln!(body, "refused by the API server: {why}");
    }
    let mutated = failure == Failure::Mutated;
    if let Some(update) = &o.next_update {
        match update.admission.decision {
            Verdict::Reject => {
                let _ = writeln!(
                    body,
                    "next UPDATE rejected: {}",
                    update.admission.message.as_deref().unwrap_or_default()
                );
            }
            Verdict::Mutate if mutated => {
                let _ = writeln!(body, "next UPDATE mutated:");
                admission_details(&mut body, &update.admission, "   ");
            }
            _ => {}
        }
    }
    for d in o.all_derived() {
        if let Some(why) = &d.refused_by_api_server {
            let _ = writeln!(body, "{}: refused by the API server: {why}", d.object);
        } else if d.admission.decision == Verdict::Reject {
            let _ = writeln!(
                body,
                "{}: rejected: {}",
                d.object,
                d.admission.message.as_deref().unwrap_or_default()
            );
        } else if mutated && d.admission.decision == Verdict::Mutate {
            let _ = writeln!(body, "{}: mutated:", d.object);
            admission_details(&mut body, &d.admission, "   ");
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Admission, NextUpdate};

    fn admission(decision: Verdict) -> Admission {
        Admission {
            decision,
            would: None,
            changes: Vec::new(),
            patch: None,
            warnings: Vec::new(),
            message: None,
        }
    }

    /// A stored DaemonSet that recreating leaves alone but whose next UPDATE is mutated.
    fn report() -> Report {
        let mut update = admission(Verdict::Mutate);
        update.changes = vec!["spec.template.spec.serviceAccountName: (unset) -> \"p\"".into()];
        Report {
            objects: vec![ObjectReport {
                file: "a&b.yaml".into(),
                document: 1,
                item: None,
                source: None,
                kind: "DaemonSet".into(),
                namespace: Some("jhub".into()),
                name: "<p>".into(),
                not_sent: None,
                admission: admission(Verdict::Accept),
                refused_by_api_server: None,
                derived: Vec::new(),
                audit: None,
                next_update: Some(NextUpdate {
                    admission: update,
                    derived: Vec::new(),
                }),
                advice: Vec::new(),
                fixed: None,
            }],
            notes: Vec::new(),
            service_accounts_checked: true,
        }
    }

    #[test]
    fn a_mutated_next_update_fails_the_exit_status_and_junit_alike() {
        let report = report();
        let passing = outcome(&report, PolicyMode::Protect, false);
        assert_eq!((passing.exit, passing.summary.failed), (0, 0));
        assert!(junit(&report, &passing, PolicyMode::Protect).unwrap().contains(
            "<testcase name=\"DaemonSet jhub/&lt;p&gt;\" classname=\"a&amp;b.yaml\">\n            <system-out>ACCEPT\n</system-out>"
        ));
        let failing = outcome(&report, PolicyMode::Protect, true);
        assert_eq!((failing.exit, failing.summary.failed), (1, 1));
        let xml = junit(&report, &failing, PolicyMode::Protect).unwrap();
        assert!(
            xml.contains("tests=\"1\" skipped=\"0\" errors=\"0\" failures=\"1\""),
            "{xml}"
        );
        assert!(xml.contains("<failure message=\"ACCEPT\">next UPDATE mutated:\n   spec.template.spec.serviceAccountName: (unset) -&gt; &quot;p&quot;\n</failure>"), "{xml}");
        assert!(
            summary_line(&failing, PolicyMode::Protect)
                .ends_with("(the cluster would admit everything, but the policy would change something (--fail-on-mutate))"),
        );
        // Monitor mode mutates nothing in the cluster.
        let monitor = outcome(&report, PolicyMode::Monitor, true);
        assert_eq!((monitor.exit, monitor.summary.failed), (0, 0));
    }

    #[test]
    fn colours_are_the_decisions() {
        assert_eq!(paint(Verdict::Reject, "REFUSED"), "\x1b[31mREFUSED\x1b[0m");
        assert_eq!(paint(Verdict::Accept, "ACCEPT"), "\x1b[32mACCEPT\x1b[0m");
        assert_eq!(paint(Verdict::Mutate, "MUTATE"), "\x1b[33mMUTATE\x1b[0m");
        assert_eq!(
            paint(Verdict::NotSent, "NOT SENT"),
            "\x1b[2mNOT SENT\x1b[0m"
        );
    }
}
