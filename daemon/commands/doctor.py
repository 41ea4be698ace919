"""``scoutzoom doctor``: which FDK backends, inference runtimes, Keras backends and GPUs are usable here, and why not.

Exits 1 when a component the configuration asks for (``pipeline.reconstruction.backend``,
``pipeline.inference.runtime``, the Keras backend of ``KERAS_BACKEND``/keras.json) is not
usable; ``auto`` asks for at least one usable of its kind.
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pydantic import BaseModel

from daemon import exit_codes
from models.runtimes.probe import Check

RUNTIMES = ("tensorrt", "onnxruntime", "keras")


class Configured(BaseModel):
    """What the configuration asks for."""

    source: str
    fdk_backend: str
    inference_runtime: str
    keras_backend: str


class DoctorReport(BaseModel):
    """Everything ``doctor`` found (the ``--json`` document)."""

    configured: Configured
    fdk_backends: list[Check]
    inference_runtimes: list[Check]
    keras_backends: list[Check]
    gpus_seen: list[str]
    missing: list[str]
    ok: bool


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="which FDK backends, inference runtimes, Keras backends and GPUs are usable here",
        description="Probe every FDK backend, inference runtime and Keras backend (GPU libraries in child "
        "processes) and the GPUs each sees. Exit status 1 when a configured one is not usable.",
    )
    parser.add_argument("--config", type=Path, help="TOML config file (default: the built-in defaults)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout (same exit code)")
    parser.add_argument(
        "--deep", action="store_true", help="also load RTK's FDK in a child process (about 45 s on 2 busy cores)"
    )
    parser.set_defaults(func=run)


def configured(config_path: Path | None) -> Configured:
    """The backends the config at ``config_path`` (or the defaults) selects."""
    from daemon.config import load_config
    from models.runtimes.probe import configured_keras_backend

    config = load_config(config_path)
    return Configured(
        source=str(config_path) if config_path else "defaults",
        fdk_backend=config.pipeline.reconstruction.backend,
        inference_runtime=config.pipeline.inference.runtime,
        keras_backend=configured_keras_backend(),
    )


def missing_configured(
    wanted: Configured, fdk: list[Check], runtimes: list[Check], keras_backends: list[Check]
) -> list[str]:
    """Each configured component that is not usable, with the reason (``auto``: none of its kind is)."""
    missing = []
    for kind, name, checks in (
        ("reconstruction backend", wanted.fdk_backend, fdk),
        ("inference runtime", wanted.inference_runtime, runtimes),
        ("Keras backend", wanted.keras_backend, keras_backends),
    ):
        by_name = {check.name: check for check in checks}
        if name == "auto":
            if not any(check.usable for check in checks):
                missing.append(f"{kind} auto: none usable")
        elif name not in by_name:
            missing.append(f"{kind} {name!r}: unknown")
        elif not by_name[name].usable:
            missing.append(f"{kind} {name!r}: {by_name[name].reason}")
    return missing


def collect(wanted: Configured, deep: bool = False) -> DoctorReport:
    """Run every probe (child processes, in parallel) and judge the configured components."""
    from models.runtimes import probe
    from pipeline.reconstruct.backends.usable import fdk_backend_checks

    with ThreadPoolExecutor(max_workers=6) as pool:
        fdk = pool.submit(fdk_backend_checks, deep)
        onnx = pool.submit(probe.onnxruntime_check)
        tensorrt = pool.submit(probe.tensorrt_check)
        backends = [pool.submit(probe.keras_backend_check, name) for name in probe.KERAS_BACKENDS]
        runtimes = {"tensorrt": tensorrt.result(), "onnxruntime": onnx.result(), "keras": probe.keras_runtime_check()}
        keras_backends = [future.result() for future in backends]
        fdk_checks = fdk.result()
    runtime_checks = [runtimes[name] for name in RUNTIMES]
    gpus = sorted(
        {
            f"{check.name}: {device}"
            for check in [*fdk_checks, *runtime_checks, *keras_backends]
            for device in check.devices
        }
    )
    missing = missing_configured(wanted, fdk_checks, runtime_checks, keras_backends)
    return DoctorReport(
        configured=wanted,
        fdk_backends=fdk_checks,
        inference_runtimes=runtime_checks,
        keras_backends=keras_backends,
        gpus_seen=gpus,
        missing=missing,
        ok=not missing,
    )


def _print_text(report: DoctorReport) -> None:
    wanted = report.configured
    print(
        f"configured ({wanted.source}): reconstruction {wanted.fdk_backend}, inference {wanted.inference_runtime}, "
        f"Keras backend {wanted.keras_backend}"
    )
    for title, checks in (
        ("FDK backends", report.fdk_backends),
        ("inference runtimes", report.inference_runtimes),
        ("Keras backends", report.keras_backends),
    ):
        print(f"{title}:")
        for check in checks:
            state = "usable" if check.usable else f"unavailable: {check.reason}"
            version = f" {check.version}" if check.version else ""
            devices = ", ".join(check.devices) if check.devices else (check.device_note or "")
            print(f"  {check.name}{version}: {state}" + (f" [{devices}]" if devices and check.usable else ""))
    print("GPUs seen: " + (", ".join(report.gpus_seen) if report.gpus_seen else "none"))
    for line in report.missing:
        print(f"missing: {line}")
    print("ok" if report.ok else "configured components missing")


def run(args: argparse.Namespace) -> int:
    report = collect(configured(args.config), deep=args.deep)
    if args.json:
        print(json.dumps(report.model_dump(), indent=2))
    else:
        _print_text(report)
    return exit_codes.OK if report.ok else exit_codes.FAILED
