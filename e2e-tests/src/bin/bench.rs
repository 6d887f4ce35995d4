//! The benchmark: the compiled policy in the runtime stack policy-server uses (wapc over
//! wasmtime-provider, module compiled once, a fresh instance per evaluation), beside a floor
//! guest that accepts without reading the request. Prints a Markdown report: median, p99 and
//! evaluations/s per request, each also as a ratio to the floor on the same payload (these
//! machines are noisy; the ratio is the stable figure), validate_settings, compile time, module
//! size and peak guest memory.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use clap::Parser;
use e2e_tests::{Policy, read_request, workspace_root};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "Benchmark policy.wasm against a floor guest in the policy-server runtime stack")]
struct Args {
    /// Evaluations per request kind (the ~1 MB Pod gets a tenth)
    #[arg(long, default_value_t = 2000)]
    iterations: usize,
    #[arg(long)]
    policy: Option<PathBuf>,
    #[arg(long)]
    floor: Option<PathBuf>,
}

struct Stats {
    median: Duration,
    p99: Duration,
    per_second: f64,
}

fn measure(iterations: usize, mut f: impl FnMut() -> Result<()>) -> Result<Stats> {
    for _ in 0..(iterations / 20).max(3) {
        f()?;
    }
    let mut samples = Vec::with_capacity(iterations);
    let start = Instant::now();
    for _ in 0..iterations {
        let t = Instant::now();
        f()?;
        samples.push(t.elapsed());
    }
    let total = start.elapsed();
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Ok(Stats {
        median: at(0.5),
        p99: at(0.99),
        per_second: iterations as f64 / total.as_secs_f64(),
    })
}

fn micros(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn payload(request: &Value, settings: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"request": request, "settings": settings})).unwrap_or_default()
}

/// An unrelated Pod of roughly `target` bytes: many containers, env vars and annotations.
fn big_pod(target: usize) -> Value {
    let containers: Vec<Value> = (0..)
        .map(|i| {
            json!({"name": format!("worker-{i}"), "image": format!("registry.example.com/team/worker:{i}"),
                "env": (0..20).map(|j| json!({"name": format!("VAR_{j}"), "value": format!("value-{i}-{j}-{}", "x".repeat(12))})).collect::<Vec<_>>(),
                "volumeMounts": [{"name": "data", "mountPath": format!("/data/{i}")}]})
        })
        .take(target / 1100 + 1)
        .collect();
    let annotations: serde_json::Map<String, Value> = (0..200)
        .map(|i| (format!("example.com/note-{i}"), json!("y".repeat(100))))
        .collect();
    json!({"uid": "big", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"}, "operation": "CREATE", "namespace": "apps",
        "object": {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "big", "namespace": "apps", "labels": {"app": "batch"}, "annotations": annotations},
            "spec": {"serviceAccountName": "batch", "volumes": [{"name": "data", "emptyDir": {}}], "containers": containers}}})
}

/// Tracks the largest linear memory any instance reached: wasm memories only grow, so the
/// final size of an instance's memory is its peak.
struct PeakMemory(Arc<AtomicUsize>);

struct TrackedMemory {
    data: Vec<u8>,
    maximum: Option<usize>,
    peak: Arc<AtomicUsize>,
}

// SAFETY: the engine is configured with no reservation and no guard pages, so wasmtime treats
// these memories as movable and bounds-checks every access against `byte_size`.
unsafe impl wasmtime::LinearMemory for TrackedMemory {
    fn byte_size(&self) -> usize {
        self.data.len()
    }
    fn byte_capacity(&self) -> usize {
        self.data.capacity()
    }
    fn grow_to(&mut self, new_size: usize) -> wasmtime::Result<()> {
        if self.maximum.is_some_and(|m| new_size > m) {
            wasmtime::bail!("memory maximum exceeded");
        }
        self.data.resize(new_size, 0);
        self.peak.fetch_max(new_size, Ordering::Relaxed);
        Ok(())
    }
    fn as_ptr(&self) -> *mut u8 {
        self.data.as_ptr().cast_mut()
    }
}

unsafe impl wasmtime::MemoryCreator for PeakMemory {
    fn new_memory(
        &self,
        _ty: wasmtime::MemoryType,
        minimum: usize,
        maximum: Option<usize>,
        reserved: Option<usize>,
        guard: usize,
    ) -> std::result::Result<Box<dyn wasmtime::LinearMemory>, String> {
        if reserved.is_some_and(|r| r > 0) || guard != 0 {
            return Err(format!(
                "the probe engine must use movable memories (reserved {reserved:?}, guard {guard})"
            ));
        }
        self.0.fetch_max(minimum, Ordering::Relaxed);
        Ok(Box::new(TrackedMemory {
            data: vec![0; minimum],
            maximum,
            peak: self.0.clone(),
        }))
    }
}

fn probe_engine(peak: Arc<AtomicUsize>) -> Result<wasmtime::Engine> {
    let mut config = wasmtime::Config::new();
    config
        .memory_reservation(0)
        .memory_guard_size(0)
        .memory_reservation_for_growth(0)
        .memory_init_cow(false)
        .with_host_memory(Arc::new(PeakMemory(peak)));
    wasmtime::Engine::new(&config).map_err(|e| anyhow::anyhow!("probe engine: {e}"))
}

fn gzip_len(bytes: &[u8]) -> Result<usize> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes)?;
    Ok(enc.finish()?.len())
}

fn main() -> Result<()> {
    let args = Args::parse();
    let root = workspace_root();
    let policy_path = args.policy.unwrap_or_else(|| root.join("policy.wasm"));
    let floor_path = args
        .floor
        .unwrap_or_else(|| root.join("target/wasm32-wasip1/release/floor_guest.wasm"));
    let policy_bytes =
        std::fs::read(&policy_path).with_context(|| format!("{}", policy_path.display()))?;
    let floor_bytes =
        std::fs::read(&floor_path).with_context(|| format!("{}", floor_path.display()))?;

    let compile = |bytes: &[u8]| -> Result<(Duration, Policy)> {
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..5 {
            let t = Instant::now();
            last = Some(Policy::from_bytes(bytes)?);
            times.push(t.elapsed());
        }
        times.sort();
        Ok((times[2], last.context("compiled")?))
    };
    let (policy_compile, policy) = compile(&policy_bytes)?;
    let (floor_compile, floor) = compile(&floor_bytes)?;

    let data = root.join("test_data");
    let settings = json!({});
    let mut cases: Vec<(&str, Value, usize)> = Vec::new();
    for (name, file) in [
        ("compliant hook Pod", "hook-pod-create.json"),
        ("legacy Pod, mutated", "hook-pod-legacy-create.json"),
        (
            "Pod with a token volume, rejected",
            "hook-pod-token-volume-init-container-create.json",
        ),
        ("unrelated Pod (no role)", "proxy-pod-create.json"),
        ("DaemonSet (hook puller)", "hook-daemonset-create.json"),
        ("CronJob (hook template)", "hook-cronjob-create.json"),
    ] {
        cases.push((name, read_request(&data.join(file))?, args.iterations));
    }
    for (name, size, div) in [
        ("unrelated Pod, ~10 KB", 10_000, 1),
        ("unrelated Pod, ~100 KB", 100_000, 4),
        ("unrelated Pod, ~1 MB", 1_000_000, 10),
    ] {
        cases.push((name, big_pod(size), (args.iterations / div).max(20)));
    }

    let peak = Arc::new(AtomicUsize::new(0));
    let probe = Policy::with_engine(&policy_bytes, Some(probe_engine(peak.clone())?))?;

    println!("## Benchmark\n");
    println!(
        "policy {} ({} bytes, {} gzip), floor {} ({} bytes); {} evaluations per request (fewer for the large Pods); \
         each evaluation = fresh instance + `validate`, as policy-server does.\n",
        policy_path.display(),
        policy_bytes.len(),
        gzip_len(&policy_bytes)?,
        floor_path.display(),
        floor_bytes.len(),
        args.iterations
    );
    println!(
        "| request | payload | decision | median µs | p99 µs | eval/s | floor median µs | ratio to floor | peak guest memory |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, request, iterations) in &cases {
        let bytes = payload(request, &settings);
        let answer = policy.validate_raw(&bytes)?;
        let decision = match (answer.accepted, answer.mutated_object.is_some()) {
            (true, false) => "accept",
            (true, true) => "mutate",
            (false, _) => "reject",
        };
        let p = measure(*iterations, || policy.call("validate", &bytes).map(drop))?;
        let f = measure(*iterations, || floor.call("validate", &bytes).map(drop))?;
        peak.store(0, Ordering::Relaxed);
        let probed = probe.validate_raw(&bytes)?;
        ensure!(probed == answer, "the probe engine answered differently");
        println!(
            "| {name} | {} KB | {decision} | {} | {} | {:.0} | {} | {:.2}× | {} KiB |",
            bytes.len() / 1024,
            micros(p.median),
            micros(p.p99),
            p.per_second,
            micros(f.median),
            p.median.as_secs_f64() / f.median.as_secs_f64(),
            peak.load(Ordering::Relaxed) / 1024
        );
    }

    let full_settings = serde_json::to_vec(&json!({
        "mode": "mutate",
        "hookPuller": {"serviceAccountName": "myhub-hook-image-puller", "selector": {"matchLabels": {"component": "hook-image-puller"}}},
        "continuousPuller": {"serviceAccountName": "myhub-continuous-image-puller",
            "selector": {"matchExpressions": [{"key": "component", "operator": "In", "values": ["continuous-image-puller"]}]}},
        "awaiter": {"serviceAccountName": "myhub-hook-image-awaiter", "selector": {"matchLabels": {"component": "image-puller"}}},
        "reserveServiceAccounts": true, "serviceAccountObjects": true
    }))?;
    println!("\n| other | median µs | p99 µs | floor median µs | ratio to floor |");
    println!("|---|---|---|---|---|");
    for (name, s) in [
        ("validate_settings `{}`", b"{}".to_vec()),
        ("validate_settings, every key", full_settings),
    ] {
        let p = measure(args.iterations, || {
            policy.call("validate_settings", &s).map(drop)
        })?;
        let f = measure(args.iterations, || {
            floor.call("validate_settings", &s).map(drop)
        })?;
        println!(
            "| {name} | {} | {} | {} | {:.2}× |",
            micros(p.median),
            micros(p.p99),
            micros(f.median),
            p.median.as_secs_f64() / f.median.as_secs_f64()
        );
    }
    println!(
        "| module compile (once per policy-server start) | {} | | {} | {:.2}× |",
        micros(policy_compile),
        micros(floor_compile),
        policy_compile.as_secs_f64() / floor_compile.as_secs_f64()
    );
    Ok(())
}
