"""Download an official CycleGAN dataset, or an official pretrained generator.

    python download.py horse2zebra                # -> datasets/horse2zebra/trainA, trainB, ...
    python download.py --pretrained horse2zebra   # -> pretrained/horse2zebra.pth
    python download.py --list                     # the names of both

The names and the address pattern are those of the official
``datasets/download_cyclegan_dataset.sh``. The zip is checked before anything is unpacked: it
must pass ``ZipFile.testzip`` (every member's CRC), every member must lie in the expected
layout ``<name>/<trainA|trainB|testA|testB|...>/<file>``, so a damaged or hostile archive
(absolute paths, ``..``) never writes outside its folder, and it may unpack to at most
``MAX_EXPANSION`` times its own size (images hardly compress), and only onto a disk with room
for it.

The pretrained generators are those of the official ``scripts/download_cyclegan_model.sh``,
from the address it uses: PyTorch ``.pth`` files (pickles, from before PyTorch 1.6). Each is
read once by ``nn.load_pth``, which runs nothing in it, and checked to be a ResNet generator
before it is kept; ``translate.py --checkpoint pretrained/<name>.pth`` then translates with
it. The weights are the authors'; they are not part of this project.
"""
import argparse
import http.client
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile

__all__ = ["DATASETS", "BASE_URL", "PRETRAINED", "PRETRAINED_URL", "MAX_EXPANSION",
           "DownloadError", "dataset_url", "pretrained_url", "download", "verify_zip", "extract",
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

# How many times its own size a dataset zip may unpack to. JPEG and PNG files are compressed
# already, so an image dataset's zip unpacks to little more than its size; a zip that claims
# far more is damaged or a zip bomb.
MAX_EXPANSION = 20

# the address schemes urllib fetches
_SCHEMES = ("https", "http", "ftp", "file")


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


def download(url, path, timeout=60, chunk=1 << 20, stream=sys.stderr, by_hand=None):
    """Fetch ``url`` into ``path`` (written as ``path.part``, renamed when complete),
    showing progress on ``stream``. Raises DownloadError when the address cannot be reached
    (the message ends with ``by_hand``, how to fetch the file without this script) or when the
    file cannot be written (a full disk); no ``.part`` file is left behind."""
    part = path + ".part"
    try:
        f = open(part, "wb")
    except OSError as e:
        raise DownloadError(f"cannot write {part} ({e.strerror or e}); choose a --root you can "
                            "write to") from e
    try:
        with f:
            _fetch(url, f, timeout, chunk, stream, by_hand)
    except BaseException:
        os.remove(part)
        raise
    os.replace(part, path)


def _fetch(url, f, timeout, chunk, stream, by_hand):
    """Copy ``url`` into the open file ``f``; DownloadError tells a failure to reach or read
    the address (the network) from a failure to write (the disk)."""
    def unreachable(e):
        reason = getattr(e, "reason", None) or e
        advice = f" ({by_hand})" if by_hand else ""
        return DownloadError(f"cannot download {url}: {reason}. Check the network connection"
                             f"{advice}.")

    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except ValueError as e:  # urllib's word for an address it cannot parse
        raise DownloadError(f"cannot download {url}: it is not an address ({e}); give "
                            "--base-url as https://..., http://... or file://...") from e
    except (OSError, http.client.HTTPException) as e:  # URLError is an OSError
        raise unreachable(e) from e
    with response:
        length = response.headers.get("Content-Length") or ""
        total = int(length) if length.isdigit() else 0  # unknown, or a header not a number
        done, start, shown = 0, time.monotonic(), 0.0
        while True:
            try:
                block = response.read(chunk)
            except (OSError, http.client.HTTPException) as e:
                raise unreachable(e) from e
            if not block:
                break
            try:
                f.write(block)
            except OSError as e:
                raise _unwritable(f, e, done, total) from e
            done += len(block)
            now = time.monotonic()
            if now - shown > 0.5 or (total and done == total):
                shown = now
                rate = done / max(now - start, 1e-9)
                share = f"{100 * done / total:5.1f}% of {_human(total)}" if total else ""
                print(f"\r  {_human(done):>10} {share}  {_human(rate)}/s", end="",
                      file=stream, flush=True)
    print(file=stream)
    try:
        f.flush()  # a full disk shows here at the latest, not when the file is closed
    except OSError as e:
        raise _unwritable(f, e, done, total) from e


def _unwritable(f, error, done, total):
    size = f"; the whole file is {_human(total)}" if total else ""
    return DownloadError(f"cannot write {f.name} ({error.strerror or error}) after "
                         f"{_human(done)}{size}: free some disk space, or choose another --root")


def verify_zip(path, name):
    """Check ``path`` is an intact zip whose members all lie in ``<name>/<split>/<file>``.

    Returns the list of file members. Raises DownloadError naming the first problem.
    """
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise DownloadError(f"{path} is not a zip archive ({e}); delete it and try again") from e
    with archive:
        unpacked, size = sum(i.file_size for i in archive.infolist()), os.path.getsize(path)
        if unpacked > MAX_EXPANSION * size:  # checked before testzip inflates anything
            raise DownloadError(f"{path} would unpack to {_human(unpacked)} from "
                                f"{_human(size)}, more than {MAX_EXPANSION} times its size, "
                                "which no image dataset does; refused (delete it and download "
                                "again)")
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
    end, so an interrupted unpack never leaves a half-filled dataset behind. The disk must
    have room for what the zip declares (``testzip`` has checked that no member holds more:
    a member is read up to its declared size and its CRC checked); a full disk all the same
    ends in a DownloadError and removes what was unpacked."""
    files = verify_zip(path, name)
    _make_folder(root)
    with zipfile.ZipFile(path) as archive:
        needed = sum(archive.getinfo(member).file_size for member in files)
    free = shutil.disk_usage(root).free
    if needed > free:
        raise DownloadError(f"{name} unpacks to {_human(needed)}, and {root} has "
                            f"{_human(free)} free: free some disk space, or choose another "
                            "--root")
    tmp = tempfile.mkdtemp(prefix=f".{name}-", dir=root)
    try:
        with zipfile.ZipFile(path) as archive:
            for member in files:  # verified names only; extract() would resolve them again
                target = os.path.join(tmp, *member.split("/"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with archive.open(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        os.replace(os.path.join(tmp, name), os.path.join(root, name))
    except OSError as e:
        raise DownloadError(f"cannot unpack {name} into {root} ({e.strerror or e}); it needs "
                            f"{_human(needed)}: free some disk space, or choose another "
                            "--root") from e
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return os.path.join(root, name)


def _make_folder(root):
    try:
        os.makedirs(root, exist_ok=True)
    except OSError as e:  # a file of that name, a read-only disk, no permission
        raise DownloadError(f"cannot create the folder {root} ({e.strerror or e}); choose "
                            "another --root") from e


def download_dataset(name, root="datasets", base_url=BASE_URL, stream=sys.stderr):
    """Download, verify and unpack dataset ``name``; returns its folder. A dataset already
    present is left as it is."""
    target = os.path.join(root, name)
    if os.path.isdir(target):
        print(f"{target} already exists; nothing to do", file=stream)
        return target
    url = dataset_url(name, base_url)
    _make_folder(root)
    zip_path = os.path.join(root, f"{name}.zip")
    print(f"downloading {url}", file=stream)
    download(url, zip_path, stream=stream,
             by_hand=f"or fetch {name}.zip by hand and unpack it into {root}{os.sep}")
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
    _make_folder(root)
    print(f"downloading {url}", file=stream)
    part = os.path.join(root, f"{name}.unchecked.pth")  # a .pth name: read as PyTorch's
    download(url, part, stream=stream,
             by_hand=f"or fetch {name}.pth by hand into {root}{os.sep}; translate.py checks "
                     "it when it reads it")
    try:
        shape = _check_generator(part, stream)
    except Exception as e:  # whatever the file makes the reader raise, it is not kept
        os.remove(part)
        detail = str(e) if isinstance(e, ValueError) else f"{type(e).__name__}: {e}"
        raise DownloadError(f"{url} is not a usable generator, deleted: {detail}") from e
    except BaseException:  # Ctrl-C while checking: nothing unchecked is left either
        os.remove(part)
        raise
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
    if args.base_url is not None and urllib.parse.urlsplit(args.base_url).scheme not in _SCHEMES:
        parser.exit(2, f"error: --base-url {args.base_url!r} is not an address; give one that "
                       "starts with https://, http://, ftp:// or file://\n")
    if args.root is not None and os.path.exists(args.root) and not os.path.isdir(args.root):
        parser.exit(2, f"error: --root {args.root!r} is a file, not a folder; give a folder "
                       "(it is created when missing)\n")
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
