//! What the controllers derive from an admitted object (policy-host's chain harness), each
//! child admitted in turn, with the ServiceAccount plugin's refusals.

use anyhow::Result;
use policy_host::chain::derive;
use policy_host::{Fixtures, Host, Operation};
use serde_json::Value;

use crate::accounts::Accounts;
use crate::check::Checker;
use crate::kube::name_of;
use crate::model::{Admission, Derived};

impl Checker<'_> {
    /// The objects the controllers derive from an admitted object (policy-host's
    /// [`derive`]), each admitted in turn; a Pod whose ServiceAccount does not exist is refused
    /// by the API server, before the webhooks or after them.
    pub(crate) fn derive(
        &self,
        host: &Host<Fixtures>,
        admitted: &Value,
        accounts: &Accounts,
    ) -> Result<Vec<Derived>> {
        let mut out = Vec::new();
        derive(
            admitted.clone(),
            |_, child, user| -> Result<Option<Value>> {
                let kind = child["kind"].as_str().unwrap_or_default();
                let ns = child["metadata"]["namespace"].as_str().unwrap_or_default();
                let title = format!("{kind} {ns}/{}", name_of(&child));
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
                    return Ok(None);
                }
                if self.not_sent_reason(&child, "CREATE")?.is_some() {
                    out.push(Derived {
                        object: title,
                        user,
                        admission: Admission::not_sent(),
                        refused_by_api_server: None,
                        missing_service_account: None,
                    });
                    return Ok(Some(child));
                }
                let (admission, admitted) =
                    self.admit(host, &child, None, Operation::Create, &user)?;
                let (missing, refused) = admitted.as_ref().and_then(refusal).unzip();
                let stored = admitted.filter(|_| missing.is_none());
                out.push(Derived {
                    object: title,
                    user,
                    admission,
                    refused_by_api_server: refused,
                    missing_service_account: missing,
                });
                Ok(stored)
            },
        )?;
        Ok(out)
    }
}
