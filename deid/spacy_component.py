"""A spaCy pipeline component, so spaCy and medspaCy users can add de-identification.

    import spacy, deid.spacy_component  # registers the "deid" factory
    nlp = spacy.blank("en")
    nlp.add_pipe("deid", config={"ner": "off"})
    doc = nlp(text)
    doc.spans["deid"]            # every detected identifier (label = our fine label)
    doc.ents                     # the same, as entities (where they align to tokens)
    doc._.deid_text              # the de-identified text under the default policy

Spans that do not align to spaCy tokens are expanded to the enclosing tokens, never dropped.
"""

from __future__ import annotations

from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from deid.key import Key

if not Doc.has_extension("deid_text"):
    Doc.set_extension("deid_text", default=None)


class DeidComponent:
    def __init__(self, nlp: Language, name: str, policy: str | None, ner: str, key_file: str | None) -> None:
        from deid.text import Deidentifier

        key = Key.load(key_file)
        self.engine = Deidentifier(policy=policy, key=key,
                                   ner=False if ner in ("off", "false") else ner)

    def __call__(self, doc: Doc) -> Doc:
        res = self.engine.deidentify(doc.text)
        spans = []
        for s in res.spans:
            sp = doc.char_span(s.start, s.end, label=s.label, alignment_mode="expand")
            if sp is not None:
                spans.append(sp)
        doc.spans["deid"] = spans
        from spacy.util import filter_spans

        doc.ents = filter_spans(spans)
        doc._.deid_text = res.text
        return doc


@Language.factory("deid", default_config={"policy": None, "ner": "auto", "key_file": None})
def make_deid(nlp: Language, name: str, policy: Any, ner: str, key_file: Any) -> DeidComponent:
    return DeidComponent(nlp, name, policy, ner, key_file)
