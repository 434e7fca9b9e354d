# Sourced by scripts: a headless browser for the tests that load pages as a person would
# (tests/api/docs_page.rs).
#   browser_tools — Debian's chromium-headless-shell, installed with apt-get when missing
#                   (as root, or through sudo), exported as CHROMIUM.
browser_tools() {
  local found
  found=$(command -v chromium-headless-shell || command -v chromium || true)
  if [ -z "$found" ]; then
    echo "installing Debian's chromium-headless-shell (apt-get)"
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
      if ! command -v sudo >/dev/null; then
        echo "headless Chromium is missing: run 'apt-get install chromium-headless-shell' as root" >&2
        return 1
      fi
      sudo=sudo
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium-headless-shell >/dev/null
    found=$(command -v chromium-headless-shell)
  fi
  export CHROMIUM="$found"
  echo "CHROMIUM=$CHROMIUM"
}
