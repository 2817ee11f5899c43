"""Response shape checks shared by the locust users: a wrong answer is a failure, not a success."""

LABELS = {"positive", "neutral", "negative"}
SCORE_KEYS = {"neg", "neu", "pos", "compound"}


class ShapeError(ValueError):
    """The response parsed but is not what the API contract promises."""


def _number(value, low: float, high: float) -> bool:
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return is_number and low <= value <= high


def check_analysis(body, sent_text: str | None = None) -> str:
    """Validates one analysis object and returns its id."""
    if not isinstance(body, dict):
        raise ShapeError(f"analysis is {type(body).__name__}, not an object")
    analysis_id = body.get("id")
    if not isinstance(analysis_id, str) or not analysis_id:
        raise ShapeError("analysis has no string id")
    if sent_text is not None and body.get("text") != sent_text:
        raise ShapeError("analysis text differs from the text sent")
    if body.get("label") not in LABELS:
        raise ShapeError(f"unknown label {body.get('label')!r}")
    if not _number(body.get("sentiment"), -1.0, 1.0):
        raise ShapeError("sentiment is not a number in [-1, 1]")
    scores = body.get("scores")
    if not isinstance(scores, dict) or set(scores) != SCORE_KEYS:
        raise ShapeError("scores must have exactly neg, neu, pos, compound")
    if not all(_number(scores[k], -1.0, 1.0) for k in SCORE_KEYS):
        raise ShapeError("a score is not a number in [-1, 1]")
    if not isinstance(body.get("created_at"), str):
        raise ShapeError("created_at is not a string")
    return analysis_id


def check_history(body, limit: int) -> list[str]:
    """Validates a history page and returns its ids, newest first."""
    if not isinstance(body, list):
        raise ShapeError(f"history is {type(body).__name__}, not an array")
    if len(body) > limit:
        raise ShapeError(f"history returned {len(body)} items for limit {limit}")
    return [check_analysis(item) for item in body]
