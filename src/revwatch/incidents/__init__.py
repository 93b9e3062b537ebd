"""Incidents: from flagged cells to the records people act on.

:mod:`~revwatch.incidents.build` (the incident model and the one function that builds
incidents, tiers and FDR), :mod:`~revwatch.incidents.impact` (money moved, with
intervals), :mod:`~revwatch.incidents.rootcause` (which dimensions explain a total's
move) and :mod:`~revwatch.incidents.annotations` (holidays, month ends and user events
beside an incident)."""
