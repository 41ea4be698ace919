# scoutzoom daemon, CPU image (built from this checkout's pyproject.toml).
#
#   docker build -t scoutzoom:0.1.0 .
#   docker run -d --name scoutzoom -v /data/scans:/data/scans:ro -v /data/scoutzoom-output:/data/output \
#       -v scoutzoom-state:/var/lib/scoutzoom -p 127.0.0.1:9464:9464 --stop-timeout 90 scoutzoom:0.1.0
#
# GPU variant: the same file on top of the [gpu] extra (CUDA libraries come as PyPI wheels; the host
# needs the NVIDIA driver and the NVIDIA Container Toolkit):
#   docker build --build-arg EXTRAS=gpu -t scoutzoom:0.1.0-gpu .
#   docker run --gpus all ... scoutzoom:0.1.0-gpu
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the scoutzoom wheel from the project's own pyproject ---------------------------------------
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY daemon ./daemon
COPY pipeline ./pipeline
COPY models ./models
RUN python -m pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# --- runtime ----------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ARG EXTRAS=""
LABEL org.opencontainers.image.title="scoutzoom" \
      org.opencontainers.image.description="Resolution recovery for multiscale X-ray micro-CT: the watch-folder daemon" \
      org.opencontainers.image.licenses="Apache-2.0"

# libgomp1: OpenMP runtime used by the numerical wheels (ITK/RTK, ONNX Runtime, numba)
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

COPY --from=build /wheels /wheels
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN python -m venv /opt/scoutzoom/venv \
    && wheel="$(ls /wheels/scoutzoom-*.whl)" \
    && /opt/scoutzoom/venv/bin/pip install --no-cache-dir "${wheel}${EXTRAS:+[${EXTRAS}]}" \
    && rm -rf /wheels
# [gpu]: an extra cannot drop the base's CPU builds, which share files with the CUDA ones, so keep only the
# CUDA builds (docs/gpu.md, "the swap"): without this the image would run TensorFlow, ONNX Runtime and RTK on CPU.
RUN if [[ ",${EXTRAS}," == *",gpu,"* ]]; then \
        pip=/opt/scoutzoom/venv/bin/pip \
        && version() { /opt/scoutzoom/venv/bin/python -c "import importlib.metadata as m; print(m.version('$1'))"; } \
        && tf="$(version tensorflow)" && ort="$(version onnxruntime-gpu)" && rtk="$(version itk-rtk-cuda124)" \
        && "$pip" uninstall -y tensorflow-cpu onnxruntime itk-rtk \
        && "$pip" install --no-cache-dir --force-reinstall --no-deps \
            "tensorflow==${tf}" "onnxruntime-gpu==${ort}" "itk-rtk-cuda124==${rtk}"; \
    fi

# The daemon's config: watch /data/scans, write to /data/output, state (job store, model cache) in
# /var/lib/scoutzoom, metrics on all interfaces of the container (publish the port to choose who sees it).
# Mount your own file over /etc/scoutzoom/config.toml to change any key (`scoutzoom config example`).
RUN mkdir -p /etc/scoutzoom /data/scans /data/output /var/lib/scoutzoom \
    && printf '%s\n' 'state_dir = "/var/lib/scoutzoom"' '[watch]' 'roots = ["/data/scans"]' \
        '[output]' 'root = "/data/output"' '[metrics]' 'address = "0.0.0.0"' > /etc/scoutzoom/config.toml \
    && groupadd --system --gid 10001 scoutzoom \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/scoutzoom --shell /usr/sbin/nologin scoutzoom \
    && chown 10001:10001 /data/output /var/lib/scoutzoom

ENV PATH="/opt/scoutzoom/venv/bin:${PATH}" \
    SCOUTZOOM_STATE_DIR=/var/lib/scoutzoom \
    PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=2
# uid/gid 10001 (user scoutzoom): give it write access to the output root on the host
USER 10001:10001
WORKDIR /var/lib/scoutzoom
VOLUME ["/var/lib/scoutzoom"]
EXPOSE 9464
HEALTHCHECK --interval=60s --timeout=10s --start-period=120s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/metrics', timeout=5)"]
# SIGTERM: the running job is cancelled at its next checkpoint and re-queued (jobs.stop_timeout_s, 60 s);
# give `docker stop` longer than that (--stop-timeout 90 above).
STOPSIGNAL SIGTERM
ENTRYPOINT ["scoutzoom"]
CMD ["watch", "--config", "/etc/scoutzoom/config.toml"]
