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
        "borgerinddragelse borgerdialog innbyggerinvolvering brukermedvirkning",
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
        # general public-sector vocabulary, so English questions reach Danish and Norwegian text
        "problem problemer problems problemstilling issue issues",
        "løsning løsninger solution solutions solve solving løse",
        "udfordring udfordringer utfordring utfordringer challenge challenges",
        "samarbejde samarbeid samarbejder collaboration cooperation collaborate partnership partnerships",
        "fællesskab fællesskaber fellesskap fellesskaper community communities",
        "lokalsamfund lokalsamfunn lokalmiljø neighbourhood neighborhood locality",
        "offentlig offentlige public",
        "privat private",
        "ressource ressourcer ressurs ressurser resource resources",
        "besparelse besparelser spare sparing innsparing savings cuts cutting budget",
        "økonomi økonomisk cost costs money finances",
        "viden kunnskap knowledge know-how",
        "kompetence kompetencer kompetanse skills competence competences",
        "kursus kurser kurs course courses training uddannelse opplæring",
        "metode metoder method methods",
        "proces processer prosess prosesser process processes",
        "projekt projekter prosjekt prosjekter project projects",
        "idé idéer ide ideer idea ideas",
        "innovation innovasjon innovative nyskabelse nyskaping",
        "resultat resultater result results outcome outcomes",
        "værdi værdier verdi verdier value values",
        "evaluering evalueringer evaluate evaluating",
        "læring lære learning learn lessons",
        "beslutning beslutninger decision decisions decide",
        "indflydelse innflytelse influence",
        "demokrati demokratisk democracy democratic",
        "kultur kulturer culture cultures",
        "tankegang mindset mind-set tankesett",
        "risiko risikovillighed risk risks risikovilje",
        "åbenhed åpenhet openness open",
        "vision visionen visjon",
        "strategi strategier strategy strategies",
        "politik policy policies",
        "retningslinjer retningslinier guidelines guideline",
        "udvalg utvalg committee committees",
        "forvaltning forvaltningen administration department departments",
        "frontlinje frontlinjen førstelinjen frontline front-line",
        "bruger brugere bruker brukere user users",
        "service tjeneste tjenester services",
        "sundhed helse health",
        "beskæftigelse sysselsetting employment jobs",
        "unge ungdom youth young",
        "ældre eldre elderly older",
        "integration integrering",
        "flygtninge flyktninger refugees refugee",
        "indvandrere innvandrere immigrants",
        "klima climate",
        "bæredygtig bærekraftig sustainable sustainability varig lasting",
        "initiativ initiativer initiative initiatives",
        "møde møder møte møter meeting meetings",
        "forum fora arena arenaer forums",
        "motivation motivasjon motivation motivate",
        "konflikt konflikter conflict conflicts",
        "håndbog drejebog håndbok handbook guide playbook",
        "facilitere fasilitere facilitate",
        "organisation organisationer organisasjon organisasjoner organisation organisations organization organizations",
        "socialøkonomisk sosialøkonomisk social-enterprise",
        "iværksætter iværksættere gründer gründere entrepreneur entrepreneurs",
        "trivsel wellbeing well-being satisfaction",
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
