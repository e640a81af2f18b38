"""Alert lifecycle: ``zone_entry`` alerts opened from zone judgements, acknowledged and resolved.

Rules:

* a confirmed track that is not a manned aircraft, inside a zone's footprint and altitude band,
  opens one ``zone_entry`` alert per visit of that track to that zone;
* a track whose Remote ID ``uas_id`` is on the zone's allow-list opens none, unless the tracker
  flags that broadcast as implausible (anyone can broadcast an authorised serial number);
* an operator may acknowledge an open alert (state ``acknowledged``) and resolve it; a resolved
  visit does not alert again until the track has left the zone;
* the alert resolves by itself when the track has been outside the zone for ``exit_grace_s`` (so
  a drone hovering on the boundary does not flap between alerts), when the track is lost, or
  when its zone is deleted;
* a track whose Remote ID the tracker flags as implausible (spoofed or faulty) opens one
  ``remote_id_inconsistent`` alert (``zone_id`` empty, ``reason`` the flag); it resolves when the
  track is lost or an operator resolves it, and does not open again for that track.

Example:
    >>> manager = AlertManager(zone_ids=["Z"], allow_lists=[frozenset()])
    >>> manager.open_count
    0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from skywarden.core.records import AlertEvent, TrackBatch

__all__ = ["AlertManager", "AlertNotFound", "AlertStateError"]


class AlertNotFound(LookupError):
    """No alert with that id is active."""


class AlertStateError(ValueError):
    """The requested transition is not allowed from the alert's current state."""


@dataclass(slots=True)
class _Visit:
    alert_id: int | None  # None: the visit was resolved by an operator, still inside
    state: str
    last_inside_t: float
    uas_id: str | None
    kind: str = "zone_entry"


_NO_ZONE = ""  # the zone_id of alerts that are not about a zone


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
        self._visits: dict[tuple[int, str], _Visit] = {}  # (track_id, zone_id) -> visit
        self._by_track: dict[int, set[str]] = {}
        self._by_alert: dict[int, tuple[int, str]] = {}
        self._rid_done: set[int] = set()  # tracks whose Remote ID alert an operator resolved

    @property
    def open_count(self) -> int:
        """Alerts not yet resolved (open or acknowledged)."""
        return len(self._by_alert)

    def active_alerts(self) -> list[tuple[int, int, str, str]]:
        """``(alert_id, track_id, zone_id, state)`` of every unresolved alert, by id."""
        return sorted((a, k[0], k[1], self._visits[k].state) for a, k in self._by_alert.items())

    def set_zones(self, zone_ids: Sequence[str], allow_lists: Sequence[frozenset[str]], t: float) -> list[AlertEvent]:
        """Replace the zones (after an edit). Alerts of zones that no longer exist resolve."""
        self.zone_ids = list(zone_ids)
        self.allow_lists = list(allow_lists)
        keep = set(self.zone_ids) | {_NO_ZONE}
        gone = sorted(k for k in self._visits if k[1] not in keep)
        return [e for e in (self._end_visit(k, t, "zone_deleted") for k in gone) if e is not None]

    def process(self, tracks: TrackBatch, inside: npt.NDArray[np.bool_]) -> list[AlertEvent]:
        """Events caused by one tracker step. ``inside`` is ``(len(tracks), n_zones)``."""
        events: list[AlertEvent] = []
        if len(tracks) and len(self.zone_ids):
            # Only an ADS-B identity makes a track a manned aircraft for zone judgement: a class
            # inferred from kinematics alone must never silence an intrusion alert.
            manned = np.fromiter((c == "manned_aircraft" and a is not None for c, a in zip(tracks.track_class, tracks.icao24)),
                                 bool, len(tracks))
            rows, cols = (inside & ~manned[:, None]).nonzero()
            flags = tracks.remote_id_flag
            ids = tracks.track_id.tolist()
            times = tracks.t.tolist()
            for i, j in zip(rows.tolist(), cols.tolist()):
                key = (ids[i], self.zone_ids[j])
                visit = self._visits.get(key)
                if visit is not None:
                    visit.last_inside_t = times[i]
                    continue
                uas_id = tracks.uas_id[i]
                # An allow-listed identity is believed only while its broadcast is plausible:
                # anyone can broadcast an authorised drone's serial number.
                if uas_id is not None and uas_id in self.allow_lists[j] and not (flags is not None and flags[i]):
                    continue
                events.append(self._open_alert(key, times[i], uas_id))
            if self._by_track:
                column = {z: j for j, z in enumerate(self.zone_ids)}
                by_track = self._by_track
                for i, track_id in enumerate(ids):
                    visiting = by_track.get(track_id)
                    if not visiting:
                        continue
                    for zone_id in sorted(visiting):
                        if inside[i, column[zone_id]]:
                            continue
                        if times[i] - self._visits[(track_id, zone_id)].last_inside_t >= self.exit_grace_s:
                            event = self._end_visit((track_id, zone_id), times[i], "left_zone")
                            if event is not None:
                                events.append(event)
        if tracks.remote_id_flag is not None:
            ids = tracks.track_id.tolist()
            for i, flag in enumerate(tracks.remote_id_flag):
                key = (ids[i], _NO_ZONE)
                if flag is not None and key not in self._visits and ids[i] not in self._rid_done:
                    events.append(self._open_alert(key, float(tracks.t[i]), tracks.uas_id[i], "remote_id_inconsistent", flag))
        for track_id in tracks.lost_track_ids:
            for zone_id in sorted(self._by_track.get(track_id, ())):
                event = self._end_visit((track_id, zone_id), tracks.step_time, "track_lost")
                if event is not None:
                    events.append(event)
            if (track_id, _NO_ZONE) in self._visits:
                event = self._end_visit((track_id, _NO_ZONE), tracks.step_time, "track_lost")
                if event is not None:
                    events.append(event)
            self._rid_done.discard(track_id)
        return events

    def acknowledge(self, alert_id: int, t: float, by: str, comment: str | None = None) -> AlertEvent:
        """An operator has seen the alert. Only an ``open`` alert can be acknowledged."""
        key = self._key(alert_id)
        visit = self._visits[key]
        if visit.state != "open":
            raise AlertStateError(f"alert {alert_id} is {visit.state}; only an open alert can be acknowledged")
        visit.state = "acknowledged"
        return self._event(key, alert_id, t, "acknowledged", visit.uas_id, "operator", by, comment, visit.kind)

    def resolve(self, alert_id: int, t: float, by: str, comment: str | None = None) -> AlertEvent:
        """An operator closes the alert; the visit stays quiet until the track leaves the zone."""
        key = self._key(alert_id)
        visit = self._visits[key]
        del self._by_alert[alert_id]
        visit.alert_id = None
        visit.state = "resolved"
        if visit.kind != "zone_entry":
            # Not tied to a visit: the alert is over and does not reopen for this track.
            del self._visits[key]
            self._rid_done.add(key[0])
        return self._event(key, alert_id, t, "resolved", visit.uas_id, "operator", by, comment, visit.kind)

    def close(self, t: float, reason: str = "end_of_input") -> list[AlertEvent]:
        """Resolve every unresolved alert, e.g. at the end of a replay."""
        return [e for e in (self._end_visit(k, t, reason) for k in sorted(self._visits)) if e is not None]

    def _key(self, alert_id: int) -> tuple[int, str]:
        key = self._by_alert.get(alert_id)
        if key is None:
            raise AlertNotFound(f"alert {alert_id} is not active (unknown, or already resolved)")
        return key

    def _open_alert(self, key: tuple[int, str], t: float, uas_id: str | None,
                    kind: str = "zone_entry", reason: str = "entered") -> AlertEvent:
        alert_id = self._next_id
        self._next_id += 1
        self._visits[key] = _Visit(alert_id, "open", t, uas_id, kind)
        if kind == "zone_entry":
            self._by_track.setdefault(key[0], set()).add(key[1])
        self._by_alert[alert_id] = key
        return self._event(key, alert_id, t, "open", uas_id, reason, kind=kind)

    def _end_visit(self, key: tuple[int, str], t: float, reason: str) -> AlertEvent | None:
        visit = self._visits.pop(key)
        if visit.kind == "zone_entry":
            zones = self._by_track[key[0]]
            zones.discard(key[1])
            if not zones:
                del self._by_track[key[0]]
        if visit.alert_id is None:
            return None  # already resolved by an operator
        del self._by_alert[visit.alert_id]
        return self._event(key, visit.alert_id, t, "resolved", visit.uas_id, reason, kind=visit.kind)

    @staticmethod
    def _event(
        key: tuple[int, str], alert_id: int, t: float, state: str, uas_id: str | None, reason: str,
        by: str | None = None, comment: str | None = None, kind: str = "zone_entry",
    ) -> AlertEvent:
        return AlertEvent(
            t=t, alert_id=alert_id, zone_id=key[1], track_id=key[0], kind=kind,  # type: ignore[arg-type]
            state=state, uas_id=uas_id, reason=reason, by=by, comment=comment,  # type: ignore[arg-type]
        )
