//! The benchmark: what policy-server pays per admission request for this policy, beside a floor
//! guest that accepts without reading the request, both through the same path.
//!
//! The path is policy-server's (kubewarden-controller: policy-server's start-up, policy-evaluator's
//! `PolicyEvaluatorBuilder::build_pre`, `PolicyEvaluatorPre::rehydrate`, the waPC runtime's
//! `validate` and `AdmissionResponse::from_policy_validation_response`), see
//! [`Policy::policy_server`] and [`Policy::evaluate`]:
//! - once: one wasmtime engine (`Config::default()`, function references, epoch interruption),
//!   the module compiled and pre-instantiated;
//! - per evaluation: a fresh store and instance with its epoch deadline (`rehydrate`), a new waPC
//!   host (which runs `wapc_init`), the `{request, settings}` payload serialised, `validate`, the
//!   guest's answer parsed, and for a mutation the returned object diffed against the request's
//!   object (`json_patch::diff`) into a base64 JSON patch. Every mutating policy pays that diff on
//!   the host, so it is counted for the policy.
//!
//! Policy and floor samples are taken alternately, one evaluation each, so that load from other
//! processes hits both alike: the ratio to the floor is the figure; absolute times are the
//! machine's. Prints a Markdown report, with the targets of issue #11 checked.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use clap::Parser;
use policy_host::{Policy, admission_response, read_request, workspace_root};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "Benchmark policy.wasm against a floor guest on policy-server's evaluation path")]
struct Args {
    /// Evaluations per request kind, for the policy and for the floor each (the large Pods get
    /// fewer)
    #[arg(long, default_value_t = 2000)]
    iterations: usize,
    #[arg(long)]
    policy: Option<PathBuf>,
    #[arg(long)]
    floor: Option<PathBuf>,
    /// Only the requests (and `validate_settings` rows) whose name contains this text, for
    /// profiling one path
    #[arg(long)]
    only: Option<String>,
    /// Only the targets that are not times (the module size, the pages an evaluation writes):
    /// nothing is timed, so `make check` can gate on them
    #[arg(long, conflicts_with_all = ["iterations", "only"])]
    size_only: bool,
}

/// The targets of issue #11, as ratios to the floor in the same run.
const UNRELATED_POD_TARGET: f64 = 1.35;
const COMPLIANT_PULLER_TARGET: f64 = 1.35;
const MUTATED_PULLER_TARGET: f64 = 2.0;
/// 350 KB, read strictly (kB, not KiB).
const MODULE_TARGET_BYTES: usize = 350_000;

struct Stats {
    median: Duration,
    p99: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Stats {
        median: at(0.5),
        p99: at(0.99),
    }
}

/// Times `a` and `b` alternately, `iterations` times each, after a warm-up.
fn measure_pair(
    iterations: usize,
    mut a: impl FnMut() -> policy_host::Result<()>,
    mut b: impl FnMut() -> policy_host::Result<()>,
) -> Result<(Stats, Stats)> {
    for _ in 0..(iterations / 20).max(3) {
        a()?;
        b()?;
    }
    let mut sa = Vec::with_capacity(iterations);
    let mut sb = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        a()?;
        sa.push(t.elapsed());
        let t = Instant::now();
        b()?;
        sb.push(t.elapsed());
    }
    Ok((stats(sa), stats(sb)))
}

fn micros(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
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
        "userInfo": {"username": "system:serviceaccount:apps:batch"},
        "object": {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "big", "namespace": "apps", "labels": {"app": "batch"}, "annotations": annotations},
            "spec": {"serviceAccountName": "batch", "volumes": [{"name": "data", "emptyDir": {}}], "containers": containers}}})
}

/// What the probe engine's memories report: the largest size any instance's memory reached (wasm
/// memories only grow, so an instance's final size is its peak), and the 4 KiB pages the last
/// instance wrote, its memory at the end against the module's data image. policy-server's
/// instances are copy-on-write images of that data, so each such page is a page fault in every
/// evaluation (src/memory.rs).
struct Probe {
    peak: AtomicUsize,
    pages_written: AtomicUsize,
    image: Vec<u8>,
}

impl Probe {
    fn new(module: &[u8]) -> Result<Arc<Probe>> {
        Ok(Arc::new(Probe {
            peak: AtomicUsize::new(0),
            pages_written: AtomicUsize::new(0),
            image: data_image(module)?,
        }))
    }
}

/// The module's initial memory as far as its active data segments reach.
fn data_image(module: &[u8]) -> Result<Vec<u8>> {
    let mut image = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(module) {
        let wasmparser::Payload::DataSection(reader) = payload? else {
            continue;
        };
        for data in reader {
            let data = data?;
            let wasmparser::DataKind::Active { offset_expr, .. } = data.kind else {
                continue;
            };
            let wasmparser::Operator::I32Const { value } =
                offset_expr.get_operators_reader().read()?
            else {
                anyhow::bail!("a data segment at an offset that is not an i32.const");
            };
            let start = usize::try_from(value).context("a data segment at a negative offset")?;
            let end = start + data.data.len();
            if image.len() < end {
                image.resize(end, 0);
            }
            image[start..end].copy_from_slice(data.data);
        }
    }
    Ok(image)
}

struct ProbeMemory(Arc<Probe>);

struct TrackedMemory {
    data: Vec<u8>,
    maximum: Option<usize>,
    probe: Arc<Probe>,
}

impl Drop for TrackedMemory {
    fn drop(&mut self) {
        let image = &self.probe.image;
        let written = self
            .data
            .chunks(4096)
            .enumerate()
            .filter(|(i, page)| {
                let at = (i * 4096).min(image.len());
                let before = &image[at..(at + page.len()).min(image.len())];
                page[..before.len()] != *before || page[before.len()..].iter().any(|b| *b != 0)
            })
            .count();
        self.probe.pages_written.store(written, Ordering::Relaxed);
    }
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
        self.probe.peak.fetch_max(new_size, Ordering::Relaxed);
        Ok(())
    }
    fn as_ptr(&self) -> *mut u8 {
        self.data.as_ptr().cast_mut()
    }
}

unsafe impl wasmtime::MemoryCreator for ProbeMemory {
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
        self.0.peak.fetch_max(minimum, Ordering::Relaxed);
        Ok(Box::new(TrackedMemory {
            data: vec![0; minimum],
            maximum,
            probe: self.0.clone(),
        }))
    }
}

/// An engine whose memories report what they reached: only for the probe columns, never timed.
fn probe_engine(probe: Arc<Probe>) -> Result<wasmtime::Engine> {
    let mut config = wasmtime::Config::new();
    config
        .memory_reservation(0)
        .memory_guard_size(0)
        .memory_reservation_for_growth(0)
        .memory_init_cow(false)
        .with_host_memory(Arc::new(ProbeMemory(probe)));
    wasmtime::Engine::new(&config).map_err(|e| anyhow::anyhow!("probe engine: {e}"))
}

fn gzip_len(bytes: &[u8]) -> Result<usize> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes)?;
    Ok(enc.finish()?.len())
}

/// `nproc` and the CPU model, for the report.
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} CPUs available (nproc), {model}")
}

/// What a case is held to.
#[derive(Clone, Copy)]
enum Target {
    None,
    UnrelatedPod,
    CompliantPuller,
    MutatedPuller,
}

impl Target {
    fn limit(self) -> Option<(&'static str, f64)> {
        match self {
            Target::None => None,
            Target::UnrelatedPod => Some(("unrelated Pod", UNRELATED_POD_TARGET)),
            Target::CompliantPuller => Some(("compliant puller", COMPLIANT_PULLER_TARGET)),
            Target::MutatedPuller => {
                Some(("mutated puller, host patch included", MUTATED_PULLER_TARGET))
            }
        }
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let root = workspace_root();
    let policy_path = args.policy.unwrap_or_else(|| root.join("policy.wasm"));
    let floor_path = args
        .floor
        .unwrap_or_else(|| root.join("target/floor-guest.wasm"));
    let policy_bytes =
        std::fs::read(&policy_path).with_context(|| format!("{}", policy_path.display()))?;
    let floor_bytes =
        std::fs::read(&floor_path).with_context(|| format!("{}", floor_path.display()))?;
    if args.size_only {
        println!("{}", policy_path.display());
        let mut targets = Targets::start();
        targets.untimed(&policy_bytes, &floor_bytes)?;
        targets.finish();
        return Ok(());
    }

    let compile = |bytes: &[u8]| -> Result<(Duration, Policy)> {
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..5 {
            let t = Instant::now();
            last = Some(Policy::policy_server(bytes)?);
            times.push(t.elapsed());
        }
        times.sort();
        Ok((times[2], last.context("compiled")?))
    };
    let (policy_compile, policy) = compile(&policy_bytes)?;
    let (floor_compile, floor) = compile(&floor_bytes)?;

    let data = root.join("test_data");
    let settings = json!({});
    let mut cases: Vec<(&str, Value, usize, Target)> = Vec::new();
    for (name, file, target) in [
        (
            "unrelated Pod (proxy)",
            "proxy-pod-create.json",
            Target::UnrelatedPod,
        ),
        (
            "compliant hook puller Pod",
            "hook-pod-create.json",
            Target::CompliantPuller,
        ),
        (
            "compliant hook puller DaemonSet",
            "hook-daemonset-create.json",
            Target::CompliantPuller,
        ),
        (
            "legacy hook puller Pod, mutated",
            "hook-pod-legacy-create.json",
            Target::MutatedPuller,
        ),
        (
            "hook puller DaemonSet as default, mutated",
            "hook-daemonset-default-sa-create.json",
            Target::MutatedPuller,
        ),
        (
            "puller Pod with a token volume, rejected",
            "hook-pod-token-volume-init-container-create.json",
            Target::None,
        ),
        (
            "CronJob (hook template)",
            "hook-cronjob-create.json",
            Target::None,
        ),
    ] {
        cases.push((
            name,
            read_request(&data.join(file))?,
            args.iterations,
            target,
        ));
    }
    for (name, size, div) in [
        ("unrelated Pod, ~10 KB", 10_000, 1),
        ("unrelated Pod, ~100 KB", 100_000, 4),
        ("unrelated Pod, ~1 MB", 1_000_000, 20),
    ] {
        cases.push((
            name,
            big_pod(size),
            (args.iterations / div).max(20),
            Target::None,
        ));
    }

    if let Some(only) = &args.only {
        cases.retain(|(name, ..)| name.contains(only.as_str()));
    }

    let policy_probe = Probe::new(&policy_bytes)?;
    let probe = Policy::with_engine(&policy_bytes, Some(probe_engine(policy_probe.clone())?))?;
    let floor_probe = Probe::new(&floor_bytes)?;
    let probe_floor = Policy::with_engine(&floor_bytes, Some(probe_engine(floor_probe.clone())?))?;

    println!("## Benchmark\n");
    println!("Machine: {}.\n", machine());
    println!(
        "Policy {} ({} bytes, {} gzip), floor {} ({} bytes). {} evaluations per request for each \
         (fewer for the large Pods), policy and floor alternating. One evaluation = what \
         policy-server does per admission request: fresh instance with its epoch deadline, \
         `wapc_init`, payload serialised, `validate`, answer parsed, JSON patch diffed for a mutation.\n",
        policy_path.display(),
        policy_bytes.len(),
        gzip_len(&policy_bytes)?,
        floor_path.display(),
        floor_bytes.len(),
        args.iterations
    );
    println!(
        "| request | payload | decision | median µs | p99 µs | floor median µs | ratio to floor | host patch µs | peak guest memory | pages written (floor) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut verdicts = Vec::new();
    for (name, request, iterations, target) in &cases {
        let payload = serde_json::to_vec(&json!({"request": request, "settings": settings}))?;
        let answer = policy.validate_raw(&payload)?;
        let decision = match (answer.accepted, answer.mutated_object.is_some()) {
            (true, false) => "accept",
            (true, true) => "mutate",
            (false, _) => "reject",
        };
        // The host's own share of a mutation: the diff and its encoding, alone.
        let host_patch = if answer.mutated_object.is_some() {
            let mut samples = Vec::with_capacity(*iterations);
            for _ in 0..*iterations {
                let t = Instant::now();
                let response = admission_response(request, &answer)?;
                samples.push(t.elapsed());
                ensure!(
                    response.patch.is_some(),
                    "{name}: a mutation without a patch"
                );
            }
            micros(stats(samples).median)
        } else {
            String::new()
        };
        let (p, f) = measure_pair(
            *iterations,
            || policy.evaluate(request, &settings).map(drop),
            || floor.evaluate(request, &settings).map(drop),
        )?;
        policy_probe.peak.store(0, Ordering::Relaxed);
        let probed = probe.validate_raw(&payload)?;
        ensure!(probed == answer, "the probe engine answered differently");
        probe_floor.validate_raw(&payload)?;
        let r = ratio(p.median, f.median);
        println!(
            "| {name} | {} KB | {decision} | {} | {} | {} | {r:.2}× | {host_patch} | {} KiB | {} ({}) |",
            payload.len() / 1024,
            micros(p.median),
            micros(p.p99),
            micros(f.median),
            policy_probe.peak.load(Ordering::Relaxed) / 1024,
            policy_probe.pages_written.load(Ordering::Relaxed),
            floor_probe.pages_written.load(Ordering::Relaxed),
        );
        if let Some((what, limit)) = target.limit() {
            verdicts.push((format!("{what}: {name}"), r, limit));
        }
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
    let mut settings_rows = vec![
        (
            "validate_settings `{}` (once per policy-server start)",
            b"{}".to_vec(),
        ),
        ("validate_settings, every key", full_settings),
    ];
    if let Some(only) = &args.only {
        // A profile of one request must not be half made of settings validation.
        settings_rows.retain(|(name, _)| name.contains(only.as_str()));
    }
    for (name, s) in settings_rows {
        let (p, f) = measure_pair(
            args.iterations / 4,
            || policy.call("validate_settings", &s).map(drop),
            || floor.call("validate_settings", &s).map(drop),
        )?;
        println!(
            "| {name} | {} | {} | {} | {:.2}× |",
            micros(p.median),
            micros(p.p99),
            micros(f.median),
            ratio(p.median, f.median)
        );
    }
    println!(
        "| module compile (once per policy-server start) | {} | | {} | {:.2}× |",
        micros(policy_compile),
        micros(floor_compile),
        ratio(policy_compile, floor_compile)
    );

    let mut targets = Targets::start();
    for (what, r, limit) in &verdicts {
        let over = (r > limit).then(|| format!("{:.0}%", (r / limit - 1.0) * 100.0));
        targets.row(what, format!("{r:.2}×"), format!("≤ {limit:.2}×"), over);
    }
    targets.untimed(&policy_bytes, &floor_bytes)?;
    targets.finish();
    Ok(())
}

/// The 4 KiB pages one evaluation of `payload` writes in `module`'s memory (see [`Probe`]).
fn pages_written(module: &[u8], payload: &[u8]) -> Result<usize> {
    let probe = Probe::new(module)?;
    Policy::with_engine(module, Some(probe_engine(probe.clone())?))?.validate_raw(payload)?;
    Ok(probe.pages_written.load(Ordering::Relaxed))
}

/// The targets table, counting the targets missed.
struct Targets {
    missed: usize,
}

impl Targets {
    fn start() -> Targets {
        println!("\n| target | figure | limit | met |\n|---|---|---|---|");
        Targets { missed: 0 }
    }

    /// One target's row; `over` says by how much it is missed, if it is.
    fn row(&mut self, what: &str, figure: String, limit: String, over: Option<String>) {
        let met = match over {
            None => "yes".to_owned(),
            Some(over) => {
                self.missed += 1;
                format!("**no**, {over} over")
            }
        };
        println!("| {what} | {figure} | {limit} | {met} |");
    }

    /// The targets that are not times: the module's size, and the pages a compliant puller's
    /// evaluation writes, no more than the floor's (src/memory.rs: the writable data starts on
    /// a page of its own; a toolchain that lays the memory out otherwise, or an evaluation that
    /// allocates a page more, costs every request a page fault, about 0.02×).
    fn untimed(&mut self, policy: &[u8], floor: &[u8]) -> Result<()> {
        self.size(policy.len());
        let request = read_request(&workspace_root().join("test_data/hook-daemonset-create.json"))?;
        let payload = serde_json::to_vec(&json!({"request": request, "settings": {}}))?;
        let (written, floor_written) = (
            pages_written(policy, &payload)?,
            pages_written(floor, &payload)?,
        );
        let over =
            (written > floor_written).then(|| format!("{} page(s)", written - floor_written));
        self.row(
            "pages a compliant hook puller DaemonSet's evaluation writes",
            written.to_string(),
            format!("≤ the floor's, {floor_written}"),
            over,
        );
        Ok(())
    }

    fn size(&mut self, size: usize) {
        let over = (size > MODULE_TARGET_BYTES).then(|| {
            format!(
                "{} bytes ({:.0}%)",
                size - MODULE_TARGET_BYTES,
                (size as f64 / MODULE_TARGET_BYTES as f64 - 1.0) * 100.0
            )
        });
        let limit = format!("≤ 350 KB ({MODULE_TARGET_BYTES} bytes)");
        self.row("module size", format!("{size} bytes"), limit, over);
    }

    /// A missed target fails the run (after the whole table is printed), so `make bench` is a
    /// gate and not only a report.
    fn finish(self) {
        if self.missed > 0 {
            eprintln!(
                "bench: {} target(s) missed (docs/performance.md)",
                self.missed
            );
            std::process::exit(1);
        }
    }
}
