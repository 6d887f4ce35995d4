//! kwctl's recorded host-capability sessions (`--record-host-capabilities-interactions`):
//! reading and writing them, and [`Replay`], which answers from one.

use std::collections::VecDeque;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{GetResource, Kubernetes};
use crate::error::{Error, Result};

/// A recorded host call (kwctl's `CallbackRequestType`, the variants this host replays).
/// In a session file it is YAML text with the variant as tag: `!KubernetesGetResource`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostRequest {
    /// `kubernetes/get_resource`, the only call this policy makes.
    KubernetesGetResource(GetResource),
}

/// What the host answered to a recorded call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum RecordedResponse {
    /// The payload the guest received: for `get_resource`, the object's JSON text.
    Success {
        /// The answer's text, as the guest got it.
        payload: String,
    },
    /// The callback handler's error.
    Error {
        /// The error, which the host prefixes with `Callback evaluation failure: `.
        message: String,
    },
}

/// One entry of a kwctl session file:
/// `{type: Exchange, request: "<YAML text of the request>", response: ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// The call the guest made, which a replayed call must equal.
    pub request: HostRequest,
    /// What the guest got back.
    pub response: RecordedResponse,
}

/// The entry as the file holds it: kwctl keeps the request as a YAML string inside the
/// YAML document, so that any request type fits one field.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
enum ExchangeText {
    Exchange {
        request: String,
        response: RecordedResponse,
    },
}

impl Exchange {
    fn from_text(index: usize, text: ExchangeText) -> Result<Exchange> {
        let ExchangeText::Exchange { request, response } = text;
        let request = serde_norway::from_str(&request).map_err(|source| Error::Session {
            what: format!(
                "exchange {index}: the request is not a call this host replays \
                 (!KubernetesGetResource with api_version, kind, name, namespace, disable_cache): {request}"
            ),
            source,
        })?;
        Ok(Exchange { request, response })
    }

    fn to_text(&self) -> Result<ExchangeText> {
        Ok(ExchangeText::Exchange {
            request: serde_norway::to_string(&self.request)
                .map_err(|e| Error::Serialize("a recorded request", e.into()))?,
            response: self.response.clone(),
        })
    }
}

/// Reads a kwctl session file's text: a YAML list of exchanges.
pub fn parse_session(yaml: &str) -> Result<Vec<Exchange>> {
    let entries: Vec<ExchangeText> =
        serde_norway::from_str(yaml).map_err(|source| Error::Session {
            what: "not a host capabilities session (a YAML list of `type: Exchange` entries)"
                .into(),
            source,
        })?;
    entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| Exchange::from_text(i, e))
        .collect()
}

/// Writes exchanges in kwctl's session format (what `--record-host-capabilities-interactions`
/// produces, and `--replay-host-capabilities-interactions` reads).
pub fn write_session(exchanges: &[Exchange]) -> Result<String> {
    let entries = exchanges
        .iter()
        .map(Exchange::to_text)
        .collect::<Result<Vec<_>>>()?;
    serde_norway::to_string(&entries).map_err(|e| Error::Serialize("the session", e.into()))
}

/// Answers from a recorded session, as `kwctl run --replay-host-capabilities-interactions`
/// does: exchanges are consumed in order, whatever the call; a call that differs from the
/// next recorded request consumes it and fails, and so does a call after the last one.
/// kwctl only logs these; [`Replay::finish`] turns them, and leftovers, into an error.
#[derive(Debug, Clone)]
pub struct Replay {
    pending: VecDeque<Exchange>,
    replayed: usize,
    problems: Vec<String>,
}

impl Replay {
    /// A replay of these exchanges, in this order.
    pub fn new(exchanges: Vec<Exchange>) -> Replay {
        Replay {
            pending: exchanges.into(),
            replayed: 0,
            problems: Vec::new(),
        }
    }

    /// A replay of a session file's text.
    pub fn from_yaml(yaml: &str) -> Result<Replay> {
        Ok(Replay::new(parse_session(yaml)?))
    }

    /// A replay of a session file, as `--replay-host-capabilities-interactions` reads it.
    pub fn load(path: &Path) -> Result<Replay> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        Replay::from_yaml(&text).map_err(|e| Error::Load {
            path: path.to_owned(),
            source: Box::new(e),
        })
    }

    /// The exchanges not replayed yet.
    pub fn remaining(&self) -> &VecDeque<Exchange> {
        &self.pending
    }

    /// How many exchanges were consumed (answered or mismatched).
    pub fn replayed(&self) -> usize {
        self.replayed
    }

    /// Every call that did not match its recorded request, or came after the last one.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// Ok when every call matched its recorded request and every exchange was replayed.
    pub fn finish(&self) -> Result<()> {
        if let Some(first) = self.problems.first() {
            return Err(Error::Replay(format!(
                "{} replay error(s), the first: {first}",
                self.problems.len()
            )));
        }
        if let Some(next) = self.pending.front() {
            return Err(Error::Replay(format!(
                "{} recorded exchange(s) were not replayed, the next: {:?}",
                self.pending.len(),
                next.request
            )));
        }
        Ok(())
    }
}

impl Kubernetes for Replay {
    fn get_resource(&mut self, request: &GetResource) -> std::result::Result<String, String> {
        let Some(exchange) = self.pending.pop_front() else {
            let message = "the list of recorded responses is empty".to_owned();
            self.problems.push(format!("{message} (got {request})"));
            return Err(message);
        };
        self.replayed += 1;
        let HostRequest::KubernetesGetResource(expected) = &exchange.request;
        if expected != request {
            // kwctl's wording, with the call types' debug forms.
            let message = format!(
                "Replay error: unexpected request. Was expecting {:?}, got {:?} instead",
                exchange.request,
                HostRequest::KubernetesGetResource(request.clone())
            );
            self.problems.push(message.clone());
            return Err(message);
        }
        match exchange.response {
            RecordedResponse::Success { payload } => Ok(payload),
            RecordedResponse::Error { message } => Err(message),
        }
    }
}
