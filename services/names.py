"""The one rule for the names people give (usernames, audience names and tags, invitation notes,
contract and account names), from the dashboard and the API alike: stripped, within a length, and
only characters that show. A control character (NUL, a line break), a format character (a
right-to-left override U+202E, which makes a name read backwards; a zero-width space U+200B or joiner,
a word joiner U+2060, a byte-order mark U+FEFF, which make two names that look the same differ), a
lone surrogate, a private-use or unassigned code point is refused, naming it.

Usernames must also not pass for another user's: `skeleton` folds what tells names apart only to
the eye (case, NFKC compatibility forms such as full-width letters, accents and other combining
marks, characters that show nothing, and Cyrillic or Greek letters
drawn as Latin ones: Cyrillic "аdmin" is "admin"), and a username whose letters mix Latin, Cyrillic
or Greek is refused outright. (No library: the few confusable-detection packages give no skeleton
to compare two names by; this small table covers the scripts our users write in.)
"""

from __future__ import annotations

import unicodedata

from services.errors import InvalidInput, Problem
from texts import say

# Unicode general categories that never belong in a name: controls, formats, surrogates, private
# use, unassigned, and the line and paragraph separators.
HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Characters of other categories that show nothing (Unicode's default-ignorable letters and marks:
# the combining grapheme joiner, Hangul fillers, Khmer inherent vowels, variation selectors; and the
# Braille blank). Allowed in a name (an emoji's variation selector), left out of its skeleton.
BLANK = frozenset(
    {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0}
    | set(range(0x180B, 0x1810))
    | set(range(0xFE00, 0xFE10))
    | set(range(0xE0100, 0xE01F0))
)
LOOKALIKE_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "GREEK"})
# Cyrillic and Greek letters (as casefold leaves them) drawn as a Latin one; then the Latin letters
# and digits drawn alike.
AS_LATIN = str.maketrans("авекмнорстухіјѕԁԛԝһӏпгшьαβεικνορτυχηω", "abekmhopctyxijsdqwhlnrwbabeikvoptuxnw")
ALIKE = str.maketrans("01i", "oll")


def problem(value: str, field: str, most: int, least: int = 1) -> Problem | None:
    """What is wrong with `value` (stripped) as a name of `least` to `most` characters, if anything."""
    value = value.strip()
    hidden = next((c for c in value if unicodedata.category(c) in HIDDEN), None)
    if hidden is not None:
        return Problem(
            field, say("no control or invisible characters (here {char})", char=f"U+{ord(hidden):04X}")
        )
    if not least <= len(value) <= most:
        if least:
            return Problem(field, say("{least} to {most} characters", least=least, most=most))
        return Problem(field, say("at most {most} characters", most=most))
    return None


def checked(value: str, field: str, most: int, failure: str, least: int = 1) -> str:
    """`value` stripped, if it makes a name (see problem); else InvalidInput(failure) naming `field`."""
    found = problem(value, field, most, least)
    if found is not None:
        raise InvalidInput(failure, [found])
    return value.strip()


def skeleton(name: str) -> str:
    """What `name` looks like: two names with the same skeleton are told apart only by looking closely."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", name).casefold())
    bare = "".join(c for c in folded if unicodedata.category(c) != "Mn" and ord(c) not in BLANK)
    return bare.translate(AS_LATIN).translate(ALIKE).replace("rn", "m")


def mixes_scripts(name: str) -> bool:
    """Whether `name` has letters of more than one of Latin, Cyrillic and Greek."""
    scripts = {unicodedata.name(c, "").split(" ")[0] for c in name if c.isalpha()}
    return len(scripts & LOOKALIKE_SCRIPTS) > 1
