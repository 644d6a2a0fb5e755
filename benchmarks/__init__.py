"""The speed and accuracy benchmarks (``python benchmarks/<name>.py``, see benchmarks/README.md);
with the repository root on ``sys.path`` they import as ``benchmarks.<name>``, and the reference
implementation's computation pattern they time ours against as :mod:`benchmarks.reference`."""
