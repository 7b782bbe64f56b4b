"""Models: backbones and their weights, anomaly models, packages, the one inference path.

Models return raw scores and maps, never verdicts (``inspector.decision`` owns
thresholds). Import the submodules directly; this package imports nothing so
that importing ``inspector.ml`` does not pull in torch.
"""
