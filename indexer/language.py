"""Tell Danish, Norwegian Bokmål and English apart, for documents added without a language.

General language identifiers confuse Danish and Bokmål (they share most words), so this counts
only what separates them: function words each language has and the other lacks (da "af, nogle,
efter, mig, hvad, blev, meget, mellem, nu, ud" against nb "av, noen, etter, meg, hva, ble, mye,
mellom, nå, ut"), Nynorsk forms counted as Norwegian (ikkje, eg, kva), and spellings (da
-skab-/-tion/-hed/-ej against nb -skap-/-sjon/-het/-ei, kj-/gj-). English is recognised
by its own function words. Too few markers, or a near tie, gives no answer: then ask for --lang.
"""

from __future__ import annotations

import re
from typing import Optional

_WORDS = {
    "da": """af nogle noget nogen efter mig dig sig hvad blev bliver blive meget mellem lidt nu ud op
        sådan jer vores hinanden gennem igennem mod blandt endnu tit således desuden derudover
        arbejde arbejder samarbejde indbygger indbyggere uden måske tilbage siger giver tager børn
        spørgsmål hjælpe fik skete løbende deltager deltagere deltagerne proces processen processer
        bruge bruges brugere brugerne søge søger mødes mødtes møde møder""",
    "nb": """av noen noe etter meg deg seg hva ble blir bli mye mellom litt nå ut opp slik dere vår
        våre vårt hverandre gjennom mot blant ennå dessuten arbeid arbeider samarbeid innbygger
        innbyggere uten kanskje tilbake sier gir tar spørsmål hjelpe ikkje eg kva korleis berre òg
        fikk skjedde løpende deltaker deltakere deltakerne prosess prosessen prosesser bruke brukes
        brukere brukerne søke søker møtes møttes møte møter""",
    "en": """the and of is are was were this that these with which from has not or been it its as
        on an they their who what how""",
}
MARKERS = {lang: frozenset(words.split()) for lang, words in _WORDS.items()}
_SPELLINGS = {
    "da": re.compile(r"skab|(?:tion(?:er|erne|en)?|hed(?:en|er|erne)?|ej(?:e|er|en)?)$"),
    "nb": re.compile(r"^(?:kj|gj)|skap|(?:sjon(?:er|ene|en)?|het(?:en|er|ene)?|ei(?:e|er|en)?)$"),
}
_TOKEN = re.compile(r"[^\W\d_]+")
MIN_MARKERS = 3  # fewer than this says nothing
MARGIN = 1.5  # the winner needs this many times the runner-up's markers


def marker_counts(text: str) -> dict[str, float]:
    """Markers of each language in the text (a spelling counts half a function word)."""
    counts = {lang: 0.0 for lang in MARKERS}
    for token in _TOKEN.findall(text.lower()):
        for lang, words in MARKERS.items():
            if token in words:
                counts[lang] += 1
        for lang, spelling in _SPELLINGS.items():
            if len(token) > 4 and spelling.search(token):
                counts[lang] += 0.5
    return counts


def detect_language(text: str) -> Optional[str]:
    """'da', 'nb' or 'en'; None when the text does not say clearly enough."""
    counts = marker_counts(text)
    ranked = sorted(counts, key=counts.get, reverse=True)
    best, second = ranked[0], ranked[1]
    if counts[best] < MIN_MARKERS or counts[best] < MARGIN * counts[second]:
        return None
    return best
