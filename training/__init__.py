"""What train.py alone uses around its loop.

    options   the command line: the options, their checks and the defaults they resolve to
    guard     what wraps the loop: the checks before a run, Ctrl-C and SIGTERM, faults, and
              the one-paragraph messages they end in
    outputs   what a run writes besides its checkpoint: sample grids, the loss table and plot

What train.py shares with the other scripts (the data, the checkpoint, a generator's file, the
device, the progress bars) is in ``cyclegan_support``.
"""
