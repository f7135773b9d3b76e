# Post Office. `make demo` runs the local post office; `make test` runs every check.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PATH := $(CURDIR)/.venv/bin:$(PATH)
CARGO ?= cargo
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)
# The CLI and the Lambdas are always built as one set (as the local post office builds them):
# cargo resolves features per set of packages, and every other set recompiles the dependencies.
LOCAL_BINARIES := -p postoffice-cli -p sns-bridge -p iot-forwarder -p example-kitchen -p example-telemetry -p collection-unpacker -p mobile-sign-in -p onboarding
POSTOFFICE := $(TARGET_DIR)/debug/postoffice
VECTORS ?= ../shared/sns-vectors

.PHONY: help setup build local-binaries test lint unit catalog-check terraform-check e2e demo bench bench-e2e bench-peers package bill-check fleet-goals

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup: ## install what the project needs (apt mosquitto, .venv with cargo-lambda, checkov, moto)
	@scripts/setup.sh

build: setup ## build the workspace
	$(CARGO) build --workspace --all-targets

test: setup lint unit catalog-check terraform-check e2e ## every check CI runs
	@echo "make test: all checks passed"

lint: ## rustfmt and clippy, warnings are errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit: ## unit and integration tests of every crate (end-to-end tests run in `e2e`)
	$(CARGO) test --workspace --exclude postoffice-e2e

local-binaries: ## build the postoffice CLI and the Lambdas (debug)
	$(CARGO) build --bins $(LOCAL_BINARIES)

catalog-check: local-binaries ## the event catalog is valid and agrees with the Terraform
	$(POSTOFFICE) catalog check --catalog event-catalog

terraform-check: ## fmt, init, validate, test, plan and checkov, all offline
	@if [ -x scripts/terraform-check.sh ]; then scripts/terraform-check.sh; else echo "terraform-check: no Terraform yet"; fi

e2e: local-binaries ## end-to-end tests against the Terraform-provisioned local post office
	$(CARGO) test -p postoffice-e2e -- --test-threads=1 --nocapture

demo: setup local-binaries ## run the local post office, drive the eight-step tour through it, stop everything
	$(POSTOFFICE) local demo

# BENCH_PROFILE=dev measures the debug Lambdas the e2e tests run (quicker to build);
# BENCH_ONLY=deployments measures the kitchen deployments' table only.
BENCH_PROFILE ?= release
BENCH_ONLY ?=
bench-e2e: setup ## latency (p50/p99) and events/s through a whole local post office (release Lambdas), and device→reply per kitchen deployment (separate, embedded, container)
	$(CARGO) build --bins --profile $(BENCH_PROFILE) $(LOCAL_BINARIES)
	$(CARGO) run --quiet --profile $(BENCH_PROFILE) -p postoffice-e2e --bin bench-e2e -- $(BENCH_PROFILE) $(BENCH_ONLY)

# Not in `make test`: four local post offices and four compressed days (about 25 minutes).
bill-check: setup ## measured bill beside the model (release): idle-disconnect cut, collections factor, every line over 10 %
	$(CARGO) build --bins --release $(LOCAL_BINARIES)
	POSTOFFICE=$(TARGET_DIR)/release/postoffice scripts/bill-check.py

# Not in `make test`: minutes. FLEET_RUN_DIR=.run/latest reuses a running post office and the
# devices it registered; FLEET_IDLE_DEVICES, FLEET_HOLD, FLEET_HERD_DEVICES, FLEET_OUTAGE_FOR,
# FLEET_BACKOFF_CAP; scripts/fleet-goals.sh with POSTOFFICE=target/debug/postoffice FLEET_PROFILE=dev
# and small numbers is a quick dry run.
fleet-goals: setup ## issue 17 in release: 10,000 idle devices held (memory per connection), 1,000 back within 10 s of an outage, nothing lost
	$(CARGO) build --bins --release $(LOCAL_BINARIES)
	scripts/fleet-goals.sh

bench: ## criterion benchmarks
	$(CARGO) bench --workspace

bench-peers: ## SNS verification beside npm sns-validator and PyPI aws-sns-message-validator (installs them under target/)
	lambdas/sns-bridge/benches/peers/run.sh

bench-cold-start: ## release bridge: process start to first handled request, stripped binary size
	$(CARGO) build --release -p sns-bridge --bin sns-bridge
	ls -l target/release/sns-bridge
	@[ -x target/bench-peers/venv/bin/python ] || { python3 -m venv target/bench-peers/venv && target/bench-peers/venv/bin/pip install -q --disable-pip-version-check aws-sns-message-validator==0.0.5; }
	target/bench-peers/venv/bin/python lambdas/sns-bridge/benches/cold-start/cold_start.py target/release/sns-bridge 30

# The Lambdas only, without the CLI: cargo unifies features per build, and the CLI's aws-config
# `sso` feature would put SSO clients (and ring) into every Lambda.
LAMBDAS := -p sns-bridge -p iot-forwarder -p example-kitchen -p example-telemetry -p collection-unpacker -p mobile-sign-in -p onboarding

package: ## Lambda zips for Terraform (arm64; needs the aarch64 target and zig)
	cargo lambda build --release --arm64 --output-format zip $(LAMBDAS)
