"""Seeded structural mutations of model files, and a runner that sorts the outcomes.

Used by ``tests/test_fuzz_importers.py`` (a bounded sample in CI) and by
``benchmarks/fuzz_importers.py`` (more cases; writes the outcome distribution to
``benchmarks/results/fuzz_importers.json``).

Random byte flips mostly land in weight data, which still loads. So the mutations aim at the
structure: for a ``.tflite`` file, the fields of the flatbuffer that the importer reads (tensor
shapes, types and buffer indices, quantisation parameters, operator codes, inputs and outputs,
operator options, vector lengths, table offsets, vtables), found with the ``tflite`` package;
for a ``.pt`` checkpoint, the zip's headers and directory, its members, and the opcodes and
arguments of the pickle that says which tensors go where.

For a zip of images (an upload of the explorer's probe page), the local headers and the
central directory (CRCs, sizes, offsets, counts), the entry names ('..', absolute paths), the
compression method and the size claims of a zip bomb.

Each case is run in a worker process under a time limit; the outcome is ``"model"`` (the file
loaded), ``"images"`` (a zip unpacked into a folder that opens, each image loading or skipped
as unreadable), ``"ValueError"`` (one line), or a failure (``"AssertionError"``: files written
outside the upload folder or beyond the limits): ``"multi-line ValueError"``,
``"<OtherException>"``, ``"timeout"`` or ``"crash"`` (the worker died).
"""

from __future__ import annotations

import io
import multiprocessing as mp
import pickletools
import random
import signal
import struct
import tempfile
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Outcome",
    "checkpoint_mutation",
    "image_zip_mutation",
    "run_cases",
    "summarise",
    "tflite_mutation",
    "tflite_sites",
]

OK_OUTCOMES = ("model", "images", "ValueError")


# -- generic value mutations -----------------------------------------------------------------
_FORMATS = {"b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "q": 8, "f": 4}


def _new_value(rng: random.Random, fmt: str, old: Any) -> Any:
    if fmt == "f":
        return rng.choice(
            [0.0, -1.0, 1e-30, 1e30, float("nan"), float("inf"), -float("inf"), -old, old * 1e6]
        )
    bits = 8 * _FORMATS[fmt]
    signed = fmt.islower()
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    choices = [0, 1, 2, 3, old + 1, old - 1, old * 2, old // 2, hi, lo, rng.randint(lo, hi)]
    choices += [rng.randint(-4, 300), -1]
    value = rng.choice(choices)
    return min(max(value, lo), hi)


def _poke(raw: bytearray, pos: int, fmt: str, rng: random.Random) -> str:
    size = _FORMATS[fmt]
    if pos < 0 or pos + size > len(raw):
        return "out of range"
    (old,) = struct.unpack_from("<" + fmt, raw, pos)
    new = _new_value(rng, fmt, old)
    struct.pack_into("<" + fmt, raw, pos, new)
    return f"{old!r} -> {new!r}"


# -- .tflite: where the structure lies ---------------------------------------------------------
@dataclass(frozen=True)
class Site:
    """A field of the file: its kind (for the distribution), byte position and format."""

    kind: str
    pos: int
    fmt: str


def _field(obj: Any, slot: int) -> int:
    """Byte position of field ``slot`` of a flatbuffer table (0: the field is absent)."""
    o = obj._tab.Offset(4 + 2 * slot)
    return obj._tab.Pos + o if o else 0


def _vector(obj: Any, slot: int) -> tuple[int, int]:
    """(position of the length word, number of elements) of vector field ``slot``."""
    o = obj._tab.Offset(4 + 2 * slot)
    if not o:
        return 0, 0
    start = obj._tab.Vector(o)
    return start - 4, obj._tab.VectorLen(o)


def _table_sites(obj: Any, kind: str, fields: dict[int, str], out: list[Site]) -> None:
    """Scalar fields, the vtable's entries and the table's vtable offset."""
    for slot, fmt in fields.items():
        pos = _field(obj, slot)
        if pos:
            out.append(Site(f"{kind} field", pos, fmt))
    out.append(Site("vtable offset", obj._tab.Pos, "i"))
    vtable = obj._tab.Pos - struct.unpack_from("<i", obj._tab.Bytes, obj._tab.Pos)[0]
    n = struct.unpack_from("<H", obj._tab.Bytes, vtable)[0] // 2
    out.extend(Site("vtable entry", vtable + 2 * j, "H") for j in range(n))


def _vector_sites(obj: Any, slot: int, kind: str, fmt: str, out: list[Site]) -> None:
    at, n = _vector(obj, slot)
    if not at:
        return
    out.append(Site("vector length", at, "I"))
    out.append(Site("table offset", _field(obj, slot), "I"))
    size = _FORMATS[fmt]
    out.extend(Site(kind, at + 4 + size * j, fmt) for j in range(n))


_OPTION_FIELDS = {  # builtin options tables: slot -> format
    "CONV_2D": {0: "b", 1: "i", 2: "i", 3: "b", 4: "i", 5: "i"},
    "DEPTHWISE_CONV_2D": {0: "b", 1: "i", 2: "i", 3: "i", 4: "b", 5: "i", 6: "i"},
    "AVERAGE_POOL_2D": {0: "b", 1: "i", 2: "i", 3: "i", 4: "i", 5: "b"},
    "ADD": {0: "b"},
    "FULLY_CONNECTED": {0: "b", 1: "b"},
    "SOFTMAX": {0: "f"},
    "RESHAPE": {},
}


def tflite_sites(raw: bytes) -> dict[str, list[Site]]:
    """The structural fields of a ``.tflite`` file, by kind."""
    import tflite

    m = tflite.Model.GetRootAsModel(raw, 0)
    out: list[Site] = [Site("table offset", 0, "I")]
    _table_sites(m, "model", {0: "I"}, out)
    codes = []
    for i in range(m.OperatorCodesLength()):
        oc = m.OperatorCodes(i)
        _table_sites(oc, "operator code", {0: "b", 2: "i", 3: "i"}, out)
        codes.append(
            tflite.BUILTIN_OPCODE2NAME.get(max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode()))
        )
    for _name, slot in (("subgraphs", 2), ("buffers", 4), ("operator codes", 1)):
        _vector_sites(m, slot, "table offset", "I", out)
    for i in range(m.BuffersLength()):
        b = m.Buffers(i)
        at, _n = _vector(b, 0)
        if at:
            out.append(Site("buffer data length", at, "I"))
            out.append(Site("table offset", _field(b, 0), "I"))
    sg = m.Subgraphs(0)
    _table_sites(sg, "subgraph", {}, out)
    _vector_sites(sg, 1, "graph input/output", "i", out)
    _vector_sites(sg, 2, "graph input/output", "i", out)
    _vector_sites(sg, 0, "table offset", "I", out)
    _vector_sites(sg, 3, "table offset", "I", out)
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        _table_sites(t, "tensor", {1: "b", 2: "I"}, out)
        _vector_sites(t, 0, "tensor shape", "i", out)
        q = t.Quantization()
        if q is not None:
            out.append(Site("table offset", _field(t, 4), "I"))
            _table_sites(q, "quantisation", {6: "i"}, out)
            _vector_sites(q, 2, "quantisation scale", "f", out)
            _vector_sites(q, 3, "quantisation zero point", "q", out)
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        _table_sites(op, "operator", {0: "I", 3: "B"}, out)
        _vector_sites(op, 1, "operator input/output", "i", out)
        _vector_sites(op, 2, "operator input/output", "i", out)
        options = op.BuiltinOptions()
        kind = codes[op.OpcodeIndex()] if op.OpcodeIndex() < len(codes) else None
        if options is not None and kind in _OPTION_FIELDS:
            out.append(Site("table offset", _field(op, 4), "I"))
            obj = type("Options", (), {})()
            obj._tab = options
            _table_sites(obj, "operator options", _OPTION_FIELDS[kind], out)
    by_kind: dict[str, list[Site]] = {}
    for site in out:
        if site.pos + _FORMATS[site.fmt] <= len(raw):
            by_kind.setdefault(site.kind, []).append(site)
    return by_kind


def tflite_mutation(raw: bytes, sites: dict[str, list[Site]], seed: int) -> tuple[str, bytes]:
    """Case ``seed``: one to three structural edits, a truncation or a few byte flips.

    Returns the kind of mutation (for the distribution) and the mutated file.
    """
    rng = random.Random(seed)
    data = bytearray(raw)
    kinds = [*sorted(sites), "truncation", "byte flips"]
    kind = kinds[seed % len(kinds)]  # every kind in turn, so they are equally represented
    if kind == "truncation":
        return kind, bytes(data[: rng.randrange(len(data))])
    if kind == "byte flips":
        for _ in range(rng.randint(1, 64)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return kind, bytes(data)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        site = rng.choice(sites[kind])
        _poke(data, site.pos, site.fmt, rng)
    return kind, bytes(data)


# -- .pt checkpoints: the zip and the pickle ---------------------------------------------------
_SAME_LENGTH = {  # strings a pickle may hold, and others of the same length that mean something
    "FloatStorage": ["ShortStorage", "FloatStoragX", "DoubleStorag"],
    "HalfStorage": ["LongStorage", "ByteStorage", "BoolStorage"],
    "LongStorage": ["HalfStorage", "CharStorage"],
    "_rebuild_tensor_v2": ["_rebuild_parameter", "_rebuild_tensor_v3"],
    "torch._utils": ["torch.serial", "collections."],
    "collections": ["torch.nn.fx", "builtinsxxx"],
    "OrderedDict": ["defaultdict", "OrderedDicx"],
    "torch": ["numpy", "posix"],
    "cpu": ["cud", "mps", "xla"],
}


def _pickle_ops(pkl: bytes) -> list[tuple[Any, Any, int]]:
    return list(pickletools.genops(pkl))


def _mutate_pickle(pkl: bytes, rng: random.Random) -> tuple[str, bytes]:
    """Edit one opcode or argument of a pickle in place (same length)."""
    ops = _pickle_ops(pkl)
    data = bytearray(pkl)
    what = rng.choice(["int", "int", "string", "string", "float", "opcode", "truncate pickle"])
    if what == "truncate pickle":
        return what, bytes(data[: rng.randrange(len(data))])
    if what == "int":
        ints = [
            (op, arg, pos) for op, arg, pos in ops if op.name in ("BININT1", "BININT2", "BININT")
        ]
        op, _arg, pos = rng.choice(ints)
        fmt = {"BININT1": "B", "BININT2": "H", "BININT": "i"}[op.name]
        _poke(data, pos + 1, fmt, rng)
    elif what == "float":
        floats = [pos for op, _a, pos in ops if op.name == "BINFLOAT"]
        if not floats:
            return _mutate_pickle(pkl, rng)
        pos = rng.choice(floats)
        struct.pack_into(">d", data, pos + 1, rng.choice([0.0, -1.0, 1e300, float("nan"), 9.0]))
    elif what == "string":
        strings = [
            (arg.replace(" ", "\n") if op.name == "GLOBAL" else arg, pos)
            for op, arg, pos in ops
            if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "GLOBAL") and arg
        ]
        arg, pos = rng.choice(strings)
        raw_arg = arg.encode()
        at = pkl.find(raw_arg, pos)
        if at < 0:
            return _mutate_pickle(pkl, rng)
        known = [k for k in _SAME_LENGTH if k.encode() in raw_arg]
        if known and rng.random() < 0.7:
            k = rng.choice(known)
            new = raw_arg.replace(k.encode(), rng.choice(_SAME_LENGTH[k]).encode(), 1)
        else:  # a key that names another layer, or nothing
            j = rng.randrange(len(raw_arg))
            new = raw_arg[:j] + bytes([rng.choice(b"0123456789._x")]) + raw_arg[j + 1 :]
        data[at : at + len(raw_arg)] = new[: len(raw_arg)]
    else:  # an opcode replaced by another one
        op, _arg, pos = rng.choice(ops)
        data[pos] = rng.choice(b"()NQRbcdehjlqrstu}]KMJGX\x80\x85\x86\x87\x94\x95.")
    return what, bytes(data)


def _mutate_payload(raw: bytes, rng: random.Random) -> bytes:
    """Replace one value anywhere in the checkpoint's dict (config, meta, a tensor...)."""
    import torch

    payload = torch.load(io.BytesIO(raw), weights_only=True)
    paths: list[tuple[Any, Any]] = []

    def walk(obj: Any) -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                paths.append((obj, k))
                walk(v)
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                paths.append((obj, i))
                walk(v)

    section = rng.choice(sorted(payload))  # config, meta, state_dict, format...
    paths.append((payload, section))
    walk(payload[section])
    parent, key = rng.choice(paths)
    old = parent[key]
    replacements: list[Any] = [None, -1, 0, 10**12, 1.5, float("nan"), "x", [], {}, [[1, 2]], True]
    if isinstance(old, torch.Tensor):
        replacements += [
            old.flatten(),
            old[..., :1] if old.ndim else old[None],
            old.to(torch.int64),
            old.to(torch.bool),
            torch.full_like(old, float("nan")) if old.is_floating_point() else old,
            torch.zeros(()),
        ]
    if rng.random() < 0.15 and isinstance(parent, dict):
        del parent[key]
    elif rng.random() < 0.1 and isinstance(parent, dict):
        parent[str(rng.random())] = rng.choice(replacements)
    else:
        parent[key] = rng.choice(replacements)
    out = io.BytesIO()
    torch.save(payload, out)
    return out.getvalue()


def _rezip(members: list[tuple[zipfile.ZipInfo, bytes]]) -> bytes:
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        warnings.simplefilter("ignore")  # a renamed member may duplicate a name: on purpose
        for info, blob in members:
            zf.writestr(info, blob)
    return out.getvalue()


def checkpoint_mutation(raw: bytes, seed: int) -> tuple[str, bytes]:
    """Case ``seed`` for a ``.pt`` file (a zip holding ``data.pkl``, tensors and records)."""
    rng = random.Random(seed)
    zf = zipfile.ZipFile(io.BytesIO(raw))
    infos = zf.infolist()
    members = [(info, zf.read(info)) for info in infos]
    pkl_index = next(i for i, (info, _) in enumerate(members) if info.filename.endswith("data.pkl"))
    kinds = [
        "pickle",
        "pickle",
        "pickle",
        "tensor record",
        "missing member",
        "renamed member",
        "record text",
        "zip header",
        "zip directory",
        "truncation",
        "byte flips",
    ]
    kinds += ["payload value", "payload value"]
    kind = kinds[seed % len(kinds)]
    if kind == "payload value":
        return kind, _mutate_payload(raw, rng)
    if kind == "pickle":
        how, pkl = _mutate_pickle(members[pkl_index][1], rng)
        members[pkl_index] = (members[pkl_index][0], pkl)
        return f"pickle: {how}", _rezip(members)
    if kind == "tensor record":
        records = [i for i, (info, _) in enumerate(members) if "/data/" in info.filename]
        i = rng.choice(records)
        info, blob = members[i]
        cut = rng.choice([0, len(blob) // 2, max(len(blob) - 1, 0)])
        members[i] = (info, blob[:cut] if rng.random() < 0.7 else blob + b"\0" * 7)
        return kind, _rezip(members)
    if kind == "missing member":
        del members[rng.randrange(len(members))]
        return kind, _rezip(members)
    if kind == "renamed member":
        i = rng.randrange(len(members))
        info = members[i][0]
        name = info.filename
        j = rng.randrange(len(name))
        new = zipfile.ZipInfo(name[:j] + rng.choice("x0/.") + name[j + 1 :], info.date_time)
        members[i] = (new, members[i][1])
        return kind, _rezip(members)
    if kind == "record text":  # version, byteorder, .format_version and other small records
        small = [i for i, (info, blob) in enumerate(members) if len(blob) < 16 and i != pkl_index]
        if small:
            i = rng.choice(small)
            members[i] = (members[i][0], rng.choice([b"99", b"big", b"", b"-1", b"\xff\xfe", b"0"]))
        return kind, _rezip(members)
    data = bytearray(raw)
    if kind == "zip header":
        starts = [info.header_offset for info in infos]
        at = rng.choice(starts)
        field = rng.choice(
            [(4, "H"), (6, "H"), (8, "H"), (14, "I"), (18, "I"), (22, "I"), (26, "H"), (28, "H")]
        )
        _poke(data, at + field[0], field[1], rng)
        return kind, bytes(data)
    if kind == "zip directory":
        cd = raw.rfind(b"PK\x05\x06")
        dirs = [m.start() for m in _finditer(raw, b"PK\x01\x02")]
        if rng.random() < 0.3 and cd >= 0:
            field = rng.choice([(8, "H"), (10, "H"), (12, "I"), (16, "I")])
            _poke(data, cd + field[0], field[1], rng)
        else:
            at = rng.choice(dirs)
            field = rng.choice(
                [(10, "H"), (16, "I"), (20, "I"), (24, "I"), (28, "H"), (30, "H"), (42, "I")]
            )
            _poke(data, at + field[0], field[1], rng)
        return kind, bytes(data)
    if kind == "truncation":
        return kind, bytes(data[: rng.randrange(len(data))])
    for _ in range(rng.randint(1, 64)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return "byte flips", bytes(data)


# -- image zips: what the explorer's probe page unpacks with UploadStore.extract_images --------
_ZIP_NAMES = [
    "../evil.png",
    "a/../../evil.png",
    "/abs/evil.png",
    "\\abs\\evil.png",
    "C:/evil.png",
    "a\\..\\..\\evil.jpg",
    "./.hidden.png",
    "__MACOSX/x.png",
    "",
    "dir/",
    "x" * 300 + ".png",
    "nul\0byte.png",
    "ok/other.jpeg",
]


def image_zip_mutation(raw: bytes, seed: int) -> tuple[str, bytes]:
    """Case ``seed`` for a zip of images: headers, directory, names, sizes, cuts and flips."""
    rng = random.Random(seed)
    zf = zipfile.ZipFile(io.BytesIO(raw))
    infos = zf.infolist()
    kinds = [
        "zip header",
        "zip directory",
        "end of directory",
        "file name",
        "compression method",
        "size claim",
        "truncation",
        "byte flips",
    ]
    kind = kinds[seed % len(kinds)]
    data = bytearray(raw)
    dirs = [m.start() for m in _finditer(raw, b"PK\x01\x02")]
    if kind == "file name":
        members = [(info, zf.read(info)) for info in infos]
        i = rng.randrange(len(members))
        name = rng.choice(_ZIP_NAMES)
        members[i] = (zipfile.ZipInfo(name, members[i][0].date_time), members[i][1])
        return f"{kind}: {name[:20]!r}", _rezip(members)
    if kind == "zip header":  # local header: flags, method, CRC, sizes, name and extra lengths
        at = rng.choice([info.header_offset for info in infos])
        field = rng.choice(
            [(6, "H"), (8, "H"), (14, "I"), (18, "I"), (22, "I"), (26, "H"), (28, "H")]
        )
        _poke(data, at + field[0], field[1], rng)
        return kind, bytes(data)
    if kind == "zip directory":  # central directory entry: CRC, sizes, lengths, local offset
        field = rng.choice(
            [(8, "H"), (16, "I"), (20, "I"), (24, "I"), (28, "H"), (30, "H"), (32, "H"), (42, "I")]
        )
        _poke(data, rng.choice(dirs) + field[0], field[1], rng)
        return kind, bytes(data)
    if kind == "end of directory":  # entry counts, directory size and offset
        cd = raw.rfind(b"PK\x05\x06")
        field = rng.choice([(8, "H"), (10, "H"), (12, "I"), (16, "I"), (20, "H")])
        _poke(data, cd + field[0], field[1], rng)
        return kind, bytes(data)
    if kind == "compression method":  # stored/deflate/bzip2/lzma/unknown, in both headers
        method = rng.choice([0, 8, 12, 14, 1, 9, 99, 0xFFFF])
        i = rng.randrange(len(infos))
        struct.pack_into("<H", data, infos[i].header_offset + 8, method)
        if rng.random() < 0.7:
            struct.pack_into("<H", data, dirs[i] + 10, method)
        return f"{kind}: {method}", bytes(data)
    if kind == "size claim":  # a zip bomb's claims: huge or tiny sizes in the directory
        i = rng.randrange(len(infos))
        big = rng.choice([2**32 - 1, 2**31, 300 * 2**20, 65 * 2**20, 2 * 2**20, 0, 1])
        which = rng.choice([20, 24, 24])  # compressed, uncompressed size
        struct.pack_into("<I", data, dirs[i] + which, big)
        if rng.random() < 0.5:
            struct.pack_into("<I", data, infos[i].header_offset + which - 2, big)
        return f"{kind}: {big}", bytes(data)
    if kind == "truncation":
        return kind, bytes(data[: rng.randrange(len(data))])
    for _ in range(rng.randint(1, 64)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return kind, bytes(data)


def _finditer(raw: bytes, needle: bytes) -> Any:
    import re

    return re.finditer(re.escape(needle), raw)


# -- running cases -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What one case gave."""

    seed: int
    kind: str
    outcome: str
    message: str

    @property
    def ok(self) -> bool:
        return self.outcome in OK_OUTCOMES


_STATE: dict[str, Any] = {}


def _init(importer: str, raw: bytes, time_limit: int) -> None:
    import torch

    torch.set_num_threads(1)
    _STATE.update(importer=importer, raw=raw, time_limit=time_limit)
    if importer == "tflite":
        import manifold_lab.tflite

        _STATE["sites"] = tflite_sites(raw)
    elif importer == "image_zip":
        import manifold_lab.data
        import manifold_lab.uploads
    else:
        import manifold_lab.weights  # noqa: F401


class _Timeout(Exception):
    pass


def _alarm(_signum: int, _frame: Any) -> None:
    raise _Timeout


def _load(path: Path) -> None:
    if _STATE["importer"] == "tflite":
        from manifold_lab.tflite import load_tflite

        load_tflite(path)
    else:
        from manifold_lab.weights import load_model

        load_model(path, progress=False)


ZIP_LIMITS = {"max_total_bytes": 2 << 20, "max_file_bytes": 1 << 20, "max_files": 64}
"""The limits the image-zip cases are unpacked under (small, so size claims reach them)."""


def _unpack_images(data: bytes, tmp: Path) -> str:
    """Unpack a zip with :meth:`UploadStore.extract_images` into ``tmp/root/uploads`` and
    open the folder; raises AssertionError when a file lies outside it or beyond the limits.
    Returns ``"images"`` with how many items loaded and were skipped as unreadable."""
    from manifold_lab.data import open_images
    from manifold_lab.data.images import ImageDecodeError
    from manifold_lab.uploads import UploadLimits, UploadStore

    root = tmp / "root" / "uploads"
    limits = UploadLimits(**ZIP_LIMITS)  # type: ignore[arg-type]
    try:
        stored = UploadStore(root, "fuzz", limits=limits).extract_images(data, "case.zip")
    finally:
        files = [p for p in tmp.rglob("*") if p.is_file() or p.is_symlink()]
        outside = [p for p in files if root not in p.parents]
        assert not outside, f"wrote outside the upload folder: {outside[:3]}"
        sizes = [p.stat().st_size for p in files if p.is_file()]
        assert sum(sizes) <= limits.max_total_bytes, f"wrote {sum(sizes)} bytes"
        assert max(sizes, default=0) <= limits.max_file_bytes, f"a file of {max(sizes)} bytes"
        assert not [p for p in root.glob("*") if p.name.endswith(".part")], "left a .part"
    ds = open_images(stored.path)
    loaded = skipped = 0
    for i in range(len(ds)):
        try:
            ds[i]
            loaded += 1
        except ImageDecodeError:
            skipped += 1
    return f"{loaded} loaded, {skipped} unreadable"


def _case(seed: int) -> Outcome:
    raw = _STATE["raw"]
    if _STATE["importer"] == "image_zip":
        kind, mutated = image_zip_mutation(raw, seed)
        with tempfile.TemporaryDirectory() as tmp:
            signal.signal(signal.SIGALRM, _alarm)
            signal.alarm(_STATE["time_limit"])
            try:
                return Outcome(seed, kind, "images", _unpack_images(mutated, Path(tmp)))
            except _Timeout:
                return Outcome(seed, kind, "timeout", f"over {_STATE['time_limit']} s")
            except ValueError as exc:
                text = str(exc)
                one = text and "\n" not in text.strip()
                return Outcome(
                    seed, kind, "ValueError" if one else "multi-line ValueError", text[:300]
                )
            except BaseException as exc:
                return Outcome(seed, kind, type(exc).__name__, f"{exc}"[:300])
            finally:
                signal.alarm(0)
    if _STATE["importer"] == "tflite":
        kind, mutated = tflite_mutation(raw, _STATE["sites"], seed)
        suffix = ".tflite"
    else:
        kind, mutated = checkpoint_mutation(raw, seed)
        suffix = ".pt"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"case{seed}{suffix}"
        path.write_bytes(mutated)
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(_STATE["time_limit"])
        try:
            _load(path)
        except _Timeout:
            return Outcome(seed, kind, "timeout", f"over {_STATE['time_limit']} s")
        except ValueError as exc:
            text = str(exc)
            outcome = "ValueError" if text and "\n" not in text.strip() else "multi-line ValueError"
            return Outcome(seed, kind, outcome, text[:300])
        except BaseException as exc:
            return Outcome(seed, kind, type(exc).__name__, f"{exc}"[:300])
        finally:
            signal.alarm(0)
    return Outcome(seed, kind, "model", "")


def run_cases(
    importer: str,
    raw: bytes,
    seeds: range,
    *,
    workers: int = 2,
    time_limit: int = 20,
    progress: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Run every case in worker processes; a case whose worker died is a ``"crash"``.

    ``importer`` is ``"tflite"`` (:func:`manifold_lab.tflite.load_tflite`), ``"checkpoint"``
    (:func:`manifold_lab.load_model` on a ``.pt`` file) or ``"image_zip"``
    (:meth:`manifold_lab.uploads.UploadStore.extract_images`, then
    :func:`manifold_lab.data.open_images` on the folder and every item read).
    """
    ctx = mp.get_context("spawn")
    results: dict[int, Outcome] = {}
    pending = list(seeds)
    while pending:
        with ctx.Pool(workers, initializer=_init, initargs=(importer, raw, time_limit)) as pool:
            jobs = {seed: pool.apply_async(_case, (seed,)) for seed in pending}
            pending = []
            for seed, job in jobs.items():
                try:
                    outcome = job.get(timeout=4 * time_limit + 60)
                except mp.TimeoutError:  # the worker died (a crash) or is stuck in C code
                    results[seed] = Outcome(seed, "?", "crash", "no answer from the worker")
                    pending = [s for s in jobs if s not in results and s != seed]
                    break
                results[seed] = outcome
                if progress is not None:
                    progress(outcome)
            pool.terminate()
    return [results[s] for s in seeds]


def summarise(outcomes: list[Outcome]) -> dict[str, Any]:
    """The outcome distribution, overall and by kind of mutation, and the failures."""
    by_kind: dict[str, Counter[str]] = {}
    for o in outcomes:
        by_kind.setdefault(o.kind.split(":")[0], Counter())[o.outcome] += 1
    return {
        "cases": len(outcomes),
        "outcomes": dict(Counter(o.outcome for o in outcomes).most_common()),
        "by_mutation": {k: dict(v.most_common()) for k, v in sorted(by_kind.items())},
        "failures": [o.__dict__ for o in outcomes if not o.ok],
    }
