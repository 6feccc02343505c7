"""Past one machine: embedding and indexing large collections on a Ray cluster with Ray Data.

Modules, one concept each: :mod:`~mmdemo.scale.listing` (what to embed), :mod:`~mmdemo.scale.shards`
(the plan and its durable results), :mod:`~mmdemo.scale.cluster` (Ray as an optional install),
:mod:`~mmdemo.scale.ray_embed` (the Ray Data pipeline), :mod:`~mmdemo.scale.merge` (shards into a
:class:`~mmdemo.retrieval.index.RetrievalIndex`), :mod:`~mmdemo.scale.features` (Fusion Lab
features on Ray) and :mod:`~mmdemo.scale.bench` (local vs Ray throughput).

Nothing here imports Ray until a Ray job runs.
"""
