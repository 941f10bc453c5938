"""Structure-aware chunking with exact source positions.

Headings start sections and travel with their chunks; bullet lists stay with the sentence
that introduces them; long paragraphs split at sentence boundaries (Danish and Norwegian
abbreviations do not end sentences) with one sentence of overlap. Every chunk keeps the
character offsets and line numbers (and pages, for paginated sources) of its text.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import lru_cache

from kb.models import Chunk

# Bump when the passages a text gives change (boundaries, sections, text; indexer/clean.py's
# rules included): `kb index` then re-chunks every document. Comments and refactoring do not.
CHUNKER_VERSION = "2"

MAX_WORDS = 160  # one unit up to this stays whole; e5 reads 512 tokens (~250 Danish words)
TARGET_WORDS = 110  # pack paragraphs of a section up to this
PIECE_WORDS = 110  # size of the pieces a long paragraph is split into
SMALL_WORDS = 30  # neighbouring passages both under this are merged
TINY_WORDS = 12  # a passage under this joins its neighbour

ABBREVIATIONS = frozenset(
    """fx f.eks bl.a osv mv m.v m.fl mfl ca jf jfr dvs evt nr pga p.g.a mht m.h.t
    etc inkl ekskl iflg ift i.f.t ifm i.f.m s kr pct vedr hhv bla t.d t.eks mm m.m
    pkt tlf kap ang gl el o.l ol sml dr prof mr mrs e.g i.e vs kl""".split()
)

_BULLET = re.compile(r"^\s*(?:[-•▪■✓✔*–·o]\s+|\d{1,2}[.)]\s+|[a-z][.)]\s+)")
_STEP_HEADING = re.compile(r"^(trin|step|steg|fase|del|kapitel|modul)\s+\d+\s*[:.–-]", re.I)
_MD_HEADING = re.compile(r"^#{1,6}\s+(.*\S)\s*#*\s*$")
_INLINE_HEADING = re.compile(
    r"^([A-ZÆØÅ][^\s.!?:,;]*(?: [a-zæøå][^\s.!?:,;]*){0,5}[?:]?) (?=[A-ZÆØÅ][a-zæøå]+\b)"
)
_INLINE_CAPS_HEADING = re.compile(r"^((?:[A-ZÆØÅ][A-ZÆØÅ-]+ ){1,8})(?=[A-ZÆØÅ][a-zæøå])")
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?…]+[\"»”')\]]*\s+(?=[\"«“(]?[A-ZÆØÅ0-9])")


@dataclass
class Block:
    """A paragraph-like run of source text."""

    start: int
    end: int
    text: str
    is_heading: bool = False
    heading: str = ""
    is_list: bool = False
    lead_in: bool = False  # ends with ':' and introduces what follows
    is_label: bool = False  # one of a run of short labels (slide boxes)


@dataclass
class Unit:
    """Blocks that must stay together (a lead-in and its list)."""

    blocks: list[Block] = field(default_factory=list)

    @property
    def standalone(self) -> bool:
        """Label runs are packed with nothing before them."""
        return self.blocks[0].is_label

    @property
    def start(self) -> int:
        return self.blocks[0].start

    @property
    def end(self) -> int:
        return self.blocks[-1].end

    def words(self) -> int:
        return sum(len(_WORD.findall(b.text)) for b in self.blocks)


def _word_count(text: str) -> int:
    return len(_WORD.findall(text))


def _strip_markup(text: str) -> str:
    """Markdown emphasis and slide glyphs are layout, not words."""
    text = re.sub(r"\*{1,3}([^*\n]+?)\*{1,3}", r"\1", text)
    text = re.sub(r"(?m)^(\s*)[■▪]\s*", r"\1", text)
    text = re.sub(r"(?m)^#{1,6}\s+", "", text)  # a heading merged into a passage is just its words
    text = re.sub(r"\s*<\d+>\s*$", "", text)  # slide continuation marks like "<2>"
    return text


def _letters(text: str) -> str:
    return "".join(ch for ch in text if ch.isalpha())


def _is_all_caps(text: str) -> bool:
    letters = _letters(text)
    return len(letters) >= 3 and letters.upper() == letters and _word_count(text) <= 12


def _is_short_line(text: str) -> bool:
    stripped = text.strip()
    return (
        "\n" not in stripped
        and 0 < _word_count(stripped) <= 12
        and len(stripped) <= 90
        and not stripped.endswith((".", ",", ";", "!"))
        and not _BULLET.match(text)
        and (stripped[0].isupper() or stripped[0].isdigit())
    )


def _split_blocks(text: str) -> list[Block]:
    """Paragraphs (blank-line separated) cut into blocks of one kind: list items or prose.

    Scraped pages put a whole paragraph on one line and run paragraphs together with runs of
    spaces; such lines, and such runs, start new blocks too, and may open with an inline
    heading ("Baggrund Den landsdækkende ...").
    """
    splitter = _BlockSplitter(text)
    for para in re.finditer(r"(?:[^\n]*\S[^\n]*(?:\n|$))+", text):
        offset = para.start()
        group: list[tuple[int, str]] = []
        group_is_list = False
        for line in para.group().split("\n"):
            is_item = bool(_BULLET.match(line))
            # a wrapped continuation of an item stays with it
            continues_item = group_is_list and line.startswith((" ", "\t")) and not is_item
            if group and (is_item != group_is_list) and not continues_item:
                splitter.flush(group, group_is_list)
                group = []
            if line.strip():
                if not group:
                    group_is_list = is_item
                group.append((offset, line))
            offset += len(line) + 1
        if group:
            splitter.flush(group, group_is_list)
    return _join_hyphenated(text, splitter.blocks)


class _BlockSplitter:
    def __init__(self, text: str):
        self.text = text
        self.stems = {w[:6] for w in _WORD.findall(text) if w.islower()}
        self.blocks: list[Block] = []

    def _is_common(self, word: str) -> bool:
        """A capitalised word the text also uses in lower case is a word, not a name."""
        return word.lower()[:6] in self.stems

    def _heads_a_sentence(self, heading: str, follower: str) -> bool:
        """Is `heading` an inline heading before the sentence that `follower` starts?

        "Baggrund Den landsdækkende …" is; "Aarhus Kommune har …" and "Når Region Midtjylland
        inviterer …" are a name and its capitalised continuation. A heading ending in '?' or ':'
        is one; otherwise both the heading's first word and the follower must be words (the text
        uses them in lower case), and a one-word heading no function word.
        """
        if heading.endswith(("?", ":")):
            return True
        first = heading.split()[0]
        if not (self._is_common(first) and self._is_common(follower)):
            return False
        return " " in heading or first.lower() not in _function_words()

    def flush(self, group: list[tuple[int, str]], is_list: bool) -> None:
        start = group[0][0]
        end = group[-1][0] + len(group[-1][1])
        if is_list:
            self.add(start, end, segment=False, is_list=True)
            return
        one_per_line = any(len(line) > 150 for _, line in group)
        pieces = [(s, s + len(line)) for s, line in group] if one_per_line else [(start, end)]
        for piece_start, piece_end in pieces:
            cursor = piece_start
            for match in re.finditer(r"[^\S\n]{3,}", self.text[piece_start:piece_end]):
                self.add(cursor, piece_start + match.start(), segment=True)
                cursor = piece_start + match.end()
            self.add(cursor, piece_end, segment=one_per_line or cursor != piece_start)

    def add(self, begin: int, finish: int, segment: bool, is_list: bool = False) -> None:
        body = self.text[begin:finish]
        stripped = body.strip()
        if not stripped:
            return
        start = begin + len(body) - len(body.lstrip())
        end = start + len(stripped)
        if segment and _word_count(stripped) > 12:
            match = _INLINE_HEADING.match(stripped)
            caps = None if match else _INLINE_CAPS_HEADING.match(stripped)
            follower = stripped[len((match or caps).group(0)) :].split(" ", 1)[0] if match or caps else ""
            if (match and self._heads_a_sentence(match.group(1).strip(), follower)) or (
                caps and self._is_common(follower)
            ):
                match = match or caps
                heading = match.group(1).strip()
                self.blocks.append(Block(start, start + len(heading), heading, True, heading))
                rest = len(match.group(0))
                self.blocks.append(Block(start + rest, end, stripped[rest:]))
                return
        self.blocks.append(Block(start, end, stripped, is_list=is_list))


@lru_cache(maxsize=1)
def _function_words() -> frozenset[str]:
    from kb.lexical import QUERY_LANGUAGES, stopwords

    return frozenset().union(*(stopwords(lang) for lang in QUERY_LANGUAGES))


def _join_hyphenated(text: str, blocks: list[Block]) -> list[Block]:
    """'hvil-' at the end of one block and 'ke' starting the next are one word split by layout."""
    joined: list[Block] = []
    for block in blocks:
        prev = joined[-1] if joined else None
        if (
            prev
            and not prev.is_heading
            and not block.is_heading
            and re.search(r"\w-$", prev.text)
            and block.text[:1].islower()
        ):
            prev.end = block.end
            prev.text = text[prev.start : prev.end]
            continue
        joined.append(block)
    return joined


def _classify(blocks: list[Block]) -> None:
    for block in blocks:
        if block.is_heading:
            continue
        single_line = "\n" not in block.text
        md = _MD_HEADING.match(block.text)
        if md and single_line:
            block.is_heading, block.heading = True, md.group(1)
        elif single_line and _STEP_HEADING.match(block.text):
            block.is_heading, block.heading = True, block.text
        elif single_line and _is_all_caps(block.text) and not block.is_list:
            block.is_heading, block.heading = True, block.text
        block.lead_in = block.text.rstrip().endswith(":") and not block.is_heading
    # A run of three or more short lines or one-word capitals is a list of labels (slides),
    # not a stack of headings; short title lines are headings only when body text follows.
    i = 0
    while i < len(blocks):
        j = i
        while j < len(blocks) and _is_label(blocks[j]):
            j += 1
        if j - i >= 3:
            for block in blocks[i:j]:
                block.is_heading, block.is_label = False, True
            i = j
            continue
        j = i
        while j < len(blocks) and not blocks[j].is_heading and _is_short_line(blocks[j].text):
            j += 1
        if 0 < j - i <= 2 and j < len(blocks) and not blocks[j].is_heading:
            for block in blocks[i:j]:
                if not block.lead_in:
                    block.is_heading, block.heading = True, block.text.strip()
        i = max(j, i + 1)
    for block in blocks:
        if block.is_heading:
            block.heading = _strip_markup(block.heading).strip().rstrip(":").strip()


def _is_label(block: Block) -> bool:
    if block.is_list or not _is_short_line(block.text):
        return False
    if block.is_heading:
        return _word_count(block.text) == 1 and _is_all_caps(block.text)
    return _word_count(block.text) <= 4


def _units(blocks: list[Block]) -> list[tuple[str, Unit]]:
    """(section, unit) pairs in document order."""
    section = ""
    out: list[tuple[str, Unit]] = []
    after_heading = False
    for block in blocks:
        if block.is_heading:
            section = block.heading
            after_heading = True
            continue
        prev = out[-1][1].blocks[-1] if out and out[-1][0] == section and not after_heading else None
        attach = prev is not None and (
            (block.is_list and (prev.lead_in or prev.is_list)) or (block.is_label and prev.is_label)
        )
        if attach:
            out[-1][1].blocks.append(block)
        else:
            out.append((section, Unit([block])))
        after_heading = False
    return out


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Sentence spans (absolute offsets); abbreviations such as 'fx', 'bl.a.', 'f.eks.' do not end one."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        # the word before the mark; a look-back longer than any abbreviation keeps this linear
        before = text[max(start, match.start() - 40) : match.start() + 1].split()
        last_word = before[-1].strip(".!?…\"»”'()[]«“").lower() if before else ""
        if last_word in ABBREVIATIONS or re.fullmatch(r"\w", last_word or "x!"):
            continue
        end = match.start() + len(match.group().rstrip())
        spans.append((offset + start, offset + end))
        start = match.end()
    if text[start:].strip():
        spans.append((offset + start, offset + len(text.rstrip())))
    return spans


def _word_windows(text: str, start: int, end: int, size: int) -> list[tuple[int, int, int]]:
    """(start, end, words) parts of a sentence; a run-on sentence longer than `size` words is
    cut at word boundaries so no passage outgrows what the encoder reads."""
    words = list(re.finditer(r"\S+", text[start:end]))
    if len(words) <= size:
        return [(start, end, _word_count(text[start:end]))]
    parts = []
    for i in range(0, len(words), size):
        chunk = words[i : i + size]
        a, b = start + chunk[0].start(), start + chunk[-1].end()
        parts.append((a, b, _word_count(text[a:b])))
    return parts


def _pieces(unit: Unit, unit_words: int) -> list[tuple[int, int, str]]:
    """(start, end, lead) of the parts of a unit; long units split at sentences or items.

    A piece made of list items that lost its introducing sentence to an earlier piece
    carries that sentence as `lead`, so the items keep their meaning.
    """
    if unit_words <= MAX_WORDS:
        return [(unit.start, unit.end, "")]
    lead = ""
    segments: list[tuple[int, int, bool, int]] = []  # start, end, is_item, words
    for block in unit.blocks:
        if block.is_list:
            offset = block.start
            for line in block.text.split("\n"):
                if line.strip():
                    segments.append((offset, offset + len(line), True, _word_count(line)))
                offset += len(line) + 1
            continue
        for start, end in split_sentences(block.text, block.start):
            for part in _word_windows(block.text, start - block.start, end - block.start, PIECE_WORDS):
                segments.append((block.start + part[0], block.start + part[1], False, part[2]))
        if block.lead_in and segments:
            lead = block.text[segments[-1][0] - block.start : segments[-1][1] - block.start]
    pieces: list[tuple[int, int, str]] = []
    i = 0
    while i < len(segments):
        j, words = i, 0
        while j < len(segments) and (j == i or words + segments[j][3] <= PIECE_WORDS):
            words += segments[j][3]
            j += 1
        piece_lead = lead if segments[i][2] and pieces else ""
        pieces.append((segments[i][0], segments[j - 1][1], piece_lead))
        if j >= len(segments):
            break
        # one sentence of prose overlap keeps a thought that straddles the cut findable
        i = j - 1 if j - 1 > i and not segments[j - 1][2] and not segments[j][2] else j
    return pieces


def chunk_document(doc_id: str, text: str, pages: list[int] | None = None) -> list[Chunk]:
    """Chunks of already-cleaned text (furniture blanked, offsets as in the source)."""
    blocks = _split_blocks(text)
    _classify(blocks)
    spans: list[tuple[str, int, int, str]] = []
    packed: tuple[str, int, int, int] | None = None  # section, start, end, words
    for section, unit in _units(blocks):
        unit_words = unit.words()
        for start, end, lead in _pieces(unit, unit_words):
            words = _word_count(text[start:end])
            if (
                packed
                and not lead
                and packed[0] == section
                and packed[3] + words <= TARGET_WORDS
                and unit_words <= MAX_WORDS
                and not unit.standalone
            ):
                packed = (section, packed[1], end, packed[3] + words)
                continue
            if packed:
                spans.append((packed[0], packed[1], packed[2], ""))
                packed = None
            if lead or unit_words > MAX_WORDS:
                spans.append((section, start, end, lead))
            else:
                packed = (section, start, end, words)
    if packed:
        spans.append((packed[0], packed[1], packed[2], ""))
    spans = _merge_small(text, spans)

    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for section, start, end, lead in spans:
        body = _strip_markup(_squash_blank_runs(text[start:end]))
        # repeated page furniture (a tagline on every page) is one passage, not many
        if not body.strip() or (not lead and " ".join(body.split()) in seen):
            continue
        seen.add(" ".join(body.split()))
        if lead:
            body = f"{_strip_markup(lead)} … {body}"
        page_start = page_end = None
        if pages:
            page_start = bisect.bisect_right(pages, start)
            page_end = bisect.bisect_right(pages, max(start, end - 1))
        chunks.append(
            Chunk(
                chunk_id=f"{doc_id}#{len(chunks) + 1}",
                doc_id=doc_id,
                ordinal=len(chunks) + 1,
                section=section,
                text=body,
                char_start=start,
                char_end=end,
                line_start=bisect.bisect_right(line_starts, start),
                line_end=bisect.bisect_right(line_starts, max(start, end - 1)),
                page_start=page_start,
                page_end=page_end,
            )
        )
    return chunks


WINDOW_WORDS = 40  # sentence windows: what a precise question is most like


def passage_views(chunk: Chunk) -> list[str]:
    """Texts embedded for one passage: the whole passage, then its sentence windows.

    A question usually matches one or two sentences; the best window finds it even when
    the rest of the passage is about something else. Each window carries the section title.
    """
    whole = chunk.embed_text()
    segments: list[str] = []
    for line in chunk.text.split("\n"):
        if line.strip():
            segments.extend(line[a:b] for a, b in split_sentences(line))
    windows: list[str] = []
    current: list[str] = []
    for segment in segments:
        if current and _word_count(" ".join(current)) + _word_count(segment) > WINDOW_WORDS:
            windows.append(" ".join(current))
            current = []
        current.append(segment.strip())
    if current:
        windows.append(" ".join(current))
    if len(windows) <= 1:
        return [whole]
    prefix = f"{chunk.section}\n" if chunk.section else ""
    return [whole] + [prefix + w for w in windows]


def _merge_small(text: str, spans: list[tuple[str, int, int, str]]) -> list[tuple[str, int, int, str]]:
    """Neighbouring small sections (slide boxes, brochure blurbs) become one passage.

    A passage of a dozen words says too little to be found by meaning and wins by accident
    on generic questions; merged with its neighbours it keeps its words and gains context.
    """
    merged: list[tuple[str, int, int, str]] = []
    for span in spans:
        if merged and not span[3]:
            prev = merged[-1]
            prev_words, words = _word_count(text[prev[1] : prev[2]]), _word_count(text[span[1] : span[2]])
            both_small = prev_words < SMALL_WORDS and words < SMALL_WORDS
            tiny = min(prev_words, words) < TINY_WORDS
            if not prev[3] and (both_small or tiny) and prev_words + words <= TARGET_WORDS:
                merged[-1] = (prev[0], prev[1], span[2], "")  # the section its text starts in
                continue
        merged.append(span)
    return merged


def _squash_blank_runs(text: str) -> str:
    """Blanked furniture and scrape spacing leave runs of white space; keep paragraph breaks."""
    text = re.sub(r"(\w)-\n\s*([a-zæøå])", r"\1\2", text)  # a word hyphenated across a layout break
    text = re.sub(r"[^\S\n]{3,}", "\n\n", text)
    text = re.sub(r"[^\S\n]+\n", "\n", text)
    return re.sub(r"\n\s*\n\s*(\n\s*)+", "\n\n", text).strip()
