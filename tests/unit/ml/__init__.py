"""Tests of the anomaly model: backbone, PatchCore, packages, inference, fitting."""
