//! What the controllers derive from an admitted object (policy-host's chain harness), each
//! child admitted in turn, with the ServiceAccount plugin's refusals.

use anyhow::Result;
use policy_host::chain::{children, controller_user, gvr};
use policy_host::{Fixtures, Host, Operation};
use serde_json::Value;

use crate::accounts::Accounts;
use crate::check::Checker;
use crate::kube::name_of;
use crate::model::{Admission, Derived};

impl Checker<'_> {
    /// The objects the controllers derive from an admitted object, each admitted in turn; a
    /// Pod whose ServiceAccount does not exist is refused by the API server, before the
    /// webhooks or after them.
    pub(crate) fn derive(
        &self,
        host: &Host<Fixtures>,
        admitted: &Value,
        accounts: &Accounts,
    ) -> Result<Vec<Derived>> {
        let mut out = Vec::new();
        let mut queue = vec![admitted.clone()];
        while let Some(parent) = queue.pop() {
            let parent_kind = parent["kind"].as_str().unwrap_or_default().to_owned();
            if gvr(&parent_kind).is_err() {
                continue;
            }
            for child in children(&parent)? {
                let kind = child["kind"].as_str().unwrap_or_default();
                let ns = child["metadata"]["namespace"].as_str().unwrap_or_default();
                let title = format!("{kind} {ns}/{}", name_of(&child));
                let user = controller_user(&parent_kind);
                let pod = kind == "Pod";
                let refusal = |object: &Value| {
                    if pod { accounts.refusal(object) } else { None }
                };
                if let Some((account, why)) = refusal(&child) {
                    out.push(Derived {
                        object: title,
                        user,
                        admission: Admission::not_sent(),
                        refused_by_api_server: Some(why),
                        missing_service_account: Some(account),
                    });
                    continue;
                }
                if self.not_sent_reason(&child, "CREATE")?.is_some() {
                    out.push(Derived {
                        object: title,
                        user,
                        admission: Admission::not_sent(),
                        refused_by_api_server: None,
                        missing_service_account: None,
                    });
                    queue.push(child);
                    continue;
                }
                let (admission, admitted) =
                    self.admit(host, &child, None, Operation::Create, &user)?;
                let (missing, refused) = admitted.as_ref().and_then(refusal).unzip();
                out.push(Derived {
                    object: title,
                    user,
                    admission,
                    refused_by_api_server: refused,
                    missing_service_account: missing.clone(),
                });
                if let (Some(admitted), None) = (admitted, missing) {
                    queue.push(admitted);
                }
            }
        }
        Ok(out)
    }
}
