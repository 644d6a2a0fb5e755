"""Tests of src.baselines (one file per module). A package, so that its test_common.py does not
clash with the other folders' test files of the same name."""
