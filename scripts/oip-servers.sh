#!/usr/bin/env bash
# Third-party Open Inference Protocol v2 servers for the cloud-fallback tests: MLServer 1.7.1 and
# KServe 0.21, each in its own Python venv from PyPI, serving an ONNX model with onnxruntime
# through the few-line runtimes in scripts/oip/.
#
# Usage:
#   bash scripts/oip-servers.sh install        creates the venvs (once; kept under $MOTE_OIP_VENVS)
#   bash scripts/oip-servers.sh start mlserver|kserve MODEL.onnx NAME PORT
#                                               starts one on 127.0.0.1:PORT, waits until ready,
#                                               prints its pid (stop it with kill PID)
# MOTE_OIP_VENVS defaults to target/oip-venvs (ignored by git, kept between CI runs on one machine).
set -euo pipefail
cd "$(dirname "$0")/.."
VENVS=${MOTE_OIP_VENVS:-$PWD/target/oip-venvs}

install_one() {
  local name=$1; shift
  [ -x "$VENVS/$name/bin/python" ] && "$VENVS/$name/bin/python" -c "import onnxruntime" 2>/dev/null && return 0
  echo "installing $name into $VENVS/$name ($*)"
  rm -rf "$VENVS/$name"
  python3 -m venv "$VENVS/$name"
  "$VENVS/$name/bin/pip" install -q --disable-pip-version-check "$@"
}

case ${1:-} in
  install)
    mkdir -p "$VENVS"
    start=$SECONDS
    install_one mlserver mlserver==1.7.1 onnxruntime==1.32.0 numpy==2.4.6
    install_one kserve kserve==0.21.0 onnxruntime==1.32.0 numpy==2.4.6
    echo "OIP server venvs ready in $((SECONDS - start)) s"
    ;;
  start)
    kind=$2 model=$(realpath "$3") name=$4 port=$5
    py="$VENVS/$kind/bin/python"
    [ -x "$py" ] || { echo "no $kind venv in $VENVS: run bash scripts/oip-servers.sh install" >&2; exit 2; }
    log=$(mktemp -t "mote-$kind-XXXX.log")
    case $kind in
      mlserver)
        dir=$(mktemp -d -t mote-mlserver-XXXX)
        cp scripts/oip/mlserver_runtime.py "$dir/"
        printf '{"host": "127.0.0.1", "http_port": %d, "grpc_port": %d, "metrics_port": %d, "parallel_workers": 0, "debug": false}\n' \
          "$port" $((port + 1)) $((port + 2)) >"$dir/settings.json"
        printf '{"name": "%s", "implementation": "mlserver_runtime.OnnxModel", "parameters": {"uri": "%s"}}\n' "$name" "$model" >"$dir/model-settings.json"
        setsid bash -c 'cd "$1" && exec "$2" start .' _ "$dir" "$VENVS/$kind/bin/mlserver" >"$log" 2>&1 &
        ;;
      kserve)
        setsid "$py" scripts/oip/kserve_server.py "$model" "$name" "$port" >"$log" 2>&1 &
        ;;
      *) echo "unknown server $kind" >&2; exit 2 ;;
    esac
    pid=$!
    for _ in $(seq 1 300); do
      if python3 -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$port/v2/models/$name/ready', timeout=1).status == 200 else 1)" 2>/dev/null; then
        echo "$pid"
        exit 0
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -- "-$pid" 2>/dev/null || true
    echo "$kind did not become ready on port $port; its log:" >&2
    cat "$log" >&2
    exit 1
    ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
