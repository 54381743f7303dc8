"""Machine labels once the machine stage has written them: merging the labelling shards into
the project (:mod:`.merge`), choosing the machine joints a detector may train on
(:mod:`.selection`, with :mod:`.hand_geometry`'s checks of a hand's shape), and measuring
labels against ground truth (:mod:`.evaluation`: errors, views curve, flag quality).

numpy and the store only (no torch): ``annotator merge`` and ``annotator evaluate`` run on
a machine without the network stack. Layered above the store, beside session, interchange
and synth (import-linter).
"""
