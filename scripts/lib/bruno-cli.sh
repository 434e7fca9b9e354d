# Sourced by scripts: the Bruno CLI (`bru`, @usebruno/cli from the npm registry), pinned with
# its whole dependency tree by scripts/lib/bruno-cli/package-lock.json, in .tools/bruno.
#   bruno_cli — install it (`npm ci`) when missing or when the lockfile changed, and set BRU to
#               its executable. Install scripts are not run: the CLI needs none (its one, in
#               protobufjs, only prints a warning), so nothing but the registry's tarballs is
#               fetched.
# To move to another version: edit the version in scripts/lib/bruno-cli/package.json and
# BRUNO_CLI_VERSION below, then `npm install --package-lock-only --ignore-scripts` there.
BRUNO_CLI_VERSION=4.1.0

bruno_cli() {
  local prefix="${BRUNO_CLI_PREFIX:-$root/.tools/bruno}"
  local pinned="$root/scripts/lib/bruno-cli"
  local installed=""
  if [ -f "$prefix/node_modules/@usebruno/cli/package.json" ]; then
    installed=$(node -p 'require(process.argv[1]).version' \
      "$prefix/node_modules/@usebruno/cli/package.json" 2>/dev/null || true)
  fi
  if [ "$installed" != "$BRUNO_CLI_VERSION" ] || ! cmp -s "$pinned/package-lock.json" "$prefix/package-lock.json"; then
    if ! command -v npm >/dev/null 2>&1; then
      echo "the Bruno CLI needs Node.js 20 or later and npm" >&2
      return 1
    fi
    echo "installing @usebruno/cli@${BRUNO_CLI_VERSION} (npm ci, scripts/lib/bruno-cli/package-lock.json) into $prefix"
    mkdir -p "$prefix"
    cp "$pinned/package.json" "$pinned/package-lock.json" "$prefix/"
    npm ci --prefix "$prefix" --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
  fi
  BRU="$prefix/node_modules/.bin/bru"
}
