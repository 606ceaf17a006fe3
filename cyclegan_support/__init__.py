"""What the scripts share around the model: data, files, the device, progress bars.

    data            image folders, reading one image, the unpaired epoch sampler
    builtin_data    the day2night dataset, drawn from a seed, with known true translations
    checkpoint      a training checkpoint (train.py writes and resumes it; translate.py reads
                    a generator from it)
    generator_file  one generator with its architecture: written by train.py and
                    translate.py --export, read from any file that holds one
    sample_grid     batches of images as one labelled PNG grid
    progress        the progress bars on stderr (training, translation)
    device          choosing the CPU or a CUDA GPU for --gpu

The model itself is ``cyclegan.py`` and the library ``nn``; train.py, translate.py and
download.py are the scripts a user runs; what train.py alone uses is in ``training``.
"""
