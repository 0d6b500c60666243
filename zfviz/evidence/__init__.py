"""The registry and its statistics: claims (the rules that decide every verdict), stats, the paper's numbers and the
verdict boxes that report them. Imports only ``zfviz.core``.
"""
