"""The pretraining program of the bundled models, on the shapes world (:mod:`mmdemo.world`).

- :mod:`~mmdemo.pretrain.configs`: the bundled models' settings, passed to :mod:`mmdemo.model_factory`;
- :mod:`~mmdemo.pretrain.pool`: the in-memory pool of training samples;
- :mod:`~mmdemo.pretrain.loop`: one optimisation stage (:class:`StageConfig`, :class:`StageLog`);
- :mod:`~mmdemo.pretrain.contrastive`: the symmetric InfoNCE loss;
- :mod:`~mmdemo.pretrain.train_clip`, :mod:`~mmdemo.pretrain.train_audio`,
  :mod:`~mmdemo.pretrain.train_blip`: the three stages;
- :mod:`~mmdemo.pretrain.evaluate`: the figures of saved models on held-out world samples;
- :mod:`~mmdemo.pretrain.program`: the whole run (``python -m mmdemo pretrain``).
"""
