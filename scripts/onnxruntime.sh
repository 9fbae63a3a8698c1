#!/usr/bin/env bash
# onnxruntime.sh — install the official ONNX Runtime shared library (linux-x64,
# CPU) for ipbench's metrics/features package.
#
# Usage: scripts/onnxruntime.sh [TARGET_DIR]
#        (default: third_party/onnxruntime under the repository root)
#
# github.com/yalue/onnxruntime_go v1.27.0 is built against the ONNX Runtime
# 1.24.1 C API headers (ORT_API_VERSION 24), so the runtime must be 1.24.1.
# Microsoft publishes that exact build inside the npm package
# onnxruntime-node@1.24.1 at bin/napi-v6/linux/x64/libonnxruntime.so.1; this
# script fetches the package with `npm pack` (npm checks the registry's sha512
# integrity), extracts only that file and copies it to TARGET_DIR. Nothing is
# installed into node_modules and no install scripts are run.
#
# Needs: npm, tar. Override the version with ORT_NODE_VERSION (not advised:
# it must match the C API onnxruntime_go was built against).
set -euo pipefail

version="${ORT_NODE_VERSION:-1.24.1}"
target="${1:-$(cd "$(dirname "$0")/.." && pwd)/third_party/onnxruntime}"
lib="libonnxruntime.so.1"
member="package/bin/napi-v6/linux/x64/${lib}"

if [[ "$(uname -s)" != "Linux" || "$(uname -m)" != "x86_64" ]]; then
	echo "onnxruntime.sh: only linux-x64 is handled here (this is $(uname -s)-$(uname -m));" >&2
	echo "  get ONNX Runtime ${version} from https://github.com/microsoft/onnxruntime/releases" >&2
	exit 1
fi
command -v npm >/dev/null || { echo "onnxruntime.sh: npm not found (apt-get install npm)" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "fetching onnxruntime-node@${version} from the npm registry ..." >&2
tgz="$(cd "$tmp" && npm pack --silent "onnxruntime-node@${version}" | tail -n 1)"
if [[ ! -f "$tmp/$tgz" ]]; then
	echo "onnxruntime.sh: npm pack produced no tarball" >&2
	exit 1
fi
if ! tar -xzf "$tmp/$tgz" -C "$tmp" "$member" 2>/dev/null; then
	echo "onnxruntime.sh: ${member} not found in onnxruntime-node@${version}; its layout is:" >&2
	tar -tzf "$tmp/$tgz" | grep -i 'libonnxruntime' >&2 || true
	exit 1
fi

mkdir -p "$target"
install -m 0644 "$tmp/$member" "$target/$lib"
ln -sf "$lib" "$target/libonnxruntime.so"
abs="$(cd "$target" && pwd)/$lib"

# Report what was installed (the version string is embedded in the library).
got="$(grep -a -o -m 1 -E '^1\.[0-9]+\.[0-9]+$' <(strings "$abs" 2>/dev/null || true) | head -n 1 || true)"
echo "installed ONNX Runtime ${got:-$version} (onnxruntime-node@${version}, linux-x64, CPU):" >&2
echo "  $abs" >&2
echo "set:" >&2
echo "export ONNXRUNTIME_SHARED_LIBRARY_PATH=$abs"
