"""A tiny template language: ``{SLOT:arg}`` generators, ``[a|b]`` choices, ``[?x]`` options.

Templates are compiled once into nested lists of nodes and rendered many times:
``("t", text)`` literal, ``("s", name, arg)`` slot, ``("c", [alt, ...])`` choice, ``("o", seq)``
optional. A backslash escapes the next character.
"""

from __future__ import annotations

from typing import Any

Node = tuple[Any, ...]


def compile_template(src: str) -> list[Node]:
    seq, pos = _parse(src, 0, top=True)
    if pos != len(src):
        raise ValueError(f"unbalanced ']' at offset {pos}")
    return seq


def _parse(src: str, pos: int, top: bool) -> tuple[list[Node], int]:
    """Parse a sequence until ``|`` or ``]`` (inside brackets) or the end."""
    seq: list[Node] = []
    buf: list[str] = []

    def flush() -> None:
        if buf:
            seq.append(("t", "".join(buf)))
            buf.clear()

    n = len(src)
    while pos < n:
        ch = src[pos]
        if ch == "\\" and pos + 1 < n:
            buf.append(src[pos + 1])
            pos += 2
        elif ch == "{":
            end = src.find("}", pos)
            if end < 0:
                raise ValueError(f"unclosed '{{' at offset {pos}")
            body = src[pos + 1:end]
            name, _, arg = body.partition(":")
            if not name or not (name.replace("_", "").isalnum()):
                raise ValueError(f"bad slot name at offset {pos}")
            flush()
            seq.append(("s", name, arg))
            pos = end + 1
        elif ch == "[":
            flush()
            if src.startswith("[?", pos):
                inner, pos = _parse(src, pos + 2, top=False)
                if pos >= n or src[pos] != "]":
                    raise ValueError(f"unclosed '[?' near offset {pos}")
                seq.append(("o", inner))
                pos += 1
            else:
                alts: list[list[Node]] = []
                pos += 1
                while True:
                    alt, pos = _parse(src, pos, top=False)
                    alts.append(alt)
                    if pos >= n:
                        raise ValueError("unclosed '['")
                    if src[pos] == "|":
                        pos += 1
                        continue
                    pos += 1  # ']'
                    break
                seq.append(("c", alts))
        elif not top and ch in "|]":
            break
        elif top and ch == "]":
            flush()
            return seq, pos
        else:
            buf.append(ch)
            pos += 1
    flush()
    return seq, pos


def slots_of(seq: list[Node]) -> list[tuple[str, str]]:
    """All (name, arg) slots in a compiled template (for validation)."""
    out: list[tuple[str, str]] = []
    for node in seq:
        if node[0] == "s":
            out.append((node[1], node[2]))
        elif node[0] == "c":
            for alt in node[1]:
                out.extend(slots_of(alt))
        elif node[0] == "o":
            out.extend(slots_of(node[1]))
    return out
