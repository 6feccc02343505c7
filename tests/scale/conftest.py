"""A two-node Ray cluster on loopback (127.0.0.2 and 127.0.0.3, 2 logical CPUs each; Ray rewrites 127.0.0.1 to the interface address) and a folder of
bundled-world images, shared by the Ray tests of this folder. Skipped without Ray."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
N_IMAGES = 64
BATCH_SIZE = 8


@pytest.fixture(scope="session")
def world_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``N_IMAGES`` bundled-world PNGs in two sub-folders, plus one corrupt PNG and one ignored file."""
    from mmdemo.storage import atomic_write_bytes
    from mmdemo.world.dataset import _png_bytes, generate

    folder = tmp_path_factory.mktemp("world-images")
    for sample in generate("test", N_IMAGES):
        sub = "a" if int(sample.stem) % 2 else "b"
        atomic_write_bytes(folder / sub / f"{sample.stem}.png", _png_bytes(sample.image()))
    (folder / "b" / "broken.png").write_bytes(b"\x89PNG not really")
    (folder / "notes.md").write_text("not media")
    return folder


@pytest.fixture(scope="session")
def world_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 24-row bundled-world manifest (text, image, audio, labels) whose row 4 has a corrupt image."""
    from mmdemo.world.dataset import write_split

    manifest = write_split(tmp_path_factory.mktemp("world-manifest"), "train", 24)
    (manifest.parent / "images" / "000003.png").write_bytes(b"not a png")
    return manifest


def _loopback_only(ray) -> list[str]:  # noqa: ANN001
    return [node["NodeManagerAddress"] for node in ray.nodes() if node["Alive"]]


@pytest.fixture(scope="module")
def ray_cluster():
    """Yields (cluster, worker node); everything is shut down afterwards."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install -r requirements-scale.txt)")
    pytest.importorskip("ray.data", reason="Ray Data is not installed (pip install -r requirements-scale.txt)")
    from ray.cluster_utils import Cluster

    saved = {name: os.environ.get(name) for name in ("RAY_USAGE_STATS_ENABLED", "RAY_AUTH_MODE", "PYTHONPATH")}
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    os.environ["RAY_AUTH_MODE"] = "disabled"  # every process of the test cluster, or joining fails
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), saved["PYTHONPATH"] or "") if p)
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 2, "node_ip_address": "127.0.0.2", "include_dashboard": False,
                        "object_store_memory": 150 * 1024 * 1024},
    )
    try:
        worker = cluster.add_node(num_cpus=2, node_ip_address="127.0.0.3", object_store_memory=150 * 1024 * 1024)
        cluster.wait_for_nodes(timeout=60)
        from mmdemo.scale.cluster import WORKER_ENV

        ray.init(address=cluster.address, logging_level="WARNING",
                 runtime_env={"env_vars": {**WORKER_ENV, "PYTHONPATH": os.environ["PYTHONPATH"]}})
        addresses = _loopback_only(ray)
        assert len(addresses) == 2 and all(a.startswith("127.") for a in addresses), addresses
        yield cluster, worker
    finally:
        ray.shutdown()
        cluster.shutdown()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
