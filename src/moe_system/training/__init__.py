"""Training: turning a dataset into an expert package, and measuring experts on held-out tasks.

Modules here cover the data formats and splits, the trainer and its recipes, the evaluation of an expert
(or the base model) on the sql / python / math tasks (`evaluation.py`, behind `moe eval`), and the small
tools experts use to check or finish their answers (`tools.py`).
"""
