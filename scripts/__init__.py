"""The repository's command-line scripts (``python scripts/<name>.py``); with the repository root
on ``sys.path`` their code imports as ``scripts.<name>`` (e.g. :mod:`scripts.figures`)."""
