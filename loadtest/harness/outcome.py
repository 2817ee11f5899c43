"""The exit status of `loadtest/run`: what counts as a failed run, shared by every suite."""

LOST_OR_STRICT = 1


def exit_status(lost: dict, finding: bool, strict: bool) -> int:
    """0 when something was acknowledged and nothing acknowledged is missing from history;
    1 otherwise, or when `strict` and there is a `finding` (a locust failure, a missed fault
    target) that is otherwise only reported. (2, the harness failing, is decided by the caller.)"""
    if lost["checked"] == 0 or lost["missing"]:
        return LOST_OR_STRICT
    return LOST_OR_STRICT if strict and finding else 0
