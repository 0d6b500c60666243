"""Trained runs: configurations and their identity, the run store, the training loop, evaluation, read-back of
finished runs and their committed records. Imports the layers below (core, evidence, model, data).
"""
