"""The skips CI accepts. `make test` sets GOOGLENET_CI=1, and then tests/conftest.py fails the run when a
test skipped for a reason that does not start with one of these; elsewhere (`pytest -m "not slow"` without
the extras) skips only say what is missing.

CI installs everything the tests need (`make setup`: the test, serve and fast extras; `make test`: the
Fashion-MNIST and Chromium packages and a C++ compiler), so the list is empty: every test runs there. A
skip that must stay, for a condition CI cannot meet, goes here with the reason it is allowed.
"""

# The start of an allowed skip's reason -> why CI may skip it.
ALLOWED_SKIPS: dict[str, str] = {}
CI_VARIABLE = "GOOGLENET_CI"


def skip_reason(report) -> str:
    """The reason a skipped test's report gives (pytest's longrepr of a skip is (file, line, "Skipped: why"))."""
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason.removeprefix("Skipped: ")


def is_allowed(reason: str, allowed: dict[str, str] = ALLOWED_SKIPS) -> bool:
    return any(reason.startswith(start) for start in allowed)
