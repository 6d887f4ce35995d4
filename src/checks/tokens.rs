//! Rule 3: no API credential reaches a puller's containers: no projected ServiceAccount token,
//! no API-client pod certificate, nothing else mounted over the token path.

use super::{MountedBy, Remedy, Rule, Violation};
use crate::json::non_empty;
use crate::kinds::ResourceKind;
use crate::workload::{PodSpec, ProjectionSource, Volume};

/// Where Kubernetes mounts a ServiceAccount token in every container.
pub const TOKEN_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The name prefix of the volume the ServiceAccount admission plugin injects into Pods.
const INJECTED_VOLUME_PREFIX: &str = "kube-api-access-";
/// The signer whose pod certificates authenticate to the API server as the Pod's
/// ServiceAccount (KEP-4317): a credential like a token.
pub const API_CLIENT_SIGNER: &str = "kubernetes.io/kube-apiserver-client-pod";

/// A volume's projected sources; none when it is not a projected volume.
fn sources<'v, 'a>(volume: &'v Volume<'a>) -> &'v [ProjectionSource<'a>] {
    volume
        .projected
        .as_ref()
        .and_then(|p| p.sources.as_deref())
        .unwrap_or_default()
}

/// The signer of the first API-client `podCertificate` source of a projected volume.
fn api_client_certificate<'v>(volume: &'v Volume<'_>) -> Option<&'v str> {
    sources(volume)
        .iter()
        .filter_map(|s| s.pod_certificate.as_ref())
        .find_map(|c| non_empty(&c.signer_name).filter(|s| *s == API_CLIENT_SIGNER))
}

/// The volume exactly as the ServiceAccount admission plugin injects it: its name prefix, a
/// token (no audience), the cluster CA and the namespace, mounted only at the token path.
fn is_injected(pod: &PodSpec<'_>, volume: &Volume<'_>) -> bool {
    if !volume.name.as_str().starts_with(INJECTED_VOLUME_PREFIX) {
        return false;
    }
    let mut tokens = 0;
    for source in sources(volume) {
        let set = [
            source.service_account_token.is_some(),
            source.config_map.is_some(),
            source.downward_api.is_some(),
            source.secret.is_some(),
            source.cluster_trust_bundle.is_some(),
            source.pod_certificate.is_some(),
        ];
        if set.iter().filter(|s| **s).count() != 1 {
            return false;
        }
        if let Some(token) = &source.service_account_token {
            if token.audience.is_some() {
                return false;
            }
            tokens += 1;
        } else if let Some(cm) = &source.config_map {
            if non_empty(&cm.name) != Some("kube-root-ca.crt") {
                return false;
            }
        } else if source.downward_api.is_none() {
            return false;
        }
    }
    tokens == 1
        && pod.containers().all(|(_, _, c)| {
            c.volume_mounts.iter().flatten().all(|m| {
                m.name != volume.name
                    || (m.mount_path == *TOKEN_PATH
                        && non_empty(&m.sub_path).is_none()
                        && non_empty(&m.sub_path_expr).is_none())
            })
        })
}

/// Where the token path lands in images whose `/var/run` is a symlink to `/run` (Debian, Ubuntu,
/// Alpine, ...): the runtime follows the symlink, so a mount here covers the token path too.
const TOKEN_PATH_VIA_RUN: &str = "/run/secrets/kubernetes.io/serviceaccount";

/// The mount path as the container runtime resolves it: the API server only checks that
/// mountPath is non-empty and unique as a string, so `//`, `.` and `..` reach the runtime, which
/// cleans them (`..` never climbs above `/`). Relative paths are taken from `/`.
fn normalize_mount_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// True when a mount at `path` covers the token path: the path itself, below it, or a parent.
pub fn under_token_path(path: &str) -> bool {
    let path = normalize_mount_path(path);
    [TOKEN_PATH, TOKEN_PATH_VIA_RUN].into_iter().any(|token| {
        path == token
            || path == "/"
            || path
                .strip_prefix(token)
                .is_some_and(|rest| rest.starts_with('/'))
            || token
                .strip_prefix(path.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// The containers that mount volume `name`, each once, in the pod spec's order.
fn mounted_by(pod: &PodSpec<'_>, name: &str) -> Vec<MountedBy> {
    pod.containers()
        .filter(|(_, _, c)| {
            c.volume_mounts
                .iter()
                .flatten()
                .any(|m| m.name.as_str() == name)
        })
        .map(|(list, _, c)| MountedBy {
            list,
            container: c.name.to_string(),
        })
        .collect()
}

/// Rule 3 on one pod spec. The injected volume can only be told apart on a Pod: in a template it
/// was written by someone, and removing it is theirs to do.
pub fn check(kind: ResourceKind, prefix: &str, pod: &PodSpec<'_>, out: &mut Vec<Violation>) {
    let mut credential_volumes: Vec<&str> = Vec::new();
    for (i, volume) in pod.volumes.iter().flatten().enumerate() {
        let name = volume.name.as_str();
        if sources(volume)
            .iter()
            .any(|s| s.service_account_token.is_some())
        {
            credential_volumes.push(name);
            let injected = kind == ResourceKind::Pod && is_injected(pod, volume);
            out.push(Violation {
                field: format!("{prefix}.volumes[{i}]"),
                rule: Rule::TokenVolume {
                    volume: name.to_owned(),
                    injected,
                    mounted_by: mounted_by(pod, name),
                },
                remedy: injected.then(|| Remedy::RemoveInjectedVolume(name.to_owned())),
            });
        }
        // Declared on purpose, mounted or not: never the policy's to remove.
        if let Some(signer) = api_client_certificate(volume) {
            credential_volumes.push(name);
            out.push(Violation {
                field: format!("{prefix}.volumes[{i}]"),
                rule: Rule::PodCertificate {
                    volume: name.to_owned(),
                    signer: signer.to_owned(),
                    mounted_by: mounted_by(pod, name),
                },
                remedy: None,
            });
        }
    }
    for (list, i, container) in pod.containers() {
        for (j, mount) in container.volume_mounts.iter().flatten().enumerate() {
            if under_token_path(mount.mount_path.as_str())
                && !credential_volumes.contains(&mount.name.as_str())
            {
                out.push(Violation {
                    field: format!("{prefix}.{list}[{i}].volumeMounts[{j}]"),
                    rule: Rule::TokenPathMount {
                        container: container.name.to_string(),
                        volume: mount.name.to_string(),
                        mount_path: mount.mount_path.to_string(),
                    },
                    remedy: None,
                });
            }
        }
    }
}
