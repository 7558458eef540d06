#!/usr/bin/env bash
# The whole test run: installs the peers, builds, runs every Rust test
# (unit, doc, integration against real peers, examples compile), then the
# official conformance suite. This is what README's test command and
# .ci/run call.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/install-peers.sh

echo "== format and lints" >&2
cargo fmt --all --check
cargo clippy --release --workspace --all-targets --locked -- -D warnings

echo "== tests" >&2
# Release mode: the conformance client and the tests share one build.
cargo test --release --workspace --all-targets --locked
cargo test --release --workspace --doc --locked
# The library's API docs build without warnings (no broken links).
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --locked -p mcpkey -p mcpkey-auth
# The optional OS-keyring token store (its tests use keyring-core's mock).
cargo clippy --release -p mcpkey-auth --all-targets --features keyring --locked -- -D warnings
# Its one #[ignore]d test touches the real OS credential store (it may prompt
# on a desktop), so it runs only in CI, where no store runs and the test
# checks that the error says what is missing.
if [ "${CI:-}" = true ]; then
    cargo test --release -p mcpkey-auth --lib --features keyring --locked keyring_store -- --include-ignored
else
    cargo test --release -p mcpkey-auth --lib --features keyring --locked keyring_store
fi

echo "== conformance suite" >&2
cargo build --release --locked -p mcpkey-conformance
bash scripts/conformance.sh

echo "== benchmark smoke, load and soak" >&2
(cd bench && cargo fmt --check && cargo clippy --release --locked --all-targets -- -D warnings)
bash scripts/bench.sh --quick
bash scripts/reliability.sh --soak-secs "${MCPKEY_SOAK_SECS:-120}"

echo "== fuzzing smoke" >&2
# Every seed and past finding already ran above (the property tests replay
# fuzz/corpus on stable). With a nightly toolchain, each target also fuzzes
# for a few seconds; long runs are `bash scripts/fuzz.sh`.
if rustup toolchain list 2> /dev/null | grep -q '^nightly'; then
    bash scripts/fuzz.sh "${MCPKEY_FUZZ_SECS:-10}"
else
    echo "no nightly toolchain: cargo-fuzz smoke skipped (corpus replay ran on stable)" >&2
fi
