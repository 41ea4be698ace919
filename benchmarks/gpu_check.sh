#!/usr/bin/env bash
# GPU check (issue 17), one prepared run of under 8 minutes on a CUDA machine with PyTorch, JAX, numba-cuda,
# numpy and scipy but no TensorFlow, Keras or ITK and no network:
#   1. installs keras and pydantic (and whatever of their dependencies is missing) offline from the wheels
#      benchmarks/gpu_check_wheels.sh downloaded, --no-deps into a scratch folder on PYTHONPATH;
#   2. runs benchmarks/gpu_check.py: training steps/s and inference voxels/s (1024 x 1024 x 64 slab) of the
#      standard U-Net on KERAS_BACKEND (default jax when it imports, else torch), and a numba-cuda back-projection
#      checked against the numba CPU one; JSON into $OUT/gpu_check.json, else benchmarks/results/gpu_check.json.
# CPU rehearsal: GPU_CHECK_SMALL=1 NUMBA_ENABLE_CUDASIM=1 benchmarks/gpu_check.sh (small sizes, CUDA simulator).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
WHEELS="${GPU_CHECK_WHEELS:-benchmarks/gpu_check_wheels}"
SITE="${GPU_CHECK_SITE:-${TMPDIR:-/tmp}/scoutzoom-gpu-check-site}"
BUDGET_S="${GPU_CHECK_BUDGET_S:-450}"

if [ -z "${KERAS_BACKEND:-}" ]; then
    if "$PY" -c "import jax" >/dev/null 2>&1; then KERAS_BACKEND=jax; else KERAS_BACKEND=torch; fi
fi
export KERAS_BACKEND
# JAX: do not grab 75 % of the device up front (the FDK check allocates through numba-cuda beside it)
export XLA_PYTHON_CLIENT_PREALLOCATE="${XLA_PYTHON_CLIENT_PREALLOCATE:-false}"

# dist:module pairs; a dist is installed only when its module does not import here
NEEDED="keras:keras absl-py:absl rich:rich markdown-it-py:markdown_it mdurl:mdurl pygments:pygments namex:namex
optree:optree h5py:h5py ml-dtypes:ml_dtypes packaging:packaging pydantic:pydantic pydantic-core:pydantic_core
annotated-types:annotated_types typing-extensions:typing_extensions typing-inspection:typing_inspection"
missing=()
for pair in $NEEDED; do
    "$PY" -c "import ${pair#*:}" >/dev/null 2>&1 || missing+=("${pair%%:*}")
done
mkdir -p "$SITE"
if [ "${#missing[@]}" -gt 0 ]; then
    echo "gpu_check: installing from $WHEELS: ${missing[*]}"
    "$PY" -m pip install --isolated --quiet --no-index --no-deps --find-links "$WHEELS" --target "$SITE" \
        --upgrade "${missing[@]}"
fi
export PYTHONPATH="$PWD:$SITE${PYTHONPATH:+:$PYTHONPATH}"
echo "gpu_check: KERAS_BACKEND=$KERAS_BACKEND, budget ${BUDGET_S} s"
timeout "$BUDGET_S" "$PY" benchmarks/gpu_check.py
