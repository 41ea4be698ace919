"""The daemon's configuration file (TOML), validated with pydantic.

Unknown keys and wrong types are errors that name the key's path
(``watch.settle_s: ...``); :func:`load_config` reports every problem at once.
The ``[pipeline]`` table is a :class:`pipeline.config.ProcessConfig` on top of
its preset. Command-line flags are applied to the raw table before validation,
so they are checked the same way.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from models.errors import ConfigError, validation_problems
from pipeline.config import ProcessConfig, deep_merge, with_preset

DEFAULT_PROCESSOR = "pipeline.pair.process:process_pair"


def default_state_dir() -> Path:
    """systemd's ``$STATE_DIRECTORY``, else ``$XDG_STATE_HOME/scoutzoom``, else ``~/.local/state/scoutzoom``."""
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "scoutzoom"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WatchSection(_Section):
    """Which folders are watched and when a pair counts as ready."""

    roots: list[Path] = Field(default_factory=list, description="folders watched recursively for pairs")
    observer: Literal["auto", "inotify", "polling"] = Field("auto", description="polling for network shares")
    poll_interval_s: float = Field(5.0, gt=0, description="polling observer period and periodic re-check period")
    settle_s: float = Field(
        60.0, ge=0, description="a complete pair must be unchanged this long (a READY file skips it)"
    )
    stalled_after_s: float = Field(
        3600.0, gt=0, description="an incomplete pair unchanged this long is reported stalled"
    )
    follow_links: bool = Field(
        False, description="follow symbolic links (pairs, input files) that lead outside their watch root"
    )
    check_budget_s: float = Field(
        2.0, gt=0, description="longest the main loop spends checking pairs per pass (the rest wait for the next pass)"
    )
    loose_files: bool = Field(
        False,
        description="also pair loose scans (ZEISS .txrm/.txm, Nikon .xtekct, NXtomo, volume files) found outside "
        "scout/ + zoom/ folders by their metadata; off by default so an upgrade does not start processing every old "
        "vendor file already lying in a watch root",
    )
    loose_group_by: Literal["sample_id", "folder", "name"] = Field(
        "name",
        description="loose scans of one sample: the same file name without its role words in one folder "
        "(foam_scout.txrm + foam_zoom.txrm), the same folder, or the same sample id (a format without one, "
        "such as ZEISS, uses its file name)",
    )

    @field_validator("roots")
    @classmethod
    def _absolute(cls, roots: list[Path]) -> list[Path]:
        """Absolute, symlinks resolved: pairs are identified by path (``scoutzoom retry`` resolves too)."""
        return [root.expanduser().resolve() for root in roots]


class OutputSection(_Section):
    root: Path | None = Field(
        None, description="outputs go to <root>/<pair path relative to its watch root>/; default <state_dir>/output"
    )


class JobsSection(_Section):
    store: Path | None = Field(None, description="SQLite job store; default <state_dir>/jobs.sqlite3")
    concurrency: int = Field(1, ge=1, le=64, description="jobs run at the same time (one GPU job by default)")
    max_attempts: int = Field(3, ge=1, description="a job interrupted (crash, kill) this many times is failed")
    stop_timeout_s: float = Field(60.0, gt=0, description="on SIGTERM, wait this long for the running stage to stop")
    memory_budget_mb: int | None = Field(
        None,
        gt=0,
        description="a pair whose projections need more memory to read fails at the check (MiB); default half the RAM; "
        "keep it below the unit's MemoryHigh (70% of the RAM), with room for reconstruction and inference",
    )


class MetricsSection(_Section):
    enabled: bool = True
    address: str = Field("127.0.0.1", description="bind address of the Prometheus endpoint")
    port: int = Field(9464, ge=0, le=65535)


class LogSection(_Section):
    format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto: console on a terminal, JSON lines otherwise"
    )
    level: Literal["debug", "info", "warning", "error"] = "info"


class AdvancedSection(_Section):
    processor: str = Field(DEFAULT_PROCESSOR, description="'module:function' called for each pair (tests use a fake)")

    @field_validator("processor")
    @classmethod
    def _module_function(cls, value: str) -> str:
        module, _, function = value.partition(":")
        if not module or not function:
            raise ValueError(f"must be 'module:function' (got {value!r})")
        return value


class JobqueueCluster(_Section):
    """A dask-jobqueue cluster the daemon starts itself: each batch job (SLURM, PBS) runs Dask workers."""

    system: Literal["none", "slurm", "pbs"] = Field(
        "none", description="batch system; none: connect to executor.scheduler instead"
    )
    queue: str | None = Field(None, description="partition (SLURM) or queue (PBS) the jobs are submitted to")
    account: str | None = Field(None, description="account (project) charged for the jobs")
    cores: int = Field(
        8, ge=1, description="CPU cores booked per batch job, for the pipeline's threads (a worker runs one pair)"
    )
    memory: str = Field("64GB", description="memory per batch job (dask-jobqueue syntax: '64GB')")
    processes: int = Field(1, ge=1, description="Dask worker processes per batch job (one per GPU)")
    gpus_per_job: int = Field(
        0, ge=0, description="GPUs per batch job; each worker then declares the Dask resource GPU=gpus/processes"
    )
    walltime: str = Field(
        "24:00:00", description="batch job time limit; a job reaching it mid-pair is a lost worker (re-queued)"
    )
    jobs: int = Field(
        1, ge=1, description="batch jobs kept running, an ended one replaced (workers = jobs x processes)"
    )
    job_extra_directives: list[str] = Field(
        default_factory=list, description="extra '#SBATCH'/'#PBS' lines, e.g. ['--gres=gpu:1']"
    )
    job_script_prologue: list[str] = Field(
        default_factory=list, description="shell lines run before the worker starts (module load, venv activate)"
    )
    local_directory: str | None = Field(None, description="workers' scratch folder on the compute node")
    log_directory: str | None = Field(None, description="folder for the batch jobs' output files")

    @model_validator(mode="after")
    def _gpus_divide(self) -> JobqueueCluster:
        if self.gpus_per_job and self.gpus_per_job % self.processes:
            raise ValueError(
                f"gpus_per_job must be a multiple of processes (got {self.gpus_per_job} and {self.processes})"
            )
        return self


class ExecutorSection(_Section):
    """Where pair jobs run: in the daemon's own process (local) or on a Dask distributed cluster."""

    kind: Literal["local", "dask"] = Field("local", description="local: worker threads here; dask: a Dask cluster")
    scheduler: str | None = Field(None, description="address of a running Dask scheduler ('tcp://host:8786')")
    gpu: Literal["auto", "always", "never"] = Field(
        "auto",
        description="ask for the Dask resource GPU=1 per job (one job per card); auto: when the pipeline is the "
        "GPU preset (standard) or names a GPU backend or runtime",
    )
    connect_timeout_s: float = Field(30.0, gt=0, description="how long to wait for the scheduler at start")
    cluster: JobqueueCluster = Field(default_factory=JobqueueCluster)

    @model_validator(mode="after")
    def _one_cluster(self) -> ExecutorSection:
        if self.kind != "dask":
            return self
        if self.scheduler is None and self.cluster.system == "none":
            raise ValueError("kind 'dask' needs scheduler = 'tcp://...' or [executor.cluster] system (got neither)")
        if self.scheduler is not None and self.cluster.system != "none":
            raise ValueError(
                f"set either scheduler or cluster.system, not both (got {self.scheduler!r} and {self.cluster.system!r})"
            )
        return self


class DaemonConfig(_Section):
    """Everything ``scoutzoom watch`` needs; every key has a default except the watch roots."""

    state_dir: Path = Field(default_factory=default_state_dir, description="job store, model cache, default outputs")
    watch: WatchSection = Field(default_factory=WatchSection)
    output: OutputSection = Field(default_factory=OutputSection)
    jobs: JobsSection = Field(default_factory=JobsSection)
    metrics: MetricsSection = Field(default_factory=MetricsSection)
    log: LogSection = Field(default_factory=LogSection)
    advanced: AdvancedSection = Field(default_factory=AdvancedSection)
    executor: ExecutorSection = Field(default_factory=ExecutorSection)
    pipeline: ProcessConfig = Field(default_factory=ProcessConfig)

    @field_validator("pipeline", mode="before")
    @classmethod
    def _apply_preset(cls, value: Any) -> Any:
        """The preset's values first, then the table's own keys."""
        return with_preset(value) if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _fill_defaults(self) -> DaemonConfig:
        if self.output.root is None:
            self.output.root = self.state_dir / "output"
        if self.jobs.store is None:
            self.jobs.store = self.state_dir / "jobs.sqlite3"
        if self.pipeline.cache.directory is None:
            self.pipeline.cache.directory = self.state_dir / "models"
        return self

    @property
    def output_root(self) -> Path:
        assert self.output.root is not None
        return self.output.root

    @property
    def store_path(self) -> Path:
        assert self.jobs.store is not None
        return self.jobs.store


def read_table(path: Path) -> dict[str, Any]:
    """The raw TOML table of a config file; a :class:`ConfigError` if unreadable."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigError(str(path), [f"cannot read: {error.strerror or error}"]) from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(str(path), [f"not valid TOML: {error}"]) from error


def apply_overrides(table: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``table`` with dotted keys from ``overrides`` set (``None`` values are skipped)."""
    result = deep_merge({}, table)
    for dotted, value in overrides.items():
        if value is None:
            continue
        node = result
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return result


def validate_config(table: dict[str, Any], source: str = "config") -> DaemonConfig:
    """A :class:`DaemonConfig` from a raw table, or a :class:`ConfigError` listing every problem."""
    try:
        return DaemonConfig.model_validate(table)
    except ValidationError as error:
        raise ConfigError(source, validation_problems(error)) from None


def load_config(path: Path | None, overrides: dict[str, Any] | None = None) -> DaemonConfig:
    """Read ``path`` (or start from defaults when None), apply dotted ``overrides``, validate."""
    table = read_table(path) if path is not None else {}
    return validate_config(apply_overrides(table, overrides or {}), str(path) if path else "command line")


def filesystem_problems(config: DaemonConfig) -> list[str]:
    """Problems a schema cannot see: missing roots, outputs that would be watched as input."""
    problems = []
    if not config.watch.roots:
        problems.append("watch.roots: at least one root is needed")
    for index, root in enumerate(config.watch.roots):
        if not root.is_dir():
            problems.append(f"watch.roots.{index}: {root} is not a directory")
    return problems
