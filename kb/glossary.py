"""Co-creation terms across Danish, Norwegian and English, for lexical query expansion.

Each set holds words that mean the same thing in practice; a query word from one set also
searches the others. Words are written in their plain form; the analyzer stems them.
"""

SYNONYM_SETS: tuple[frozenset[str], ...] = tuple(
    frozenset(words.split())
    for words in (
        "samskabelse samskaping samskabe samskape cocreation co-creation samproduktion",
        "borger borgere innbygger innbyggere citizen citizens resident residents",
        "tillid tillit trust tillidsopbygning",
        "frivillig frivillige volunteer volunteers frivilligheten",
        "kommune kommuner municipality municipalities council kommunen",
        "medarbejder medarbejdere ansatt ansatte employee employees staff",
        "leder ledere ledelse leadership manager managers",
        "politiker politikere politician politicians",
        "skeptisk skeptiske skeptical sceptical doubtful",
        "inddragelse medvirkning involvement participation involvere inddrage",
        "borgerinddragelse innbyggerinvolvering brukermedvirkning",
        "deltager deltagere deltaker deltakere participant participants",
        "civilsamfund sivilsamfunn sivilsamfunnet civilsamfundet",
        "forening foreninger association associations",
        "virksomhed virksomheder bedrift bedrifter company companies business",
        "måling måle måle effektmåling measure measuring measurement evaluation",
        "effekt effekter virkning effect effects impact",
        "værktøj værktøjer verktøy tool tools",
        "mål goal goals målsætning",
        "ligeværdig ligeværdigt likeverdig likeverdighet equal equality",
        "velfærd velferd welfare",
        "rolle roller role roles",
        "dialog dialogue",
        "erfaring erfaringer experience experiences",
        "ledige arbejdsløse arbeidsledige unemployed jobseekers",
        "jobcenter nav jobcentre",
        "facilitator fasilitator facilitering fasilitering facilitation",
        "magt makt power",
        "ansvar responsibility accountability",
        "netværk nettverk network networks",
    )
)


def expansions(word: str) -> frozenset[str]:
    """Other words for `word` (lower case), or an empty set."""
    found: set[str] = set()
    for group in SYNONYM_SETS:
        if word in group:
            found |= group
    found.discard(word)
    return frozenset(found)
