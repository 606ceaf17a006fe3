"""What the scripts share around the model: data, outputs, checkpoints, the device, the run.

    data          image folders, reading one image, the unpaired epoch sampler
    builtin_data  the day2night dataset, drawn from a seed, with known true translations
    training_io   what a run writes: sample grids, the loss table and plot, checkpoints,
                  each generator alone (with its architecture), and the names of these files
    progress      the progress bar on stderr
    device        choosing the CPU or a CUDA GPU for --gpu
    options       train.py's command line and the defaults it resolves to
    safeguards    what surrounds train.py's loop: the checks before a run, Ctrl-C and
                  SIGTERM, faults, and the one-paragraph messages they end in

The model itself is ``cyclegan.py`` and the library ``nn``; train.py, translate.py and
download.py are the scripts a user runs.
"""
