# Shared by the project's scripts: idempotent installs of what a fresh Debian machine lacks.

# One build directory outside the checkout, so a fresh clone (CI) reuses an earlier build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/liveness/target}"
# sqlx's query macros read the schema from the offline data in .sqlx/, not from DATABASE_URL
# (the stack's database may not be migrated yet when a build runs): scripts/sqlx-prepare
# checks the queries against a scratch database and rewrites .sqlx/.
export SQLX_OFFLINE="${SQLX_OFFLINE:-true}"
# Python tools (onnxruntime reference, benchmarks) live in their own virtualenv.
export LIVENESS_VENV="${LIVENESS_VENV:-$HOME/.cache/liveness/venv}"
export LIVENESS_PYTHON="${LIVENESS_PYTHON:-$LIVENESS_VENV/bin/python}"
# Development machines here keep mirrors of the public model files beside the checkout.
if [[ -z "${LIVENESS_MODEL_MIRROR:-}" && -d ../shared/models ]]; then
  export LIVENESS_MODEL_MIRROR="$PWD/../shared/models:$PWD/../shared/images"
fi

# The tests build every target; the stack and the demo only the programs, so a first demo
# does not wait for the test targets (a later test run then rebuilds the few dependencies
# whose features the test targets unify differently).
build_workspace() {
  cargo build --release --locked --workspace --all-targets
}

# Only the programs the stack and the demo run (services, CLI, S3 server): not the test
# targets, which are most of a first build, nor the benchmark tool and its references.
build_bins() {
  cargo build --release --locked --bins \
    -p liveness-producer -p liveness-worker -p liveness-cli -p liveness-s3-dev
}

apt_install() {
  if [[ ! -f /var/lib/apt/lists/.liveness-updated ]]; then
    apt-get update -qq && touch /var/lib/apt/lists/.liveness-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_build_tools() {
  local missing=()
  command -v cc >/dev/null || missing+=(build-essential)
  command -v python3 >/dev/null || missing+=(python3)
  python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
  command -v curl >/dev/null || missing+=(curl ca-certificates)
  if ((${#missing[@]})); then apt_install "${missing[@]}"; fi
  if ! command -v cargo >/dev/null; then
    # Rust 1.95 (rust-version in Cargo.toml); rustup from Debian where available.
    [[ -x "$HOME/.cargo/bin/cargo" ]] || { apt_install rustup && rustup toolchain install 1.95 --profile minimal && rustup default 1.95; }
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
}

ensure_python_env() {
  if [[ ! -x "$LIVENESS_VENV/bin/python" ]]; then
    python3 -m venv "$LIVENESS_VENV"
  fi
  if ! "$LIVENESS_VENV/bin/python" -c 'import onnxruntime, numpy, PIL, pyhpke, cbor2, standardwebhooks, schemathesis' 2>/dev/null; then
    "$LIVENESS_VENV/bin/pip" install -q -r scripts/py/requirements.txt
  fi
}

# The web capture library: Node.js and npm, Debian's Chromium for the browser tests, the
# locked npm packages, and the bundle the producer serves at /demo/.
ensure_web() {
  local missing=()
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  command -v chromium >/dev/null || missing+=(chromium)
  if ((${#missing[@]})); then apt_install "${missing[@]}"; fi
  (cd web && { [[ -d node_modules && node_modules/.package-lock.json -nt package-lock.json ]] \
      || npm ci --no-audit --no-fund --loglevel=error; } && npm run --silent build >/dev/null)
}
