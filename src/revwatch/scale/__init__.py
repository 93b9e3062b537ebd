"""Data bigger than memory: :mod:`~revwatch.scale.partitioned` (series-partitioned
processing) and :mod:`~revwatch.scale.spark` (the same scoring on Spark)."""
