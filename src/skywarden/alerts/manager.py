"""Alert lifecycle v1: ``zone_entry`` alerts opened and resolved from zone judgements.

Rules:

* a confirmed track that is not a manned aircraft, inside a zone's footprint and altitude band,
  opens one ``zone_entry`` alert per visit of that track to that zone;
* a track whose Remote ID ``uas_id`` is on the zone's allow-list opens none;
* the alert resolves when the track has been outside the zone for ``exit_grace_s`` (so a drone
  hovering on the boundary does not flap between alerts), or when the track is lost.

Example:
    >>> manager = AlertManager(zone_ids=["Z"], allow_lists=[frozenset()])
    >>> manager.open_count
    0
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from skywarden.core.records import AlertEvent, TrackBatch

__all__ = ["AlertManager"]


class AlertManager:
    """Turns per-step zone judgements into alert events.

    Args:
        zone_ids: zone ids, in the column order of the ``inside`` matrices.
        allow_lists: per zone, the ``uas_id``s allowed inside.
        exit_grace_s: how long a track must stay outside before its alert resolves, seconds.
        first_alert_id: the id given to the next alert (continue numbering after a restart).
    """

    def __init__(
        self,
        zone_ids: Sequence[str],
        allow_lists: Sequence[frozenset[str]],
        exit_grace_s: float = 3.0,
        first_alert_id: int = 1,
    ) -> None:
        self.zone_ids = list(zone_ids)
        self.allow_lists = list(allow_lists)
        self.exit_grace_s = exit_grace_s
        self._next_id = first_alert_id
        # (track_id, zone index) -> [alert_id, last time seen inside, uas_id]
        self._open: dict[tuple[int, int], list] = {}
        self._open_by_track: dict[int, set[int]] = {}

    @property
    def open_count(self) -> int:
        return len(self._open)

    def process(self, tracks: TrackBatch, inside: npt.NDArray[np.bool_]) -> list[AlertEvent]:
        """Events caused by one tracker step. ``inside`` is ``(len(tracks), n_zones)``."""
        events: list[AlertEvent] = []
        if len(tracks) and len(self.zone_ids):
            manned = np.fromiter((c == "manned_aircraft" for c in tracks.track_class), bool, len(tracks))
            rows, cols = np.nonzero(inside & ~manned[:, None])
            ids = tracks.track_id.tolist()
            times = tracks.t.tolist()
            for i, j in zip(rows.tolist(), cols.tolist()):
                key = (ids[i], j)
                current = self._open.get(key)
                if current is not None:
                    current[1] = times[i]
                    continue
                uas_id = tracks.uas_id[i]
                if uas_id is not None and uas_id in self.allow_lists[j]:
                    continue
                events.append(self._open_alert(key, times[i], uas_id))
            if self._open_by_track:
                for i, track_id in enumerate(ids):
                    zones = self._open_by_track.get(track_id)
                    if not zones:
                        continue
                    for j in sorted(zones):
                        if inside[i, j]:
                            continue
                        if times[i] - self._open[(track_id, j)][1] >= self.exit_grace_s:
                            events.append(self._resolve((track_id, j), times[i], "left_zone"))
        for track_id in tracks.lost_track_ids:
            for j in sorted(self._open_by_track.get(track_id, ())):
                events.append(self._resolve((track_id, j), tracks.step_time, "track_lost"))
        return events

    def close(self, t: float, reason: str = "end_of_input") -> list[AlertEvent]:
        """Resolve every open alert, e.g. at the end of a replay."""
        return [self._resolve(key, t, reason) for key in sorted(self._open)]

    def _open_alert(self, key: tuple[int, int], t: float, uas_id: str | None) -> AlertEvent:
        alert_id = self._next_id
        self._next_id += 1
        self._open[key] = [alert_id, t, uas_id]
        self._open_by_track.setdefault(key[0], set()).add(key[1])
        return AlertEvent(
            t=t, alert_id=alert_id, zone_id=self.zone_ids[key[1]], track_id=key[0],
            kind="zone_entry", state="open", uas_id=uas_id, reason="entered",
        )

    def _resolve(self, key: tuple[int, int], t: float, reason: str) -> AlertEvent:
        alert_id, _, uas_id = self._open.pop(key)
        zones = self._open_by_track[key[0]]
        zones.discard(key[1])
        if not zones:
            del self._open_by_track[key[0]]
        return AlertEvent(
            t=t, alert_id=alert_id, zone_id=self.zone_ids[key[1]], track_id=key[0],
            kind="zone_entry", state="resolved", uas_id=uas_id, reason=reason,
        )
