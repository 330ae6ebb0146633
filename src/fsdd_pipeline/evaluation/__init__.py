"""Evaluation: metrics and figures of one model, leave-one-speaker-out folds, the robustness
check, the model comparison, the lever table and the exploratory figures; ``plots`` gives
matplotlib to the functions that draw (nothing else imports it).

A new evaluation goes here as a module, with a script and a rule that call it.
"""
