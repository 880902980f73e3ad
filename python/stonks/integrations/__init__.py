"""Callbacks that log a framework's training into a stonks run.

Each lives in its own module and imports its framework only when that module is imported:
``stonks.integrations.transformers`` (Hugging Face Trainer), ``stonks.integrations.keras``
(Keras 3). The PyTorch Lightning logger is ``stonks.lightning``.
"""
