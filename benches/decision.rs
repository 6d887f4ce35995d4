//! The decision code natively, under criterion: for profiling the Rust side (decoding, rules,
//! mutation) without the wasm runtime around it. The figures that matter for a cluster are the
//! in-runtime ones from `make bench`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prepuller_serviceaccount_policy::cluster::KubewardenHost;
use prepuller_serviceaccount_policy::evaluate::evaluate;
use serde_json::{Value, json};

fn payload(file: &str) -> Vec<u8> {
    let path = format!("{}/test_data/{file}", env!("CARGO_MANIFEST_DIR"));
    let request: Value = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| panic!("cannot read {path}"));
    serde_json::to_vec(&json!({"request": request, "settings": {}})).unwrap_or_default()
}

fn decisions(c: &mut Criterion) {
    let mut group = c.benchmark_group("evaluate");
    for (name, file) in [
        ("compliant-hook-pod", "hook-pod-create.json"),
        ("legacy-pod-mutated", "hook-pod-legacy-create.json"),
        (
            "token-injected-pod-mutated",
            "hook-pod-token-injected-create.json",
        ),
        (
            "token-volume-pod-rejected",
            "hook-pod-token-volume-init-container-create.json",
        ),
        ("unrelated-pod", "proxy-pod-create.json"),
        ("hook-daemonset", "hook-daemonset-create.json"),
        ("hook-cronjob", "hook-cronjob-create.json"),
    ] {
        let bytes = payload(file);
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| evaluate(black_box(&bytes), &KubewardenHost).into_bytes())
        });
    }
    group.finish();
}

criterion_group!(benches, decisions);
criterion_main!(benches);
