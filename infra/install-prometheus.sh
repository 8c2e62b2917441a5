#!/usr/bin/env bash
# Installs the Prometheus server and promtool (Debian's `prometheus` package carries both) unless
# both are already on PATH. The rule tests (tests/unit/test_prometheus_rules.py) and the
# observability test (tests/integration/test_observability.py) need them; `make test` calls this.
# No daemon is started: the package's service is not enabled where there is no init system, and
# policy-rc.d (when present) forbids starting it; the tests run their own server.
set -euo pipefail

if command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-prometheus.sh: apt-get not found; install Prometheus >= 2.37 (prometheus and promtool) by hand" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null

# Debian's postinst may start the packaged daemon on :9090 where an init system exists; the
# project never needs it, so stop it again when it runs.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
fi

promtool --version 2>&1 | head -1
