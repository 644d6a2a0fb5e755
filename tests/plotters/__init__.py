"""Tests of src.plotters (one file per module). A package, so that its test files do not clash
with the files of the same name in tests/experiments/ (test_toy.py, test_latent_ot.py, ...)."""
