#!/usr/bin/env bash
# Installs Debian's headless Chromium (and a font with Chinese glyphs, for the zh-CN pages and
# their screenshots) unless they are there. The console's browser tests drive it through Playwright
# with `executable_path` (tests/integration/browser.py): Playwright's own browser download cannot
# work on these machines. `make test` calls this, as it calls install-prometheus.sh.
set -euo pipefail

if command -v chromium-headless-shell >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "wenquanyi"; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium.sh: apt-get not found; install Chromium and set CHROMIUM=/path/to/it" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium-headless-shell fonts-wqy-zenhei fontconfig >/dev/null
chromium-headless-shell --version 2>&1 | head -1
