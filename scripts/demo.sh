#!/usr/bin/env bash
# A short story told with the real binary: a node on a fresh data directory, three images imported from
# root filesystem tars, a tag moved between them, the tag's history, a file read through the union view,
# a replay of every read model, and the same checksum before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
data=$(mktemp -d -t strata-demo.XXXXXX)
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
export STRATA_URL="http://127.0.0.1:$port" STRATA_DATA_DIR="$data" STRATA_LOG_FORMAT=json
node bin/strata.js serve --port "$port" --data-dir "$data" >"$data/node.log" 2>&1 &
node_pid=$!
trap 'kill $node_pid 2>/dev/null; wait $node_pid 2>/dev/null; rm -rf "$data"' EXIT
up() { node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$STRATA_URL/healthz"; }
for _ in $(seq 1 100); do up && break; sleep 0.1; done
up || { echo "the node did not start; its log:"; cat "$data/node.log"; exit 1; }
strata() { node bin/strata.js "$@"; }
say() { printf '\n\033[1m# %s\033[0m\n' "$*"; }

say "A node is running at $STRATA_URL (data in $data)"
say "Create a public repository"
strata repo create demo/app --public
say "Import three builds (root filesystem tars, like docker import), each tagged demo/app:latest in turn"
for build in v1 v2 v3; do
  mkdir -p "$data/rootfs-$build/etc"
  echo "build $build" > "$data/rootfs-$build/etc/release"
  tar -C "$data/rootfs-$build" -cf "$data/rootfs-$build.tar" .
  strata import "$data/rootfs-$build.tar" demo/app:latest --message "build $build"
  sleep 1
done
strata tag demo/app:latest demo/app:stable
say "The images (shared layers counted once)"
strata images
say "Read a file of demo/app:stable without unpacking it"
strata image cat demo/app:stable /etc/release
say "Where has demo/app:latest pointed, and who moved it?"
strata repo history demo/app:latest
say "The audit log of everything that happened"
strata events --since 0
if [ "$(id -u)" = 0 ] && command -v runc >/dev/null && [ -x /bin/busybox ]; then
  say "A container from a busybox-static image: its process changes files, diff shows them"
  mkdir -p "$data/bb/bin" "$data/bb/etc" && cp /bin/busybox "$data/bb/bin/"
  for a in sh echo cat rm mkdir ls; do ln -s busybox "$data/bb/bin/$a"; done
  echo 'Welcome' > "$data/bb/etc/motd"
  tar -C "$data/bb" -cf "$data/bb.tar" .
  strata import "$data/bb.tar" busybox:latest
  strata run --name story busybox sh -c 'echo hello > /greeting; rm /etc/motd; mkdir -p /srv && echo x > /srv/a; echo done'
  strata diff story
  say "Commit the writable layer: a new image whose parent is busybox"
  strata commit --author 'Ada <ada@example.com>' -m 'the story' story demo/app:1
  strata history demo/app:1
  say "The container's whole life, one line per event"
  strata container history story
else
  say "(skipping the container story: it needs root, runc and busybox-static)"
fi
say "Throw away every read model and rebuild it from the log"
strata replay
say "Same checksum before and after: the read models are a pure function of the log."
