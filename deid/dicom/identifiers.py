"""Identifying values collected from a header BEFORE any action, for the text/pixel engines."""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.valuerep import PersonName

# keyword -> key of Known.from_mapping
KNOWN_FIELDS: dict[str, str] = {
    "PatientName": "name", "OtherPatientNames": "name", "PatientBirthName": "name",
    "PatientMotherBirthName": "name", "ResponsiblePerson": "name",
    "ReferringPhysicianName": "doctor", "PerformingPhysicianName": "doctor",
    "NameOfPhysiciansReadingStudy": "doctor", "OperatorsName": "doctor",
    "RequestingPhysician": "doctor", "PhysiciansOfRecord": "doctor",
    "PatientID": "mrn", "OtherPatientIDs": "mrn",
    "AccessionNumber": "id", "StudyID": "id", "MedicalRecordLocator": "id",
    "PatientBirthDate": "dob",
    "PatientAddress": "address", "InstitutionName": "institution",
    "InstitutionAddress": "address", "InstitutionalDepartmentName": "institution",
    "ReferringPhysicianAddress": "address",
    "RegionOfResidence": "address",
    "PatientTelephoneNumbers": "phone", "ReferringPhysicianTelephoneNumbers": "phone",
    "StudyDate": "date", "SeriesDate": "date", "AcquisitionDate": "date", "ContentDate": "date",
}
NESTED = ("OtherPatientIDsSequence", "ReferencedPatientSequence")
MIN_LEN = 2


def _values(ds: Dataset, keyword: str) -> list[str]:
    if keyword not in ds:
        return []
    v = ds[keyword].value
    items = list(v) if isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue" else [v]
    out: list[str] = []
    for it in items:
        if it is None:
            continue
        if isinstance(it, PersonName):
            full = str(it).strip()
            if full:
                out.append(full)
            comps = [c for c in (it.family_name, it.given_name, it.middle_name) if c]
            if comps:
                out.append(" ".join(comps[1:] + comps[:1]))  # Given Middle Family
                out.extend(c for c in comps if len(c) >= MIN_LEN)
            continue
        s = str(it).strip()
        if len(s) >= MIN_LEN:
            out.append(s)
    return out


def collect(ds: Dataset) -> dict[str, list[str]]:
    """Identifiers by kind (name, mrn, id, dob, address, phone, date) plus ``patient_id``."""
    found: dict[str, list[str]] = {}
    sources = [ds]
    for kw in NESTED:
        if kw in ds and ds[kw].VR == "SQ":
            sources.extend(ds[kw].value)
    for src in sources:
        for kw, kind in KNOWN_FIELDS.items():
            for v in _values(src, kw):
                bucket = found.setdefault(kind, [])
                if v not in bucket:
                    bucket.append(v)
    # every other person name at any depth (observers, SR PNAME items...): known as "doctor"
    names = set(found.get("name", [])) | set(found.get("doctor", []))
    for elem in ds.iterall():
        if elem.VR == "PN" and elem.keyword not in KNOWN_FIELDS and elem.value:
            holder = Dataset()
            holder.add_new(0x00100010, "PN", elem.value)
            for v in _values(holder, "PatientName"):
                if v not in names:
                    names.add(v)
                    found.setdefault("doctor", []).append(v)
    return found


def patient_key(ds: Dataset) -> str:
    """The identity used for pseudonyms and date offsets: PatientID, else PatientName, else
    the Study Instance UID (so that one study at least stays internally consistent)."""
    for kw in ("PatientID", "PatientName", "StudyInstanceUID"):
        v = str(ds.get(kw, "") or "").strip()
        if v:
            return v
    return ""


def known_object(mapping: dict[str, list[str]], patient_id: str) -> object:
    """``deid.known.Known`` built from the mapping (imported lazily)."""
    from deid.known import Known

    data: dict[str, object] = {k: list(v) for k, v in mapping.items()}
    data["patient_id"] = patient_id
    return Known.from_mapping(data)
