"""Apply the Annex E actions to a dataset, recursing into every sequence at any depth.

Rules beyond Table E.1-1 (documented in rules/dicom/README.md):
* attributes absent from the table: standard public ones are kept (K), except PN attributes,
  which get a dummy (recall first); private ones follow the private row (removed unless Retain
  Safe Private and listed in rules/dicom/safe_private.yaml); group lengths are removed;
* Patient's Name and Patient ID get the patient pseudonym (a consistent dummy, allowed by Z/D);
  other PN dummies are keyed pseudonyms (prefix PERSON) so that a person stays consistent;
* any Age String over 89 years becomes 090Y, whatever the action.
Audit records name paths, tags, VRs and actions, never values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag

from deid.dicom import values as V
from deid.dicom.table import ActionTable, load_table, resolve_code
from deid.errors import RuleError
from deid.key import Key
from deid.rulefile import load_yaml, require, rules_path

PATIENT_NAME, PATIENT_ID = 0x00100010, 0x00100020
PIXEL_GROUP = 0x7FE0
MAX_LEN = {"SH": 16, "LO": 64, "ST": 1024, "LT": 10240, "AE": 16, "CS": 16, "PN": 64}
MULTI_TEXT = frozenset({"SH", "LO", "CS", "UC", "PN", "AE"})

# (text, known, patient) -> cleaned text
Cleaner = Callable[[str, object, str], str]


@dataclass(frozen=True)
class SafePrivate:
    """Private attributes kept under Retain Safe Private: (creator, group) -> element low bytes."""

    blocks: dict[tuple[str, int], frozenset[int]]

    def keeps(self, creator: str, group: int, low: int) -> bool:
        return low in self.blocks.get((creator.strip(), group), frozenset())

    def creator_ok(self, creator: str, group: int) -> bool:
        return (creator.strip(), group) in self.blocks


@lru_cache(maxsize=4)
def load_safe_private(path: str | None = None) -> SafePrivate:
    p = Path(path) if path else rules_path("dicom", "safe_private.yaml")
    data = load_yaml(p)
    require(isinstance(data, dict) and isinstance(data.get("creators"), dict), p, None,
            "'creators' mapping required")
    blocks: dict[tuple[str, int], frozenset[int]] = {}
    for name, spec in data["creators"].items():
        require(isinstance(spec, dict), p, name, "entry must be a mapping")
        creator = str(spec.get("creator", name)).strip()
        try:
            group = int(str(spec.get("group")), 16)
            elems = frozenset(int(str(e), 16) for e in spec.get("elements") or [])
        except ValueError:
            raise RuleError(p, name, "group and elements must be hex") from None
        require(group & 1 == 1, p, name, "group must be odd (private)")
        require(bool(elems) and all(0 <= e <= 0xFF for e in elems), p, name,
                "elements: low bytes 00..FF")
        blocks[(creator, group)] = elems
    return SafePrivate(blocks)


@dataclass
class Context:
    """Per-file state: patient identity, offsets, collected identifiers, audit."""

    patient: str
    day_offset: int
    subject_id: str
    known: object | None
    changes: list[dict] = field(default_factory=list)
    mappings: list[tuple[str, str, str]] = field(default_factory=list)
    cleaned_text: int = 0


# UI attributes absent from the table that name classes, syntaxes or schemes (kept); every other
# UI attribute absent from the table identifies an instance and is remapped (recall first).
_CLASS_UID_WORDS = ("ClassUID", "SOPClasses", "TransferSyntax", "CodingSchemeUID", "ContextUID",
                    "MappingResourceUID", "ContextGroupExtensionCreatorUID", "CreatorVersionUID",
                    "RepositoryUniqueID", "HomeCommunityID")


@lru_cache(maxsize=4096)
def _class_like_uid(tag: int) -> bool:
    from pydicom.datadict import keyword_for_tag

    kw = keyword_for_tag(tag)
    return bool(kw) and any(w in kw for w in _CLASS_UID_WORDS)


@lru_cache(maxsize=4096)
def _known_public(tag: int) -> bool:
    """True for a tag of the DICOM data dictionary (repeating groups included)."""
    from pydicom.datadict import dictionary_has_tag, get_entry

    if dictionary_has_tag(tag):
        return True
    try:
        get_entry(tag)  # repeaters such as (60xx,0010)
    except KeyError:
        return False
    return True


def _tag_str(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


class HeaderEngine:
    """Applies the table to datasets for one key and option set."""

    def __init__(self, key: Key, options: frozenset[str], cleaner: Cleaner | None = None,
                 table: ActionTable | None = None, safe_private: SafePrivate | None = None,
                 pn_prefix: str = "PERSON") -> None:
        self.key = key
        self.options = options
        self.table = table or load_table()
        self.columns = [o for o in options if o in self.table.option_columns]
        self.cleaner = cleaner
        self.safe = safe_private or load_safe_private()
        self.pn_prefix = pn_prefix

    # -- public ---------------------------------------------------------------------------
    def apply(self, ds: Dataset, ctx: Context) -> None:
        self._walk(ds, ctx, "")

    def action_for(self, tag: int, vr: str) -> tuple[str, str, str]:
        """(resolved action, raw code, rule) for a public or private tag (no creator check)."""
        row = self.table.row(tag)
        if row is not None:
            code = row.code(self.columns)
            return resolve_code(code), code, "private" if tag >> 16 & 1 else "table"
        if (tag & 0xFFFF) == 0:
            return "X", "X", "group-length"
        if not _known_public(tag):
            return "X", "X", "unknown-public"
        if vr == "PN":
            return "D", "D", "project:PN"
        if vr in ("DA", "DT"):  # dates absent from the table: treated like the table's dates
            if "retain_long_full_dates" in self.options:
                return "K", "K", "project:date"
            if "retain_long_modified_dates" in self.options:
                return "C", "C", "project:date"
            return "D", "D", "project:date"
        if vr == "UI" and not _class_like_uid(tag):
            return "U", "U", "project:UI"
        return "K", "K", "not-in-table"

    # -- walking --------------------------------------------------------------------------
    def _walk(self, ds: Dataset, ctx: Context, path: str) -> None:
        for tag in list(ds.keys()):
            tag = Tag(tag)
            if tag.group == 0x0002 or tag.group == PIXEL_GROUP:
                continue  # file meta handled by the pipeline; pixel data by the guard
            if tag.is_private:
                self._private(ds, tag, ctx, path)
                continue
            elem = ds[tag]
            action, code, rule = self.action_for(tag, elem.VR)
            self._apply(ds, elem, action, code, rule, ctx, path)

    def _private(self, ds: Dataset, tag: BaseTag, ctx: Context, path: str) -> None:
        keep = False
        if "retain_safe_private" in self.options:
            g, e = tag.group, tag.element
            if 0x10 <= e <= 0xFF:  # a private creator
                v = ds.get_item(tag).value
                creator = v.decode("ascii", "replace") if isinstance(v, bytes) else str(v or "")
                keep = self.safe.creator_ok(creator.rstrip("\x00 "), g)
            elif e >= 0x1000:
                ct = (g << 16) | (e >> 8)
                creator_el = ds.get(ct)
                if creator_el is not None:
                    cv = creator_el.value
                    creator = cv.decode("ascii", "replace") if isinstance(cv, bytes) else str(cv)
                    keep = self.safe.keeps(creator.rstrip("\x00 "), g, e & 0xFF)
        if keep:
            elem = ds[tag]
            if elem.VR == "SQ":  # a safe private sequence: still clean what is inside
                self._items(elem, ctx, path)
            return
        vr = ds.get_item(tag).VR or "UN"
        ctx.changes.append({"path": path + _tag_str(tag), "tag": _tag_str(tag), "vr": vr,
                            "action": "X", "rule": "private"})
        del ds[tag]

    def _items(self, elem: DataElement, ctx: Context, path: str) -> None:
        for i, item in enumerate(elem.value or []):
            self._walk(item, ctx, f"{path}{_tag_str(elem.tag)}[{i}]>")

    def _record(self, ctx: Context, path: str, elem: DataElement, action: str, code: str,
                rule: str, note: str | None = None) -> None:
        rec = {"path": path + _tag_str(elem.tag), "tag": _tag_str(elem.tag), "vr": elem.VR,
               "action": action, "code": code, "rule": rule}
        if elem.keyword:
            rec["keyword"] = elem.keyword
        if note:
            rec["note"] = note
        ctx.changes.append(rec)

    def _apply(self, ds: Dataset, elem: DataElement, action: str, code: str, rule: str,
               ctx: Context, path: str) -> None:
        vr = elem.VR
        if vr == "SQ":
            if action == "X":
                self._record(ctx, path, elem, action, code, rule)
                del ds[elem.tag]
            elif action == "Z":
                self._record(ctx, path, elem, action, code, rule)
                elem.value = Sequence()
            else:  # D, C, U, K: keep the structure, apply the table inside every item
                self._items(elem, ctx, path)
            return
        if action == "K":
            if vr == "AS":
                self._cap_ages(elem, ctx, path)
            return
        if action == "X":
            self._record(ctx, path, elem, action, code, rule)
            del ds[elem.tag]
            return
        if elem.is_empty and elem.tag not in (PATIENT_NAME, PATIENT_ID):
            return  # nothing to remove (an empty value stays empty)
        note = None
        if elem.tag in (PATIENT_NAME, PATIENT_ID):
            elem.value = ctx.subject_id
            note = "pseudonym"
        elif action == "Z":
            elem.value = V.zero_for_vr(vr)
        elif action == "U" or (action in "DC" and vr == "UI"):
            elem.value = self._map_values(elem, self._uid, ctx)
        elif action == "D":
            if vr == "PN":
                elem.value = self._map_values(elem, self._person, ctx)
            else:
                elem.value = V.dummy_for_vr(vr)
        elif action == "C":
            note = self._clean(ds, elem, ctx)
            if elem.tag not in ds:
                self._record(ctx, path, elem, "X", code, rule, note)
                return
        self._record(ctx, path, elem, action, code, rule, note)

    # -- value transforms -----------------------------------------------------------------
    def _map_values(self, elem: DataElement, fn: Callable[[str, DataElement, Context], str],
                    ctx: Context) -> object:
        v = elem.value
        if isinstance(v, MultiValue | list | tuple):
            return [fn(str(x), elem, ctx) if str(x) else "" for x in v]
        return fn(str(v), elem, ctx)

    def _uid(self, value: str, elem: DataElement, ctx: Context) -> str:
        new = self.key.uid(value)
        ctx.mappings.append((elem.keyword or _tag_str(elem.tag), value, new))
        return new

    def _person(self, value: str, elem: DataElement, ctx: Context) -> str:
        new = self.key.pseudonym(value, prefix=self.pn_prefix)
        ctx.mappings.append((elem.keyword or _tag_str(elem.tag), value, new))
        return new

    def _clean(self, ds: Dataset, elem: DataElement, ctx: Context) -> str:
        vr = elem.VR
        if vr in ("DA", "DT"):
            fn = V.shift_da_value if vr == "DA" else V.shift_dt
            vals = elem.value if isinstance(elem.value, MultiValue | list) else [elem.value]
            out = [fn(str(x), ctx.day_offset) if str(x) else "" for x in vals]
            if any(o is None for o in out):
                elem.value = ""  # unparsable date: removed (recall first)
                return "unparsable-date-removed"
            elem.value = out if len(out) > 1 else out[0]
            return "date-shifted"
        if vr == "TM":
            return "time-kept"
        if vr == "AS":
            elem.value = V.cap_age(str(elem.value))
            return "age-capped"
        if vr == "PN":
            elem.value = self._map_values(elem, self._person, ctx)
            return "pseudonym"
        if vr in V.TEXT_VRS or vr in ("UT", "UC", "UR"):
            if self.cleaner is None:
                elem.value = V.zero_for_vr(vr)  # no text engine: remove (recall first)
                return "no-cleaner-emptied"
            elem.value = self._map_values(elem, self._clean_text, ctx)
            return "text-cleaned"
        # numeric / binary values cannot be "cleaned": remove (recall first)
        del ds[elem.tag]
        return "uncleanable-removed"

    def _clean_text(self, value: str, elem: DataElement, ctx: Context) -> str:
        assert self.cleaner is not None
        out = self.cleaner(value, ctx.known, ctx.patient)
        ctx.cleaned_text += 1
        if elem.VR in MULTI_TEXT:
            out = out.replace("\\", "/")
        limit = MAX_LEN.get(elem.VR)
        return out[:limit] if limit else out

    def _cap_ages(self, elem: DataElement, ctx: Context, path: str) -> None:
        if elem.value and V.cap_age(str(elem.value)) != str(elem.value):
            elem.value = V.cap_age(str(elem.value))
            self._record(ctx, path, elem, "C", "K", "hipaa-age-90")
