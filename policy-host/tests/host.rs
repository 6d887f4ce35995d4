//! The host side of the context-aware capability: kwctl's session format, the replayer, the
//! fixtures, the grant check and the waPC callback, the last through a real guest (the floor
//! guest's `host_get_resource`, which forwards a GetResourceRequest to the host and reports
//! what it got back). Build the floor guest first:
//! `make target/floor-guest.wasm`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, ensure};
use policy_artifact::Metadata;
use policy_host::host::{parse_session, write_session};
use policy_host::{
    ContextAwareAccess, ContextAwareResource, Exchange, Fixtures, GetResource, Host, HostCall,
    HostRequest, Policy, RecordedResponse, Replay, workspace_root,
};
use serde_json::{Value, json};

const NOT_GRANTED: &str = "Policy has not been granted access to Kubernetes v1/ServiceAccount resources. The violation has been reported.";
const HOOK_NOT_FOUND: &str =
    r#"Cannot find v1/ServiceAccount named 'hook-image-puller' inside of namespace 'Some("jhub")'"#;

fn hook_sa() -> Value {
    json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "hook-image-puller", "namespace": "jhub", "uid": "5b0d7c3e"}})
}

fn cached(name: &str) -> GetResource {
    GetResource::service_account("jhub", name, false)
}

fn uncached(name: &str) -> GetResource {
    GetResource::service_account("jhub", name, true)
}

/// The payload the SDK (kubewarden-policy-sdk 0.17.3 `get_resource`) sends: its
/// `GetResourceRequest` through serde_json, fields in declaration order, `field_masks` null.
fn sdk_payload(name: &str, disable_cache: bool) -> Vec<u8> {
    format!(
        r#"{{"api_version":"v1","kind":"ServiceAccount","name":"{name}","namespace":"jhub","disable_cache":{disable_cache},"field_masks":null}}"#
    )
    .into_bytes()
}

fn session(file: &str) -> PathBuf {
    workspace_root().join("test_data/context").join(file)
}

fn answer<K: policy_host::Kubernetes + 'static>(
    host: &Host<K>,
    request: &GetResource,
) -> std::result::Result<Value, String> {
    let payload = serde_json::to_vec(request).map_err(|e| e.to_string())?;
    host.answer("kubewarden", "kubernetes", "get_resource", &payload)
        .map(|bytes| serde_json::from_slice(&bytes).unwrap_or(Value::Null))
        .map_err(|e| e.to_string())
}

#[test]
fn the_sdk_payload_is_understood() -> Result<()> {
    let host = Host::new(Fixtures::new().found(hook_sa())?);
    let out = host.answer(
        "kubewarden",
        "kubernetes",
        "get_resource",
        &sdk_payload("hook-image-puller", false),
    );
    ensure!(out.is_ok(), "{out:?}");
    assert_eq!(host.get_resource_calls(), [cached("hook-image-puller")]);
    Ok(())
}

/// kwctl's own test session (crates/kwctl/tests/data/host-capabilities-sessions/
/// context-aware-demo-namespace-*.yml, cut down): a cluster-scoped lookup, found then not found.
#[test]
fn reads_kwctl_recorded_sessions() -> Result<()> {
    let yaml = r#"- type: Exchange
  request: |
    !KubernetesGetResource
    api_version: v1
    kind: Namespace
    name: test-policy
    namespace: null
    disable_cache: false
  response:
    type: Success
    payload: '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"test-policy"},"spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}}'
- type: Exchange
  request: |
    !KubernetesGetResource
    api_version: v1
    kind: Namespace
    name: test-policy
    namespace: null
    disable_cache: false
  response:
    type: Error
    message: Cannot find v1/Namespace named 'test-policy' inside of namespace 'None'
"#;
    let request = GetResource {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        name: "test-policy".into(),
        namespace: None,
        disable_cache: false,
        field_masks: None,
    };
    let exchanges = parse_session(yaml)?;
    assert_eq!(exchanges.len(), 2);
    assert_eq!(
        exchanges[0].request,
        HostRequest::KubernetesGetResource(request.clone())
    );
    let RecordedResponse::Success { payload } = &exchanges[0].response else {
        panic!("first exchange: {:?}", exchanges[0].response);
    };
    let object: Value = serde_json::from_str(payload)?;
    assert_eq!(object["status"]["phase"], "Active");
    assert_eq!(
        exchanges[1].response,
        RecordedResponse::Error {
            message: request.not_found_message()
        }
    );
    Ok(())
}

#[test]
fn rejects_malformed_sessions() {
    for (yaml, why) in [
        ("type: Exchange\n", "not a list"),
        (
            "- type: Exchange\n  request: |\n    !KubernetesListResourceAll\n    api_version: v1\n    kind: Pod\n    label_selector: null\n    field_selector: null\n  response: {type: Success, payload: '{}'}\n",
            "a call this host does not replay",
        ),
        (
            "- type: Exchange\n  request: |\n    !KubernetesGetResource\n    api_version: v1\n    kind: ServiceAccount\n    name: x\n    namespace: jhub\n  response: {type: Success, payload: '{}'}\n",
            "disable_cache missing",
        ),
        (
            "- type: Exchange\n  request: |\n    !KubernetesGetResource\n    api_version: v1\n    kind: ServiceAccount\n    name: x\n    namespace: jhub\n    disable_cache: false\n  response: {type: Maybe, payload: '{}'}\n",
            "unknown response type",
        ),
        (
            "- type: Call\n  request: ''\n  response: {type: Error, message: x}\n",
            "unknown entry type",
        ),
    ] {
        assert!(Replay::from_yaml(yaml).is_err(), "accepted ({why}): {yaml}");
    }
}

#[test]
fn writes_what_it_reads() -> Result<()> {
    let exchanges = vec![
        Exchange {
            request: HostRequest::KubernetesGetResource(cached("hook-image-puller")),
            response: RecordedResponse::Error {
                message: HOOK_NOT_FOUND.into(),
            },
        },
        Exchange {
            request: HostRequest::KubernetesGetResource(GetResource {
                field_masks: Some(BTreeSet::from(["metadata.name".to_owned()])),
                ..uncached("hook-image-puller")
            }),
            response: RecordedResponse::Success {
                payload: hook_sa().to_string(),
            },
        },
    ];
    let yaml = write_session(&exchanges)?;
    for fragment in [
        "- type: Exchange",
        "!KubernetesGetResource",
        "disable_cache: true",
        "type: Success",
        "type: Error",
    ] {
        ensure!(yaml.contains(fragment), "{fragment} missing from:\n{yaml}");
    }
    assert_eq!(parse_session(&yaml)?, exchanges);
    Ok(())
}

/// Every shipped session loads, and every recorded object is the ServiceAccount its request
/// asked for, from the chart release the file is named after.
#[test]
fn shipped_sessions_are_consistent() -> Result<()> {
    let mut files = 0;
    for entry in std::fs::read_dir(workspace_root().join("test_data/context"))? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        files += 1;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let chart = if name.starts_with("z2jh-4.4.0-") {
            "jupyterhub-4.4.0"
        } else {
            "jupyterhub-4.0.0"
        };
        let replay = Replay::load(&path)?;
        // A lookup the policy is not granted is refused before kwctl's recorder sees it.
        ensure!(
            replay.remaining().is_empty() == name.ends_with("-not-granted.yaml"),
            "{name}: {} exchange(s)",
            replay.remaining().len()
        );
        for (i, exchange) in replay.remaining().iter().enumerate() {
            let HostRequest::KubernetesGetResource(request) = &exchange.request;
            assert_eq!(
                (request.api_version.as_str(), request.kind.as_str()),
                ("v1", "ServiceAccount")
            );
            // The policy's protocol: cached first, uncached only as the second attempt.
            assert_eq!(request.disable_cache, i == 1, "{name} exchange {i}");
            match &exchange.response {
                RecordedResponse::Success { payload } => {
                    let sa: Value = serde_json::from_str(payload)
                        .with_context(|| format!("{name} exchange {i}"))?;
                    assert_eq!(sa["kind"], "ServiceAccount", "{name}");
                    assert_eq!(sa["metadata"]["name"].as_str(), Some(request.name.as_str()));
                    assert_eq!(
                        sa["metadata"]["namespace"].as_str(),
                        request.namespace.as_deref()
                    );
                    assert_eq!(sa["metadata"]["labels"]["helm.sh/chart"], chart, "{name}");
                }
                RecordedResponse::Error { message } => {
                    ensure!(!message.is_empty(), "{name} exchange {i}: empty error");
                }
            }
        }
    }
    ensure!(files >= 2, "only {files} session files");
    Ok(())
}

#[test]
fn chart_4_4_0_finds_the_hook_service_account_in_one_cached_lookup() -> Result<()> {
    let host = Host::new(Replay::load(&session("z2jh-4.4.0-hook-sa.yaml"))?);
    let sa = answer(&host, &cached("hook-image-puller")).map_err(anyhow::Error::msg)?;
    assert_eq!(sa["metadata"]["name"], "hook-image-puller");
    assert_eq!(
        sa["metadata"]["labels"]["helm.sh/chart"],
        "jupyterhub-4.4.0"
    );
    host.kubernetes().finish()?;
    Ok(())
}

#[test]
fn chart_4_0_0_has_no_hook_service_account_cached_or_not() -> Result<()> {
    let host = Host::new(Replay::load(&session("z2jh-4.0.0-no-hook-sa.yaml"))?);
    for request in [cached("hook-image-puller"), uncached("hook-image-puller")] {
        assert_eq!(
            answer(&host, &request),
            Err(format!("Callback evaluation failure: {HOOK_NOT_FOUND}"))
        );
    }
    host.kubernetes().finish()?;
    assert_eq!(
        host.get_resource_calls(),
        [cached("hook-image-puller"), uncached("hook-image-puller")]
    );
    Ok(())
}

#[test]
fn replay_answers_in_order_then_runs_dry() -> Result<()> {
    let host = Host::new(Replay::load(&session(
        "z2jh-4.4.0-hook-sa-uncached-only.yaml",
    ))?);
    assert_eq!(
        answer(&host, &cached("hook-image-puller")),
        Err(format!("Callback evaluation failure: {HOOK_NOT_FOUND}"))
    );
    let sa = answer(&host, &uncached("hook-image-puller")).map_err(anyhow::Error::msg)?;
    assert_eq!(sa["metadata"]["name"], "hook-image-puller");
    host.kubernetes().finish()?;
    assert_eq!(host.kubernetes().replayed(), 2);
    // One call too many: kwctl's error, and the replay is no longer clean.
    assert_eq!(
        answer(&host, &uncached("hook-image-puller")),
        Err("Callback evaluation failure: the list of recorded responses is empty".into())
    );
    assert!(host.kubernetes().finish().is_err());
    Ok(())
}

#[test]
fn replay_refuses_a_call_that_differs_from_the_recording() -> Result<()> {
    let host = Host::new(Replay::load(&session("z2jh-4.4.0-hook-sa.yaml"))?);
    // Recorded: cached. Asked: uncached.
    let out = answer(&host, &uncached("hook-image-puller"));
    let Err(message) = out else {
        panic!("a mismatched call was answered: {out:?}");
    };
    ensure!(
        message.starts_with("Callback evaluation failure: Replay error: unexpected request."),
        "{message}"
    );
    ensure!(
        message.contains("disable_cache: false") && message.contains("disable_cache: true"),
        "{message}"
    );
    // As kwctl does, the mismatched exchange is consumed.
    assert!(host.kubernetes().remaining().is_empty());
    assert_eq!(host.kubernetes().problems().len(), 1);
    let finish = host.kubernetes().finish();
    ensure!(
        finish
            .as_ref()
            .is_err_and(|e| e.to_string().contains("unexpected request")),
        "{finish:?}"
    );
    Ok(())
}

#[test]
fn replay_reports_exchanges_left_over() -> Result<()> {
    let host = Host::new(Replay::load(&session("z2jh-4.0.0-no-hook-sa.yaml"))?);
    let _ = answer(&host, &cached("hook-image-puller"));
    let finish = host.kubernetes().finish();
    ensure!(
        finish.as_ref().is_err_and(|e| e
            .to_string()
            .contains("1 recorded exchange(s) were not replayed")),
        "{finish:?}"
    );
    Ok(())
}

#[test]
fn fixtures_answer_found_uncached_only_not_found_and_host_errors() -> Result<()> {
    let continuous = json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "continuous-image-puller", "namespace": "jhub"}});
    let host = Host::new(
        Fixtures::new()
            .found(hook_sa())?
            .found_only_uncached(continuous.clone())?
            .host_error(
                "v1",
                "ServiceAccount",
                Some("jhub"),
                "hook-image-awaiter",
                "connection refused",
            ),
    );
    assert_eq!(answer(&host, &cached("hook-image-puller")), Ok(hook_sa()));
    assert_eq!(answer(&host, &uncached("hook-image-puller")), Ok(hook_sa()));
    let continuous_missing = cached("continuous-image-puller").not_found_message();
    assert_eq!(
        answer(&host, &cached("continuous-image-puller")),
        Err(format!("Callback evaluation failure: {continuous_missing}"))
    );
    assert_eq!(
        answer(&host, &uncached("continuous-image-puller")),
        Ok(continuous)
    );
    assert_eq!(
        answer(&host, &cached("hook-image-awaiter")),
        Err("Callback evaluation failure: connection refused".into())
    );
    // Same name in another namespace: not the fixture.
    let elsewhere = GetResource::service_account("other", "hook-image-puller", false);
    assert_eq!(
        answer(&host, &elsewhere),
        Err(
            r#"Callback evaluation failure: Cannot find v1/ServiceAccount named 'hook-image-puller' inside of namespace 'Some("other")'"#
                .to_owned()
        )
    );
    assert_eq!(
        host.get_resource_calls(),
        [
            cached("hook-image-puller"),
            uncached("hook-image-puller"),
            cached("continuous-image-puller"),
            uncached("continuous-image-puller"),
            cached("hook-image-awaiter"),
            elsewhere,
        ]
    );
    host.clear_calls();
    assert!(host.calls().is_empty());
    Ok(())
}

#[test]
fn fixture_objects_need_an_identity() {
    assert!(
        Fixtures::new()
            .found(json!({"kind": "ServiceAccount"}))
            .is_err()
    );
    assert!(
        Fixtures::new()
            .found_only_uncached(
                json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {}})
            )
            .is_err()
    );
}

#[test]
fn the_grant_is_checked_before_the_source_and_refusals_are_recorded() -> Result<()> {
    // Without --allow-context-aware: refused, the replay untouched.
    let host = Host::new(Replay::load(&session("z2jh-4.4.0-hook-sa.yaml"))?)
        .with_access(ContextAwareAccess::Denied);
    assert_eq!(
        answer(&host, &cached("hook-image-puller")),
        Err(NOT_GRANTED.into())
    );
    assert_eq!(host.kubernetes().remaining().len(), 1);
    assert_eq!(host.get_resource_calls(), [cached("hook-image-puller")]);
    // Granted ServiceAccounts only: a Secret is refused, the ServiceAccount answered.
    let host = Host::new(Fixtures::new().found(hook_sa())?).with_access(ContextAwareAccess::Only(
        BTreeSet::from([ContextAwareResource::new("v1", "ServiceAccount")]),
    ));
    let secret = GetResource {
        kind: "Secret".into(),
        ..cached("hook-image-puller")
    };
    assert_eq!(
        answer(&host, &secret),
        Err("Policy has not been granted access to Kubernetes v1/Secret resources. The violation has been reported.".into())
    );
    assert_eq!(answer(&host, &cached("hook-image-puller")), Ok(hook_sa()));
    assert_eq!(
        host.get_resource_calls(),
        [secret, cached("hook-image-puller")]
    );
    Ok(())
}

#[test]
fn other_calls_are_refused_and_recorded_and_logging_is_not() {
    let host = Host::new(Fixtures::new());
    assert_eq!(
        host.answer("kubewarden", "tracing", "log", br#"{"level":"info"}"#),
        Ok(Vec::new())
    );
    let dns = host.answer(
        "kubewarden",
        "net",
        "v1/dns_lookup_host",
        br#""example.com""#,
    );
    assert!(dns.is_err(), "{dns:?}");
    let binding = host.answer("other", "kubernetes", "get_resource", b"{}");
    assert_eq!(
        binding,
        Err(policy_host::HostCallError::UnknownBinding("other".into()))
    );
    let garbage = host.answer("kubewarden", "kubernetes", "get_resource", b"{\"kind\":1}");
    assert!(garbage.is_err(), "{garbage:?}");
    let calls = host.calls();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(matches!(&calls[0], HostCall::Other { namespace, .. } if namespace == "net"));
    assert!(host.get_resource_calls().is_empty());
}

fn floor_policy() -> Result<Policy> {
    let path = std::env::var_os("FLOOR_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/floor-guest.wasm"));
    Policy::load(&path).context("the floor guest is needed: make target/floor-guest.wasm")
}

/// What a real guest receives through wapc and wasmtime: the object's JSON, or wapc-guest's
/// `Host error: ` followed by the host's message.
#[test]
fn a_guest_receives_the_answers_through_wapc() -> Result<()> {
    let policy = floor_policy()?;
    let host = Host::new(Fixtures::new().found(hook_sa())?);
    let call = |name: &str, disable_cache: bool| -> Result<String> {
        let out = policy.call_with_host(
            "host_get_resource",
            &sdk_payload(name, disable_cache),
            &host,
        )?;
        Ok(String::from_utf8(out)?)
    };
    let found = call("hook-image-puller", false)?;
    let object: Value = serde_json::from_str(found.strip_prefix("ok:").unwrap_or(&found))?;
    assert_eq!(object, hook_sa());
    assert_eq!(
        call("continuous-image-puller", true)?,
        format!(
            "err:Host error: Callback evaluation failure: {}",
            uncached("continuous-image-puller").not_found_message()
        )
    );
    // Each call is a fresh instance; the host's record spans them.
    assert_eq!(
        host.get_resource_calls(),
        [
            cached("hook-image-puller"),
            uncached("continuous-image-puller")
        ]
    );
    // The default host refuses, as kwctl without --allow-context-aware.
    let refused = policy.call(
        "host_get_resource",
        &sdk_payload("hook-image-puller", false),
    )?;
    assert_eq!(
        String::from_utf8(refused)?,
        format!("err:Host error: {NOT_GRANTED}")
    );
    // validate makes no host call.
    let response = policy.run_with_host(&json!({"uid": "x"}), &json!({}), &host)?;
    assert!(response.allowed);
    assert_eq!(host.calls().len(), 2);
    Ok(())
}

/// The policy-server engine (epoch interruption, deadlines per instance) runs the guest and its
/// host calls the same way.
#[test]
fn the_policy_server_engine_answers_the_same() -> Result<()> {
    let path = workspace_root().join("target/floor-guest.wasm");
    let bytes = std::fs::read(&path).with_context(|| format!("{}", path.display()))?;
    let policy = Policy::policy_server(&bytes)?;
    let host = Host::new(Fixtures::new().found(hook_sa())?);
    let out = policy.call_with_host(
        "host_get_resource",
        &sdk_payload("hook-image-puller", false),
        &host,
    )?;
    ensure!(out.starts_with(b"ok:"), "{}", String::from_utf8_lossy(&out));
    let response = policy.evaluate(&json!({"uid": "u", "object": {"a": 1}}), &json!({}))?;
    assert!(response.allowed && response.patch.is_none());
    Ok(())
}

/// A module with one custom section, the smallest that holds metadata.
fn module_with_section(name: &str, data: &[u8]) -> Vec<u8> {
    let mut contents = vec![u8::try_from(name.len()).unwrap_or(0)];
    contents.extend_from_slice(name.as_bytes());
    contents.extend_from_slice(data);
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    module.push(0);
    let mut size = contents.len();
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        if size == 0 {
            module.push(byte);
            break;
        }
        module.push(byte | 0x80);
    }
    module.extend_from_slice(&contents);
    module
}

#[test]
fn reads_context_aware_resources_from_the_metadata_section() -> Result<()> {
    let metadata = br#"{"protocolVersion":"v1","rules":[],"mutating":true,"contextAwareResources":[{"apiVersion":"v1","kind":"ServiceAccount"}]}"#;
    let with = module_with_section("io.kubewarden.metadata", metadata);
    let found = Metadata::of_module(&with)?.context("metadata not found")?;
    assert_eq!(
        found.context_aware_resources,
        BTreeSet::from([ContextAwareResource::new("v1", "ServiceAccount")])
    );
    assert_eq!(
        Metadata::of_module(&module_with_section("name", b"\x00"))?,
        None
    );
    assert!(Metadata::of_module(&module_with_section("io.kubewarden.metadata", b"{")).is_err());
    assert!(
        Metadata::of_module(b"\0asm\x01\0\0\0\x00\xff").is_err(),
        "truncated"
    );
    assert!(Metadata::of_module(b"not wasm").is_err());
    let floor = std::fs::read(workspace_root().join("target/floor-guest.wasm"))
        .context("the floor guest is needed")?;
    assert_eq!(Metadata::of_module(&floor)?, None);
    Ok(())
}

fn policy_run(args: &[&str]) -> Result<(bool, String, String)> {
    let out = Command::new(env!("CARGO_BIN_EXE_policy-run"))
        .args(args)
        .current_dir(workspace_root())
        .output()?;
    Ok((
        out.status.success(),
        String::from_utf8(out.stdout)?,
        String::from_utf8(out.stderr)?,
    ))
}

#[test]
fn policy_run_takes_kwctl_context_aware_flags() -> Result<()> {
    let floor = "target/floor-guest.wasm";
    let request = "test_data/hook-daemonset-create.json";
    let hook = "test_data/context/z2jh-4.4.0-hook-sa.yaml";
    let (ok, stdout, stderr) = policy_run(&[
        "--request-path",
        request,
        "--allow-context-aware",
        "--replay-host-capabilities-interactions",
        hook,
        floor,
    ])?;
    ensure!(ok, "{stderr}");
    let response: Value = serde_json::from_str(stdout.trim())?;
    assert_eq!(response["allowed"], true);
    // The floor makes no call: the recorded exchange is left over, and said so, as kwctl does.
    ensure!(
        stderr.contains("not been replayed"),
        "no leftover warning: {stderr}"
    );
    // An unannotated module gets no Kubernetes access even with the flag (kwctl: "Policy is
    // not annotated, access to Kubernetes resources is not allowed").
    ensure!(stderr.contains("not annotated"), "{stderr}");
    // A broken session file stops the run.
    let (ok, _, stderr) = policy_run(&[
        "--request-path",
        request,
        "--allow-context-aware",
        "--replay-host-capabilities-interactions",
        "test_data/context/generate.py",
        floor,
    ])?;
    ensure!(!ok && stderr.contains("generate.py"), "{stderr}");
    Ok(())
}

/// A waPC guest of one function, `__guest_call`, whose body is `code` (no locals): the
/// smallest module the runtime calls, for failures the real guests never produce.
fn guest_call_module(code: &[u8]) -> Vec<u8> {
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    // Type 0: (i32, i32) -> i32.
    module.extend_from_slice(&[0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f]);
    // Function 0 of type 0.
    module.extend_from_slice(&[0x03, 0x02, 0x01, 0x00]);
    // Exported as `__guest_call`.
    module.extend_from_slice(&[0x07, 0x10, 0x01, 0x0c]);
    module.extend_from_slice(b"__guest_call");
    module.extend_from_slice(&[0x00, 0x00]);
    // Its body: no locals, then `code`, then `end`.
    let body_len = u8::try_from(code.len() + 2).unwrap_or(u8::MAX);
    module.extend_from_slice(&[0x0a, body_len + 2, 0x01, body_len, 0x00]);
    module.extend_from_slice(code);
    module.push(0x0b);
    module
}

/// What goes wrong is told by the error's variant, not only by its text: a module the runtime
/// refuses, a guest that traps, one that runs past policy-server's deadline.
#[test]
fn failures_are_typed() -> Result<()> {
    let refused = Policy::from_bytes(b"\0asm\x01\0\0\0\x05garbage");
    ensure!(
        matches!(refused, Err(policy_host::Error::Compile(_))),
        "{:?}",
        refused.err()
    );
    let missing = Policy::load(&workspace_root().join("target/no-such-module.wasm"));
    ensure!(
        matches!(missing, Err(policy_host::Error::Read { .. })),
        "{:?}",
        missing.err()
    );

    // `unreachable`: a trap, reported for the call that hit it.
    let trapping = Policy::from_bytes(&guest_call_module(&[0x00]))?;
    match trapping.call("validate", b"{}") {
        Err(policy_host::Error::Call { operation, message }) => {
            ensure!(operation == "validate", "{operation}");
            ensure!(message.starts_with("Guest call failure: "), "{message}");
        }
        other => anyhow::bail!("expected a trap, got {other:?}"),
    }

    // `loop br 0 end unreachable`: stopped by the epoch deadline, as policy-server stops it.
    let looping = Policy::policy_server(&guest_call_module(&[0x03, 0x40, 0x0c, 0x00, 0x0b, 0x00]))?;
    let started = std::time::Instant::now();
    let timed_out = looping.call("validate", b"{}");
    ensure!(
        timed_out
            .as_ref()
            .is_err_and(policy_host::Error::is_timeout),
        "{timed_out:?}"
    );
    ensure!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "stopped after {:?}",
        started.elapsed()
    );
    let text = timed_out.err().map(|e| e.to_string()).unwrap_or_default();
    ensure!(
        text.starts_with("waPC call validate failed: ")
            && text.contains("execution deadline exceeded"),
        "{text}"
    );
    Ok(())
}
