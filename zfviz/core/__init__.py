"""The floor: profiles, paths, parameters, names, locks, checkpoints, the machine signature and provenance.

Imports nothing else from zfviz (README "Layout").
"""
