"""Folders of DICOM files: discovery, per-file processing, exclusive atomic outputs, resume.

Output layout: ``<StudyUID>/<SeriesUID>/<SOPUID>.dcm`` with the NEW UIDs, or the input tree
mirrored (``keep_paths``). A second input that would produce an existing output (duplicate SOP
Instance UID) is an error and never overwrites it. A resume manifest (``.deid-dicom-manifest.jsonl``,
input paths as keyed hashes) lets a rerun skip finished inputs without reading them.
"""

from __future__ import annotations

import contextlib
import filecmp
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from deid.dicom.deidentify import DicomDeidentifier, Quarantine, Skip
from deid.dicom.profile import Settings
from deid.errors import DeidError
from deid.key import Key

MANIFEST = ".deid-dicom-manifest.jsonl"
DEFER_SIZE = 1 << 20  # values over 1 MiB are read only when needed
STREAM_PIXELS_OVER = 64 << 20  # files over 64 MiB: Pixel Data is streamed from the input


class WindowReader(io.BufferedIOBase):
    """A read-only, seekable view of ``length`` bytes at ``offset`` of a file (for streaming)."""

    def __init__(self, path: str, offset: int, length: int) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115 - closed with the reader
        self._off, self._len, self._pos = offset, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._len}[whence]
        self._pos = max(0, min(self._len, base + pos))
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        n = self._len - self._pos if size is None or size < 0 else min(size, self._len - self._pos)
        if n <= 0:
            return b""
        self._fh.seek(self._off + self._pos)
        data = self._fh.read(n)
        self._pos += len(data)
        return data

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def readinto(self, b: Any) -> int:
        n = min(len(b), self._len - self._pos)
        if n <= 0:
            return 0
        self._fh.seek(self._off + self._pos)
        data = self._fh.read(n)
        b[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def close(self) -> None:
        self._fh.close()
        super().close()


@dataclass(frozen=True)
class Job:
    path: str  # absolute input path
    rel: str  # path relative to the input root (POSIX)


@dataclass
class Params:
    """Everything a worker needs (picklable)."""

    secret: bytes
    settings: Settings
    out_dir: str
    keep_paths: bool = False
    overwrite: bool = False
    dry_run: bool = False
    want_audit: bool = False
    want_mappings: bool = False
    text_policy: str | None = None
    ner: str | bool = "auto"
    previous: dict[str, str] = field(default_factory=dict)  # input hash -> output rel
    stream_over: int = STREAM_PIXELS_OVER


def check_pixel_length(ds: Dataset) -> None:
    """A native PixelData shorter than Rows x Columns x ... (a truncated file) is an error."""
    raw = ds.get_item(0x7FE00010, keep_deferred=True)
    if raw is None or "TransferSyntaxUID" not in getattr(ds, "file_meta", {}):
        return
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        return
    length = raw.length if isinstance(raw, RawDataElement) else len(raw.value or b"")
    try:
        expected = (int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1))
                    * int(ds.get("NumberOfFrames", 1) or 1) * int(ds.BitsAllocated))
    except (AttributeError, TypeError, ValueError):
        return
    expected = (expected + 7) // 8
    if str(ds.get("PhotometricInterpretation", "")).strip() == "YBR_FULL_422":
        expected = expected * 2 // 3  # 4:2:2 subsampled native data
    if length is not None and length != 0xFFFFFFFF and length < expected:
        raise DeidError(f"truncated pixel data ({length} of {expected} bytes)")


def discover(root: Path) -> list[Job]:
    """Every regular file under ``root`` (or ``root`` itself), in a stable order."""
    if root.is_file():
        return [Job(str(root.resolve()), root.name)]
    jobs = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for f in sorted(filenames):
            p = Path(dirpath) / f
            if p.is_file() and not p.is_symlink():
                jobs.append(Job(str(p.resolve()), p.relative_to(root).as_posix()))
    return jobs


def input_hash(key: Key, rel: str) -> str:
    return key.hash_id(rel, purpose="dicom-input-path")


def load_manifest(out_dir: Path) -> dict[str, str]:
    p = out_dir / MANIFEST
    done: dict[str, str] = {}
    if p.exists():
        for line in p.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
                done[rec["in"]] = rec["out"]
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line after a crash
    return done


def quiet_pydicom() -> None:
    """pydicom warnings quote header values: silence them (privacy first)."""
    import logging
    import warnings

    from pydicom import config

    warnings.filterwarnings("ignore", module=r"pydicom(\..*)?")
    warnings.filterwarnings("ignore", message=r".*(VR|value|Value).*")
    logging.getLogger("pydicom").setLevel(logging.CRITICAL)
    config.settings.reading_validation_mode = config.IGNORE
    config.settings.writing_validation_mode = config.IGNORE


def _encapsulated_end(path: str, start: int, size: int) -> int | None:
    """Offset of the sequence delimiter that ends encapsulated Pixel Data starting at ``start``.

    Only item headers are read (8 bytes each). Raises DeidError when the items run past the end
    of the file; None when the layout is not a plain item sequence.
    """
    pos = start
    with open(path, "rb") as fh:
        while True:
            fh.seek(pos)
            hdr = fh.read(8)
            if len(hdr) < 8:
                raise DeidError("truncated file: encapsulated Pixel Data has no end")
            length = int.from_bytes(hdr[4:8], "little")
            if hdr[:4] == b"\xfe\xff\xdd\xe0":
                return pos
            if hdr[:4] != b"\xfe\xff\x00\xe0" or length == 0xFFFFFFFF:
                return None
            pos += 8 + length
            if pos > size:
                raise DeidError("truncated file: element (7FE0,0010) runs past the end of "
                                "the file")


def _link_exclusive(tmp: str, final: Path) -> None:
    """Publish ``tmp`` as ``final`` atomically, never replacing an existing file."""
    try:
        os.link(tmp, final)
    except FileExistsError:
        raise
    except OSError:  # no hard links on this file system: exclusive create, then replace
        fd = os.open(final, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        os.close(fd)
        os.replace(tmp, final)
        return
    os.unlink(tmp)


class Worker:
    """Per-process state: key, de-identifier, parameters."""

    def __init__(self, params: Params) -> None:
        quiet_pydicom()
        self.p = params
        self.key = Key(params.secret)
        self.deid = DicomDeidentifier(self.key, params.settings, text_policy=params.text_policy,
                                      ner=params.ner)

    def __call__(self, job: Job) -> dict[str, Any]:
        ih = input_hash(self.key, job.rel)
        res: dict[str, Any] = {"input": job.rel, "input_hash": ih}
        try:
            res.update(self._process(job, ih))
        except Skip as exc:
            res.update(status="skipped", reason=str(exc))
        except Quarantine as exc:
            res.update(status="failed", reason=f"quarantined: {exc}")
        except DeidError as exc:
            res.update(status="failed", reason=str(exc))
        except MemoryError:
            res.update(status="failed", reason="out of memory")
        except Exception as exc:  # a bad file must not stop the batch; no values in messages
            res.update(status="failed", reason=f"unreadable or invalid DICOM ({type(exc).__name__})")
        return res

    # -- steps ------------------------------------------------------------------------------
    def _read(self, job: Job) -> Dataset:
        with open(job.path, "rb") as fh:
            head = fh.read(132)
        magic = len(head) == 132 and head[128:132] == b"DICM"
        size = os.path.getsize(job.path)
        try:
            streamed = self._read_streaming(job, size) if magic and \
                size > self.p.stream_over else None
            ds = streamed if streamed is not None else dcmread(
                job.path, defer_size=DEFER_SIZE, force=not magic)
        except (InvalidDicomError, EOFError, ValueError, OSError, KeyError, TypeError) as exc:
            if not magic:
                raise Skip("not a DICOM file") from None
            raise DeidError(f"unreadable DICOM ({type(exc).__name__})") from None
        if not magic and not any(t in ds for t in (0x00080016, 0x00080018, 0x7FE00010,
                                                    0x00041220)):
            raise Skip("not a DICOM file")
        deflated = str(getattr(ds, "file_meta", {}).get("TransferSyntaxUID", "")) == \
            "1.2.840.10008.1.2.1.99"  # offsets are in the inflated stream
        for tag in [] if deflated else list(ds.keys()):
            raw = ds.get_item(tag, keep_deferred=True)
            if isinstance(raw, RawDataElement) and raw.length not in (None, 0xFFFFFFFF) \
                    and raw.value_tell is not None and raw.value_tell + raw.length > size:
                raise DeidError(f"truncated file: element ({tag >> 16:04X},{tag & 0xFFFF:04X}) "
                                "runs past the end of the file")
        # make sure the whole header parses now (a truncated file fails here, not on write)
        for tag in list(ds.keys()):
            if tag != 0x7FE00010:
                ds[tag]
        if streamed is None:
            check_pixel_length(ds)
        return ds

    def _read_streaming(self, job: Job, size: int) -> Dataset | None:
        """Header only, with Pixel Data as a window on the input file (None: not possible)."""
        with open(job.path, "rb") as fh:
            ds = dcmread(fh, stop_before_pixels=True, defer_size=DEFER_SIZE)
            pos = fh.tell()
            head = fh.read(12)
        ts = getattr(ds, "file_meta", {}).get("TransferSyntaxUID")
        if ts is None or not ts.is_little_endian or ts == "1.2.840.10008.1.2.1.99":
            return None
        if len(head) < 12 or head[:4] != b"\xe0\x7f\x10\x00":
            return None  # no Pixel Data next
        if ts.is_implicit_VR:
            length, voff = int.from_bytes(head[4:8], "little"), pos + 8
            vr = "OB" if int(ds.get("BitsAllocated", 16)) <= 8 else "OW"
        else:
            vr = head[4:6].decode("ascii", "replace")
            if vr not in ("OB", "OW", "UN"):
                return None
            length, voff = int.from_bytes(head[8:12], "little"), pos + 12
        if length == 0xFFFFFFFF:  # encapsulated: walk the item headers to the delimiter
            end = _encapsulated_end(job.path, voff, size)
            if end is None:
                return None
            elem = DataElement(0x7FE00010, "OB", WindowReader(job.path, voff, end - voff),
                               is_undefined_length=True)
        else:
            if voff + length > size:
                raise DeidError("truncated file: element (7FE0,0010) runs past the end of "
                                "the file")
            elem = DataElement(0x7FE00010, vr, WindowReader(job.path, voff, length))
        ds[0x7FE00010] = elem  # anything after Pixel Data (padding) is dropped
        return ds

    def _out_rel(self, ds: Dataset, job: Job) -> str:
        if not ds.get("SOPClassUID") or not ds.get("SOPInstanceUID"):
            raise DeidError("no SOP Class/Instance UID: not a composite instance; not written")
        if self.p.keep_paths:
            return job.rel
        parts = [str(ds.get(k, "") or "") for k in
                 ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")]
        if not all(parts):
            raise DeidError("missing Study/Series/SOP Instance UID; use --keep-paths")
        return f"{parts[0]}/{parts[1]}/{parts[2]}.dcm"

    def _process(self, job: Job, ih: str) -> dict[str, Any]:
        if self.deid.cleaner is not None and hasattr(self.deid.cleaner, "mappings"):
            self.deid.cleaner.mappings.clear()  # crosswalk rows belong to this file only
        ds = self._read(job)
        px = ds.get_item(0x7FE00010, keep_deferred=True)
        streamed = px is not None and isinstance(px.value, WindowReader)
        try:
            outcome = self.deid.deidentify(ds)
            out_rel = self._out_rel(ds, job)
            res: dict[str, Any] = {"status": "ok", "output": out_rel,
                                   "changes": len(outcome.changes),
                                   "options": outcome.applied, "patient": outcome.patient_hash}
            if streamed:
                res["streamed_pixels"] = True
            if outcome.warnings:
                res["warnings"] = outcome.warnings
            if self.p.want_audit:
                res["audit"] = outcome.changes
            if self.p.want_mappings:
                res["mappings"] = outcome.mappings + list(getattr(self.deid.cleaner, "mappings", []))
            if not self.p.dry_run:
                self._write(ds, out_rel, ih)
            return res
        finally:
            if streamed:
                v = ds.get_item(0x7FE00010)
                if v is not None and isinstance(v.value, io.IOBase):
                    v.value.close()

    def _write(self, ds: Dataset, out_rel: str, ih: str) -> None:
        final = Path(self.p.out_dir) / out_rel
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                ds.save_as(fh, enforce_file_format=True)
                fh.flush()
                os.fsync(fh.fileno())
            try:
                _link_exclusive(tmp, final)  # fails when the output exists
            except FileExistsError:
                if filecmp.cmp(tmp, final, shallow=False):
                    pass  # the same output, e.g. written before a crash lost its manifest line
                elif self.p.overwrite and self.p.previous.get(ih) == out_rel:
                    os.replace(tmp, final)
                    tmp = ""
                else:
                    raise DeidError(f"duplicate SOP Instance UID: output {out_rel} already "
                                    "exists from another input; not overwritten") from None
        finally:
            if tmp:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)


def make_worker(params: Params) -> Worker:
    return Worker(params)


def run_job(worker: Worker, job: Job) -> dict[str, Any]:
    return worker(job)
