"""The book: executing chapters (``execute``), the chapters and their parameters, the compute plan, figures, the
feature atlas and the one-realization consistency check. The top layer below the entry points.
"""
