"""Texts the load users analyse: short and long, positive, negative and neutral, a few not in
English, so the scorer does realistic work instead of one cached sentence."""

import random

POSITIVE = [
    "I love this!",
    "Great service, friendly staff and the food arrived hot.",
    "The update made everything faster. Really happy with it :)",
    "What a wonderful surprise, thank you so much!!!",
    "Honestly the best purchase I have made this year.",
    "The hotel was clean, quiet and the breakfast was excellent.",
    "Support answered within minutes and fixed my problem. Impressive.",
    "She is smart, funny and incredibly kind.",
]

NEGATIVE = [
    "This is terrible.",
    "The package arrived broken and nobody answered my emails.",
    "Worst experience ever, I want my money back.",
    "The app keeps crashing and I lost all my notes. Awful.",
    "I'm not happy at all with how this was handled.",
    "Rude staff, dirty tables and cold coffee. Never again.",
    "The movie was boring and far too long :(",
    "It was a sad, depressing and frustrating day.",
]

NEUTRAL = [
    "The meeting is at 10am.",
    "The train leaves from platform 4.",
    "I bought a new phone yesterday.",
    "The report has twelve pages and three tables.",
    "Water boils at 100 degrees Celsius at sea level.",
    "Please send the invoice to the accounting department.",
    "The store opens on Monday.",
    "He moved to another city last spring.",
]

MIXED = [
    "The food was great but the service was terribly slow.",
    "Not bad at all, although the price is a bit high.",
    "I don't hate it, but I wouldn't buy it again.",
    "The screen is gorgeous; the battery, sadly, is a disappointment.",
]

NON_ENGLISH = [
    "Me encanta este lugar, la comida es deliciosa.",
    "C'est vraiment nul, je suis très déçu.",
    "Das Wetter ist heute schön und ich bin glücklich.",
    "この映画はとても面白かったです。",
    "Questo prodotto è fantastico! 😀",
    "Отличный сервис, всем рекомендую.",
]

SHORT = POSITIVE + NEGATIVE + NEUTRAL + MIXED + NON_ENGLISH


def _long_texts() -> list[str]:
    """Reviews of several hundred to a few thousand characters, built deterministically."""
    picker = random.Random(20240501)
    texts = []
    for sentences in (6, 12, 25, 50):
        texts.append(" ".join(picker.choice(SHORT) for _ in range(sentences)))
    return texts


LONG = _long_texts()

ALL = SHORT + LONG


def pick(rng: random.Random) -> str:
    """Mostly short texts, about one in eight long, like a real mix of tweets and reviews."""
    if rng.random() < 0.125:
        return rng.choice(LONG)
    return rng.choice(SHORT)
