"""``--gpu``: the array module to run on, or one paragraph saying why there is none."""
import nn

__all__ = ["select_device"]


def select_device(gpu, without="the run trains on the CPU"):
    """"cpu", or the CuPy module when ``gpu`` and a CUDA device answers.

    Raises RuntimeError with what is missing and what to do (install CuPy, check the driver),
    the same for every script that has a --gpu option; ``without`` says what happens
    without --gpu.
    """
    if not gpu:
        return "cpu"
    try:
        return nn.backend.load_cupy()
    except RuntimeError as e:
        hint = ("" if "not installed" in str(e) else " Check that `nvidia-smi` lists a GPU and "
                "that the CuPy package matches the CUDA version it reports;")
        raise RuntimeError(f"{e}{hint} without --gpu {without}.") from e
    except Exception as e:  # a broken CuPy install fails at import with its own errors
        raise RuntimeError(f"--gpu: CuPy is installed but does not import ({e}); reinstall the "
                           "build for your CUDA version (pip install cupy-cuda12x for CUDA 12, "
                           "cupy-cuda13x for CUDA 13); without "
                           f"--gpu {without}.") from e
