# Kubewarden policy conventions: `make policy.wasm`, `make annotated-policy.wasm`, `make test`,
# `make e2e-tests`. `make check` is the whole test suite (what CI runs).
CARGO ?= cargo
WASM_TARGET := wasm32-wasip1
SOURCES := $(shell find src -name '*.rs') Cargo.toml Cargo.lock
BUILD_WASM := scripts/build-wasm.sh scripts/optimize-wasm.sh

# rustc's module, then wasm-opt (scripts/optimize-wasm.sh).
policy.wasm: $(SOURCES) $(BUILD_WASM)
	scripts/build-wasm.sh prepuller-serviceaccount-policy policy.wasm

.PHONY: fmt lint test e2e-tests run-examples check clean bench bench-native

fmt:
	$(CARGO) fmt --all -- --check

lint: build-deps
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

# Unit tests of the decision code (native), and docs/development.md's Layout held against the tree.
test:
	$(CARGO) test --locked --lib --test layout

# The compiled module, end to end, through wapc + wasmtime (the kwctl/policy-server stack).
e2e-tests: policy.wasm
	$(CARGO) test --locked -p policy-host --test e2e

# Properties of the decision code over generated objects (proptest, native; PROPTEST_CASES=N).
properties:
	$(CARGO) test --locked --test properties

# Fuzzing (cargo-fuzz, libFuzzer; fuzz/run.sh installs nightly and cargo-fuzz when missing):
# every target FUZZ_SECONDS seconds, failing on any crash; then every input the fuzzers kept
# through the compiled module. `make fuzz-smoke` is the bounded run of `make check`.
FUZZ_SECONDS ?= 60
fuzz: policy.wasm
	FUZZ_SECONDS=$(FUZZ_SECONDS) fuzz/run.sh
	FUZZ_CORPUS=fuzz/corpus/validate_bytes FUZZ_SETTINGS_CORPUS=fuzz/corpus/validate_settings \
	  $(CARGO) test --locked -p policy-host --test e2e

fuzz-smoke:
	$(MAKE) fuzz FUZZ_SECONDS=20

.PHONY: properties fuzz fuzz-smoke

# Build the policy and evaluate every bundled example request, printing each decision.
# Both binaries are built first in one cargo run, with cargo's progress shown (a fresh machine
# compiles wasmtime once for both), then run. policy-host's binaries need its `cli` feature.
run-examples: policy.wasm
	$(CARGO) build --locked -p policy-host --features policy-host/cli --bin run-examples -p prepuller-check --bin prepuller-check
	$(CARGO) run --locked -q -p policy-host --features cli --bin run-examples
	@echo "== prepuller-check: the chart 4.0.0 release (test_data/releases/z2jh-4.0.0-default.yaml)"
	@$(CARGO) run --locked -q -p prepuller-check -- --module policy.wasm -n jhub \
	  test_data/releases/z2jh-4.0.0-default.yaml; test $$? -le 1

# The floor guest for the benchmark, built with the same toolchain, profile and wasm-opt as the policy.
FLOOR_ARTIFACT := target/floor-guest.wasm
$(FLOOR_ARTIFACT): floor-guest/src/lib.rs floor-guest/Cargo.toml $(BUILD_WASM)
	scripts/build-wasm.sh floor-guest $(FLOOR_ARTIFACT)

# Speed and size in the policy-server runtime stack, as a ratio to the floor
# (docs/performance.md). The host crate is optimised as policy-server is: its serialising and
# patch diffing are part of what every evaluation costs.
BENCH_ITERATIONS ?= 2000
BENCH := $(CARGO) --config 'profile.dev.package.policy-host.opt-level=3' run --locked -q -p policy-host --features cli --bin bench --
bench: policy.wasm $(FLOOR_ARTIFACT)
	$(BENCH) --iterations $(BENCH_ITERATIONS)

# The targets that are not times (docs/performance.md): the module size, and the pages a
# compliant puller's evaluation writes against the floor's (src/memory.rs). Part of `make check`,
# so a module that outgrows them fails CI, not only the next benchmark run. The same build of
# the bench host as `make bench`, so neither rebuilds it for the other.
bench-size: policy.wasm $(FLOOR_ARTIFACT)
	$(BENCH) --size-only

.PHONY: bench-size

# The host side itself: get_resource fixtures, kwctl session replay, the policy-server engine,
# answered through the floor guest.
host-tests: $(FLOOR_ARTIFACT)
	$(CARGO) test --locked -p policy-host --test host

# The decision code natively, under criterion, for profiling the Rust side.
bench-native:
	$(CARGO) bench --locked --bench decision

# Packaging (xtask/, on the artifact crate artifact/): what kwctl annotate, push, pull and
# scaffold do. README: Install, Release. Every target that runs xtask waits for build-deps (its
# signing links OpenSSL), before xtask is built.
XTASK := $(CARGO) run --locked -q -p xtask --
XTASK_SOURCES := $(shell find xtask/src artifact/src -name '*.rs') xtask/Cargo.toml artifact/Cargo.toml
OCI_USAGE := OCI_REF=HOST[:PORT]/PATH:TAG (or @sha256:...); OCI_INSECURE=1 for a plain-HTTP registry; \
  credentials from OCI_USERNAME/OCI_PASSWORD or the docker config file

# The module with metadata.yml (and README.md as usage) in its io.kubewarden.metadata section.
annotated-policy.wasm: policy.wasm metadata.yml README.md Cargo.toml $(XTASK_SOURCES) | build-deps
	$(XTASK) annotate --wasm policy.wasm --metadata metadata.yml --usage README.md --output annotated-policy.wasm

# Push the annotated module as an OCI artifact; prints the manifest digest.
push: annotated-policy.wasm | build-deps
	@test -n "$(OCI_REF)" || { echo "usage: make push $(OCI_USAGE)" >&2; exit 2; }
	$(XTASK) push --wasm annotated-policy.wasm $(OCI_REF)

# Pull an artifact into pulled-policy.wasm, checking digest (OCI_DIGEST too, when given),
# media types, blobs and metadata.
pull: | build-deps
	@test -n "$(OCI_REF)" || { echo "usage: make pull $(OCI_USAGE)" >&2; exit 2; }
	$(XTASK) pull $(if $(OCI_DIGEST),--expect-digest $(OCI_DIGEST)) --output pulled-policy.wasm $(OCI_REF)

# Pull and require the registry's module to be byte-identical to annotated-policy.wasm.
verify: annotated-policy.wasm | build-deps
	@test -n "$(OCI_REF)" || { echo "usage: make verify $(OCI_USAGE)" >&2; exit 2; }
	$(XTASK) pull $(if $(OCI_DIGEST),--expect-digest $(OCI_DIGEST)) --compare annotated-policy.wasm --output pulled-policy.wasm $(OCI_REF)

# Regenerate artifacthub-repo.yml, questions-ui.yml and manifests/ (artifacthub-pkg.yml is
# written by the release workflow for a published version).
artifacthub manifests: | build-deps
	$(XTASK) scaffold

# The registry the packaging tests start (Debian's docker-registry), installed when missing.
packaging-deps:
	scripts/packaging-deps.sh

# What xtask links: OpenSSL for the signing crate (sigstore), installed when missing. Nothing
# else needs it (artifact/tests/user_binary.rs keeps prepuller-check free of it).
build-deps:
	scripts/build-deps.sh

# Annotation, a real registry round trip, generated files up to date; then the whole e2e suite
# on the annotated module (the custom section must change nothing).
packaging-tests: build-deps packaging-deps annotated-policy.wasm
	$(CARGO) test --locked -p xtask
	POLICY_WASM=$(CURDIR)/annotated-policy.wasm $(CARGO) test --locked -p policy-host --test e2e

# The artifact crate: metadata, its custom section, OCI push and pull (every feature), and what
# prepuller-check links (`cargo tree`: no OpenSSL, sigstore or xtask).
artifact-tests:
	$(CARGO) test --locked -p policy-artifact --all-features

.PHONY: push pull verify artifacthub manifests packaging-deps build-deps packaging-tests host-tests artifact-tests

# Signing, cosign's way, verifiable by kwctl and policy-server (docs/release.md). Keys: a cosign
# key pair (`make keygen`, password from COSIGN_PASSWORD) or an unencrypted PKCS#8 PEM key.
# SIGN_ANNOTATIONS="k=v k2=v2" are signed into the payload (cosign's -a) and required by verify.
COSIGN_PREFIX ?= cosign
SIGN_USAGE := $(OCI_USAGE); SIGN_ANNOTATIONS='k=v ...' optional

# Write $(COSIGN_PREFIX).key (encrypted with COSIGN_PASSWORD) and $(COSIGN_PREFIX).pub.
keygen: | build-deps
	$(XTASK) keygen --prefix $(COSIGN_PREFIX)

# Sign the artifact OCI_REF points to (the signature names its digest); prints the digest.
sign: | build-deps
	@test -n "$(OCI_REF)" -a -n "$(COSIGN_KEY)" || { echo "usage: make sign COSIGN_KEY=cosign.key $(SIGN_USAGE)" >&2; exit 2; }
	$(XTASK) sign --key $(COSIGN_KEY) $(foreach a,$(SIGN_ANNOTATIONS),-a $(a)) $(OCI_REF)

# Verify OCI_REF's signature with a public key, as `kwctl verify --verification-key` does.
verify-signature: | build-deps
	@test -n "$(OCI_REF)" -a -n "$(COSIGN_PUB)" || { echo "usage: make verify-signature COSIGN_PUB=cosign.pub $(SIGN_USAGE)" >&2; exit 2; }
	$(XTASK) verify-signature --key $(COSIGN_PUB) $(foreach a,$(SIGN_ANNOTATIONS),-a $(a)) $(OCI_REF)

# The GitHub workflows, with actionlint (installed under target/tools/ when missing).
actionlint:
	scripts/actionlint.sh

.PHONY: keygen sign verify-signature actionlint

# The static prepuller-check release binary for this machine's architecture, built and packaged
# as the release workflow does (target/dist/prepuller-check-dev-TARGET.tar.gz, and .sha256).
check-binary:
	scripts/build-check-binary.sh $$(uname -m)-unknown-linux-musl dev target/dist

# That archive tested as a user gets it (checksum, unpacked, the binary as Helm's post-renderer).
binary-tests: policy.wasm
	scripts/test-check-binary.sh

.PHONY: check-binary binary-tests

# prepuller-check (docs/check.md) end to end on the compiled module, against the Zero to
# JupyterHub releases in test_data/releases/ (scripts/render-releases.py renders them); its
# registry:// pulls from the packaging tests' registry, the annotated module pushed to it.
# Reports are insta snapshots (prepuller-check/tests/expected/*.snap): here a mismatch or a
# missing snapshot fails and nothing is written, CI or not; to update them see docs/development.md.
check-tests: packaging-deps policy.wasm annotated-policy.wasm
	INSTA_UPDATE=no INSTA_FORCE_PASS=0 $(CARGO) test --locked -p prepuller-check

# Objects per second on 50 releases concatenated, the module compiled once (docs/performance.md).
bench-check: policy.wasm
	scripts/bench-check.sh

.PHONY: check-tests bench-check

# The Helm 4 post-renderer plugin (helm-plugin/) through Helm v4's own install code, offline:
# PyPI helm-python-sdk (pinned, in a venv under target/tools/) installs the charts in
# test_data/charts/ with the plugin and the debug prepuller-check (scripts/helm-postrender-test.py).
HELM_PYTHON_SDK := 0.2.2
HELM_VENV := target/tools/helm-python-sdk

helm-tests: policy.wasm
	scripts/helm-venv.sh $(HELM_VENV) $(HELM_PYTHON_SDK)
	$(CARGO) build --locked -p prepuller-check --bin prepuller-check
	$(HELM_VENV)/bin/python scripts/helm-postrender-test.py --binary target/debug/prepuller-check --module policy.wasm

.PHONY: helm-tests

check: fmt lint test properties e2e-tests bench-size host-tests artifact-tests check-tests helm-tests binary-tests packaging-tests actionlint fuzz-smoke

clean:
	$(CARGO) clean
	rm -f policy.wasm annotated-policy.wasm pulled-policy.wasm
