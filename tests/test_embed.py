"""The fake encoder the plumbing tests run on: deterministic, normalised, and led by shared words."""

from __future__ import annotations

import numpy as np
import pytest

from kb.embed import load_embedder
from kb.models import EmbedderSpec

PASSAGES = [
    "Borgerne er skeptiske, når kommunen inviterer til samskabelse; derfor begynder det med tillidsopbygning.",
    "Frivillige organisasjoner er viktige partnere for kommunen i lokalmiljøet.",
    "Municipalities rarely measure the value created by working with civil society.",
]


@pytest.fixture(scope="module")
def fake():
    return load_embedder(EmbedderSpec(backend="fake"))


def test_backend_fake_alone_selects_its_model():
    spec = EmbedderSpec.model_validate({"backend": "fake"})
    assert spec.model == "hashed-ngrams"
    assert EmbedderSpec().model == "multilingual-e5-small"  # the default backend keeps its own


def test_vectors_are_deterministic_unit_length_and_of_the_declared_shape(fake):
    first = fake.embed_passages(PASSAGES)
    again = load_embedder(EmbedderSpec(backend="fake")).embed_passages(list(reversed(PASSAGES)))[::-1]
    assert first.shape == (3, fake.dim) and first.dtype == np.float32
    assert np.array_equal(first, again)  # the same text, the same vector, in any batch and any process
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-6)
    assert np.array_equal(fake.embed_queries(PASSAGES), first)  # no prefixes: queries and passages alike
    assert fake.name == "fake:hashed-ngrams" and fake.normalized and fake.query_prefix == fake.passage_prefix == ""


@pytest.mark.parametrize("query, expected", [
    ("skeptiske borgere og tillidsopbygning", 0),
    ("frivillige partnere i lokalmiljøet", 1),
    ("measure value civil society", 2),
    ("tillidsopbygningen blandt borgerne", 0),  # inflected forms share letter trigrams
])
def test_a_query_ranks_the_passage_sharing_its_words_first(fake, query, expected):
    scores = fake.embed_passages(PASSAGES) @ fake.embed_queries([query])[0]
    assert int(np.argmax(scores)) == expected, scores


def test_case_and_accents_do_not_matter_and_text_without_words_is_zero(fake):
    a, b = fake.embed_queries(["Samskabelse CAFÉ Tillid", "samskabelse cafe tillid"])
    assert np.array_equal(a, b)
    assert not fake.embed_queries(["?! 42 og"]).any()  # no word of four letters: nothing to compare
