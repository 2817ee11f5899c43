"""Scores every line of a corpus with the reference vaderSentiment 3.3.2.

Usage: python3 reference.py CORPUS. Lines are split on "\n" only (the Rust side does the
same), and one JSON object per line is printed: {"text", "neg", "neu", "pos", "compound"}.
Exits with status 3 and a message on stderr when vaderSentiment 3.3.2 is not installed.
"""
import json
import sys
from importlib import metadata

REQUIRED = "3.3.2"


def main():
    try:
        version = metadata.version("vaderSentiment")
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except (metadata.PackageNotFoundError, ImportError) as error:
        sys.exit(f"vaderSentiment is not installed ({error}): pip install vaderSentiment=={REQUIRED}")
    if version != REQUIRED:
        sys.exit(f"vaderSentiment {version} is installed, the reference is {REQUIRED}: "
                 f"pip install vaderSentiment=={REQUIRED}")

    with open(sys.argv[1], "rb") as corpus:
        text = corpus.read().decode("utf-8")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()

    analyzer = SentimentIntensityAnalyzer()
    out = sys.stdout
    for line in lines:
        scores = analyzer.polarity_scores(line)
        out.write(json.dumps({"text": line, **scores}) + "\n")


if __name__ == "__main__":
    main()
