//! The report in three forms: text for people (colour only on a terminal), JSON for tools,
//! JUnit XML for CI systems.

use std::fmt::Write as _;

use serde::Serialize;

use crate::check::{Decision, Derived, ObjectReport, Report};
use crate::scope::Mode;

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
}

/// Everything the command decides from a report.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The counts.
    pub summary: Summary,
    /// The exit status: 0 admitted, 1 refused (or mutated with `--fail-on-mutate`).
    pub exit: u8,
    /// Whether Pods were judged by whether their ServiceAccount exists.
    #[serde(skip)]
    pub service_accounts_checked: bool,
}

/// Counts the report; `fail_on_mutate` makes a mutation fail the check.
pub fn outcome(report: &Report, mode: Mode, fail_on_mutate: bool) -> Outcome {
    let mut s = Summary {
        objects: report.objects.len(),
        ..Summary::default()
    };
    let mut failed = false;
    let mut refused_by_api_server = false;
    for o in &report.objects {
        match o.admission.would.unwrap_or(o.admission.decision) {
            Decision::Accept => s.accepted += 1,
            Decision::Mutate => s.mutated += 1,
            Decision::Reject => s.rejected += 1,
            // Refused before the webhooks: counted below.
            Decision::NotSent if o.refused_by_api_server.is_some() => {}
            Decision::NotSent => s.not_sent += 1,
        }
        if o.refused_by_api_server.is_some() {
            s.refused_by_api_server += 1;
        }
        for d in o.all_derived() {
            if d.refused_by_api_server.is_some()
                || d.admission.would.unwrap_or(d.admission.decision) == Decision::Reject
            {
                s.derived_refused += 1;
            } else if d.admission.decision != Decision::NotSent {
                s.derived_admitted += 1;
            }
        }
        if o.audit.as_ref().is_some_and(|a| a.result == "fail") {
            s.audit_failed += 1;
        }
        refused_by_api_server |= o.refused_by_api_server();
        failed |= o.refused()
            || (fail_on_mutate
                && (o.admission.decision == Decision::Mutate
                    || o.next_update
                        .as_ref()
                        .is_some_and(|u| u.admission.decision == Decision::Mutate)));
    }
    // Monitor mode admits whatever the policy says, but not what the API server refuses.
    let exit = if mode == Mode::Monitor {
        u8::from(refused_by_api_server)
    } else {
        u8::from(failed)
    };
    Outcome {
        summary: s,
        exit,
        service_accounts_checked: report.service_accounts_checked,
    }
}

/// The one summary line.
pub fn summary_line(outcome: &Outcome, mode: Mode) -> String {
    let s = &outcome.summary;
    let would = if mode == Mode::Monitor {
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
    let verdict = match (mode, outcome.exit) {
        (Mode::Monitor, 0) => "monitor mode: the cluster admits everything",
        (Mode::Monitor, _) => {
            "monitor mode: the policy admits everything, but the API server would refuse something"
        }
        (_, 0) => "the cluster would admit everything",
        _ => "the cluster would refuse something",
    };
    let unchecked = if outcome.exit == 0 && !outcome.service_accounts_checked {
        " if the ServiceAccounts its Pods run as exist: not checked, see the note"
    } else {
        ""
    };
    let _ = write!(line, " ({verdict}{unchecked})");
    line
}

struct Paint {
    on: bool,
}

impl Paint {
    fn decision(&self, d: Decision, text: &str) -> String {
        if !self.on {
            return text.to_owned();
        }
        let code = match d {
            Decision::Accept => "32",
            Decision::Mutate => "33",
            Decision::Reject => "31",
            Decision::NotSent => "2",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

fn decision_text(admission: &crate::check::Admission) -> (Decision, String) {
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

/// The text report; `header` names the module and policy.
pub fn text(report: &Report, header: &str, outcome: &Outcome, mode: Mode, colour: bool) -> String {
    let paint = Paint { on: colour };
    let mut out = String::new();
    let _ = writeln!(out, "{header}");
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    let mut not_sent: Vec<&ObjectReport> = Vec::new();
    for o in &report.objects {
        if o.not_sent.is_some() {
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
        let refused = paint.decision(Decision::Reject, "REFUSED");
        match &o.refused_by_api_server {
            Some(why) if o.admission.decision == Decision::NotSent => {
                let _ = writeln!(
                    out,
                    "   {refused} by the API server before the webhooks: {why}"
                );
            }
            Some(why) => {
                admission_lines(&mut out, &paint, &o.admission, "   ");
                let _ = writeln!(out, "   then {refused} by the API server: {why}");
            }
            None => admission_lines(&mut out, &paint, &o.admission, "   "),
        }
        derived_lines(&mut out, &paint, &o.derived, "   ");
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
                paint.decision(dec, &word)
            );
            admission_details(&mut out, &update.admission, "      ");
            derived_lines(&mut out, &paint, &update.derived, "      ");
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
    let _ = writeln!(out, "summary: {}", summary_line(outcome, mode));
    out
}

/// The derived objects' lines, `indent` deep.
fn derived_lines(out: &mut String, paint: &Paint, derived: &[Derived], indent: &str) {
    let refused = paint.decision(Decision::Reject, "REFUSED");
    for d in derived {
        match &d.refused_by_api_server {
            Some(why) if d.admission.decision == Decision::NotSent => {
                let _ = writeln!(
                    out,
                    "{indent}-> {}: {refused} by the API server (as {}): {why}",
                    d.object, d.user
                );
            }
            None if d.admission.decision == Decision::NotSent => {
                let _ = writeln!(out, "{indent}-> {}: not sent (as {})", d.object, d.user);
            }
            _ => {
                let (dec, word) = decision_text(&d.admission);
                let _ = writeln!(
                    out,
                    "{indent}-> {}: {} (as {})",
                    d.object,
                    paint.decision(dec, &word),
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

fn admission_lines(out: &mut String, paint: &Paint, a: &crate::check::Admission, indent: &str) {
    let (dec, word) = decision_text(a);
    let _ = writeln!(out, "{indent}{}", paint.decision(dec, &word));
    admission_details(out, a, indent);
}

fn admission_details(out: &mut String, a: &crate::check::Admission, indent: &str) {
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
pub fn json(report: &Report, outcome: &Outcome, mode: Mode) -> anyhow::Result<String> {
    #[derive(Serialize)]
    struct Whole<'a> {
        mode: Mode,
        #[serde(flatten)]
        report: &'a Report,
        summary: &'a Summary,
        exit: u8,
    }
    Ok(serde_json::to_string_pretty(&Whole {
        mode,
        report,
        summary: &outcome.summary,
        exit: outcome.exit,
    })?)
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\n' && c != '\t' && c != '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one test case per object, failed when refused (or mutated with
/// `--fail-on-mutate`), skipped when not sent.
pub fn junit(report: &Report, outcome: &Outcome, mode: Mode, fail_on_mutate: bool) -> String {
    let mut cases = String::new();
    let mut failures = 0;
    let mut skipped = 0;
    for o in &report.objects {
        let _ = write!(
            cases,
            "  <testcase classname=\"{}\" name=\"{}\">",
            xml(&o.file),
            xml(&o.title())
        );
        let mutated = o.admission.decision == Decision::Mutate;
        if o.not_sent.is_some() {
            skipped += 1;
            let _ = write!(
                cases,
                "<skipped message=\"not sent: {}\"/>",
                xml(o.not_sent.as_deref().unwrap_or_default())
            );
        } else if (mode == Mode::Protect && (o.refused() || (fail_on_mutate && mutated)))
            || o.refused_by_api_server()
        {
            failures += 1;
            let mut body = String::new();
            admission_details(&mut body, &o.admission, "");
            if let Some(why) = &o.refused_by_api_server {
                let _ = writeln!(body, "refused by the API server: {why}");
            }
            if let Some(update) = o
                .next_update
                .as_ref()
                .filter(|u| u.admission.decision == Decision::Reject)
            {
                let _ = writeln!(
                    body,
                    "next UPDATE rejected: {}",
                    update.admission.message.as_deref().unwrap_or_default()
                );
            }
            for d in o.all_derived() {
                if let Some(why) = &d.refused_by_api_server {
                    let _ = writeln!(body, "{}: refused by the API server: {why}", d.object);
                } else if d.admission.decision == Decision::Reject {
                    let _ = writeln!(
                        body,
                        "{}: rejected: {}",
                        d.object,
                        d.admission.message.as_deref().unwrap_or_default()
                    );
                }
            }
            let headline = match (&o.refused_by_api_server, o.admission.decision) {
                (Some(_), Decision::NotSent) => "REFUSED by the API server".to_owned(),
                _ => decision_text(&o.admission).1,
            };
            let _ = write!(
                cases,
                "<failure message=\"{}\">{}</failure>",
                xml(&headline),
                xml(&body)
            );
        } else {
            let mut body = String::new();
            admission_details(&mut body, &o.admission, "");
            let _ = write!(
                cases,
                "<system-out>{}{}</system-out>",
                xml(&decision_text(&o.admission).1),
                xml(&format!("\n{body}"))
            );
        }
        cases.push_str("</testcase>\n");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n<testsuite name=\"prepuller-check\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n{cases}<system-out>{}</system-out>\n</testsuite>\n</testsuites>\n",
        report.objects.len(),
        xml(&summary_line(outcome, mode))
    )
}
