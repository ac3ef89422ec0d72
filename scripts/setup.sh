#!/usr/bin/env bash
# floatnet's one set-up script for a fresh Debian/Ubuntu machine, run as root.
#
#   scripts/setup.sh demo      install everything, then run the seed scenario end to end (`floatnet demo`)
#   scripts/setup.sh test      install everything, then lint, type-check, check layering and run the whole test suite
#   scripts/setup.sh install   install everything and stop
#
# Installs the system packages the dataplane needs and a virtualenv in ./.venv with floatnet and its test tools.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  python3 python3-venv python3-pip
  openvswitch-switch openvswitch-common
  nftables libnftables1 dnsmasq-base radvd keepalived conntrack conntrackd
  iproute2 iputils-ping arping ethtool tcpdump udhcpc isc-dhcp-client busybox socat dnsutils procps
  postgresql
  valgrind
)

log() { printf '\n==> %s\n' "$*"; }

install_system() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    log "installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    log "system packages already installed"
  fi
}

install_python() {
  log "installing floatnet into .venv"
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test]'
}

run_demo() {
  log "floatnet demo: the seed scenario end to end"
  exec .venv/bin/floatnet demo "$@"
}

run_tests() {
  local bin=.venv/bin
  log "ruff";            "$bin/ruff" check floatnet tests bench
  log "mypy";            "$bin/mypy" floatnet
  log "import layering"; "$bin/lint-imports"
  log "pytest"
  local rc=0
  "$bin/pytest" -q -p no:cacheprovider "$@" || rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure here" >&2
    exit 1
  fi
  exit "$rc"
}

main() {
  local job=${1:-}
  shift || true
  if [ "$(id -u)" -ne 0 ]; then
    echo "run as root: the dataplane needs namespaces, Open vSwitch and nftables" >&2
    exit 2
  fi
  case "$job" in
    demo) install_system; install_python; run_demo "$@" ;;
    test) install_system; install_python; run_tests "$@" ;;
    install) install_system; install_python ;;
    *) echo "usage: scripts/setup.sh demo|test|install" >&2; exit 2 ;;
  esac
}

main "$@"
