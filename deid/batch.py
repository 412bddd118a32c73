"""Batch plumbing shared by the text and DICOM commands.

Atomic writes (temp file in the same folder, fsync, rename), a run report that lists every
input with its outcome and reason, a resume manifest, and a process pool with a progress bar.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from deid.errors import InputError

T = TypeVar("T")
R = TypeVar("R")


@contextlib.contextmanager
def atomic_open(path: str | Path, text: bool = False) -> Iterator[IO[Any]]:
    """Open ``path`` for writing so that readers see either nothing (or the old file) or the
    whole new one: a temp file in the same folder, fsync, then rename. On error the temp file
    is removed and ``path`` is untouched. Permissions follow the umask (mkstemp's are 0600)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with (os.fdopen(fd, "w", encoding="utf-8", newline="") if text
              else os.fdopen(fd, "wb")) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path) as fh:
        fh.write(data)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding))


def check_output_location(inp: Path, out: Path) -> None:
    """Refuse an output inside the input folder (a rerun would read its own output)."""
    if str(inp) == "-" or str(out) == "-":
        return
    ri, ro = inp.resolve(), out.resolve()
    if ri.is_dir() and (ro == ri or ri in ro.parents):
        raise InputError("the output folder must not be inside the input folder")
    if ri.is_file() and ro == ri:
        raise InputError("the output must not be the input file")


@dataclass
class RunReport:
    """Per-input outcomes. Reasons are our own messages: never note text or header values."""

    command: str
    started: float = field(default_factory=time.time)
    items: list[dict[str, Any]] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def add(self, input: str, status: str, reason: str | None = None, **extra: Any) -> None:
        rec: dict[str, Any] = {"input": input, "status": status}
        if reason:
            rec["reason"] = reason
        rec.update(extra)
        self.items.append(rec)

    def count(self, status: str) -> int:
        return sum(1 for i in self.items if i["status"] == status)

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0

    def summary(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in self.items:
            out[i["status"]] = out.get(i["status"], 0) + 1
        return dict(sorted(out.items()))

    def write(self, path: str | Path) -> None:
        data = {
            "command": self.command,
            "started": self.started,
            "finished": time.time(),
            "summary": self.summary(),
            "settings": self.settings,
            "items": self.items,
        }
        atomic_write_text(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")

    def print_summary(self, stream: Any = None) -> None:
        stream = stream or sys.stderr  # looked up now: tests and callers may swap sys.stderr
        parts = ", ".join(f"{v} {k}" for k, v in self.summary().items()) or "nothing to do"
        print(f"deid {self.command}: {parts}", file=stream)
        for i in self.items:
            if i["status"] == "failed":
                print(f"  failed: {i['input']}: {i.get('reason', '')}", file=stream)


def check_manifest(out_dir: Path, fingerprint: dict[str, str], overwrite: bool) -> None:
    """Resume safety: refuse to mix outputs made with another key or policy in one folder."""
    path = out_dir / ".deid-run.json"
    if path.exists() and not overwrite:
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            old = None
        if old != fingerprint:
            raise InputError(
                f"{out_dir} holds outputs made with different settings (key or policy); "
                "use another output folder or --overwrite"
            )
    atomic_write_text(path, json.dumps(fingerprint, sort_keys=True) + "\n")


_WORKER_STATE: dict[str, Any] = {}


def _init_worker(init: Callable[[], Any] | None, threads: int) -> None:
    # share the cores between workers instead of each running one thread per core
    os.environ.setdefault("DEID_THREADS", str(threads))
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    try:
        _WORKER_STATE["ctx"] = init() if init else None
    except Exception as exc:  # noqa: BLE001 - a raising initializer makes Pool respawn forever
        _WORKER_STATE["error"] = exc


def _call(args: tuple[Callable[[Any, Any], Any], Any]) -> Any:
    if "error" in _WORKER_STATE:  # the engine could not start: stop the run with its error
        raise _WORKER_STATE["error"]
    fn, item = args
    return fn(_WORKER_STATE.get("ctx"), item)


def run_tasks(
    items: Iterable[T],
    fn: Callable[[Any, T], R],
    init: Callable[[], Any] | None = None,
    workers: int = 1,
    desc: str = "deid",
    total: int | None = None,
    progress: bool = True,
    chunk: int | None = None,
) -> Iterator[R]:
    """Apply ``fn(ctx, item)`` to every item; ``ctx = init()`` once per process.

    With ``workers > 1`` a process pool is used (``fn`` and ``init`` must be picklable,
    module-level functions). Results come back in completion order. A progress bar goes to
    stderr when it is a terminal or when ``progress`` is forced. With ``chunk`` set, ``fn``
    takes a list of up to ``chunk`` items and returns one result per item (so a model can run
    several notes in one batch); results are still yielded one by one.
    """
    from tqdm import tqdm

    jobs: Iterable[Any] = items if chunk is None else _chunks(items, max(1, chunk))
    bar = tqdm(total=total, desc=desc, unit="file", disable=not progress, file=sys.stderr,
               dynamic_ncols=True, mininterval=0.5)
    try:
        if workers <= 1:
            ctx = init() if init else None
            for job in jobs:
                yield from _emit(fn(ctx, job), chunk, bar)
            return
        mp_ctx = mp.get_context("spawn" if sys.platform == "darwin" else "forkserver")
        affinity = getattr(os, "sched_getaffinity", None)  # absent on macOS
        cpus = len(affinity(0)) if affinity else (os.cpu_count() or 1)
        threads = max(1, cpus // workers)
        with mp_ctx.Pool(workers, initializer=_init_worker, initargs=(init, threads)) as pool:
            for res in pool.imap_unordered(_call, ((fn, job) for job in jobs),
                                           chunksize=4 if chunk is None else 1):
                yield from _emit(res, chunk, bar)
    finally:
        bar.close()


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    buf: list[T] = []
    for it in items:
        buf.append(it)
        if len(buf) == size:
            yield buf
            buf = []
    if buf:
        yield buf


def _emit(res: Any, chunk: int | None, bar: Any) -> Iterator[Any]:
    for r in [res] if chunk is None else res:
        yield r
        bar.update(1)
