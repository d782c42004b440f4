"""Not the scenarios' faults any more: each scenario's story (its faults and its checks) is in
tests/e2e/scenarios/<name>.py, run by molecule through `python -m scenarios side_effect|verify NAME`.

Kept only for bench/run.py's heal benchmark, which imports these two from here (bench/ is being changed
elsewhere); they live in tests/e2e/scenarios/__init__.py. Delete this file once bench imports them from there.
"""
from scenarios import drop_registration, registration  # noqa: F401  pylint: disable=unused-import
