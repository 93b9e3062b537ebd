"""Evaluation: how well a method finds labelled anomalies.

:mod:`~revwatch.evaluation.metrics` (labels, point and event metrics, ``evaluate``
and ``compare`` over the generators), :mod:`~revwatch.evaluation.labelled` (labelled
data sets on disk) and :mod:`~revwatch.evaluation.advise` (seed 003's stepwise
framework)."""
