"""Evaluation: score a tracker run and its alerts against simulator truth.

* :func:`gospa` - the GOSPA distance of one scan (pure function).
* :func:`evaluate_files` - ``skywarden evaluate``: GOSPA over all scans, ID switches, zone-entry
  alert recall and delay, false and duplicate alerts, returned as an :class:`EvaluationReport`.
* :func:`format_report` / :func:`report_to_dict` - the report as text or as JSON-ready dicts.
"""

from skywarden.eval.evaluate import evaluate, evaluate_files
from skywarden.eval.gospa import GospaResult, gospa
from skywarden.eval.inputs import InputStats
from skywarden.eval.report import (
    AlertSummary,
    DuplicateAlert,
    EntryDetail,
    EvaluationReport,
    FalseAlert,
    GospaSummary,
    ScanScore,
    format_report,
    report_to_dict,
)

__all__ = [
    "AlertSummary",
    "DuplicateAlert",
    "EntryDetail",
    "EvaluationReport",
    "FalseAlert",
    "GospaResult",
    "GospaSummary",
    "InputStats",
    "ScanScore",
    "evaluate",
    "evaluate_files",
    "format_report",
    "gospa",
    "report_to_dict",
]
