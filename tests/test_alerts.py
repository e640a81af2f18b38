"""Alert lifecycle v1."""

import numpy as np

from skywarden.alerts.manager import AlertManager
from skywarden.core.records import TrackBatch


def batch(t, ids, classes=None, uas=None, lost=(), icao=None):
    n = len(ids)
    return TrackBatch(
        t=np.full(n, float(t)), track_id=np.array(ids, dtype=np.int64), lat=np.zeros(n), lon=np.zeros(n),
        alt_m=np.zeros(n), vel_enu_mps=np.zeros((n, 3)), track_class=classes or ["unknown"] * n,
        uas_id=uas or [None] * n, icao24=icao or [None] * n, operator_lat=np.full(n, np.nan), operator_lon=np.full(n, np.nan),
        lost_track_ids=list(lost), step_time=float(t),
    )


def inside(*rows):
    return np.array(rows, dtype=bool).reshape(len(rows), -1)


def test_one_alert_per_visit_and_resolution_after_leaving():
    m = AlertManager(["Z"], [frozenset()], exit_grace_s=2.0)
    events = []
    seq = [True, True, True, False, False, False, True, True]
    for k, flag in enumerate(seq):
        events += m.process(batch(k, [7]), inside([flag]))
    assert [(e.t, e.state, e.alert_id, e.reason) for e in events] == [
        (0.0, "open", 1, "entered"),
        (4.0, "resolved", 1, "left_zone"),
        (6.0, "open", 2, "entered"),
    ]


def test_short_excursion_outside_does_not_flap():
    m = AlertManager(["Z"], [frozenset()], exit_grace_s=3.0)
    events = []
    for k, flag in enumerate([True, False, True, False, True]):
        events += m.process(batch(k, [1]), inside([flag]))
    assert [e.state for e in events] == ["open"]


def test_manned_aircraft_and_allow_listed_drones_raise_nothing():
    m = AlertManager(["Z", "Y"], [frozenset({"OK"}), frozenset()])
    b = batch(0, [1, 2, 3], classes=["manned_aircraft", "drone", "drone"], uas=[None, "OK", "BAD"], icao=["4ca123", None, None])
    events = m.process(b, inside([True, True], [True, True], [True, False]))
    assert sorted((e.track_id, e.zone_id) for e in events) == [(2, "Y"), (3, "Z")]


def test_a_kinematic_manned_class_without_adsb_still_alerts():
    # The classifier may call a fast anonymous track "manned_aircraft"; only an ADS-B identity
    # may silence a zone alert, never kinematics alone.
    m = AlertManager(["Z"], [frozenset()])
    events = m.process(batch(0, [4], classes=["manned_aircraft"]), inside([True]))
    assert [(e.track_id, e.state) for e in events] == [(4, "open")]


def test_lost_track_resolves_its_alerts():
    m = AlertManager(["Z", "Y"], [frozenset(), frozenset()])
    opened = m.process(batch(0, [4]), inside([True, True]))
    assert len(opened) == 2
    closed = m.process(batch(9, [], lost=[4]), np.zeros((0, 2), dtype=bool))
    assert sorted((e.zone_id, e.state, e.reason, e.t) for e in closed) == [
        ("Y", "resolved", "track_lost", 9.0), ("Z", "resolved", "track_lost", 9.0)]
    assert m.open_count == 0


def test_close_resolves_everything_and_ids_continue_after_restart():
    m = AlertManager(["Z"], [frozenset()], first_alert_id=41)
    e = m.process(batch(0, [1, 2]), inside([True], [True]))
    assert [x.alert_id for x in e] == [41, 42]
    assert [x.state for x in m.close(10.0)] == ["resolved", "resolved"]


def test_operator_acknowledge_and_resolve_and_the_visit_stays_quiet():
    import pytest

    from skywarden.alerts.manager import AlertNotFound, AlertStateError

    m = AlertManager(["Z"], [frozenset()])
    (opened,) = m.process(batch(0, [5]), inside([True]))
    ack = m.acknowledge(opened.alert_id, 1.0, "alice", "looking")
    assert (ack.state, ack.by, ack.comment, ack.reason) == ("acknowledged", "alice", "looking", "operator")
    with pytest.raises(AlertStateError):
        m.acknowledge(opened.alert_id, 1.5, "alice")
    res = m.resolve(opened.alert_id, 2.0, "bob", "police on site")
    assert (res.state, res.by) == ("resolved", "bob")
    with pytest.raises(AlertNotFound):
        m.resolve(opened.alert_id, 2.5, "bob")
    # Still inside: no new alert for the same visit; after leaving and coming back: a new one.
    assert m.process(batch(3, [5]), inside([True])) == []
    assert m.process(batch(10, [5]), inside([False])) == []
    again = m.process(batch(11, [5]), inside([True]))
    assert [(e.state, e.alert_id) for e in again] == [("open", 2)]


def test_deleting_a_zone_resolves_its_alerts():
    m = AlertManager(["Z", "Y"], [frozenset(), frozenset()])
    m.process(batch(0, [1]), inside([True, True]))
    events = m.set_zones(["Y"], [frozenset()], 5.0)
    assert [(e.zone_id, e.state, e.reason) for e in events] == [("Z", "resolved", "zone_deleted")]
    assert [a[2] for a in m.active_alerts()] == ["Y"]


def flagged(t, ids, flags, lost=()):
    b = batch(t, ids, classes=["drone"] * len(ids), uas=["RID-1"] * len(ids), lost=lost)
    b.remote_id_flag = flags
    return b


def test_remote_id_flag_opens_one_alert_per_track_until_lost():
    m = AlertManager(["Z"], [frozenset()])
    events = []
    events += m.process(flagged(0, [5, 6], [None, None]), inside([False], [False]))
    events += m.process(flagged(1, [5, 6], ["jump", None]), inside([False], [False]))
    events += m.process(flagged(2, [5, 6], ["jump", None]), inside([True], [False]))  # also enters Z
    events += m.process(flagged(3, [6], [None], lost=[5]), inside([False]))
    assert [(e.kind, e.state, e.track_id, e.zone_id, e.reason) for e in events] == [
        ("remote_id_inconsistent", "open", 5, "", "jump"),
        ("zone_entry", "open", 5, "Z", "entered"),
        ("zone_entry", "resolved", 5, "Z", "track_lost"),
        ("remote_id_inconsistent", "resolved", 5, "", "track_lost"),
    ]


def test_operator_resolves_a_remote_id_alert_and_it_stays_quiet_for_that_track():
    m = AlertManager(["Z"], [frozenset()])
    opened = m.process(flagged(0, [5], ["two_places"]), inside([False]))
    assert opened[0].kind == "remote_id_inconsistent"
    ack = m.acknowledge(opened[0].alert_id, 1.0, by="op", comment="checking")
    done = m.resolve(opened[0].alert_id, 2.0, by="op", comment="spoofer, police informed")
    assert (ack.kind, ack.state, done.kind, done.state) == ("remote_id_inconsistent", "acknowledged", "remote_id_inconsistent", "resolved")
    assert m.process(flagged(3, [5], ["two_places"]), inside([False])) == []  # no second alert for track 5
    assert m.open_count == 0
    m.set_zones(["Y"], [frozenset()], 4.0)  # a zone edit does not touch Remote ID alerts
