#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real (nats-server, runc, busybox-static, umoci,
# skopeo, docker-registry, attr for the overlay snapshotter's xattrs, docker-compose to validate
# docker-compose.yml without an engine) when any is missing. Needs root and Debian's apt; says what is missing otherwise.
set -euo pipefail
declare -A need=( [nats-server]=nats-server [runc]=runc [busybox]=busybox-static [umoci]=umoci
                  [skopeo]=skopeo [docker-registry]=docker-registry [setfattr]=attr [docker-compose]=docker-compose )
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/bin/$cmd" ] || missing+=("${need[$cmd]}")
done
[ ${#missing[@]} -eq 0 ] && { echo "system packages: all present"; exit 0; }
echo "system packages missing: ${missing[*]}"
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "cannot install them: run as root on Debian, or install: apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's docker-registry package starts a service on :5000; tests start their own on free ports.
(systemctl stop docker-registry 2>/dev/null || service docker-registry stop 2>/dev/null || true) >/dev/null 2>&1
echo "system packages installed: ${missing[*]}"
