"""``skywarden replay``: run a recorded observation file through the whole pipeline, as fast as possible."""

from __future__ import annotations

import signal
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import msgspec

from skywarden.core.records import SensorStatus
from skywarden.pipeline.engine import Pipeline, PipelineConfig, StepResult
from skywarden.sources.decode import DecodeOptions, DecodeStats, decode_stream, get_format
from skywarden.sources.jsonl import IngestReport, open_observation_file, read_observation_batches
from skywarden.store.sqlite import EventStore
from skywarden.zones.geojson import load_zones

__all__ = ["ReplaySummary", "run_replay", "format_summary"]


@dataclass
class ReplaySummary:
    lines: int
    accepted: int
    rejected: int
    rejected_by_reason: dict[str, int]
    first_rejects: list[tuple[int, str, str]]
    tracks_confirmed: int
    track_updates: int
    alerts_opened: int
    alert_events: int
    wall_s: float
    observations_per_s: float
    interrupted: bool
    input_format: str = "jsonl"
    decoder: dict | None = None
    """The decoder's counters (``DecodeStats.as_dict()``) when the input was not JSON Lines."""


class _Sinks:
    """Writes each step's track updates and alert events as JSON Lines."""

    def __init__(self, tracks_out: IO[bytes] | None, alerts_out: IO[bytes] | None) -> None:
        self.tracks_out = tracks_out
        self.alerts_out = alerts_out
        self._encoder = msgspec.json.Encoder()

    def __call__(self, step: StepResult) -> None:
        if self.tracks_out is not None and len(step.tracks):
            self.tracks_out.write(self._encoder.encode_lines(step.tracks.to_updates()))
        if self.alerts_out is not None and step.alerts:
            self.alerts_out.write(self._encoder.encode_lines(step.alerts))


def run_replay(
    obs_path: str | Path,
    zones_path: str | Path | None,
    tracks_out: str | Path | None,
    alerts_out: str | Path | None,
    db_path: str | Path | None = None,
    config: PipelineConfig | None = None,
    handle_signals: bool = False,
    input_format: str = "jsonl",
    decode_options: DecodeOptions | None = None,
) -> ReplaySummary:
    """Replay ``obs_path`` (observation JSON Lines v1) and write the outputs.

    With ``handle_signals``, SIGINT/SIGTERM stop reading; what was read is drained through the
    pipeline and stored before returning. ``input_format`` names a recorded sensor format
    (:data:`skywarden.sources.decode.FORMATS`); its observations go through the same pipeline, and
    the decoder's counters come back in ``ReplaySummary.decoder``.
    """
    decoder_stats: DecodeStats | None = None
    if input_format != "jsonl":
        get_format(input_format)  # unknown names fail before any output file is created
    zones = load_zones(zones_path) if zones_path else []
    report = IngestReport()
    stop = {"requested": False}
    previous: dict[int, object] = {}
    if handle_signals:
        def request_stop(signum: int, frame: object) -> None:
            stop["requested"] = True
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, request_stop)
    started = time.perf_counter()
    try:
        with ExitStack() as stack:
            source = stack.enter_context(open_observation_file(obs_path))
            # 1 MB buffers: a step's tracks (~15 kB at 100 drones) would otherwise be one write call each.
            t_out = stack.enter_context(open(tracks_out, "wb", buffering=1 << 20)) if tracks_out else None
            a_out = stack.enter_context(open(alerts_out, "wb", buffering=1 << 20)) if alerts_out else None
            store = stack.enter_context(EventStore(db_path)) if db_path else None
            pipeline = Pipeline(
                zones, config, store=store, on_step=_Sinks(t_out, a_out), report=report,
                first_alert_id=(store.max_alert_id() + 1) if store else 1,
            )
            if input_format == "jsonl":
                for line_nos, observations, raws in read_observation_batches(
                    source, report, should_stop=lambda: stop["requested"], raw=store is not None
                ):
                    pipeline.push_many(observations, raws, line_nos)
            else:
                decoder_stats = DecodeStats()
                records = decode_stream(input_format, source, decode_options or DecodeOptions(), decoder_stats)
                for obs in records:
                    if isinstance(obs, SensorStatus):
                        continue
                    report.lines += 1
                    report.accepted += 1
                    pipeline.push(obs, None, report.lines)
                    if stop["requested"]:
                        break
            pipeline.finish()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
    wall = time.perf_counter() - started
    st = pipeline.stats
    return ReplaySummary(
        lines=report.lines,
        accepted=report.accepted,
        rejected=report.rejected,
        rejected_by_reason=dict(sorted(report.rejected_by_reason.items())),
        first_rejects=[(r.line_no, r.reason, r.detail) for r in report.rejects[:10]],
        tracks_confirmed=len(st.tracks_confirmed),
        track_updates=st.track_updates,
        alerts_opened=st.alerts_opened,
        alert_events=st.alert_events,
        wall_s=wall,
        observations_per_s=report.lines / wall if wall > 0 else 0.0,
        interrupted=stop["requested"],
        input_format=input_format,
        decoder=decoder_stats.as_dict() if decoder_stats is not None else None,
    )


def format_summary(s: ReplaySummary) -> str:
    lines = []
    if s.decoder is not None:
        d = s.decoder
        lines.append(f"{s.input_format} messages: {d['messages']} ({d['decoded']} decoded, {d['rejected']} rejected, {d['skipped']} skipped)")
        for reason, n in {**d["rejected_by_reason"]}.items():
            lines.append(f"  rejected {reason}: {n}")
    lines += [
        f"observations read:  {s.lines}",
        f"  accepted:         {s.accepted}",
        f"  rejected:         {s.rejected}" + (
            " (" + ", ".join(f"{reason}: {n}" for reason, n in s.rejected_by_reason.items()) + ")" if s.rejected else ""
        ),
    ]
    for line_no, reason, detail in s.first_rejects:
        lines.append(f"    line {line_no}: {reason}: {detail}")
    if s.rejected > len(s.first_rejects):
        lines.append(f"    ... and {s.rejected - len(s.first_rejects)} more")
    lines += [
        f"tracks confirmed:   {s.tracks_confirmed} ({s.track_updates} updates)",
        f"alerts:             {s.alerts_opened} opened ({s.alert_events} events)",
        f"wall time:          {s.wall_s:.2f} s",
        f"throughput:         {s.observations_per_s:,.0f} observations/s",
    ]
    if s.interrupted:
        lines.append("interrupted: input reading stopped; everything read was processed and stored")
    return "\n".join(lines)


def print_summary(s: ReplaySummary) -> None:
    print(format_summary(s), file=sys.stdout, flush=True)
