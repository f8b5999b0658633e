"""Realistic-ish post and reply text, and the hostile texts every world must carry.

Text is a pure function of a 64-bit key (derived from seed, record and version), so it can be made
lazily when a record is first served instead of for all records up front, and an edit is simply the
same key at a higher version.
"""

from __future__ import annotations

import random
import string

DEPARTMENT_NAME = "Springfield Police Department"
ROADS = ("Main Street", "Oak Avenue", "Route 9", "Elm Street", "Harbor Boulevard", "Maple Drive",
         "Evergreen Terrace", "Industrial Parkway", "Lincoln Avenue", "River Road", "5th Street",
         "Springfield Expressway")
PLACES = ("the public library", "Lincoln Park", "the Kwik-E-Mart on Elm", "Springfield Elementary",
          "the downtown bus station", "Riverside Mall", "the community center", "City Hall",
          "the high school stadium", "the farmers market", "Memorial Hospital", "the marina")
CRIMES = ("a burglary", "a string of car break-ins", "a hit-and-run", "an armed robbery",
          "catalytic converter thefts", "a shoplifting case", "vandalism at a school", "a stolen vehicle",
          "an assault", "a package theft ring", "a DUI crash", "graffiti on a bridge")
WHEN = ("this morning", "last night", "on Saturday", "this afternoon", "early Tuesday",
        "from 7 a.m. to 3 p.m.", "overnight", "on Friday evening", "this weekend", "tomorrow")
WORK = ("water main repairs", "a parade", "a serious crash", "paving work", "a downed power line",
        "bridge inspection", "a gas leak", "the half marathon", "tree removal", "a film shoot")
EVENTS = ("Coffee with a Cop", "National Night Out", "a bike safety rodeo", "a toy drive",
          "a drug take-back day", "a neighborhood watch meeting", "a youth basketball game",
          "a car seat safety check")
CLOTHES = ("a red jacket and jeans", "a blue hoodie", "a green backpack", "a gray sweatshirt",
           "a black winter coat", "a yellow raincoat")
FIRST = ("Alex", "Maria", "Sam", "Priya", "Jordan", "Luis", "Grace", "Tom", "Aisha", "Ken", "Rosa",
         "Dmitri", "Emma", "Noah", "Fatima", "Hank", "Lisa", "Marge", "Ned", "Carl", "Lenny", "Ana")
LAST = ("Garcia", "Nguyen", "Smith", "Okafor", "Kowalski", "Patel", "Johnson", "Brown", "Lee",
        "Flanders", "Simpson", "Moleman", "Lovejoy", "Hibbert", "Wiggum", "Szyslak", "Rossi", "Chen")
TIPS = ("Lock your car and take your valuables with you.", "Slow down in school zones.",
        "Never leave packages on your porch overnight.", "Report suspicious activity to 555-0142.",
        "Check on elderly neighbors during the heat wave.", "Don't drink and drive; call a ride.",
        "Register your bike's serial number with us.", "Scammers will never ask for gift cards.")

DEPARTMENT_POSTS = (
    "Traffic advisory: {road} is closed between {road2} and {road3} {when} for {work}. Please use {road4} as a detour.",
    "Officers arrested a {age}-year-old man {when} in connection with {crime} near {place}. The arrest followed a tip from a resident.",
    "Road closure: expect delays on {road} {when} due to {work}. Follow officers' directions at the scene.",
    "MISSING PERSON: {first} {last}, {age}, was last seen {when} near {place} wearing {clothes}. Call 555-0142 with any information.",
    "Join us for {event} at {place} {when}! Meet your neighborhood officers and bring the kids.",
    "Safety tip: {tip}",
    "Update on {crime} near {place}: detectives made an arrest {when}. Thank you to everyone who shared information.",
    "Crash on {road} near {place}. Two lanes are blocked {when}. Avoid the area if you can.",
    "We're hiring! Join the Springfield Police Department. Information session at {place} {when}.",
    "The missing {age}-year-old reported {when} has been found safe near {place}. Thank you for sharing.",
    "Arrest made in {crime} investigation. A {age}-year-old woman was arrested {when} near {place}.",
    "Reminder: {road} reopens {when} after {work}. Thanks for your patience.",
)
RESIDENT_REPLIES = (
    "Thank you officers for keeping us safe!",
    "Is {road} open again yet? I have to get to work.",
    "Why did it take so long to make an arrest? This has been going on for months near {place}.",
    "I saw something like this near {place} {when}, should I call it in?",
    "Shared. Hope {first} is found soon.",
    "Great event, my kids loved it!",
    "There's been a lot of speeding on {road} lately, can you send a patrol?",
    "Who was arrested? Will the name be released?",
    "{tip} Good advice, thanks.",
    "My car was broken into on {road} {when} too. Filed a report.",
    "Detour traffic on {road4} is terrible, please put an officer there.",
    "Proud of our department. Thanks {first}!",
    "This is the third arrest near {place} this month. What is going on?",
    "Any update on {crime}?",
)
DEPARTMENT_REPLIES = (
    "Thanks for reaching out. Please call our non-emergency line at 555-0142 so an officer can follow up.",
    "{road} is expected to reopen {when}.",
    "We can't share names until charges are filed. Thank you for understanding.",
    "Please report it at 555-0142 or through our online form. Thank you!",
    "We've asked the traffic unit to increase patrols on {road}.",
    "Thank you for the kind words!",
)
UPDATES = (
    "UPDATE: {road} has reopened.",
    "UPDATE: the suspect has been arrested.",
    "UPDATE: {first} has been found safe. Thank you for sharing.",
    "Edit: corrected the location to {place}.",
    "UPDATE: the event has moved to {place} because of weather.",
    "Edit: fixed a typo.",
)


_SLOTS = {"road": ROADS, "road2": ROADS, "road3": ROADS, "road4": ROADS, "place": PLACES, "crime": CRIMES,
          "when": WHEN, "work": WORK, "event": EVENTS, "clothes": CLOTHES, "first": FIRST, "last": LAST,
          "tip": TIPS}
_NEEDED: dict[str, tuple[str, ...]] = {}  # template -> the slot names it uses, in order


def _fill(template: str, rng: random.Random) -> str:
    names = _NEEDED.get(template)
    if names is None:
        names = _NEEDED[template] = tuple(n for _, n, _, _ in string.Formatter().parse(template) if n)
    values = {name: (rng.randint(14, 81) if name == "age" else rng.choice(_SLOTS[name])) for name in names}
    return template.format(**values)


def make_text(key: int, *, department: bool, reply: bool, version: int) -> str:
    """The text of a record at `version` (0 = as first published; each edit appends an update)."""
    rng = random.Random(key)
    templates = (DEPARTMENT_REPLIES if reply else DEPARTMENT_POSTS) if department else RESIDENT_REPLIES
    text = _fill(rng.choice(templates), rng)
    for _ in range(version):
        text += "\n\n" + _fill(rng.choice(UPDATES), rng)
    return text


def person_name(key: int) -> str:
    """A resident's display name."""
    rng = random.Random(key)
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


# Hostile texts (DESIGN: the archive must keep them byte-exact and the portal must render them safely).
XSS = ("Check this out <script>alert('xss')</script> <img src=x onerror=\"alert(1)\"> "
       "<b>bold</b> <a href=\"javascript:alert(2)\">click</a> &amp; &lt;tags&gt; </textarea>\"'-->")
LONE_SURROGATE = "Broken emoji from a buggy client: \ud800 (a lone surrogate) and then more text"
BIDI = ("Officer \u202eevil.exe\u202c said \u2067\u05e9\u05dc\u05d5\u05dd\u2069 \u200f; "
        "emoji 👮🏽‍♀️🚓🇺🇸 combining: e\u0301 a\u0308 Z\u0335\u0321\u0327 zero\u200bwidth \ufeffBOM")


def huge_text(size: int = 1_000_000) -> str:
    """About `size` characters of plausible text (a resident's very long complaint)."""
    sentence = ("This is a very long complaint about parking on Evergreen Terrace and the arrest near the "
                "library, repeated so the text is about one megabyte in size. ")
    return (sentence * (size // len(sentence) + 1))[:size]
