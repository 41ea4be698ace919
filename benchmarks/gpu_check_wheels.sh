#!/usr/bin/env bash
# Download the wheels benchmarks/gpu_check.sh installs offline on a CUDA machine that has PyTorch, JAX, CuPy,
# numba-cuda, numpy and scipy but no Keras and no network: keras and pydantic with their dependencies beyond
# numpy, for x86_64 Linux and each CPython of GPU_CHECK_PYTHONS. Run here (with network) before carrying the
# checkout over; the folder is git-ignored. About 40 MB for three Python versions.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${GPU_CHECK_WHEELS:-benchmarks/gpu_check_wheels}"
PYTHONS="${GPU_CHECK_PYTHONS:-3.10 3.11 3.12}"
PY="${PYTHON:-python3}"
# dist names only; gpu_check.sh installs each one whose module is missing there (--no-deps: never numpy)
PURE="keras absl-py rich markdown-it-py mdurl pygments namex packaging pydantic annotated-types typing-extensions typing-inspection"
BINARY="optree h5py ml-dtypes pydantic-core"
mkdir -p "$DEST"
# the versions this checkout's venv resolved (keras and pydantic as the project pins them; pydantic-core must match)
pins() {
    "$PY" - "$@" <<'PY'
import importlib.metadata as md, sys
for name in sys.argv[1:]:
    try:
        print(f"{name}=={md.version(name)}")
    except md.PackageNotFoundError:
        print(name)
PY
}
# shellcheck disable=SC2086
timeout 300 "$PY" -m pip download --quiet --no-deps --only-binary=:all: -d "$DEST" $(pins $PURE)
for version in $PYTHONS; do
    # shellcheck disable=SC2086
    timeout 300 "$PY" -m pip download --quiet --no-deps --only-binary=:all: -d "$DEST" \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        --implementation cp --python-version "$version" $(pins $BINARY)
done
ls "$DEST" | sed 's/^/  /'
du -sh "$DEST"
