#!/usr/bin/env bash
# The bridge's SNS signature verification beside two peers, same messages, certificates served
# from memory: npm sns-validator 0.3.5 and PyPI aws-sns-message-validator 0.0.5 (SignatureVersion
# 1 only). Installs the peers under target/ (ignored), runs the criterion `verify_vector` bench,
# prints µs/msg and ratios. `make bench-peers`; not part of `make test`.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
vectors="${VECTORS:-$(cd "$root/../shared/sns-vectors" && pwd)}"
target="${CARGO_TARGET_DIR:-$root/target}"
work="$target/bench-peers"
iterations="${ITERATIONS:-5000}"
all=(php-2022-lambda-subjectnull-sha256 php-2022-notification-sha1 php-2022-notification-sha256
     php-2022-notification-subject-sha1 php-2022-notification-subject-sha256)
sv1=(php-2022-notification-sha1 php-2022-notification-subject-sha1)

mkdir -p "$work"
if [ ! -d "$work/node_modules/sns-validator" ]; then
  echo "bench-peers: installing npm sns-validator@0.3.5" >&2
  npm install --silent --no-audit --no-fund --prefix "$work" sns-validator@0.3.5 >/dev/null
fi
if [ ! -x "$work/venv/bin/python" ]; then
  echo "bench-peers: installing PyPI aws-sns-message-validator==0.0.5" >&2
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install -q --disable-pip-version-check aws-sns-message-validator==0.0.5
fi

echo "bench-peers: criterion (Rust)" >&2
(cd "$root" && cargo bench -q -p sns-bridge --bench decision -- --noplot >&2)

declare -A rust js python
for name in "${all[@]}"; do
  ns=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["mean"]["point_estimate"])' \
    "$target/criterion/verify_vector/$name/new/estimates.json")
  rust[$name]=$(python3 -c "print(f'{$ns/1000:.2f}')")
done
while read -r name us; do js[$name]=$us; done < <(NODE_PATH="$work/node_modules" node "$here/js_peer.js" "$vectors" "$iterations" "${all[@]}")
while read -r name us; do python[$name]=$us; done < <("$work/venv/bin/python" "$here/python_peer.py" "$vectors" "$iterations" "${sv1[@]}")

decision=$(python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["mean"]["point_estimate"] / 1000))' \
  "$target/criterion/request_to_decision_notification_sv2_cached_key/new/estimates.json")
echo
echo "request -> decision (valid Notification, cached key): $decision µs"
echo
printf '%-40s %10s %10s %10s %8s %8s\n' "vector (µs/msg)" rust python js "py/rust" "js/rust"
for name in "${all[@]}"; do
  py="${python[$name]:--}"
  py_ratio=$([ "$py" = "-" ] && echo "-" || python3 -c "print(f'{$py/${rust[$name]}:.1f}x')")
  js_ratio=$(python3 -c "print(f'{${js[$name]}/${rust[$name]}:.1f}x')")
  printf '%-40s %10s %10s %10s %8s %8s\n' "$name" "${rust[$name]}" "$py" "${js[$name]}" "$py_ratio" "$js_ratio"
done
