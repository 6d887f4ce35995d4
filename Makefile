# Kubewarden policy conventions: `make policy.wasm`, `make annotated-policy.wasm`, `make test`,
# `make e2e-tests`. `make check` is the whole test suite (what CI runs).
CARGO ?= cargo
WASM_TARGET := wasm32-wasip1
POLICY_ARTIFACT := target/$(WASM_TARGET)/release/prepuller_serviceaccount_policy.wasm
SOURCES := $(shell find src -name '*.rs') Cargo.toml Cargo.lock

policy.wasm: $(SOURCES) scripts/build-wasm.sh
	scripts/build-wasm.sh
	cp $(POLICY_ARTIFACT) policy.wasm

.PHONY: fmt lint test e2e-tests run-examples check clean bench bench-native

fmt:
	$(CARGO) fmt --all -- --check

lint:
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

# Unit tests of the decision code (native).
test:
	$(CARGO) test --locked --lib

# The compiled module, end to end, through wapc + wasmtime (the kwctl/policy-server stack).
e2e-tests: policy.wasm
	$(CARGO) test --locked -p e2e-tests --test e2e

# Build the policy and evaluate every bundled example request, printing each decision.
run-examples: policy.wasm
	$(CARGO) run --locked -q -p e2e-tests --bin run-examples

# The floor guest for the benchmark, built with the same toolchain and profile as the policy.
FLOOR_ARTIFACT := target/$(WASM_TARGET)/release/floor_guest.wasm
$(FLOOR_ARTIFACT): floor-guest/src/lib.rs floor-guest/Cargo.toml scripts/build-wasm.sh
	scripts/build-wasm.sh floor-guest

# Speed and size in the policy-server runtime stack, as a ratio to the floor (figures in README).
BENCH_ITERATIONS ?= 2000
bench: policy.wasm $(FLOOR_ARTIFACT)
	$(CARGO) run --locked -q -p e2e-tests --bin bench -- --iterations $(BENCH_ITERATIONS)

# The decision code natively, under criterion, for profiling the Rust side.
bench-native:
	$(CARGO) bench --locked --bench decision

check: fmt lint test e2e-tests

clean:
	$(CARGO) clean
	rm -f policy.wasm annotated-policy.wasm
