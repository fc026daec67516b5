#!/usr/bin/env bash
# Install the Debian packages the local stack needs, only those that are missing:
# PostgreSQL server, a JDK 17 runtime for Kafka, Maven to fetch the broker's jars,
# redis-server (the Celery broker of the distributed profile, STACK_PROFILE=distributed),
# and (WITH_BROWSER=1) Chromium for the UI test. Needs root or sudo; does nothing when all
# are present.
set -euo pipefail

missing=()
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
# The stack runs its own redis-server, on its own port, in the distributed profile only;
# installed for both so that switching profiles needs no install step.
command -v redis-server >/dev/null || missing+=(redis-server)
if [[ "${WITH_BROWSER:-0}" == 1 ]]; then
    command -v chromium >/dev/null || missing+=(chromium)
fi
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo "install: apt-get install ${missing[*]} ..."
# The stack runs its own PostgreSQL cluster on its own port; Debian's default cluster on
# 5432 is not wanted. Debian's own redis-server service (on 6379) is not wanted either:
# it is disabled below if the package started it.
$sudo mkdir -p /etc/postgresql-common
echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.conf >/dev/null
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [[ " ${missing[*]} " == *" redis-server "* ]] && command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    $sudo systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
echo "install: done (${missing[*]})"
