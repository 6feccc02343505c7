"""`python app.py` with no arguments on a machine without the hub: the bundled models, said on the page."""

from __future__ import annotations

from gradio_client import Client, handle_file

from tests.app.conftest import EXAMPLES
from tests.app.server import running_app


def test_default_start_without_the_hub_uses_the_bundled_models(tmp_path):
    env = {"HF_HOME": str(tmp_path / "empty-hf-home"), "HF_HUB_OFFLINE": "1"}  # nothing cached, no hub
    with running_app(["--runs-dir", str(tmp_path / "runs")], tmp_path, env=env) as url:
        client = Client(url, verbose=False)
        status = client.predict(api_name="/status")
        assert "**Models: bundled preset** (no network to" in status
        assert "`bundled-caption` (bundled," in status and "missing" not in status
        best, _ = client.predict(handle_file(str(EXAMPLES / "scene_3.png")), "greedy", 1, 3, 30, 0.9, 1.0, "", 0,
                                 api_name="/caption")
        assert best.startswith("a large yellow triangle in the middle")
