"""One dataset in, one de-identified dataset out: identifiers -> pixels -> header -> markers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID

from deid import __version__
from deid.dicom import guard
from deid.dicom.header import Cleaner, Context, HeaderEngine
from deid.dicom.identifiers import collect, known_object, patient_key
from deid.dicom.profile import Settings
from deid.errors import DeidError
from deid.key import Key

DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
META_REMOVE = (0x00020016, 0x00020017, 0x00020018, 0x00020100, 0x00020102)
TEXT_OPTIONS = ("clean_descriptors", "clean_structured_content", "clean_graphics")


class Quarantine(DeidError):
    """The file cannot be made safe; it is listed in the report and not written."""


class Skip(DeidError):
    """The file is deliberately not processed (DICOMDIR, burned-in policy ``skip``)."""


@dataclass
class Outcome:
    changes: list[dict] = field(default_factory=list)
    mappings: list[tuple[str, str, str]] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    patient_hash: str = ""
    pixel: dict[str, Any] | None = None


class TextEngineCleaner:
    """Free text through ``deid.text.Deidentifier`` with the header's known identifiers."""

    def __init__(self, key: Key, policy: str | None = None, ner: str | bool = "auto") -> None:
        from deid.text import Deidentifier

        self.engine = Deidentifier(policy=policy, key=key, ner=ner)
        self.mappings: list[tuple[str, str, str]] = []

    def __call__(self, text: str, known: object, patient: str) -> str:
        res = self.engine.deidentify(text, known=known, patient=patient)  # type: ignore[arg-type]
        self.mappings.extend(res.mappings)
        return res.text


class DicomDeidentifier:
    """De-identifies datasets in place for one key and one set of settings."""

    def __init__(self, key: Key, settings: Settings, cleaner: Cleaner | None = None,
                 text_policy: str | None = None, ner: str | bool = "auto") -> None:
        self.key = key
        self.settings = settings
        if cleaner is None and any(settings.has(o) for o in TEXT_OPTIONS):
            cleaner = TextEngineCleaner(key, text_policy, ner)
        self.cleaner = cleaner
        self.engine = HeaderEngine(key, settings.options, cleaner)
        self._clean_pixels = None
        if settings.has("clean_pixel_data"):
            try:
                from deid.dicom.pixels import clean_pixels
            except ImportError:
                raise DeidError("option clean_pixel_data needs deid.dicom.pixels (OCR), which "
                                "is not installed in this checkout") from None
            self._clean_pixels = clean_pixels

    # -- identity ---------------------------------------------------------------------------
    def subject_id(self, patient: str) -> str:
        s = self.settings
        if s.subject_map:
            if patient not in s.subject_map:
                raise Quarantine(f"PatientID (keyed hash {self.key.hash_id(patient)}) is not in "
                                 "the subject map")
            return s.subject_map[patient]
        return self.key.pseudonym(patient, fmt=s.pseudonym_format, prefix=s.pseudonym_prefix)

    # -- pipeline ---------------------------------------------------------------------------
    def deidentify(self, ds: Dataset) -> Outcome:
        meta = getattr(ds, "file_meta", None) or FileMetaDataset()
        if str(meta.get("MediaStorageSOPClassUID", "")) == DICOMDIR_SOP_CLASS or \
                "DirectoryRecordSequence" in ds:
            raise Skip("DICOMDIR not copied (it repeats patient identifiers); rebuild one "
                       "over the output, e.g. dcmmkdir")
        out = Outcome()
        patient = patient_key(ds)
        out.patient_hash = self.key.hash_id(patient) if patient else ""
        mapping = collect(ds)
        try:
            known = known_object(mapping, patient)
        except DeidError:
            known = None
        ctx = Context(patient=patient, day_offset=self.key.day_offset(patient),
                      subject_id=self.subject_id(patient), known=known)
        if patient:
            ctx.mappings.append(("PatientID", patient, ctx.subject_id))
        applied = set(self.settings.options) - {"clean_pixel_data"}
        self._pixels(ds, known, out, applied)
        changes, embedded = guard.remove_overlays(ds)
        ctx.changes.extend(changes)
        if embedded and guard.clear_high_bits(ds):
            ctx.changes.append({"path": "(7FE0,0010)", "tag": "(7FE0,0010)", "action": "C",
                                "rule": "embedded-overlay-bits-cleared"})
        self.engine.apply(ds, ctx)
        if ctx.cleaned_text and not ds.get("SpecificCharacterSet") and any(
                isinstance(e.value, str) and not e.value.isascii() for e in ds.iterall()):
            ds.SpecificCharacterSet = "ISO_IR 192"  # cleaned text left the default repertoire
        self._file_meta(ds)
        self._markers(ds, applied)
        out.changes = ctx.changes
        out.mappings = ctx.mappings
        out.applied = sorted(applied)
        return out

    def _pixels(self, ds: Dataset, known: object, out: Outcome, applied: set[str]) -> None:
        if not guard.has_pixels(ds):
            return
        if self._clean_pixels is not None:
            try:
                res = self._clean_pixels(ds, known=known, mode=self.settings.pixel_mode,
                                         options=dict(self.settings.pixel_options) or None)
            except ValueError as exc:  # a bad pixel mode or option: configuration error
                raise DeidError(f"pixel cleaning: {exc}") from None
            if not res.ok:
                raise Quarantine(f"pixel cleaning failed: {res.reason or 'no reason given'}")
            boxes = res.masked_boxes
            out.pixel = {"changes": list(res.changes),
                         "masked_boxes": boxes if isinstance(boxes, int) else len(boxes),
                         "scanned": bool(getattr(res, "scanned", False)),
                         "scan_reason": str(getattr(res, "scan_reason", "") or "")}
            if out.pixel["scanned"] or out.pixel["masked_boxes"]:
                # claim Clean Pixel Data (113101) only for pixels that were actually examined
                applied.add("clean_pixel_data")
            return
        reason = guard.burned_in_risk(ds)
        if reason is None:
            return
        policy = self.settings.burned_in
        if policy == "fail":
            raise Quarantine(f"burned-in text risk ({reason}) and clean_pixel_data is off")
        if policy == "skip":
            raise Skip(f"burned-in text risk ({reason}); skipped (--burned-in skip)")
        out.warnings.append(f"burned-in text risk ({reason}); pixels copied unchanged "
                            "(--burned-in warn)")

    def _file_meta(self, ds: Dataset) -> None:
        meta = getattr(ds, "file_meta", None)
        if meta is None:
            meta = ds.file_meta = FileMetaDataset()
        for t in META_REMOVE:
            if t in meta:
                del meta[t]
        if "SOPInstanceUID" in ds:
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        elif meta.get("MediaStorageSOPInstanceUID") and not self.settings.has("retain_uids"):
            meta.MediaStorageSOPInstanceUID = self.key.uid(str(meta.MediaStorageSOPInstanceUID))
        if "SOPClassUID" in ds:
            meta.MediaStorageSOPClassUID = ds.SOPClassUID
        if "TransferSyntaxUID" not in meta:
            implicit, little = getattr(ds, "original_encoding", (True, True))
            if implicit is None:
                implicit, little = True, True
            meta.TransferSyntaxUID = UID(
                "1.2.840.10008.1.2" if implicit else
                ("1.2.840.10008.1.2.1" if little else "1.2.840.10008.1.2.2"))
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        meta.ImplementationVersionName = f"DEID_{__version__}"[:16]

    def _markers(self, ds: Dataset, applied: set[str]) -> None:
        codes = self.settings.method_codes(applied)
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = [f"deid {__version__} PS3.15 Annex E"] + \
            [c.meaning[:64] for c in codes]
        items = []
        for c in codes:
            it = Dataset()
            it.CodeValue = c.code
            it.CodingSchemeDesignator = "DCM"
            it.CodeMeaning = c.meaning
            items.append(it)
        ds.DeidentificationMethodCodeSequence = Sequence(items)
        if "retain_long_full_dates" in applied:
            ds.LongitudinalTemporalInformationModified = "UNMODIFIED"
        elif "retain_long_modified_dates" in applied:
            ds.LongitudinalTemporalInformationModified = "MODIFIED"
        else:
            ds.LongitudinalTemporalInformationModified = "REMOVED"
