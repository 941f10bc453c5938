"""Danish, Norwegian and English words of one meaning, for lexical search across languages.

Each set holds words that mean the same thing in practice; the lexical index gives each set one
term of its own, so a word from one set also finds the others. Words are written in their plain
form; the analyzer stems them. A change here takes effect with the next `kb index`.

The first sets are co-creation and public-sector terms. The rest cover the shipped corpus's other
content words that occur in two or more passages, grouped by meaning, generic words left out. An
English word that a Danish or Norwegian word stems to (feel/fælles) stays out of the sets.
"""

SYNONYM_SETS: tuple[frozenset[str], ...] = tuple(
    frozenset(words.split())
    for words in (
        "samskabelse samskaping samskabe samskape cocreation co-creation samproduktion "
            "samskabelsen samskaber samskabes samskabt samskabende samskapingen samskaper samskapes "
            "samskapt samskapende cocreate co-create co-creates co-creating co-created",
        "borger borgere innbygger innbyggere citizen citizens resident residents borgerne "
            "borgernes borgeren borgerens innbyggerne innbyggernes medborger medborgere "
            "fellow-citizens",
        "tillid tillit trust tillidsopbygning",
        "frivillig frivillige volunteer volunteers frivilligheten",
        "kommune kommuner municipality municipalities council kommunen kommunale kommunal "
            "kommunalt kommunens kommunes municipal",
        "medarbejder medarbejdere ansatt ansatte employee employees staff medarbejderne "
            "medarbejdernes medarbejderen ansattes",
        "leder ledere ledelse leadership manager managers",
        "politiker politikere politician politicians politikerne politikernes",
        "skeptisk skeptiske skeptical sceptical doubtful",
        "inddragelse medvirkning involvement participation involvere inddrage inddrages inddraget "
            "inddrager involverer involveres involverede involvert involverte involve involves "
            "involving involved deltage deltagelse deltakelse delta deltar deltog deltok participate "
            "participates participating participated",
        "borgerinddragelse borgerdialog innbyggerinvolvering brukermedvirkning borgerdeltagelse "
            "borgerdeltakelse",
        "deltager deltagere deltaker deltakere participant participants deltagerne deltageres "
            "deltagernes deltakerne deltakernes",
        "civilsamfund sivilsamfunn sivilsamfunnet civilsamfundet",
        "forening foreninger association associations",
        "virksomhed virksomheder bedrift bedrifter company companies business",
        "måling måle måle effektmåling measure measuring measurement evaluation måler måles målt "
            "målinger measures measured measurements",
        "effekt effekter virkning effect effects impact effekterne effektene effekten",
        "værktøj værktøjer verktøy tool tools værktøjet ledelsesværktøj ledelsesværktøjer "
            "ledelsesverktøy verktøyet management-tool",
        "mål goal goals målsætning målet målene målsætninger målsætningen målsetning målsetninger "
            "objective objectives target targets",
        "ligeværdig ligeværdigt likeverdig likeverdighet equal equality",
        "velfærd velferd welfare",
        "rolle roller role roles",
        "dialog dialogue",
        "erfaring erfaringer experience experiences erfaringerne erfaringene erfaringen",
        "ledige arbejdsløse arbeidsledige unemployed jobseekers",
        "jobcenter nav jobcentre",
        "facilitator fasilitator facilitering fasilitering facilitation",
        "magt makt power",
        "ansvar responsibility accountability",
        "netværk nettverk network networks",
        # general public-sector vocabulary, so English questions reach Danish and Norwegian text
        "problem problemer problems problemstilling issue issues problemet problemerne problemene "
            "samfundsproblemer samfundsproblem samfunnsproblemer samfunnsproblem",
        "løsning løsninger solution solutions solve solving løse løsningen løsningerne løsningene "
            "velfærdsløsning velfærdsløsninger velferdsløsning velferdsløsninger samfundsløsninger",
        "udfordring udfordringer utfordring utfordringer challenge challenges udfordre udfordrer "
            "udfordres udfordret utfordre utfordrer utfordres challenged challenging",
        "samarbejde samarbeid samarbejder collaboration cooperation collaborate partnership "
            "partnerships",
        "fællesskab fællesskaber fellesskap fellesskaper community communities fællesskabet "
            "fællesskaberne fellesskapet fellesskapene",
        "lokalsamfund lokalsamfunn lokalmiljø neighbourhood neighborhood locality",
        "offentlig offentlige public",
        "privat private",
        "ressource ressourcer ressurs ressurser resource resources",
        "besparelse besparelser spare sparing innsparing savings cuts cutting budget",
        "økonomi økonomisk cost costs money finances penge pengene penger",
        "viden kunnskap knowledge know-how",
        "kompetence kompetencer kompetanse skills competence competences kompetent kompetente "
            "kompetencerne kompetansen kompetanser competent",
        "kursus kurser kurs course courses training uddannelse opplæring",
        "metode metoder method methods",
        "proces processer prosess prosesser process processes processen prosessen processerne "
            "prosessene samskabelsesprocessen samskabelsesprocesser samskapingsprosessen "
            "samskapingsprosesser",
        "projekt projekter prosjekt prosjekter project projects projektet prosjektet projekterne "
            "prosjektene samskabelsesprojekter samskabelsesprojektet samskapingsprosjekter "
            "samskapingsprosjektet",
        "idé idéer ide ideer idea ideas",
        "innovation innovasjon innovative nyskabelse nyskaping innovativ innovativt innovasjonen "
            "nytænkning nytenkning innovate innovates innovating",
        "resultat resultater result results outcome outcomes resultatet resultaterne resultatene",
        "værdi værdier verdi verdier value values",
        "evaluering evalueringer evaluate evaluating",
        "læring lære learning learn lessons lærer lærte lært læringen learns learned learnt teach "
            "teaches teaching",
        "beslutning beslutninger decision decisions decide",
        "indflydelse innflytelse influence",
        "demokrati demokratisk democracy democratic demokratiske democratically",
        "kultur kulturer culture cultures",
        "tankegang mindset mind-set tankesett mindsæt mentalitet mentaliteten mentality",
        "risiko risikovillighed risk risks risikovilje risikerer risikere risikoen risikoer "
            "risikoene risking risked risky",
        "åbenhed åpenhet openness open åben åbent åbne åpen åpent åpne",
        "vision visionen visjon visioner visionerne visjoner visjonene visionær visionære visjonær "
            "visionary visions",
        "strategi strategier strategy strategies",
        "politik policy policies politikk politikken politikområde politikområder politikkområde "
            "politikkområder policy-area policy-areas",
        "retningslinjer retningslinier guidelines guideline",
        "udvalg utvalg committee committees opgaveudvalg opgaveudvalget opgaveutvalg "
            "task-committee task-committees",
        "forvaltning forvaltningen administration department departments",
        "frontlinje frontlinjen førstelinjen frontline front-line",
        "bruger brugere bruker brukere user users brugerne brugernes brukerne brukernes",
        "service tjeneste tjenester services",
        "sundhed helse health",
        "beskæftigelse sysselsetting employment jobs",
        "unge ungdom youth young",
        "ældre eldre elderly older",
        "integration integrering",
        "flygtninge flyktninger refugees refugee",
        "indvandrere innvandrere immigrants",
        "klima climate",
        "bæredygtig bærekraftig sustainable sustainability varig lasting bæredygtigt bæredygtige "
            "bæredygtighed bærekraftige bærekraft",
        "initiativ initiativer initiative initiatives",
        "møde møder møte møter meeting meetings mødes møtes mødet møtet meet meets",
        "forum fora arena arenaer forums",
        "motivation motivasjon motivation motivate",
        "konflikt konflikter conflict conflicts",
        "håndbog drejebog håndbok handbook guide playbook",
        "facilitere fasilitere facilitate",
        "organisation organisationer organisasjon organisasjoner organisation organisations "
            "organization organizations",
        "socialøkonomisk sosialøkonomisk social-enterprise",
        "iværksætter iværksættere gründer gründere entrepreneur entrepreneurs entreprenør "
            "entreprenører entreprenørskab entreprenørskap entrepreneurship",
        "trivsel wellbeing well-being satisfaction",
        # the shipped corpus's content words, each with its Danish, Norwegian and English forms
        "fælles felles common shared joint",
        "sammen together",
        "skabe skaber skabes skabt skab skabte skabelse skabelsen skape skaper skapes skapt skapte "
            "skaping create creates creating created creation",
        "bidrage bidrager bidrog bidraget bidrag bidragene bidra bidrar bidro bidratt contribute "
            "contributes contributing contributed contribution contributions",
        "relevant relevante relevans relevance",
        "aktør aktører aktøren aktørerne aktørene actor actors",
        "part parter parten parterne partene interessent interessenter interessenterne "
            "interessentene party parties stakeholder stakeholders",
        "mulighed muligheder muligheden mulighederne mulighet muligheter muligheten mulighetene "
            "opportunity opportunities possibility possibilities",
        "udvikle udvikler udvikles udviklet udviklede udvikling udviklingen udviklinger "
            "videreudvikle videreudvikles videreudvikling utvikle utvikler utvikles utviklet utvikling "
            "utviklingen videreutvikle videreutvikling develop develops developing developed "
            "development developments",
        "finde finder fandt fundet finne finner fant funnet find finds finding",
        "eksisterende eksistere eksisterer findes fandtes finnes fantes exist exists existing "
            "existence",
        "lokal lokale lokalt local locally",
        "sektor sektorer sektoren sektorerne sektorene sector sectors",
        "eksempel eksempler eksemplet eksemplerne eksempelet eksemplene eksempelvis example "
            "examples instance instances",
        "fokus fokuset fokusere fokuserer fokuseret fokusert focus focuses focusing focused",
        "kræve kræver krævede krævet krav kravet kravene kreve krever krevde krevd require "
            "requires requiring required requirement requirements demand demands",
        "samfund samfundet samfundets samfundene samfunn samfunnet samfunnets samfundsmæssig "
            "samfundsmæssige samfunnsmessig samfunnsmessige society societies societal",
        "udgangspunkt udgangspunktet afsæt afsættet utgangspunkt utgangspunktet starting-point "
            "point-of-departure",
        "arbejde arbejder arbejdet arbejdede arbeide arbeider arbeidet arbeidde jobbe jobber "
            "jobbet work works working worked",
        "forsøg forsøge forsøger forsøgte forsøgt forsøk forsøke forsøker forsøkte prøve prøver "
            "prøvet prøvde attempt attempts try tries trying tried trial trials",
        "fremme fremmer fremmes fremmet promote promotes promoting promoted promotion",
        "igangsætte igangsætter igangsættes igangsat igangsættelse igangsette igangsetter "
            "igangsatt igangsetting initiere initierer initiate initiates initiating initiated launch "
            "launches launching launched",
        "oplevelse oplevelser oplevelsen opleve oplever oplevet opplevelse opplevelser opplevelsen "
            "oppleve opplever opplevd perceive perceives perceived perception perceptions",
        "føle føler følte følt følelse følelser",
        "praksis praksisser praktisk praktiske praktisere praktiserer praktiseres praktiseret "
            "praktisert practice practices practical practically practise practised practising "
            "practiced",
        "realisere realiserer realiseres realiseret realisert realisering realize realizes "
            "realizing realized realise realises realising realised achieve achieves achieving",
        "gennemføre gennemfører gennemføres gennemført gennemførelse gennemførelsen gjennomføre "
            "gjennomfører gjennomføres gjennomført gjennomføring implementere implementerer "
            "implementering implement implements implementing implemented implementation",
        "sikre sikrer sikres sikret sikring ensure ensures ensuring ensured secure secures "
            "securing",
        "tommelfingerregel tommelfingerregler tommelfingerreglerne tommelfingerreglene "
            "rule-of-thumb rules-of-thumb heuristic heuristics",
        "princip principper principperne prinsipp prinsipper prinsippene principle principles",
        "velfærdssamfund velfærdssamfundet velfærdsstat velfærdsstaten velferdssamfunn "
            "velferdssamfunnet velferdsstat velferdsstaten welfare-state welfare-society",
        "ønske ønsker ønskede ønsket ønskes lyst lysten wish wishes wished want wants wanted "
            "desire desires willingness",
        "berørt berørte berøres berøre affected",
        "politisk politiske politiskt political politically",
        "tværgående tværs kryds tverrgående tvers kryss cross-cutting cross-sectoral cross-sector",
        "tværfaglig tværfaglige tværfagligt tverrfaglig tverrfaglige interdisciplinary "
            "cross-disciplinary multidisciplinary",
        "dele deler deles delte delt deling share shares sharing",
        "vidensdeling videndeling kunnskapsdeling knowledge-sharing",
        "udveksle udveksler udveksles udveksling udvekslingen erfaringsudveksling utveksle "
            "utveksler utveksling utvekslingen erfaringsutveksling exchange exchanges exchanging "
            "exchanged",
        "ejerskab ejerskabet eierskap eierskapet ownership",
        "gevinst gevinster gevinsten gevinsterne gevinstene sidegevinster effektivitetsgevinster "
            "benefit benefits gain gains",
        "handlekraft handlekraften handlekraftig agency capacity-to-act",
        "hovedingrediens hovedingredienser hovedingredienserne hovedingrediensene ingrediens "
            "ingredienser ingredient ingredients",
        "international internationale internasjonal internasjonale internationally",
        "kollektiv kollektive kollektivt collective collectively",
        "konkret konkrete konkretisere concrete",
        "lykkes lykkedes lyktes succes succesen succesfuld suksess suksessen vellykket vellykkede "
            "succeed succeeds succeeded succeeding success successful",
        "løbende løpende ongoing continuous continuously continual",
        "potentiale potentialer potentialet potentiel potentielle potensial potensialer "
            "potensialet potensiell potensielle potential potentials",
        "bevægelse bevægelsen bevægelser bevægelsens samskabelsesbevægelse samskabelsesbevægelsen "
            "bevegelse bevegelsen bevegelser movement movements",
        "social sociale socialt sosial sosiale sosialt socially",
        "aktiv aktive aktivt active actively",
        "aktivitet aktiviteter aktiviteten aktiviteterne aktivitetene activity activities",
        "begynde begynder begyndte begyndt begyndelse begyndelsen begynne begynner begynte begynt "
            "begynnelse begynnelsen start starten starte starter startet begin begins beginning began",
        "bestræbelse bestræbelser bestræbelsen bestræbe bestræber bestrebelse bestrebelser "
            "bestrebelsen endeavour endeavours endeavor endeavors strive strives striving aspiration "
            "aspirations",
        "indsats indsatser indsatsen indsatserne innsats innsatser innsatsen innsatsene effort "
            "efforts intervention interventions",
        "evne evner evnen kapacitet kapasitet ability abilities capability capabilities capacity "
            "capacities",
        "forandre forandrer forandres forandret forandring forandringer forandringen omstille "
            "omstilling omstillingen endre endrer endres endret endring endringer endringen change "
            "changes changing changed transform transforms transformation",
        "rolleskift rolleskifte rolleskiftet rolleskifter rollebytte role-change role-changes "
            "role-shift role-shifts",
        "formål formålet formålene purpose purposes aim aims",
        "gensidig gensidige gensidigt gjensidig gjensidige gjensidighet mutual mutually reciprocal "
            "reciprocity",
        "hjælp hjælpe hjælper hjælpes hjalp hjulpet hjelp hjelpe hjelper hjelpes help helps "
            "helping helped",
        "engagere engagerer engageret engagement engagementet engasjere engasjerer engasjert "
            "engasjement engage engages engaging engaged",
        "konstruktiv konstruktive konstruktivt constructive constructively",
        "leverandør leverandører leverandøren leverandørerne leverandørene serviceleverandør "
            "supplier suppliers provider providers vendor vendors",
        "manifest manifestet manifester samskabelsesmanifest manifesto manifestos",
        "mobilisere mobiliserer mobiliseres mobiliseret mobilisert mobilisering mobiliseringen "
            "ressourcemobilisering ressursmobilisering mobilise mobilises mobilising mobilize "
            "mobilizes mobilizing mobilisation mobilization",
        "ramme rammer rammen rammerne rammene rammebetingelser framework frameworks",
        "spørgsmål spørgsmålet spørgsmålene spørsmål spørsmålet spørsmålene question questions",
        "stat staten statens stater state states government governments",
        "systematisk systematiske systematic systematically",
        "søge søger søgte søke søker søkte seek seeks seeking sought",
        "traditionel traditionelle traditionelt tradition traditioner tradisjonell tradisjonelle "
            "tradisjon tradisjoner traditional traditionally traditions",
        "tæt tætte tættere tett tette tettere close closer closely",
        "øge øger øges øget øgede øgning øke øker økes økt økning økende stigende voksende "
            "increase increases increasing increased growing rising",
        "ambition ambitioner ambitionen ambitiøs ambitiøse ambitiøst ambisjon ambisjoner ambisiøs "
            "ambisiøse ambitious ambitions",
        "anvende anvender anvendes anvendt anvendelse bruge bruges brugt bruke brukes brukt use "
            "uses using used apply applies applying applied",
        "behov behovet behovene brug need needs",
        "bryde bryder brudt bryte bryter brudd break breaks breaking",
        "knække knækker knækket knekke knekker crack cracks cracking",
        "effektiv effektive effektivt effektivitet effektivisering effektivisere efficient "
            "efficiently efficiency effective effectiveness",
        "fordel fordelen fordelene advantage advantages",
        "forbedre forbedrer forbedres forbedret forbedrede forbedring forbedringer forbedringen "
            "improve improves improving improved improvement improvements",
        "forløb forløbet forløbene forløp forløpet programme programmes program programs",
        "forny fornyer fornyes fornyet fornyelse fornyelsen fornye renew renews renewing renewed "
            "renewal",
        "forstå forstår forstod forstået forståelse forståelsen problemforståelse "
            "problemforståelsen forsto forstått understand understands understanding understood",
        "grundlæggende grunnleggende fundamental fundamentally basic",
        "handling handlinger handlingen handle handlet handlede handlingsfelt handlingsfelter act "
            "acts acting action actions",
        "hindre hindrer hindres hindret forhindre forhindrer prevent prevents preventing prevented",
        "forhindring forhindringer forhindringerne hindring hindringer barriere barrierer "
            "barrierene obstacle obstacles barrier barriers",
        "invitere inviterer inviteres inviteret invitert invitation invitasjon invite invites "
            "inviting invited invitations",
        "kompleks komplekse komplekst kompleksitet complex complexity",
        "kreativ kreative kreativt kreativitet kreativiteten creative creativity",
        "menneske mennesker menneskene menneskerne folk people humans person personer persons",
        "national nationale nasjonal nasjonale landsdækkende landsdekkende nationwide nationally",
        "område området områder områderne områdene area areas field fields domain domains",
        "opstå opstår opstod opstået oppstå oppstår oppsto oppstått arise arises arising arose "
            "emerge emerges emerging",
        "laboratorium laboratoriet laboratorier samskabelseslaboratoriet lab labs laboratory "
            "laboratories",
        "udnytte udnytter udnyttes udnyttelse ressourceudnyttelse utnytte utnytter utnyttelse "
            "ressursutnyttelse utilise utilises utilisation utilize utilizes utilization exploit "
            "exploits",
        "sammenhæng sammenhænge sammenhængen sammenheng sammenhenger sammenhengen context contexts",
        "sparring sparre sparringspartner coaching sounding-board",
        "samspil samspillet samspill interplay interaction interactions interact",
        "styre styrer styres styring styringen styringskæde styringskjede govern governs governing "
            "governance steer steering control",
        "regel regler reglerne reglene regelstyring regulering rule rules regulation regulations",
        "styrke styrker styrkes styrket styrkelse styrkelsen styrking stærk stærke stærkt sterk "
            "sterke sterkt strengthen strengthens strengthening strengthened strength strengths strong",
        "trin trinnet trinene trinn trinnene fase faser step steps stage stages phase phases",
        "træk trækkene trekk trekkene feature features trait traits characteristic characteristics",
        "tænke tænker tænkte tænkt tænkning tenke tenker tenkte tenkt tenkning think thinks "
            "thinking thought",
        "silotænkning silotænkningen silotenkning silotenkningen silo siloer siloene silos "
            "silo-thinking",
        "vanetænkning vanetænkningen vanetenkning vanetenkningen vane vaner rutine rutiner habit "
            "habits habitual routine routines",
        "udbrede udbreder udbredes udbredelse udbredt spre sprer spres spredning spredt spread "
            "spreads spreading disseminate disseminating dissemination",
        "vej vejen veje vejene vei veien veier veiene path paths pathway pathways route routes "
            "road roads",
        "virke virker virkede virket fungere fungerer fungerede fungerte fungert function "
            "functions functioning",
        "vise viser viste vist show shows showing shown demonstrate demonstrates",
        "adgang adgangen access",
        "almen almene almenvel almenvellet almennyttig almennyttige common-good public-interest",
        "alternativ alternativer alternativet alternative alternatives",
        "autoritet autoriteter autoriteten myndighed myndigheder myndigheden myndighet myndigheter "
            "authority authorities",
        "baggrund baggrunden bakgrunn bakgrunnen background backgrounds",
        "betingelse betingelser betingelserne betingelsene vilkår vilkårene condition conditions",
        "forudsætning forudsætninger forudsætningen forutsetning forutsetninger forutsetningen "
            "prerequisite prerequisites precondition preconditions",
        "betyde betyder betød betydning betydningen bety betyr betydde mean meaning significance",
        "bevidst bevidsthed bevisst bevissthet conscious consciously consciousness deliberate "
            "deliberately",
        "civilsamfundsorganisation civilsamfundsorganisationer civilsamfundsorganisationerne "
            "sivilsamfunnsorganisasjon sivilsamfunnsorganisasjoner ngo ngos nonprofit nonprofits "
            "non-profit",
        "etablere etablerer etableres etableret etablerede etablering etableringen etablert "
            "etablerte establish establishes establishing established establishment",
        "definere definerer defineres defineret definert definition definitionen definisjon define "
            "defines defining defined",
        "design designe designer designet designen designs designing designed",
        "dilemma dilemmaer dilemmaerne dilemmaene dilemmaet dilemmas",
        "diskussion diskussioner diskussionen diskutere diskuterer diskuteres diskusjon "
            "diskusjoner diskusjonen debat debatten debatt discussion discussions discuss discusses "
            "discussing debate debates",
        "drøm drømme drømmer drømmen drømmene dream dreams dreaming",
        "ensomhed ensomheden ensomhet ensomheten ensom ensomme loneliness lonely isolation",
        "erhvervsliv erhvervslivet næringsliv næringslivet industry private-sector",
        "erkendelse erkendelsen erkende erkender erkjennelse erkjennelsen erkjenne recognition "
            "acknowledgement acknowledgment acknowledge recognise recognize",
        "forankring forankringen forankre forankrer forankret anchoring anchor anchored embedding "
            "embedded embed",
        "formulere formulerer formuleres formuleret formulert formulering formulate formulates "
            "formulating formulated formulation",
        "forpligte forpligter forpligtet forpligtelse forpligtelser forplikte forplikter "
            "forpliktet forpliktelse forpliktelser commit commits committed commitment commitments "
            "obligation obligations",
        "forretningsmodel forretningsmodeller forretningsmodellen forretningsmodell business-model "
            "business-models",
        "model modeller modellen modell modellene samfundsmodel samfundsmodeller samfunnsmodell "
            "models",
        "forskel forskelle forskellen forskjell forskjeller forskjellen difference differences",
        "mangfoldighed mangfoldigheden mangfoldig mangfoldighet mangfoldigheten mangfold "
            "forskellighed forskelligheden diversity diverse",
        "fortsætte fortsætter fortsatte fortsat fortsættelse fortsette fortsetter fortsatt "
            "fortsettelse continue continues continued continuing continuation",
        "forvente forventer forventet forventning forventninger forventningerne forventningene "
            "expect expects expected expectation expectations",
        "fremtid fremtiden fremtidig fremtidige framtid framtiden framtidig future futures",
        "garanti garantier garantien garantere guarantee guarantees guaranteed",
        "gruppe grupper gruppen grupperne gruppene group groups",
        "håndtere håndterer håndteres håndteret håndtering håndteringen håndtert deal deals "
            "dealing cope coping tackle tackling",
        "høre hører høres hørt hørte høring høringer høringen konsultere konsulteres konsultation "
            "hear hears heard hearing hearings consult consults consulted consulting consultation",
        "indsigt indsigter indsigten indsigterne innsikt innsikter innsikten insight insights",
        "inspiration inspirere inspirerer inspireret inspirasjon inspirert inspire inspires "
            "inspiring inspired",
        "interessebaseret interessebaserede interessebasert interessebaserte interesseorganisation "
            "interesseorganisationer interesseorganisasjon interesseorganisasjoner interest-based "
            "interest-group interest-groups",
        "justere justerer justeres justering justeringer adjust adjusts adjusting adjusted "
            "adjustment adjustments",
        "kendskab kendskabet kjennskap kjennskapet awareness familiarity",
        "klient klienter klienten klienterne klientene client clients",
        "kunde kunder kunden kunderne kundene customer customers consumer consumers",
        "kommunikation kommunikationen kommunikere kommunikerer kommunikasjon kommunikasjonen "
            "communication communicate communicates communicating",
        "kompetenceudvikling kompetanseutvikling opkvalificering capacity-building upskilling "
            "professional-development",
        "kritik kritikken kritisk kritiske kritisere kritiserer kritikk critique criticism "
            "criticise criticize critical",
        "kvalitet kvaliteten kvaliteter quality qualities",
        "projektledelse projektleder projektledere prosjektledelse prosjektleder prosjektledere "
            "project-management project-manager project-managers",
        "liv livet leve lever levede levet levde lives living life",
        "miste mister mistede mistet lose loses losing lost loss",
        "niveau niveauer niveauet nivå nivåer nivået level levels",
        "norm normer normerne normene norms",
        "opgave opgaver opgaven opgaverne oppgave oppgaver oppgaven oppgavene task tasks "
            "assignment assignments",
        "opsamle opsamler opsamling indsamle indsamler indsamling dataindsamling samle samler "
            "innsamling collect collects collecting collection gather gathers gathering",
        "overordnet overordnede overall overarching high-level",
        "personlig personlige personligt personally",
        "plads pladsen plass plassen rum rummet rom rommet space spaces room rooms",
        "positiv positive positivt positively",
        "reducere reducerer reduceres reduceret reduktion redusere reduserer redusert reduksjon "
            "reduce reduces reducing reduced reduction",
        "refleksion refleksioner refleksionen reflektere reflekterer refleksjon refleksjoner "
            "reflection reflections reflect reflects reflecting",
        "rådhus rådhuset rådhusene city-hall town-hall",
        "kode koden koder samskabelseskoden code codes",
        "shoppe shopper shopping shop",
        "system systemer systemet systemerne systemene systems",
        "turde våge våger dare dares daring courage",
        "uenighed uenigheder uenigheden uenighet uenigheter disagreement disagreements disagree",
        "uforudset uforudsete uforutsett uforutsette unforeseen unexpected unintended",
        "understøtte understøtter understøttes understøttet støtte støtter støttes støttet support "
            "supports supporting supported",
        "undersøge undersøger undersøgelse undersøgelser undersøgelsen undersøke undersøker "
            "undersøkelse undersøkelser undersøkelsen study studies investigate investigates "
            "investigating investigation survey surveys",
        "marked markedet markeder markederne markedene velfærdsmarked velfærdsmarkeder "
            "velværdsmarkeder market markets marketplace",
        "verdensmester verdensmestre world-champion world-leader",
        "vækst væksten vekst veksten growth",
        "vælge vælger valgte valgt valg velge velger choose chooses choosing chose choice choices",
        "workshop workshops workshoppen workshoppene",
    )
)

