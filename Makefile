# triage - the two commands a new user types are `make demo` and `make test`.
# Everything else here is a step of those two, runnable on its own.

BUILD      ?= build
BUILD_ASAN ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_GEN  := -G Ninja

.PHONY: all bootstrap build build-asan test test-unit test-asan stack-up stack-down \
        stack-status demo demo-stop bench docs clean distclean fuzz

all: build

## bootstrap: install Debian packages (PostgreSQL 15 among them), Kafka jars and FerretDB (idempotent)
bootstrap:
	@deploy/local/bootstrap

$(BUILD)/build.ninja: CMakeLists.txt
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

$(BUILD_ASAN)/build.ninja: CMakeLists.txt
	@cmake -S . -B $(BUILD_ASAN) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DTRIAGE_SANITIZE=ON >/dev/null

## build: compile the services, tools and tests into build/ (binaries in build/bin)
build: $(BUILD)/build.ninja
	@ninja -C $(BUILD) -j $(JOBS)

## build-asan: the same with AddressSanitizer + UndefinedBehaviorSanitizer
build-asan: $(BUILD_ASAN)/build.ninja
	@ninja -C $(BUILD_ASAN) -j $(JOBS)

## test: bootstrap, build (plain and sanitized), start the stack, run every test with ctest
test:
	@tests/run

## test-unit: unit tests only, no servers needed
test-unit: build
	@cd $(BUILD) && ctest -L unit --output-on-failure -j $(JOBS)

## stack-up / stack-down: the local Kafka broker, FerretDB and its PostgreSQL (idempotent)
stack-up: bootstrap
	@deploy/local/stack-up

stack-down:
	@deploy/local/stack-down

## demo: set up, build, start everything, load sample tickets and classify them
demo:
	@deploy/local/demo

demo-stop:
	@deploy/local/demo-stop

## bench: the benchmarks of bench/ against the local stack
bench: bootstrap build stack-up
	@deploy/local/bootstrap --bench-deps
	@bench/run

## fuzz: build the libFuzzer targets of fuzz/ (clang, ASan + UBSan) in build-fuzz
##       and run each for FUZZ_SECONDS (default 60); a crash is left in
##       build-fuzz/fuzz-artifacts/ (see fuzz/run)
fuzz: bootstrap
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-60} fuzz/run

## docs: regenerate the configuration reference from the configuration table
docs: build
	@$(BUILD)/bin/triagectl config --markdown > docs/configuration.md
	@$(BUILD)/bin/triagectl config --env > deploy/env.reference
	@echo "docs: wrote docs/configuration.md and deploy/env.reference"

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) build-fuzz

## distclean: also the fetched tools and the stack's data
distclean: clean
	@deploy/local/stack-down --wipe
	rm -rf .cache run

## soak: mixed load (uploads, Kafka intake, fake-LLM faults, dashboard queries) for
## SOAK_MINUTES (default 30); results appended to bench/soak/RESULTS.md
.PHONY: soak
soak: bootstrap build stack-up
	@SOAK_MINUTES=$(or $(SOAK_MINUTES),30) bench/soak/run
