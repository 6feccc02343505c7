"""How fast BLIP's vision tower alone learns kind and colour: ``python -m tests.world.tower_probe``.

A diagnostic for issue 16 (run from the repository root; minutes on a CPU). It trains a fresh
bundled-size BLIP vision tower with the per-column shape head of :mod:`mmdemo.pretrain.train_blip`
(half of every batch plain pool scenes, half fresh varied drawings, as ``--varied`` trains) and
prints, every ``--every`` steps, the head's kind and colour accuracy on 60 single shapes of three
sources: the world's plain test split, fresh varied drawings of the training generator, and this
package's held-out drawings (:mod:`tests.world.held_out`). The head names the shape of the column it
finds most surely occupied. A tower that cannot name the kind of the training generator's own
drawings is undertrained; one that names those but not the held-out ones does not generalise.
"""

from __future__ import annotations

import argparse
import logging

import numpy as np
import torch
from torch import nn

from mmdemo.model_factory import BlipShape
from mmdemo.pretrain.configs import build_blip
from mmdemo.pretrain.evaluate import evaluation_set
from mmdemo.pretrain.loop import StageConfig, run_stage
from mmdemo.pretrain.pool import build_pool, image_tensor, pixel_values
from mmdemo.pretrain.program import cpu_settings
from mmdemo.pretrain.train_blip import COLUMN_LABELS, column_tokens, fresh_varied_batch, shape_head_loss
from mmdemo.world.dataset import WorldConfig
from mmdemo.world.render import render_scene, sample_style, to_model_input
from mmdemo.world.scenes import COLOUR_NAMES, KINDS, sample_free_scene
from tests.world.held_out import drawings

logger = logging.getLogger(__name__)


def probe_sets(n: int = 60) -> dict[str, tuple[list, list[tuple[str, str]]]]:
    """Model-input images and (colour, kind) labels of ``n`` single shapes per source."""
    world = WorldConfig(seed=0)
    plain = evaluation_set(world, 1, n).single
    rng = np.random.default_rng(99)
    scenes = [sample_free_scene(rng, count=1) for _ in range(n)]
    made = drawings(n)
    return {
        "plain": ([s.image() for s in plain], [(s.scene.shapes[0].colour, s.scene.shapes[0].kind) for s in plain]),
        "varied": ([to_model_input(render_scene(s, style=sample_style(rng))) for s in scenes], [(s.shapes[0].colour, s.shapes[0].kind) for s in scenes]),
        "held-out": ([to_model_input(d.image) for d in made], [(d.colour, d.kind) for d in made]),
    }


@torch.no_grad()
def head_accuracy(tower, head: nn.Linear, images, labels) -> tuple[float, float]:
    """Kind and colour accuracy of the head on single shapes (the column it finds most surely occupied)."""
    was_training = tower.training
    tower.eval()
    x = pixel_values(torch.stack([image_tensor(image) for image in images]))
    logits = head(column_tokens(tower(pixel_values=x).last_hidden_state))  # [B, columns, classes]
    tower.train(was_training)
    kinds, colours = logits[..., : 1 + len(KINDS)], logits[..., 1 + len(KINDS) : 2 + len(KINDS) + len(COLOUR_NAMES)]
    column = (1 - kinds.softmax(-1)[..., 0]).argmax(1)  # [B]
    rows = torch.arange(len(column))
    kind = kinds[rows, column, 1:].argmax(-1)
    colour = colours[rows, column, 1:].argmax(-1)
    kind_right = [KINDS[int(k)] == want for k, (_, want) in zip(kind, labels)]
    colour_right = [COLOUR_NAMES[int(c)] == want for c, (want, _) in zip(colour, labels)]
    return float(np.mean(kind_right)), float(np.mean(colour_right))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.world.tower_probe", description=__doc__.split("\n\n")[0])
    parser.add_argument("--patch", type=int, default=32, help="patch side of the 96x96 input (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--every", type=int, default=100, help="report every this many steps")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--position-scale", type=float, default=1.0, help="scale the initial position embeddings by this (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with cpu_settings(args.threads):
        pool = build_pool(2000, WorldConfig(seed=0), "train")
        torch.manual_seed(0)
        captioner, _, _ = build_blip(BlipShape(patch_size=args.patch), True, True)
        tower = captioner.vision_model
        with torch.no_grad():
            tower.embeddings.position_embedding.mul_(args.position_scale)
        head = nn.Linear(tower.config.hidden_size, sum(1 + len(values) for _, values in COLUMN_LABELS))
        sets = probe_sets()
        rng = np.random.default_rng(3)

        def report(step: int) -> None:
            parts = [f"{name} kind {k:.2f} colour {c:.2f}" for name, (k, c) in ((n, head_accuracy(tower, head, *s)) for n, s in sets.items())]
            logger.info("step %d: %s", step, " | ".join(parts))

        def step_loss(step: int) -> dict[str, torch.Tensor]:
            if step % args.every == 0:
                report(step)
            fresh = args.batch // 2
            idx = rng.choice(len(pool), size=args.batch - fresh, replace=False)
            new_scenes, new_images = fresh_varied_batch(fresh, rng, pool.config.image_size)
            embeds = tower(pixel_values=pixel_values(torch.cat([pool.images[idx], new_images]))).last_hidden_state
            return {"shape": shape_head_loss(head, embeds, [pool.scenes[i] for i in idx] + new_scenes)}

        run_stage("tower", list(tower.parameters()) + list(head.parameters()), StageConfig(args.steps, args.batch, args.lr), step_loss)
        report(args.steps)


if __name__ == "__main__":
    main()
