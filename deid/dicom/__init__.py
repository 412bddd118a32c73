"""DICOM de-identification: PS3.15 Annex E header profile, pixel guard and archive processing.

Modules: ``table`` (the attribute action table from rules/dicom/actions.yaml), ``profile``
(options, profiles, method codes), ``values`` (dummies, date shifts, ages), ``identifiers``
(known identifiers collected from a header), ``header`` (applies the actions to a dataset at
every depth), ``guard`` (burned-in text risk and overlays), ``deidentify`` (one dataset:
identifiers -> pixels -> header -> markers), ``archive`` (folders: outputs, manifest, resume),
``leakcheck`` (verifies that no identifying input value survives in an output). Pixel cleaning
(OCR) lives in ``pixels``/``ocr``/``burn``/``regions``.
"""
