"""Files that users upload (the explorer's probe page): limits, safe storage, clean-up.

An upload is untrusted: a zip may be a bomb (a few hundred kilobytes that inflate to
gigabytes), its directory may lie about the sizes of its entries, and its entry names may
point outside the folder it is unpacked into. :class:`UploadStore` keeps one session's
uploads in a shared folder and enforces :class:`UploadLimits`:

* a zip's directory is checked before anything is written (number of files, size of each
  image, total size, compression ratio), and the bytes are counted again while they are
  written, so a header that lies cannot get past a limit: writing stops at it;
* a zip is unpacked into a temporary ``.part`` folder renamed into place only when complete,
  so a half-written folder is never used; its folder structure is kept (``a/x.png`` and
  ``b/x.png`` stay apart); entries that point outside it are refused;
* :meth:`UploadStore.prune` removes a session's uploads it no longer uses, and
  :func:`clean_stale_uploads` (run when the explorer starts) removes unfinished ``.part``
  folders and uploads older than a maximum age.

Errors are :class:`UploadError` (a ``ValueError``) whose message names the user's file, never
the server's path; :meth:`UploadStore.explain` rewrites other errors the same way.

Configuration
-------------
Read from environment variables (the one place they are set; the explorer states the limits
next to its upload boxes):

* ``MANIFOLD_LAB_UPLOAD_DIR``: where uploads are kept (default ``<tmp>/manifold_lab_uploads``);
* ``MANIFOLD_LAB_UPLOAD_MAX_TOTAL_MB``: uncompressed size of a zip's images in total (256);
* ``MANIFOLD_LAB_UPLOAD_MAX_FILES``: entries in a zip (10000);
* ``MANIFOLD_LAB_UPLOAD_MAX_FILE_MB``: one image in a zip, or a model file (64);
* ``MANIFOLD_LAB_UPLOAD_MAX_RATIO``: compression ratio x:1 of an entry and of a zip (100);
* ``MANIFOLD_LAB_UPLOAD_MAX_AGE_HOURS``: age after which unused uploads are removed (24).

(1 MB is 1,000,000 bytes.) Streamlit's own ``server.maxUploadSize`` (200 MB by default)
bounds the compressed upload.

Examples
--------
>>> import io, tempfile, zipfile
>>> buf = io.BytesIO()
>>> with zipfile.ZipFile(buf, "w") as zf:
...     zf.writestr("a/x.png", b"png bytes")
...     zf.writestr("b/x.png", b"other png bytes")
>>> with tempfile.TemporaryDirectory() as root:
...     store = UploadStore(root, "s1")
...     up = store.extract_images(buf.getvalue(), "mine.zip")
...     sorted(p.relative_to(up.path).as_posix() for p in up.path.rglob("*.png"))
['a/x.png', 'b/x.png']
>>> UploadLimits(max_files=5).describe()
'at most 256 MB uncompressed in total, 5 files, 64 MB per file and a compression ratio of 100:1'
"""

from __future__ import annotations

import hashlib
import io
import lzma
import os
import re
import shutil
import tempfile
import time
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from .data.images import IMAGE_EXTENSIONS, is_hidden
from .fileio import atomic_write_bytes

__all__ = [
    "UPLOAD_ENV",
    "PointLimits",
    "StoredUpload",
    "UploadError",
    "UploadLimits",
    "UploadStore",
    "clean_stale_uploads",
    "read_points",
    "upload_root",
]

MB = 1_000_000
"""The unit of the size limits (the explorer says "MB")."""

ROOT_ENV = "MANIFOLD_LAB_UPLOAD_DIR"

UPLOAD_ENV: dict[str, str] = {
    ROOT_ENV: "folder where uploads are kept (default: <tmp>/manifold_lab_uploads)",
    "MANIFOLD_LAB_UPLOAD_MAX_TOTAL_MB": "uncompressed size of a zip's images in total (256)",
    "MANIFOLD_LAB_UPLOAD_MAX_FILES": "entries in a zip (10000)",
    "MANIFOLD_LAB_UPLOAD_MAX_FILE_MB": "size of one image or model file (64)",
    "MANIFOLD_LAB_UPLOAD_MAX_RATIO": "compression ratio of a zip entry, x:1 (100)",
    "MANIFOLD_LAB_UPLOAD_MAX_AGE_HOURS": "age after which uploads are removed (24)",
}
"""The environment variables that configure uploads, with what they set (and the default)."""

PART_SUFFIX = ".part"
"""Suffix of a zip being unpacked; it is renamed without it when complete."""

PART_MAX_AGE_S = 600.0
"""Unfinished uploads (``.part`` folders, ``.tmp`` files) older than this are stale."""

RATIO_FLOOR = MB
"""Entries that inflate to at most this many bytes are not held to the compression ratio
(small, very regular images compress far better than 100:1; the total-size limit bounds
them)."""

_CHUNK = 1 << 20
_SESSION = re.compile(r"^[A-Za-z0-9]{1,64}$")
_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    NotImplementedError,
    RuntimeError,
    ValueError,
)


class UploadError(ValueError):
    """An upload breaks a limit or cannot be read; the message names the user's file."""


def _mb(n: float) -> str:
    return f"{n / MB:,.6g} MB"


@dataclass(frozen=True)
class UploadLimits:
    """What an upload may hold.

    Parameters
    ----------
    max_total_bytes : int, default=256 MB
        Uncompressed size of the images in one zip, in total.
    max_files : int, default=10_000
        Entries (files) in one zip, whether images or not.
    max_file_bytes : int, default=64 MB
        Uncompressed size of one image in a zip, and size of an uploaded model file.
    max_ratio : float, default=100.0
        Uncompressed over compressed size of a zip entry (entries of at most
        :data:`RATIO_FLOOR` bytes are exempt) and of a zip's images together.
    max_age_s : float, default=86400.0
        Uploads not used for this many seconds are removed by :func:`clean_stale_uploads`.
    """

    max_total_bytes: int = 256 * MB
    max_files: int = 10_000
    max_file_bytes: int = 64 * MB
    max_ratio: float = 100.0
    max_age_s: float = 24 * 3600.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, int | float) and value > 0 and value == value):
                raise ValueError(f"UploadLimits.{f.name} must be a positive number, got {value!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> UploadLimits:
        """The limits set by the ``MANIFOLD_LAB_UPLOAD_*`` variables (:data:`UPLOAD_ENV`).

        Unset variables keep the defaults; a value that is not a positive number is a
        ``ValueError`` naming the variable.

        Examples
        --------
        >>> UploadLimits.from_env({"MANIFOLD_LAB_UPLOAD_MAX_FILE_MB": "8"}).max_file_bytes
        8000000
        """
        env = os.environ if environ is None else environ
        default = cls()

        def read(name: str, scale: float, fallback: float) -> float:
            text = env.get(name, "").strip()
            if not text:
                return fallback
            try:
                value = float(text)
            except ValueError:
                value = float("nan")
            if not (value > 0 and value != float("inf")):
                raise ValueError(
                    f"environment variable {name}={text!r} must be a positive number"
                ) from None
            return value * scale

        return cls(
            max_total_bytes=int(
                read("MANIFOLD_LAB_UPLOAD_MAX_TOTAL_MB", MB, default.max_total_bytes)
            ),
            max_files=int(read("MANIFOLD_LAB_UPLOAD_MAX_FILES", 1, default.max_files)),
            max_file_bytes=int(read("MANIFOLD_LAB_UPLOAD_MAX_FILE_MB", MB, default.max_file_bytes)),
            max_ratio=read("MANIFOLD_LAB_UPLOAD_MAX_RATIO", 1, default.max_ratio),
            max_age_s=read("MANIFOLD_LAB_UPLOAD_MAX_AGE_HOURS", 3600, default.max_age_s),
        )

    def describe(self) -> str:
        """The limits in words, for the user interface."""
        return (
            f"at most {_mb(self.max_total_bytes)} uncompressed in total, "
            f"{self.max_files:,} files, {_mb(self.max_file_bytes)} per file and a "
            f"compression ratio of {self.max_ratio:g}:1"
        )


def upload_root(environ: Mapping[str, str] | None = None) -> Path:
    """The folder uploads are kept in: ``MANIFOLD_LAB_UPLOAD_DIR``, else a temporary one.

    Examples
    --------
    >>> upload_root({"MANIFOLD_LAB_UPLOAD_DIR": "/srv/uploads"}).as_posix()
    '/srv/uploads'
    """
    env = os.environ if environ is None else environ
    text = env.get(ROOT_ENV, "").strip()
    if text:
        return Path(text).expanduser()
    return Path(tempfile.gettempdir()) / "manifold_lab_uploads"


@dataclass(frozen=True)
class StoredUpload:
    """An upload kept on disk.

    Attributes
    ----------
    path : Path
        The stored file, or the folder a zip was unpacked into.
    name : str
        The file name the user uploaded, used in messages instead of ``path``.
    """

    path: Path
    name: str

    def explain(self, message: str) -> str:
        """``message`` with the server's path of this upload replaced by the user's name.

        Examples
        --------
        >>> up = StoredUpload(Path("/tmp/u/s1_0a1b2c"), "holiday.zip")
        >>> up.explain("cannot decode /tmp/u/s1_0a1b2c/a/x.png")
        'cannot decode holiday.zip/a/x.png'
        """
        return message.replace(str(self.path), self.name).replace(self.path.name, self.name)


def _touch(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:
        pass


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _entry_parts(entry: str, name: str) -> tuple[str, ...] | None:
    """The path parts an entry is unpacked to, None for entries to skip (hidden files,
    macOS metadata); an entry that points outside the folder is an :class:`UploadError`."""
    if entry.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", entry):
        raise UploadError(f"{name}: the entry {entry!r} has an absolute path; remove it")
    parts = tuple(p for p in re.split(r"[/\\]", entry) if p not in ("", "."))
    if ".." in parts:
        raise UploadError(f"{name}: the entry {entry!r} points outside the zip; remove it")
    if not parts or any(is_hidden(p) or p == "__MACOSX" for p in parts):
        return None
    return parts


class UploadStore:
    """One session's uploads, kept in a shared folder and held to :class:`UploadLimits`.

    Every path it hands out starts with the session's name, so :meth:`prune` touches only
    that session's files.

    Parameters
    ----------
    root : str or path-like
        The shared folder (created on first use).
    session : str
        Letters and digits naming the session (e.g. a random hex string).
    limits : UploadLimits or None, default=None
        None: :meth:`UploadLimits.from_env`.
    extensions : sequence of str, default=IMAGE_EXTENSIONS
        The zip entries unpacked as images; other entries are skipped.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        session: str,
        *,
        limits: UploadLimits | None = None,
        extensions: Sequence[str] = IMAGE_EXTENSIONS,
    ) -> None:
        if not _SESSION.match(session):
            raise ValueError(f"session must be 1 to 64 letters or digits, got {session!r}")
        self.root = Path(root)
        self.session = session
        self.limits = UploadLimits.from_env() if limits is None else limits
        self.extensions = tuple(e.lower() for e in extensions)
        self.handed_out: list[StoredUpload] = []

    @classmethod
    def from_env(cls, session: str, environ: Mapping[str, str] | None = None) -> UploadStore:
        """A store in :func:`upload_root` with the limits of :meth:`UploadLimits.from_env`."""
        return cls(upload_root(environ), session, limits=UploadLimits.from_env(environ))

    def _path(self, data: bytes, suffix: str = "") -> Path:
        digest = hashlib.sha256(data).hexdigest()[:16]
        return self.root / f"{self.session}_{digest}{suffix}"

    def _hand_out(self, path: Path, name: str) -> StoredUpload:
        _touch(path)
        stored = StoredUpload(path, name)
        self.handed_out.append(stored)
        return stored

    def store_file(self, data: bytes, name: str) -> StoredUpload:
        """Keep an uploaded file (a model) under its content hash, with its suffix.

        Raises
        ------
        UploadError
            When it is larger than ``limits.max_file_bytes``.
        """
        if len(data) > self.limits.max_file_bytes:
            raise UploadError(
                f"{name} is {_mb(len(data))}; the limit is {_mb(self.limits.max_file_bytes)} "
                "per file"
            )
        path = self._path(data, Path(name).suffix.lower())
        if not path.is_file():
            atomic_write_bytes(path, data, make_parents=True)
        return self._hand_out(path, name)

    def extract_images(self, data: bytes, name: str) -> StoredUpload:
        """Unpack the images of an uploaded zip into a folder of their own.

        The zip's directory is checked against the limits before anything is written and
        the bytes are counted again while they are written. The folder appears complete or
        not at all; the zip's sub-folders are kept. Unpacking the same zip again returns the
        folder already there.

        Raises
        ------
        UploadError
            When the file is no zip, breaks a limit, holds an entry that points outside its
            folder, cannot be inflated, or holds no images; the message names ``name``.
        """
        target = self._path(data)
        if target.is_dir():
            return self._hand_out(target, name)
        try:
            archive = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, *_READ_ERRORS, OSError):
            raise UploadError(f"{name} is not a zip archive") from None
        with archive:
            members = self._check_directory(archive, name)
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = Path(
                tempfile.mkdtemp(prefix=target.name + ".", suffix=PART_SUFFIX, dir=self.root)
            )
            try:
                self._write(archive, members, tmp, name)
                try:
                    os.replace(tmp, target)
                except OSError:
                    if not target.is_dir():  # not a concurrent twin: a real failure
                        raise
            finally:
                if tmp.exists():
                    shutil.rmtree(tmp, ignore_errors=True)
        return self._hand_out(target, name)

    def _check_directory(
        self, archive: zipfile.ZipFile, name: str
    ) -> list[tuple[zipfile.ZipInfo, tuple[str, ...]]]:
        lim = self.limits
        # not ZipInfo.is_dir(): an entry with an empty name is an IndexError there (3.11)
        files = [info for info in archive.infolist() if not info.filename.endswith("/")]
        if len(files) > lim.max_files:
            raise UploadError(f"{name} holds {len(files):,} files; the limit is {lim.max_files:,}")
        members = []
        total = packed = 0
        for info in files:
            parts = _entry_parts(info.filename, name)
            if parts is None or not parts[-1].lower().endswith(self.extensions):
                continue
            entry = "/".join(parts)
            if info.flag_bits & 0x1:
                raise UploadError(f"{name}: {entry} is encrypted; upload an unencrypted zip")
            if info.file_size > lim.max_file_bytes:
                raise UploadError(
                    f"{name}: {entry} inflates to {_mb(info.file_size)}; the limit is "
                    f"{_mb(lim.max_file_bytes)} per file"
                )
            if info.file_size > RATIO_FLOOR and info.file_size > lim.max_ratio * max(
                info.compress_size, 1
            ):
                raise UploadError(
                    f"{name}: {entry} is compressed "
                    f"{info.file_size / max(info.compress_size, 1):,.0f}:1; the limit is "
                    f"{lim.max_ratio:g}:1 (a zip bomb?)"
                )
            total += info.file_size
            packed += info.compress_size
            if total > lim.max_total_bytes:
                raise UploadError(
                    f"{name}: its images inflate to more than {_mb(lim.max_total_bytes)}, "
                    "the limit in total"
                )
            members.append((info, parts))
        if not members:
            raise UploadError(f"{name} holds no images ({', '.join(self.extensions)})")
        if total > RATIO_FLOOR and total > lim.max_ratio * max(packed, 1):
            raise UploadError(
                f"{name}: its images are compressed {total / max(packed, 1):,.0f}:1; the "
                f"limit is {lim.max_ratio:g}:1 (a zip bomb?)"
            )
        return members

    def _write(
        self,
        archive: zipfile.ZipFile,
        members: Iterable[tuple[zipfile.ZipInfo, tuple[str, ...]]],
        folder: Path,
        name: str,
    ) -> None:
        lim = self.limits
        written = 0
        for info, parts in members:
            entry = "/".join(parts)
            dest = folder.joinpath(*parts)
            size = 0
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, open(dest, "wb") as out:
                    while chunk := src.read(_CHUNK):
                        size += len(chunk)
                        written += len(chunk)
                        # checked before writing: a lying header stops here, at the limit
                        if size > info.file_size:
                            raise UploadError(
                                f"{name}: {entry} holds more than the {info.file_size:,} bytes "
                                "its header says; the zip is damaged or crafted"
                            )
                        if size > lim.max_file_bytes:
                            raise UploadError(
                                f"{name}: {entry} inflates to more than "
                                f"{_mb(lim.max_file_bytes)}, the limit per file"
                            )
                        if written > lim.max_total_bytes:
                            raise UploadError(
                                f"{name}: its images inflate to more than "
                                f"{_mb(lim.max_total_bytes)}, the limit in total"
                            )
                        if size > RATIO_FLOOR and size > lim.max_ratio * max(info.compress_size, 1):
                            raise UploadError(
                                f"{name}: {entry} is compressed more than "
                                f"{lim.max_ratio:g}:1, the limit (a zip bomb?)"
                            )
                        out.write(chunk)
            except UploadError:
                raise
            except _READ_ERRORS as exc:
                raise UploadError(f"{name}: cannot unpack {entry}: {exc}") from None
            except OSError as exc:
                raise UploadError(f"{name}: cannot unpack {entry}: {exc.strerror or exc}") from None

    def prune(self, keep: Iterable[StoredUpload | Path] = ()) -> list[Path]:
        """Remove this session's uploads except ``keep`` (an earlier file, or all of them
        once the session uses none); unfinished ones of this session are left alone.

        Returns
        -------
        list of Path
            What was removed.
        """
        kept = {k.path if isinstance(k, StoredUpload) else Path(k) for k in keep}
        removed: list[Path] = []
        if not self.root.is_dir():
            return removed
        for path in self.root.glob(f"{self.session}_*"):
            if path in kept or path.name.endswith(PART_SUFFIX):
                continue
            _remove(path)
            removed.append(path)
        return removed

    def explain(self, message: str) -> str:
        """``message`` with the server's paths of this store's uploads replaced by the
        user's file names (see :meth:`StoredUpload.explain`)."""
        for stored in self.handed_out:
            message = stored.explain(message)
        return message


def clean_stale_uploads(
    root: str | os.PathLike[str] | None = None,
    *,
    max_age_s: float | None = None,
    part_max_age_s: float = PART_MAX_AGE_S,
    now: float | None = None,
) -> list[Path]:
    """Remove stale uploads: unfinished ones (``.part`` folders, ``.tmp`` files) older than
    ``part_max_age_s`` and any other older than ``max_age_s`` (last use).

    Parameters
    ----------
    root : str, path-like or None, default=None
        The uploads folder (None: :func:`upload_root`).
    max_age_s : float or None, default=None
        None: ``UploadLimits.from_env().max_age_s``.
    part_max_age_s : float, default=PART_MAX_AGE_S
        Age after which an unfinished upload is stale.
    now : float or None, default=None
        The current time (:func:`time.time`); for tests.

    Returns
    -------
    list of Path
        What was removed.
    """
    folder = upload_root() if root is None else Path(root)
    max_age = UploadLimits.from_env().max_age_s if max_age_s is None else max_age_s
    t = time.time() if now is None else now
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for path in folder.iterdir():
        unfinished = path.name.endswith((PART_SUFFIX, ".tmp"))
        try:
            age = t - path.lstat().st_mtime
        except OSError:
            continue
        if age > (part_max_age_s if unfinished else max_age):
            _remove(path)
            removed.append(path)
    return removed


@dataclass(frozen=True)
class PointLimits:
    """Limits on an uploaded point cloud (:func:`read_points`).

    Parameters
    ----------
    max_bytes : int, default=200 MB
        Size of the file (Streamlit's own upload limit by default).
    max_rows : int, default=200_000
        Points.
    max_dims : int, default=1_000
        Coordinates per point.
    max_values : int, default=20_000_000
        Points times coordinates (160 MB as float64).
    max_sweep_values : int, default=10_000_000
        Points times coordinates the Width sweep page sweeps (:meth:`check_sweep`): the
        largest upload it accepts, e.g. 100,000 points in 100 dimensions or 10,000 in
        1,000. Whatever the widths and seeds, every part of a sweep decomposes the points
        to find their span (a few seconds at this size on two CPU cores) and holds
        ``seeds x points x coordinates`` reconstructions; the page's time estimate
        (:mod:`manifold_lab.sweep_cost`) is measured up to this size
        (``benchmarks/bench_sweep_cost.py``).
    """

    max_bytes: int = 200 * MB
    max_rows: int = 200_000
    max_dims: int = 1_000
    max_values: int = 20_000_000
    max_sweep_values: int = 10_000_000

    @classmethod
    def for_store(cls, limits: UploadLimits) -> PointLimits:
        """These limits with the file size capped by an :class:`UploadStore`'s ``limits``.

        A point file is a data set, like a zip of images: its size counts against
        ``limits.max_total_bytes`` (``MANIFOLD_LAB_UPLOAD_MAX_TOTAL_MB``), not the per-file
        limit of a model or an image.

        Examples
        --------
        >>> PointLimits.for_store(UploadLimits(max_total_bytes=8 * MB)).max_bytes == 8 * MB
        True
        """
        return cls(max_bytes=min(cls.max_bytes, limits.max_total_bytes))

    def describe(self) -> str:
        """The limits in one sentence (shown next to the upload box).

        Examples
        --------
        >>> PointLimits().describe()
        'CSV or NPY, at most 200 MB, 200,000 points, 1,000 coordinates and 20,000,000 values'
        """
        return (
            f"CSV or NPY, at most {_mb(self.max_bytes)}, {self.max_rows:,} points, "
            f"{self.max_dims:,} coordinates and {self.max_values:,} values"
        )

    def describe_sweep(self) -> str:
        """The Width sweep page's limit in one sentence (shown next to its upload box).

        Examples
        --------
        >>> PointLimits().describe_sweep()
        'The width sweep takes at most 10,000,000 values (points x coordinates, e.g. 100,000 x 100)'
        """
        return (
            f"The width sweep takes at most {self.max_sweep_values:,} values (points x "
            f"coordinates, e.g. {self.max_sweep_values // 100:,} x 100)"
        )

    def check_sweep(self, shape: tuple[int, ...], name: str) -> None:
        """Refuse points too large for the Width sweep page (:attr:`max_sweep_values`).

        Parameters
        ----------
        shape : tuple of int
            The points' ``(N, D)``.
        name : str
            The file's name (named in the error).

        Raises
        ------
        UploadError
            With one line naming the file, its size and the limit.

        Examples
        --------
        >>> PointLimits().check_sweep((100_000, 100), "ok.npy")
        >>> PointLimits().check_sweep((100_001, 100), "big.npy")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        manifold_lab.uploads.UploadError: big.npy: ... sweep's limit of 10,000,000 values ...
        """
        n, d = int(shape[0]), int(shape[1])
        if n * d > self.max_sweep_values:
            raise UploadError(
                f"{name}: {n:,} points x {d:,} coordinates = {n * d:,} values is over the "
                f"width sweep's limit of {self.max_sweep_values:,} values (points x coordinates)"
            )


def read_points(
    data: bytes, name: str, limits: PointLimits | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Points from an uploaded CSV or NPY file, checked against ``limits``.

    A CSV has one point a row (a header row is allowed); a column named ``label`` holds
    optional labels. An NPY holds an ``(N, D)`` numeric array; pickled arrays are refused.

    Parameters
    ----------
    data : bytes
        The file's contents.
    name : str
        The file's name (its suffix picks the format; named in errors).
    limits : PointLimits or None, default=None
        The limits; None: :class:`PointLimits` defaults.

    Returns
    -------
    X : ndarray of shape (N, D), float64
        The points.
    labels : ndarray of shape (N,) or None
        The ``label`` column, if any.

    Raises
    ------
    UploadError
        With a one-line message naming the file and the problem (size, shape, NaN, text in a
        numeric column, a pickled array).

    Examples
    --------
    >>> X, y = read_points(b"x,y,label\\n0,1,a\\n1,0,b\\n2,2,a\\n", "pts.csv")
    >>> X.shape, y.tolist()
    ((3, 2), ['a', 'b', 'a'])
    >>> read_points(b"x,y\\n0,nan\\n1,0\\n", "bad.csv")
    Traceback (most recent call last):
    ...
    manifold_lab.uploads.UploadError: bad.csv: contains NaN or infinite values (point 1)
    """
    lim = limits or PointLimits()
    if len(data) > lim.max_bytes:
        raise UploadError(f"{name}: {_mb(len(data))} is over the limit of {_mb(lim.max_bytes)}")
    suffix = Path(name).suffix.lower()
    labels: np.ndarray | None = None
    if suffix == ".npy":
        try:
            arr = np.load(io.BytesIO(data), allow_pickle=False)
        except ValueError as exc:
            why = "a pickled array (refused)" if "pickle" in str(exc) else "not a valid .npy file"
            raise UploadError(f"{name}: {why}") from None
        except (OSError, EOFError):
            raise UploadError(f"{name}: not a valid .npy file") from None
        if arr.dtype.kind not in "biuf":
            raise UploadError(f"{name}: the array holds {arr.dtype}, not numbers")
    elif suffix in (".csv", ".txt"):
        import pandas as pd

        try:
            df = pd.read_csv(io.BytesIO(data))
        except (ValueError, UnicodeDecodeError) as exc:
            raise UploadError(f"{name}: not a readable CSV ({str(exc).splitlines()[0]})") from None
        if "label" in df.columns:
            labels = df.pop("label").to_numpy()
        bad = [c for c in df.columns if df[c].dtype.kind not in "biuf"]
        if bad:
            raise UploadError(f"{name}: column {bad[0]!r} holds text, not numbers")
        arr = df.to_numpy(dtype=np.float64)
    else:
        raise UploadError(f"{name}: use a .csv or .npy file")
    if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] < 1:
        raise UploadError(f"{name}: need an N x D table of points (N >= 2), got shape {arr.shape}")
    n, d = arr.shape
    if n > lim.max_rows or d > lim.max_dims or n * d > lim.max_values:
        raise UploadError(
            f"{name}: {n:,} points x {d:,} coordinates is over the limit "
            f"({lim.max_rows:,} points, {lim.max_dims:,} coordinates, {lim.max_values:,} values)"
        )
    X = np.asarray(arr, dtype=np.float64)
    finite = np.isfinite(X).all(1)
    if not finite.all():
        row = int(np.argmin(finite))
        raise UploadError(f"{name}: contains NaN or infinite values (point {row + 1})")
    return X, labels
