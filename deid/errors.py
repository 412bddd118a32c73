"""Exception types. Messages never carry note text or header values."""

from __future__ import annotations


class DeidError(Exception):
    """Base class for errors reported to the user."""


class RuleError(DeidError):
    """A rule, word list, policy or table in ``rules/`` is invalid."""

    def __init__(self, file: object, rule: object | None, message: str) -> None:
        where = f"{file}" + (f", rule {rule!r}" if rule is not None else "")
        super().__init__(f"{where}: {message}")
        self.file = str(file)
        self.rule = rule
        self.message = message

    def __reduce__(self) -> tuple[type, tuple[object, object, str]]:
        return (type(self), (self.file, self.rule, self.message))  # crosses process pools


class InputError(DeidError):
    """An input file or record that cannot be processed (reason only, never content)."""


class DeviceError(DeidError, ValueError):
    """A requested device or arithmetic this machine cannot provide (CUDA, int8 without VNNI)."""
