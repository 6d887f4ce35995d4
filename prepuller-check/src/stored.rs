//! Objects already stored: the audit scanner's verdict, and the next UPDATE of their pod
//! template with the rollout it starts.

use anyhow::Result;
use policy_host::{AdmissionRequest, Fixtures, Host, Operation};
use serde_json::{Value, json};

use crate::accounts::Accounts;
use crate::check::Checker;
use crate::kube::pod_template;
use crate::model::{Admission, Audit, NextUpdate};

impl Checker<'_> {
    /// The audit scanner's request (a CREATE without a user), answered without
    /// policy-server's monitor handling, as audits are.
    pub(crate) fn audit(&self, host: &Host<Fixtures>, object: &Value) -> Result<Audit> {
        let request = AdmissionRequest::audit_scanner(object)?.to_value()?;
        let response = self
            .policy
            .evaluate_with_host(&request, &self.scope.settings, host)?;
        Ok(if response.allowed {
            Audit {
                result: "pass",
                message: None,
            }
        } else {
            Audit {
                result: "fail",
                message: response.message().map(str::to_owned),
            }
        })
    }

    /// The next UPDATE that changes the pod template (what `kubectl rollout restart` sends), and
    /// the objects its rollout creates.
    pub(crate) fn next_update(
        &self,
        host: &Host<Fixtures>,
        object: &Value,
        accounts: &Accounts,
    ) -> Result<Option<NextUpdate>> {
        let Some(pointer) = pod_template(object["kind"].as_str().unwrap_or_default()) else {
            return Ok(None);
        };
        let mut updated = object.clone();
        let Some(template) = updated.pointer_mut(pointer) else {
            return Ok(None);
        };
        if !template["metadata"].is_object() {
            template["metadata"] = json!({});
        }
        if !template["metadata"]["annotations"].is_object() {
            template["metadata"]["annotations"] = json!({});
        }
        template["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"] =
            json!("2026-01-01T00:00:00Z");
        // An UPDATE the rules do not send is stored as it is: its rollout still creates
        // children, which are judged (and refused by the ServiceAccount plugin) all the same.
        let (admission, admitted) = if self.not_sent_reason(&updated, "UPDATE")?.is_some() {
            (Admission::not_sent(), Some(updated))
        } else {
            self.admit(
                host,
                &updated,
                Some(object),
                Operation::Update,
                &self.options.user,
            )?
        };
        let derived = match &admitted {
            Some(admitted) => self.derive(host, admitted, accounts)?,
            None => Vec::new(),
        };
        Ok(Some(NextUpdate { admission, derived }))
    }
}
