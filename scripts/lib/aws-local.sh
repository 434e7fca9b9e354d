# Sourced by scripts: a local AWS API server (moto) for tests and the dev server.
#   aws_local_start  — create .venv once, install the pinned moto[server], start it on a free
#                      loopback port (DynamoDB requests serialised: moto_serial.py), export
#                      AWS_ENDPOINT_URL and dummy credentials;
#   aws_local_stop   — stop it.
MOTO_VERSION=5.2.5
CFN_LINT_VERSION=1.58.0
SAM_CLI_VERSION=1.170.0

aws_local_venv() {
  local venv="${AWS_LOCAL_VENV:-$root/.venv}"
  local installed=""
  if [ -x "$venv/bin/python" ]; then
    installed=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true)
  fi
  if [ ! -x "$venv/bin/moto_server" ] || [ "$installed" != "$MOTO_VERSION" ]; then
    echo "installing moto[server]==${MOTO_VERSION} into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==${MOTO_VERSION}"
  fi
  MOTO_BIN="$venv/bin/moto_server"
  MOTO_PYTHON="$venv/bin/python"
}

aws_local_start() {
  aws_local_venv
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  AWS_LOCAL_LOG=$(mktemp)
  # moto with DynamoDB requests applied one at a time, as DynamoDB's atomicity promises
  # (scripts/lib/moto_serial.py says why).
  "$MOTO_PYTHON" "$root/scripts/lib/moto_serial.py" -H 127.0.0.1 -p "$port" >"$AWS_LOCAL_LOG" 2>&1 &
  AWS_LOCAL_PID=$!
  for _ in $(seq 1 100); do
    if curl -fsS "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; then
      break
    fi
    if ! kill -0 "$AWS_LOCAL_PID" 2>/dev/null; then
      echo "moto_server exited:" >&2
      cat "$AWS_LOCAL_LOG" >&2
      return 1
    fi
    sleep 0.1
  done
  export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=ap-south-1
  export AWS_EC2_METADATA_DISABLED=true
}

aws_local_stop() {
  if [ -n "${AWS_LOCAL_PID:-}" ]; then
    kill "$AWS_LOCAL_PID" 2>/dev/null || true
    wait "$AWS_LOCAL_PID" 2>/dev/null || true
    AWS_LOCAL_PID=
  fi
}

# The template checkers, pinned, into the same venv (installed once).
template_tools() {
  aws_local_venv
  local venv="${AWS_LOCAL_VENV:-$root/.venv}"
  local have_lint="" have_sam=""
  have_lint=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("cfn-lint"))' 2>/dev/null || true)
  have_sam=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("aws-sam-cli"))' 2>/dev/null || true)
  if [ "$have_lint" != "$CFN_LINT_VERSION" ] || [ "$have_sam" != "$SAM_CLI_VERSION" ]; then
    echo "installing cfn-lint==${CFN_LINT_VERSION} aws-sam-cli==${SAM_CLI_VERSION} into $venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "cfn-lint==${CFN_LINT_VERSION}" "aws-sam-cli==${SAM_CLI_VERSION}"
  fi
  CFN_LINT="$venv/bin/cfn-lint"
  SAM="$venv/bin/sam"
}
