"""Ray as an optional install, and joining (or starting) a Ray cluster for one job.

Ray is imported only here, and only when a scaled job runs: ``import mmdemo`` never imports it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from mmdemo.errors import ConfigError

logger = logging.getLogger(__name__)

INSTALL_COMMAND = "pip install -r requirements-scale.txt"
RAY_VERSION = "2.60.0"  # the pin in requirements-scale.txt
# Ray replaces 127.0.0.1 by the interface address; another loopback address keeps a local Ray on loopback (Linux).
LOCAL_NODE_IP = "127.0.0.2"
# Every mmdemo process a job starts on the cluster gets these (usage statistics stay off).
WORKER_ENV: dict[str, str] = {"RAY_USAGE_STATS_ENABLED": "0"}


def require_ray() -> ModuleType:
    """The ``ray`` module with Ray Data, or ConfigError naming the install command."""
    try:
        import ray
        import ray.data  # noqa: F401 - the part a scaled job needs
    except ImportError as err:
        raise ConfigError(
            f"--engine ray needs Ray Data, which is not installed ({err}). Install it with "
            f"`{INSTALL_COMMAND}` (Ray {RAY_VERSION}), or use --engine local."
        ) from err
    return ray


def project_root() -> Path:
    """The folder that holds the ``mmdemo`` package (put on the workers' PYTHONPATH)."""
    return Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def connected(address: str | None) -> Iterator[ModuleType]:
    """Ray connected for the block: to ``address`` (``auto``, ``HOST:PORT`` or ``ray://...``), or a
    Ray started on this machine (bound to 127.0.0.2) when None. Already connected: used as is.

    Workers get this checkout on their PYTHONPATH: every node must hold mmdemo at the same path
    (or have it installed), with the same models.
    """
    ray = require_ray()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if ray.is_initialized():
        yield ray
        return
    env = dict(WORKER_ENV)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(project_root()), os.environ.get("PYTHONPATH", "")) if p)
    options: dict = {"runtime_env": {"env_vars": env}, "logging_level": logging.WARNING}
    if address is None:
        options.update(include_dashboard=False, _node_ip_address=LOCAL_NODE_IP)
    else:
        options["address"] = address
    logger.info("Connecting to Ray at %s", address or "a new local instance")
    ray.init(**options)
    try:
        yield ray
    finally:
        ray.shutdown()
