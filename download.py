"""Download an official CycleGAN dataset, or an official pretrained generator.

    python download.py horse2zebra                # -> datasets/horse2zebra/trainA, trainB, ...
    python download.py --pretrained horse2zebra   # -> pretrained/horse2zebra.pth
    python download.py --list                     # the names of both

The names and the address pattern are those of the official
``datasets/download_cyclegan_dataset.sh``. The zip is checked before anything is unpacked: it
must pass ``ZipFile.testzip`` (every member's CRC), and every member must lie in the expected
layout ``<name>/<trainA|trainB|testA|testB|...>/<file>``, so a damaged or hostile archive
(absolute paths, ``..``) never writes outside its folder.

The pretrained generators are those of the official ``scripts/download_cyclegan_model.sh``,
from the address it uses: PyTorch ``.pth`` files (pickles, from before PyTorch 1.6). Each is
read once by ``nn.load_pth``, which runs nothing in it, and checked to be a ResNet generator
before it is kept; ``translate.py --checkpoint pretrained/<name>.pth`` then translates with
it. The weights are the authors'; they are not part of this project.
"""
import argparse
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile

__all__ = ["DATASETS", "BASE_URL", "PRETRAINED", "PRETRAINED_URL", "DownloadError",
           "dataset_url", "pretrained_url", "download", "verify_zip", "extract",
           "download_dataset", "download_pretrained"]

DATASETS = ("apple2orange", "summer2winter_yosemite", "horse2zebra", "monet2photo",
            "cezanne2photo", "ukiyoe2photo", "vangogh2photo", "maps", "cityscapes", "facades",
            "iphone2dslr_flower", "ae_photos")

# The address in the official download script (datasets/download_cyclegan_dataset.sh); the
# same files are published at http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/ (use
# --base-url if one is down).
BASE_URL = "https://people.eecs.berkeley.edu/~taesung_park/CycleGAN/datasets/"

# The names and the address of the official scripts/download_cyclegan_model.sh. Each name is
# one generator: horse2zebra translates horses into zebras, zebra2horse the other way.
PRETRAINED = ("apple2orange", "orange2apple", "summer2winter_yosemite", "winter2summer_yosemite",
              "horse2zebra", "zebra2horse", "monet2photo", "style_monet", "style_cezanne",
              "style_ukiyoe", "style_vangogh", "sat2map", "map2sat", "cityscapes_photo2label",
              "cityscapes_label2photo", "facades_photo2label", "facades_label2photo",
              "iphone2dslr_flower")
PRETRAINED_URL = "http://efrosgans.eecs.berkeley.edu/cyclegan/pretrained_models/"

_SPLIT = re.compile(r"^(train|test|val)[AB]$")


class DownloadError(RuntimeError):
    """The dataset could not be fetched or its archive was refused; the message says why."""


def dataset_url(name, base_url=BASE_URL):
    if name not in DATASETS:
        raise DownloadError(f"unknown dataset {name!r}; the official ones are: "
                            + ", ".join(DATASETS))
    return base_url.rstrip("/") + f"/{name}.zip"


def pretrained_url(name, base_url=PRETRAINED_URL):
    if name not in PRETRAINED:
        raise DownloadError(f"unknown pretrained model {name!r}; the official ones are: "
                            + ", ".join(PRETRAINED))
    return base_url.rstrip("/") + f"/{name}.pth"


def _human(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024


def download(url, path, timeout=60, chunk=1 << 20, stream=sys.stderr):
    """Fetch ``url`` into ``path`` (written as ``path.part``, renamed when complete),
    showing progress on ``stream``. Raises DownloadError when the address cannot be reached."""
    part = path + ".part"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(part, "wb") as f:
            total = int(response.headers.get("Content-Length") or 0)
            done, start, shown = 0, time.monotonic(), 0.0
            while True:
                block = response.read(chunk)
                if not block:
                    break
                f.write(block)
                done += len(block)
                now = time.monotonic()
                if now - shown > 0.5 or (total and done == total):
                    shown = now
                    rate = done / max(now - start, 1e-9)
                    share = f"{100 * done / total:5.1f}% of {_human(total)}" if total else ""
                    print(f"\r  {_human(done):>10} {share}  {_human(rate)}/s", end="",
                          file=stream, flush=True)
        print(file=stream)
    except (urllib.error.URLError, OSError) as e:
        if os.path.exists(part):
            os.remove(part)
        reason = getattr(e, "reason", e)
        raise DownloadError(f"cannot download {url}: {reason}. Check the network connection "
                            "(or fetch the zip by hand and unpack it into datasets/).") from e
    os.replace(part, path)


def verify_zip(path, name):
    """Check ``path`` is an intact zip whose members all lie in ``<name>/<split>/<file>``.

    Returns the list of file members. Raises DownloadError naming the first problem.
    """
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise DownloadError(f"{path} is not a zip archive ({e}); delete it and try again") from e
    with archive:
        try:
            bad = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            bad = f"({e})"
        if bad is not None:
            raise DownloadError(f"{path} is damaged: member {bad} fails its CRC check; "
                                "delete it and download again")
        files = []
        for info in archive.infolist():
            parts = info.filename.split("/")
            if info.is_dir():
                parts = parts[:-1]  # "name/trainA/" -> ["name", "trainA"]
            unsafe = (info.filename.startswith("/") or "\\" in info.filename
                      or any(p in ("", ".", "..") for p in parts))
            expected = (parts[0] == name and len(parts) <= 3
                        and (len(parts) < 2 or _SPLIT.match(parts[1]) is not None))
            if unsafe or not expected or (not info.is_dir() and len(parts) != 3):
                raise DownloadError(f"{path}: member {info.filename!r} is outside the expected "
                                    f"layout {name}/trainA|trainB|testA|testB/<file>; refused")
            if not info.is_dir():
                files.append(info.filename)
    if not files:
        raise DownloadError(f"{path} holds no image files under {name}/")
    return files


def extract(path, name, root):
    """Unpack a verified zip into ``root/<name>``, through a temporary folder renamed at the
    end, so an interrupted unpack never leaves a half-filled dataset behind."""
    files = verify_zip(path, name)
    os.makedirs(root, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{name}-", dir=root)
    try:
        with zipfile.ZipFile(path) as archive:
            for member in files:  # verified names only; extract() would resolve them again
                target = os.path.join(tmp, *member.split("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with archive.open(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        os.replace(os.path.join(tmp, name), os.path.join(root, name))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return os.path.join(root, name)


def download_dataset(name, root="datasets", base_url=BASE_URL, stream=sys.stderr):
    """Download, verify and unpack dataset ``name``; returns its folder. A dataset already
    present is left as it is."""
    target = os.path.join(root, name)
    if os.path.isdir(target):
        print(f"{target} already exists; nothing to do", file=stream)
        return target
    url = dataset_url(name, base_url)
    os.makedirs(root, exist_ok=True)
    zip_path = os.path.join(root, f"{name}.zip")
    print(f"downloading {url}", file=stream)
    download(url, zip_path, stream=stream)
    try:
        extract(zip_path, name, root)
    finally:
        os.remove(zip_path)
    print(f"unpacked into {target}", file=stream)
    return target


def download_pretrained(name, root="pretrained", base_url=PRETRAINED_URL, stream=sys.stderr):
    """Download the official generator ``name`` into ``root/<name>.pth`` and check it (read
    without running anything, a ResNet generator); returns its path. A model already present
    is left as it is. A file that fails the check is deleted and DownloadError says why."""
    target = os.path.join(root, f"{name}.pth")
    url = pretrained_url(name, base_url)
    if os.path.isfile(target):
        print(f"{target} already exists; nothing to do", file=stream)
        return target
    os.makedirs(root, exist_ok=True)
    print(f"downloading {url}", file=stream)
    part = os.path.join(root, f"{name}.unchecked.pth")  # a .pth name: read as PyTorch's
    download(url, part, stream=stream)
    try:
        shape = _check_generator(part, stream)
    except ValueError as e:
        os.remove(part)
        raise DownloadError(f"{url} is not a usable generator, deleted: {e}") from e
    os.replace(part, target)
    print(f"saved {target}: {shape}", file=stream)
    return target


def _check_generator(path, stream):
    """A description of the generator in the .pth ``path``; ValueError when it is none."""
    import translate

    generator, _ = translate.read_generator(path, stream=stream)
    return translate.describe_architecture(generator.architecture)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", nargs="?", metavar="NAME",
                        help="dataset name: " + ", ".join(DATASETS))
    parser.add_argument("--pretrained", metavar="MODEL", help="download an official pretrained "
                        "generator instead: " + ", ".join(PRETRAINED))
    parser.add_argument("--root", help="where datasets live (default: datasets), or "
                        "pretrained models (default: pretrained)")
    parser.add_argument("--base-url", help=f"address of the dataset zips (default: {BASE_URL}) "
                        f"or of the pretrained models (default: {PRETRAINED_URL})")
    parser.add_argument("--list", action="store_true", help="print the names of the datasets "
                        "and of the pretrained models, and exit")
    args = parser.parse_args(argv)
    if args.name is not None and args.pretrained is not None:
        parser.error("give a dataset NAME or --pretrained MODEL, not both")
    if args.list or (args.name is None and args.pretrained is None):
        print("datasets (python download.py NAME):")
        print("\n".join("  " + name for name in DATASETS))
        print("pretrained generators (python download.py --pretrained MODEL):")
        print("\n".join("  " + name for name in PRETRAINED))
        return 0
    if args.name is not None and args.name not in DATASETS:
        hint = (f"; {args.name} is a pretrained model: --pretrained {args.name}"
                if args.name in PRETRAINED else "")
        parser.error(f"unknown dataset {args.name!r}{hint} (python download.py --list names "
                     "them all)")
    if args.pretrained is not None and args.pretrained not in PRETRAINED:
        parser.error(f"unknown pretrained model {args.pretrained!r} (python download.py --list "
                     "names them all)")
    try:
        if args.pretrained is not None:
            path = download_pretrained(args.pretrained, args.root or "pretrained",
                                       args.base_url or PRETRAINED_URL)
            print(f"translate with: python translate.py --checkpoint {path} photo.jpg",
                  file=sys.stderr)
        else:
            download_dataset(args.name, args.root or "datasets", args.base_url or BASE_URL)
    except DownloadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
