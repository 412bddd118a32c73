"""Regenerate corpora/dicom/: small DICOM files carrying synthetic identifiers, for the demo.

Sources are pydicom's own test images (pydicom/pydicom-data, read with download=False). The
identifiers written into them are invented and match the demo notes in corpora/notes/ (patient
A7910310), so the demo shows one patient's notes and images shifted by the same number of days.
One ultrasound image carries burned-in text (deid/dicom/burn.py) to exercise OCR masking.

Usage: python scripts/make_sample_dicom.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydicom import dcmread  # noqa: E402
from pydicom.data import get_testdata_file  # noqa: E402
from pydicom.dataset import Dataset  # noqa: E402
from pydicom.sequence import Sequence  # noqa: E402

OUT = ROOT / "corpora" / "dicom"
PATIENT = {
    "PatientName": "Ciaragain^Stella", "PatientID": "A7910310", "PatientBirthDate": "19490612",
    "PatientSex": "F", "PatientAddress": "6820 Ferrell Blvd, Claremore, OK 74017",
    "PatientTelephoneNumbers": "(918) 555-0147", "OtherPatientIDs": "SSN 524-81-0934",
}
STUDY = {
    "InstitutionName": "Tempe Junction Veterans Affairs Medical Center",
    "InstitutionAddress": "1 Veterans Way, Tempe, AZ 85281",
    "ReferringPhysicianName": "Stutzman-Phetha^Jono", "OperatorsName": "Xolo^Ana",
    "AccessionNumber": "ACC2003-0329-17", "StationName": "TJVA-CT02",
}


def patient_file(src: str, description: str, comments: str) -> Dataset:
    ds = dcmread(get_testdata_file(src, download=False))
    for k, v in {**PATIENT, **STUDY}.items():
        setattr(ds, k, v)
    ds.StudyDescription = description
    ds.ImageComments = comments
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20030326"
    item = Dataset()
    item.ReferencedSOPClassUID = ds.SOPClassUID
    item.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    ds.ReferencedImageSequence = Sequence([item])
    ds.BurnedInAnnotation = "NO"
    return ds


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    ct = patient_file("CT_small.dcm", "CT CHEST W/O CONTRAST - Ciaragain",
                      "Per Dr. Stutzman-Phetha: compare with 05-JUN-1998 study at Tempe Junction.")
    mr = patient_file("MR_small.dcm", "MR BRAIN for Stella Ciaragain",
                      "Patient Stella (MRN A7910310) tolerated exam; called (918) 555-0147.")
    mr.StudyInstanceUID = ct.StudyInstanceUID  # one study, two series
    ct.save_as(OUT / "ct_chest.dcm", enforce_file_format=True)
    mr.save_as(OUT / "mr_brain.dcm", enforce_file_format=True)
    from deid.dicom.burn import build, encode

    case = build("us_rgb")  # burned-in DOE^JANE / MRN / date, synthetic
    us = case.ds
    us.PatientName, us.PatientID, us.PatientBirthDate = "DOE^JANE", "40817723", "19610314"
    us.InstitutionName = "Lakeside Imaging"
    us.StudyDescription = "US ABDOMEN - Jane Doe"
    encode(us, "rle")  # lossless and small enough to ship
    us.save_as(OUT / "us_burned_in.dcm", enforce_file_format=True)
    for p in OUT.glob("*.dcm"):
        p.chmod(0o644)
    print(f"wrote {len(list(OUT.glob('*.dcm')))} files to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
