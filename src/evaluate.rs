//! The decision for one admission request: accept, mutate or reject. Every input, however
//! malformed, ends in a [`Decision`]; nothing here panics on data from the request.
//!
//! Each decision is one the cluster can live with: a role is read only from the labels the Pods
//! will carry, a ReplicaSet its Deployment controls is never changed or blocked, an UPDATE is
//! refused only for what it changes, and an audit (no `userInfo`) fails what only a mutation at
//! admission would have fixed.

use crate::checks::{self, Findings, Subject, Violation};
use crate::cluster::{self, Cluster, LookupFailure, Unconfirmed};
use crate::ephemeral;
use crate::json::non_empty;
use crate::kinds::ResourceKind;
use crate::mutate;
use crate::render::{self, LeftAsIs, Preface};
use crate::request::{AdmissionRequest, Operation, Payload};
use crate::response::{Decision, MutatedObject};
use crate::settings::{Mode, Settings};
use crate::update;
use crate::workload::{self, Object};

/// The decision on one `validate` payload, `cluster` answering any question about the cluster
/// (the waPC host in the module, a fake one in native tests).
pub fn evaluate(payload: &[u8], cluster: &dyn Cluster) -> Decision {
    Payload::parse(payload)
        .and_then(|payload| {
            let settings = Settings::decode(payload.settings.map_or("", |s| s.get()))
                .map_err(|e| format!("the policy settings are not valid: {e}"))?;
            decide(&payload.request, &settings, cluster)
        })
        .unwrap_or_else(Decision::reject)
}

fn decide(
    request: &AdmissionRequest<'_>,
    settings: &Settings,
    cluster: &dyn Cluster,
) -> Result<Decision, String> {
    let operation = request.operation();
    if operation == Operation::Other {
        return Ok(Decision::accept());
    }
    let Some(kind) = request.resource_kind()? else {
        return Ok(Decision::accept());
    };
    if (kind == ResourceKind::ServiceAccount && !settings.service_account_objects)
        || !request.judges(kind)
    {
        return Ok(Decision::accept());
    }
    let body = request
        .object
        .ok_or_else(|| format!("the admission request for a {} has no object", kind.name()))?
        .get();
    // Of a pods/ephemeralcontainers UPDATE the API server keeps only the body's ephemeral
    // containers, put into the stored Pod: judge that Pod. It is an UPDATE of a Pod, so it ends
    // in an accept or a rejection below, never a patch (one would be applied to the body, and
    // all of it but ephemeralContainers dropped).
    let stored;
    let text = if request.ephemeral_containers() {
        let old = request.old_object.ok_or(
            "the pods/ephemeralcontainers UPDATE has no oldObject, the stored Pod it changes",
        )?;
        stored = ephemeral::stored_pod(old.get(), body)?;
        stored.as_str()
    } else {
        body
    };
    let object = workload::decode(kind, text)?;
    let mut findings = checks::check(settings, &object);
    let mut warnings: Vec<String> = findings
        .unrecognised
        .iter()
        .map(|u| render::unrecognised_warning(findings.kind, u))
        .collect();
    let unmatched: Vec<String> = findings
        .unmatched
        .iter()
        .filter_map(|u| {
            let role = settings.role(u.role)?;
            Some(render::unmatched_warning(findings.kind, u, &role.selector))
        })
        .collect();
    if findings.violations.is_empty()
        && !unmatched.is_empty()
        && request.is_audit()
        && controlling_deployment(kind, &object).is_none()
    {
        // Admission accepts it with the warning, but a PolicyReport only shows a failure's
        // message: the chart's puller that no selector matches must not pass an audit unseen.
        // A ReplicaSet its Deployment controls passes, as for violations: the Deployment fails.
        let message = render::unmatched_audit(&findings, &unmatched);
        return Ok(Decision::Reject { message, warnings });
    }
    warnings.extend(unmatched);
    if findings.violations.is_empty() {
        if settings.require_existing_service_accounts
            && starts_pods(request, kind, text)
            && let Some((unknown, failure)) =
                look_up_account(request, settings, cluster, &findings, &object)
        {
            // Not found: its Pods would be refused, so say it now. Refused says nothing about
            // the account: admitted with the cause, since the API server checks it anyway.
            findings.locate(&object, namespace_of(request, &object));
            match failure {
                LookupFailure::NotFound { answer } => {
                    let message = render::missing_account(&findings, &unknown, &answer);
                    return Ok(Decision::Reject { message, warnings });
                }
                LookupFailure::Refused { why, answer } => warnings.push(
                    render::unconfirmed_compliant(&findings, &unknown, why, &answer),
                ),
            }
        }
        return Ok(Decision::Accept { warnings });
    }
    findings.locate(&object, namespace_of(request, &object));

    if let Some(deployment) = controlling_deployment(kind, &object) {
        // The Deployment controller finds its ReplicaSet by comparing pod templates: one the
        // webhook changed is replaced by a new one, which is changed again, forever; blocking
        // its scale or ownerReference updates stalls the rollout that would fix it.
        let why = LeftAsIs::ControlledBy(&deployment);
        warnings.extend(left_as_is(&findings, &findings.violations, why));
        return Ok(Decision::Accept { warnings });
    }

    if operation == Operation::Update {
        let old_raw = request.old_object.map(|o| o.get());
        let old = old_raw.and_then(|raw| workload::decode(kind, raw).ok());
        if old.as_ref().is_some_and(terminating) {
            // A terminating object only waits for its finalizers: blocking that helps nobody.
            return Ok(Decision::accept());
        }
        if update::template_unchanged(kind, text, old_raw) {
            // Nothing the Pods are made of changes: a controller's own update (scale, adoption,
            // a revision annotation, an ownerReference removed) must not be blocked or fought.
            let why = if kind.pod_spec_immutable() {
                LeftAsIs::Immutable
            } else {
                LeftAsIs::TemplateUnchanged
            };
            warnings.extend(left_as_is(&findings, &findings.violations, why));
            return Ok(Decision::Accept { warnings });
        }
        if kind.pod_spec_immutable() {
            // Pod specs and Job templates cannot change after creation: refuse only what this
            // UPDATE introduces (new labels that make it a puller, an ephemeral container).
            let before = old.map(|old| checks::check(settings, &old));
            let violations_before = before
                .as_ref()
                .map(|b| b.violations.as_slice())
                .unwrap_or_default();
            let (carried, introduced): (Vec<&Violation>, Vec<&Violation>) = findings
                .violations
                .iter()
                .partition(|v| violations_before.iter().any(|o| o.same_as(v)));
            warnings.extend(left_as_is(&findings, carried, LeftAsIs::Immutable));
            if introduced.is_empty() {
                return Ok(Decision::Accept { warnings });
            }
            // The fix of a CREATE cannot be applied to a spec that cannot change: the message
            // says what to undo. A changed role came from the labels, the one thing changed.
            let labels = checks::pod_labels_field(kind);
            let relabelled = before
                .as_ref()
                .is_some_and(|b| b.subject != findings.subject)
                .then_some(labels.as_str());
            let message = render::introduced(&findings, &introduced, violations_before, relabelled);
            return Ok(Decision::Reject { message, warnings });
        }
    }

    let fixable = findings.fixable();
    let audit = request.is_audit();
    if settings.mode == Mode::Mutate && fixable && !audit {
        if let Some((unknown, failure)) =
            look_up_account(request, settings, cluster, &findings, &object)
        {
            // A ServiceAccount is never written blind: a refused lookup rejects too, with
            // its true cause.
            let message = match failure {
                LookupFailure::NotFound { answer } => {
                    render::missing_account(&findings, &unknown, &answer)
                }
                LookupFailure::Refused { why, answer } => {
                    render::unconfirmed_mutation(&findings, &unknown, why, &answer)
                }
            };
            return Ok(Decision::Reject { message, warnings });
        }
        return mutate(kind, text, &findings, warnings);
    }
    // An audit changes nothing in any mode: only an admission says "nothing was changed".
    let preface = match (fixable, audit, settings.mode) {
        (true, true, Mode::Mutate) => Preface::Audit,
        (true, true, Mode::Reject) => Preface::AuditRejectMode,
        (true, false, Mode::Reject) => Preface::RejectMode,
        _ => Preface::Breaks,
    };
    let all: Vec<&Violation> = findings.violations.iter().collect();
    let message = render::rejection(&findings, &all, preface);
    Ok(Decision::Reject { message, warnings })
}

/// The ServiceAccount `mode: mutate` moves a newly created object's Pods onto, when its fix
/// changes it: the remedy of the same findings [`evaluate`] acts on, read as data. A tool that
/// explains a rejection (prepuller-check's advice) needs this fact, and must neither evaluate the
/// object again in another mode nor read it out of a message. `None` when the policy would not
/// move it: compliant, a fix that keeps its ServiceAccount, a violation only the operator can
/// fix, a ReplicaSet its Deployment controls, or a kind the policy does not judge.
/// `group` is the API group (`""` for the core group), `object` the object's JSON text.
pub fn service_account_fix(
    settings: &Settings,
    group: &str,
    kind: &str,
    object: &str,
) -> Option<String> {
    let kind = ResourceKind::lookup(Some(group), kind)?;
    let object = workload::decode(kind, object).ok()?;
    let findings = checks::check(settings, &object);
    if !findings.fixable() || controlling_deployment(kind, &object).is_some() {
        return None;
    }
    findings.violations.iter().find_map(|v| match &v.remedy {
        Some(checks::Remedy::SetServiceAccountName(name)) => Some(name.clone()),
        _ => None,
    })
}

fn mutate(
    kind: ResourceKind,
    raw: &str,
    findings: &Findings,
    mut warnings: Vec<String>,
) -> Result<Decision, String> {
    let remedies: Vec<_> = findings
        .violations
        .iter()
        .filter_map(|v| v.remedy.as_ref())
        .collect();
    let object = MutatedObject(mutate::apply(kind, raw, &remedies)?);
    warnings.extend(findings.violations.iter().map(render::mutation_warning));
    Ok(Decision::Mutate { object, warnings })
}

/// The object's namespace: the request's (a Pod a controller creates may not carry it yet),
/// else its own.
fn namespace_of<'a>(request: &'a AdmissionRequest<'_>, object: &'a Object<'_>) -> Option<&'a str> {
    non_empty(&request.namespace).or_else(|| non_empty(&object.metadata().namespace))
}

/// `requireExistingServiceAccounts`: a workload about to run as its role's ServiceAccount (it
/// complies, or is being fixed to) is looked up first, or its Pods would be refused by the API
/// server and the chart's hook would wait for them until it times out. `None` when the account
/// was found or nothing is to be asked; nothing else asks the host anything.
fn look_up_account<'s>(
    request: &AdmissionRequest<'_>,
    settings: &'s Settings,
    cluster: &dyn Cluster,
    findings: &Findings,
    object: &Object<'_>,
) -> Option<(Unconfirmed<'s>, LookupFailure)> {
    if !settings.require_existing_service_accounts {
        return None;
    }
    let Subject::Role(kind) = findings.subject else {
        return None;
    };
    let role = settings.role(kind)?;
    let namespace = namespace_of(request, object).unwrap_or("default");
    let name = role.service_account_name.as_str();
    let failure = cluster::require_service_account(cluster, namespace, name).err()?;
    let namespace = namespace.to_owned();
    Some((Unconfirmed { role, namespace }, failure))
}

fn left_as_is<'v>(
    findings: &Findings,
    violations: impl IntoIterator<Item = &'v Violation>,
    why: LeftAsIs<'_>,
) -> Vec<String> {
    violations
        .into_iter()
        .map(|v| render::left_as_is_warning(findings, v, why))
        .collect()
}

/// Whether admitting this compliant object can start Pods under a ServiceAccount that the API
/// server has not checked yet: every CREATE, and an UPDATE of a controller that changes its pod
/// template. A Pod or a Job cannot change its pod spec, and an UPDATE that leaves the template
/// alone (a scale, a finalizer removed while Helm deletes the hook's ServiceAccount with it)
/// must not be refused for an account its Pods already run as, or no longer need.
fn starts_pods(request: &AdmissionRequest<'_>, kind: ResourceKind, text: &str) -> bool {
    match request.operation() {
        Operation::Update => {
            !kind.pod_spec_immutable()
                && !update::template_unchanged(kind, text, request.old_object.map(|o| o.get()))
        }
        _ => true,
    }
}

/// `namespace/name` of the Deployment that controls this ReplicaSet, if one does.
fn controlling_deployment(kind: ResourceKind, object: &Object<'_>) -> Option<String> {
    if kind != ResourceKind::ReplicaSet {
        return None;
    }
    let metadata = object.metadata();
    let owner = metadata.controller().filter(|o| o.is_deployment())?;
    let name = owner
        .name
        .as_ref()
        .map(|n| n.to_string())
        .unwrap_or_default();
    Some(match metadata.namespace.as_ref() {
        Some(ns) if !ns.as_str().is_empty() => format!("{ns}/{name}"),
        _ => name,
    })
}

/// Whether the object is terminating, by the API server's own record: the stored object, an
/// UPDATE's `oldObject`. The `deletionTimestamp` of a CREATE is whatever the client wrote, and a
/// mutating webhook sees it before the API server clears it (`rest.BeforeCreate`), so trusting
/// it would let anyone create a non-compliant puller; an UPDATE cannot set one either.
fn terminating(old: &Object<'_>) -> bool {
    old.metadata().deletion_timestamp.is_some()
}

#[cfg(test)]
mod tests;
