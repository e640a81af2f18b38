"""Track classification: drone, manned aircraft, bird or unknown, with a probability.

A naive-Bayes-style sum of log-likelihood terms, one per piece of evidence, vectorised over
``k`` tracks. Every term has a name and a few documented parameters, so a decision can be
explained ("bird: speed 9 m/s fits, heading changes of 40 deg per update fit, no identity").

Evidence:

* **identity**: a Remote ID broadcast makes a drone; ADS-B makes a manned aircraft, unless its
  emitter category is B6 (unmanned), which makes a drone. Each is a likelihood table
  P(evidence | class) (:class:`IdentityLikelihoods`).
* **kinematics** over a short history (:func:`features_from_history`): horizontal speed, its
  variability, net speed (displacement over the whole history divided by its duration: near
  zero for a hovering drone whose estimated velocity is mostly noise, several m/s for a bird that
  wanders on), height above the site, climb rate, turn rate, heading changes between updates and
  the fraction of time spent hovering. Each class is a mixture of *profiles* (a multirotor
  and a fixed-wing drone; an aeroplane and a helicopter; a bird), and a profile scores each
  feature with a soft band ``(lo, hi, soft)``: log-likelihood about 0 inside ``[lo, hi]``, falling
  off over ``soft`` outside, floored at ``log(floor)`` so that one odd feature cannot veto a class.
  The ``unknown`` class scores every feature ``log(unknown_level)``: it wins when nothing fits.
  Kinematic terms are scaled by ``kinematic_weight`` (the features are not independent, so the
  plain naive-Bayes sum would be over-confident) and by the amount of history
  (``min(1, (n_updates - 1) / (full_evidence_updates - 1))``): a new track is ``unknown``.
* **sensor hints**: an optional class probability vector per track (e.g. a SAPIENT detection's
  classification with its confidence), added as ``hint_weight * log(max(p, hint_floor))``.

Class order everywhere is :data:`CLASS_NAMES` (the tracker's): unknown, drone, manned_aircraft, bird.

Example:
    >>> import numpy as np
    >>> f = TrackFeatures.empty(1)
    >>> f = f.replace(has_remote_id=np.array([True]))
    >>> probs, cls = classify(f)
    >>> CLASS_NAMES[int(cls[0])], bool(probs[0, 1] > 0.9)
    ('drone', True)
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass

import msgspec
import numpy as np
import numpy.typing as npt

__all__ = [
    "CLASS_NAMES",
    "FEATURES",
    "Band",
    "Profile",
    "IdentityLikelihoods",
    "ClassifierConfig",
    "TrackFeatures",
    "features_from_history",
    "classify",
    "explain",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: Class order of the probability columns; equal to ``skywarden.fusion.tracker.CLASS_NAMES``.
CLASS_NAMES = ("unknown", "drone", "manned_aircraft", "bird")
UNKNOWN, DRONE, MANNED, BIRD = 0, 1, 2, 3

#: The kinematic features a profile scores, in :class:`Profile` field order.
FEATURES = (
    "speed_mps",
    "speed_std_mps",
    "net_speed_mps",
    "alt_agl_m",
    "climb_mps",
    "turn_rate_dps",
    "heading_change_std_deg",
    "hover_fraction",
)

Band = tuple[float, float, float]
"""``(lo, hi, soft)``: a feature value inside ``[lo, hi]`` fits; outside, the fit falls off
logistically with scale ``soft`` (about 2 soft-units out, the likelihood has dropped 10-fold)."""

_ANY: Band = (-math.inf, math.inf, 1.0)


class Profile(msgspec.Struct, frozen=True, kw_only=True):
    """A kind of object within a class, e.g. a helicopter within ``manned_aircraft``.

    Each band is the range of one feature (see :class:`TrackFeatures`) that this kind of object
    shows; a feature left at its default does not discriminate.
    """

    name: str
    cls: int
    """Index in :data:`CLASS_NAMES` (1, 2 or 3)."""
    weight: float = 1.0
    """Share of the class's objects that look like this profile (mixture weight)."""
    speed_mps: Band = _ANY
    speed_std_mps: Band = _ANY
    net_speed_mps: Band = _ANY
    alt_agl_m: Band = _ANY
    climb_mps: Band = _ANY
    turn_rate_dps: Band = _ANY
    heading_change_std_deg: Band = _ANY
    hover_fraction: Band = _ANY


#: Default profiles. Sources: small multirotors fly 0-20 m/s (about 25 at most), below 120 m
#: (the open category's limit) and hover; fixed-wing drones cruise at 15-35 m/s; airliners and
#: light aeroplanes fly 40-300 m/s and turn at most at the standard rate of 3 deg/s; helicopters
#: cruise at 30-80 m/s, 150-600 m above ground, and can hover; birds fly 5-20 m/s, mostly below
#: 150 m, change heading and speed all the time and do not hover (kestrels aside). The bands of
#: the features the tracker's filter smooths (speed variability, turn rate, heading changes) are
#: fitted to its default tuning (q_h = 2.5) on classification-mix seeds 100-104, by grid search.
DEFAULT_PROFILES: tuple[Profile, ...] = (
    Profile(
        name="multirotor", cls=DRONE, weight=0.7,
        speed_mps=(0.0, 26.0, 3.0), speed_std_mps=(0.0, 5.0, 1.5), alt_agl_m=(-30.0, 200.0, 30.0),
        climb_mps=(0.0, 6.0, 1.5), turn_rate_dps=(0.0, 50.0, 10.0), heading_change_std_deg=(0.0, 30.0, 10.0),
    ),
    Profile(
        name="fixed_wing_drone", cls=DRONE, weight=0.3,
        speed_mps=(12.0, 40.0, 3.0), speed_std_mps=(0.0, 4.0, 1.5), net_speed_mps=(8.0, 40.0, 2.0),
        alt_agl_m=(20.0, 1500.0, 50.0), climb_mps=(0.0, 5.0, 1.5), turn_rate_dps=(0.0, 20.0, 5.0),
        heading_change_std_deg=(0.0, 20.0, 6.0), hover_fraction=(0.0, 0.05, 0.05),
    ),
    Profile(
        name="aeroplane", cls=MANNED, weight=0.7,
        speed_mps=(45.0, 320.0, 8.0), speed_std_mps=(0.0, 8.0, 3.0), net_speed_mps=(40.0, 320.0, 8.0),
        alt_agl_m=(150.0, 13_000.0, 60.0), climb_mps=(0.0, 20.0, 4.0), turn_rate_dps=(0.0, 5.0, 2.0),
        heading_change_std_deg=(0.0, 6.0, 3.0), hover_fraction=(0.0, 0.02, 0.03),
    ),
    Profile(
        name="helicopter", cls=MANNED, weight=0.3,
        speed_mps=(0.0, 85.0, 8.0), speed_std_mps=(0.0, 8.0, 3.0), alt_agl_m=(150.0, 3_000.0, 40.0),
        climb_mps=(0.0, 8.0, 2.0), turn_rate_dps=(0.0, 15.0, 5.0), heading_change_std_deg=(0.0, 20.0, 6.0),
    ),
    Profile(
        name="bird", cls=BIRD, weight=1.0,
        speed_mps=(4.0, 19.0, 2.0), speed_std_mps=(0.6, 12.0, 0.7), net_speed_mps=(2.5, 30.0, 0.7),
        alt_agl_m=(-30.0, 150.0, 30.0), climb_mps=(0.0, 3.0, 1.0), turn_rate_dps=(5.0, 360.0, 2.5),
        heading_change_std_deg=(10.0, 180.0, 4.0), hover_fraction=(0.0, 0.1, 0.1),
    ),
)


class IdentityLikelihoods(msgspec.Struct, frozen=True, kw_only=True):
    """P(identity evidence | class), in :data:`CLASS_NAMES` order.

    Absence of an identity has likelihood ``1 - P(present)``; with the defaults that only
    mildly disfavours drones (half of them broadcast Remote ID) and manned aircraft.
    """

    remote_id: tuple[float, float, float, float] = (1e-3, 0.5, 1e-4, 1e-5)
    """A Remote ID identity is attached (a drone broadcasts; anything else only by spoofing or
    mis-association)."""
    adsb_manned: tuple[float, float, float, float] = (1e-3, 1e-3, 0.6, 1e-5)
    """An ADS-B identity with any emitter category but B6 (or none)."""
    adsb_uav: tuple[float, float, float, float] = (1e-4, 1e-2, 1e-4, 1e-6)
    """An ADS-B identity with emitter category B6 (unmanned aerial vehicle)."""


class ClassifierConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Every tunable of :func:`classify`; see the module docstring for the model."""

    priors: tuple[float, float, float, float] = (0.4, 0.2, 0.2, 0.2)
    """Prior class probabilities (unknown, drone, manned_aircraft, bird); normalised internally.
    ``unknown`` leads, so a track without evidence is reported ``unknown``."""
    profiles: tuple[Profile, ...] = DEFAULT_PROFILES
    unknown_level: float = 0.25
    """Likelihood of any feature value under ``unknown`` (a fitting band scores ~1, a misfit ``floor``)."""
    floor: float = 0.02
    """Least likelihood one feature can give a profile."""
    kinematic_weight: float = 0.6
    """Scale of every kinematic term (features are correlated: < 1 tempers the naive-Bayes sum)."""
    feature_weights: tuple[float, ...] = (1.0,) * len(FEATURES)
    """Per-feature scale, in :data:`FEATURES` order."""
    full_evidence_updates: int = 10
    """Kinematic evidence counts fully from this many updates in the history; less, proportionally."""
    identity: IdentityLikelihoods = IdentityLikelihoods()
    hint_weight: float = 1.0
    """Scale of the sensor-hint term ``log(max(p, hint_floor))``."""
    hint_floor: float = 0.01
    min_probability: float = 0.0
    """The reported class is ``unknown`` unless the arg-max class has at least this probability."""


DEFAULT_CONFIG = ClassifierConfig()


@dataclass(frozen=True)
class TrackFeatures:
    """Features of ``k`` tracks, one array entry per track (NaN where a feature is unknown).

    Attributes:
        speed_mps: median horizontal speed over the history.
        speed_std_mps: standard deviation of the horizontal speed.
        net_speed_mps: horizontal distance from the first to the last state over their time span.
        alt_agl_m: median height above the site's ground.
        climb_mps: median absolute vertical speed.
        turn_rate_dps: median absolute turn rate while moving, degrees per second.
        heading_change_std_deg: RMS heading change between consecutive updates while moving.
        hover_fraction: share of updates with near-zero speed while airborne.
        n_updates: states in the history.
        has_remote_id: a Remote ID identity is attached.
        has_adsb: an ADS-B identity is attached.
        adsb_uav: that ADS-B identity declares emitter category B6 (unmanned).
        hint_probs: ``(k, 4)`` sensor class probabilities (:data:`CLASS_NAMES` order); NaN rows when none.
    """

    speed_mps: FloatArray
    speed_std_mps: FloatArray
    net_speed_mps: FloatArray
    alt_agl_m: FloatArray
    climb_mps: FloatArray
    turn_rate_dps: FloatArray
    heading_change_std_deg: FloatArray
    hover_fraction: FloatArray
    n_updates: npt.NDArray[np.int64]
    has_remote_id: BoolArray
    has_adsb: BoolArray
    adsb_uav: BoolArray
    hint_probs: FloatArray

    def __len__(self) -> int:
        return int(self.n_updates.size)

    @classmethod
    def empty(cls, k: int) -> TrackFeatures:
        """``k`` tracks with no evidence at all (every feature NaN, no identity, no hint)."""
        nan = np.full(k, np.nan)
        no = np.zeros(k, dtype=bool)
        return cls(
            speed_mps=nan, speed_std_mps=nan.copy(), net_speed_mps=nan.copy(), alt_agl_m=nan.copy(), climb_mps=nan.copy(),
            turn_rate_dps=nan.copy(), heading_change_std_deg=nan.copy(), hover_fraction=nan.copy(),
            n_updates=np.zeros(k, dtype=np.int64), has_remote_id=no, has_adsb=no.copy(), adsb_uav=no.copy(),
            hint_probs=np.full((k, 4), np.nan),
        )

    def replace(self, **changes: npt.ArrayLike) -> TrackFeatures:
        """A copy with some fields replaced (arrays are converted)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name, value in changes.items():
            ref = fields[name]
            fields[name] = np.asarray(value, dtype=ref.dtype).reshape(ref.shape)
        return TrackFeatures(**fields)

    def matrix(self) -> FloatArray:
        """The kinematic features as a ``(k, 7)`` matrix in :data:`FEATURES` order."""
        return np.column_stack([getattr(self, name) for name in FEATURES]).reshape(len(self), len(FEATURES))


def _nanmedian_rows(a: FloatArray) -> FloatArray:
    """``np.nanmedian(a, axis=1)`` of a small ``(k, h)`` array, the same values without numpy's
    masked-array path for short rows (0.3 ms a call): sort (NaN last), mean of the middle two."""
    k = a.shape[0]
    s = np.sort(a, axis=1)
    n = np.count_nonzero(~np.isnan(a), axis=1)
    hi = n // 2
    lo = np.maximum(np.where(n % 2 == 1, hi, hi - 1), 0)  # an all-NaN row picks NaN
    rows = np.arange(k)
    return (s[rows, lo] + s[rows, hi]) / 2.0


def _wrap_deg(a: FloatArray) -> FloatArray:
    return (a + 180.0) % 360.0 - 180.0


def features_from_history(
    states: npt.ArrayLike,
    times: npt.ArrayLike,
    *,
    ground_up_m: float | npt.ArrayLike = 0.0,
    has_remote_id: npt.ArrayLike | None = None,
    has_adsb: npt.ArrayLike | None = None,
    adsb_uav: npt.ArrayLike | None = None,
    hint_probs: npt.ArrayLike | None = None,
    hover_speed_mps: float = 1.5,
    airborne_m: float = 5.0,
    moving_speed_mps: float = 4.5,
    min_span_s: float = 5.0,
) -> TrackFeatures:
    """Features of ``k`` tracks from their recent states, vectorised over tracks and history.

    Args:
        states: ``(k, H, 6)`` ENU states ``(e, n, u, ve, vn, vu)`` (metres, m/s), oldest first;
            rows padded with NaN (anywhere) where a track has fewer than H states.
        times: ``(k, H)`` state times, seconds; NaN for padding.
        ground_up_m: the ground's ENU up coordinate (scalar or ``(k,)``); heights are above it.
        has_remote_id, has_adsb, adsb_uav: ``(k,)`` identity flags (default all false).
        hint_probs: ``(k, 4)`` sensor class probabilities, NaN rows for none.
        hover_speed_mps: an airborne state slower than this is hovering.
        airborne_m: ... and airborne means at least this high above ground.
        moving_speed_mps: headings (turn rate, heading changes) count only between states at
            least this fast; slower, the heading of an estimated velocity is mostly noise.
        min_span_s: the net speed needs a history at least this long, seconds.
    """
    x = np.asarray(states, dtype=np.float64)
    t = np.asarray(times, dtype=np.float64)
    k, h = t.shape
    valid = np.isfinite(t) & np.all(np.isfinite(x), axis=2)
    # Compact each row so valid states come first, in time order (NaN padding may sit anywhere).
    order = np.argsort(np.where(valid, t, np.inf), axis=1, kind="stable")
    x = np.take_along_axis(x, order[:, :, None], axis=1)
    t = np.take_along_axis(t, order, axis=1)
    valid = np.take_along_axis(valid, order, axis=1)
    n = valid.sum(axis=1)
    xv = np.where(valid[:, :, None], x, np.nan)
    vh = np.hypot(xv[:, :, 3], xv[:, :, 4])
    agl = xv[:, :, 2] - np.reshape(np.asarray(ground_up_m, dtype=np.float64), (-1, 1))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        # 'All-NaN slice' / 'Mean of empty slice': NaN is the right answer for a track without data.
        warnings.simplefilter("ignore", RuntimeWarning)
        speed = _nanmedian_rows(vh)
        speed_std = np.nanstd(vh, axis=1)
        alt = _nanmedian_rows(agl)
        climb = _nanmedian_rows(np.abs(xv[:, :, 5]))
        airborne = agl >= airborne_m
        hovering = airborne & (vh < hover_speed_mps)
        n_air = np.count_nonzero(airborne, axis=1)
        hover = np.where(n_air > 0, np.count_nonzero(hovering, axis=1) / np.maximum(n_air, 1), np.nan)
        heading = np.degrees(np.arctan2(xv[:, :, 3], xv[:, :, 4]))
        moving = vh >= moving_speed_mps
        pair = moving[:, 1:] & moving[:, :-1]
        dh = np.where(pair, _wrap_deg(np.diff(heading, axis=1)), np.nan)
        dt = np.diff(t, axis=1)
        rate = np.where(pair & (dt > 0), np.abs(dh) / np.where(dt > 0, dt, 1.0), np.nan)
        turn = _nanmedian_rows(rate)
        n_pairs = np.count_nonzero(pair, axis=1)
        hstd = np.where(n_pairs > 0, np.sqrt(np.nansum(dh**2, axis=1) / np.maximum(n_pairs, 1)), np.nan)
        # Valid states come first: the last one of a row is at index n - 1.
        last = np.maximum(n - 1, 0)
        rows = np.arange(k)
        span = t[rows, last] - t[:, 0]
        disp = np.hypot(x[rows, last, 0] - x[:, 0, 0], x[rows, last, 1] - x[:, 0, 1])
        net = np.where((n >= 2) & (span >= min_span_s), disp / np.where(span > 0, span, 1.0), np.nan)

    def flags(v: npt.ArrayLike | None) -> BoolArray:
        return np.zeros(k, dtype=bool) if v is None else np.asarray(v, dtype=bool).reshape(k)

    hints = np.full((k, 4), np.nan) if hint_probs is None else np.asarray(hint_probs, dtype=np.float64).reshape(k, 4)
    return TrackFeatures(
        speed_mps=speed, speed_std_mps=speed_std, net_speed_mps=net, alt_agl_m=alt, climb_mps=climb, turn_rate_dps=turn,
        heading_change_std_deg=hstd, hover_fraction=hover, n_updates=n.astype(np.int64),
        has_remote_id=flags(has_remote_id), has_adsb=flags(has_adsb), adsb_uav=flags(adsb_uav), hint_probs=hints,
    )


def _band_loglik(x: FloatArray, band: Band, floor: float) -> FloatArray:
    """log(floor + (1 - floor) * sigmoid((x - lo)/soft) * sigmoid((hi - x)/soft)); 0 where x is NaN."""
    lo, hi, soft = band
    with np.errstate(over="ignore", invalid="ignore"):
        # log sigmoid(z) = -log1p(exp(-z)); infinite bounds give z = +inf, i.e. 0.
        a = -np.logaddexp(0.0, -(x - lo) / soft) if math.isfinite(lo) else 0.0
        b = -np.logaddexp(0.0, -(hi - x) / soft) if math.isfinite(hi) else 0.0
        fit = np.exp(a + b)
    out = np.log(floor + (1.0 - floor) * fit)
    return np.where(np.isfinite(x), out, 0.0)


_TABLES: dict[int, tuple] = {}


def _profile_table(config: ClassifierConfig) -> tuple:
    """The profiles' bands as ``(P, F)`` arrays (lo, hi, soft and finiteness), log mixture weights
    and each class's profile columns; built once per configuration."""
    cached = _TABLES.get(id(config))
    if cached is not None and cached[0] is config:
        return cached[1]
    profs = config.profiles
    bands = np.array([[getattr(p, name) for name in FEATURES] for p in profs], dtype=np.float64).reshape(len(profs), len(FEATURES), 3)
    lo, hi, soft = bands[:, :, 0].copy(), bands[:, :, 1].copy(), bands[:, :, 2].copy()
    total_w = {c: sum(p.weight for p in profs if p.cls == c) for c in (DRONE, MANNED, BIRD)}
    logw = np.array([np.log(p.weight / total_w[p.cls]) for p in profs], dtype=np.float64)
    cols = [(c, np.array([j for j, p in enumerate(profs) if p.cls == c], dtype=np.int64)) for c in (DRONE, MANNED, BIRD)]
    table = (lo, hi, soft, np.isfinite(lo), np.isfinite(hi), logw, [(c, idx) for c, idx in cols if idx.size])
    _TABLES[id(config)] = (config, table)
    return table


def _terms(features: TrackFeatures, config: ClassifierConfig) -> dict[str, FloatArray]:
    """Every named log-likelihood term, each ``(k, 4)`` in class order (-inf where a class has no profile)."""
    k = len(features)
    m = features.matrix()
    fw = np.asarray(config.feature_weights, dtype=np.float64)
    evidence = np.clip((features.n_updates - 1) / max(config.full_evidence_updates - 1, 1), 0.0, 1.0)
    scale = config.kinematic_weight * evidence  # (k,)
    known = np.isfinite(m)

    # Profiles: per-profile kinematic log-likelihood (every profile and feature in one call),
    # then a log-sum-exp mixture per class.
    lo, hi, soft, lo_fin, hi_fin, logw, cols = _profile_table(config)
    x = m[:, None, :]
    with np.errstate(over="ignore", invalid="ignore"):
        a = np.where(lo_fin, -np.logaddexp(0.0, -(x - lo) / soft), 0.0)
        b = np.where(hi_fin, -np.logaddexp(0.0, -(hi - x) / soft), 0.0)
        fit = np.exp(a + b)
    band = np.where(known[:, None, :], np.log(config.floor + (1.0 - config.floor) * fit), 0.0)  # (k, P, F)
    ll = np.zeros((k, lo.shape[0]))
    for f in range(len(FEATURES)):  # feature by feature, as the sum was always taken
        ll += fw[f] * band[:, :, f]
    per = logw + scale[:, None] * ll
    kin = np.full((k, 4), -np.inf)
    for cls, idx in cols:
        kin[:, cls] = np.logaddexp.reduce(per[:, idx], axis=1)
    kin[:, UNKNOWN] = scale * math.log(config.unknown_level) * (known * fw).sum(axis=1)

    ident = config.identity
    rid = np.asarray(ident.remote_id)
    adsb_m, adsb_u = np.asarray(ident.adsb_manned), np.asarray(ident.adsb_uav)
    has_rid = features.has_remote_id[:, None]
    has_adsb = features.has_adsb[:, None]
    uav = features.adsb_uav[:, None]
    identity = np.where(has_rid, np.log(rid), np.log1p(-rid))
    identity = identity + np.where(
        has_adsb, np.where(uav, np.log(adsb_u), np.log(adsb_m)), np.log1p(-(adsb_m + adsb_u))
    )

    hints = features.hint_probs
    has_hint = np.all(np.isfinite(hints), axis=1, keepdims=True)
    hint = np.where(has_hint, config.hint_weight * np.log(np.maximum(np.nan_to_num(hints), config.hint_floor)), 0.0)

    priors = np.asarray(config.priors, dtype=np.float64)
    prior = np.broadcast_to(np.log(priors / priors.sum()), (k, 4))
    return {"prior": prior, "kinematics": kin, "identity": identity, "hint": hint}


def classify(features: TrackFeatures, config: ClassifierConfig = DEFAULT_CONFIG) -> tuple[FloatArray, npt.NDArray[np.int64]]:
    """Class probabilities of ``k`` tracks.

    Returns:
        ``(probs, cls)``: ``(k, 4)`` probabilities in :data:`CLASS_NAMES` order (rows sum to 1),
        and ``(k,)`` the reported class index: the arg-max, or ``unknown`` (0) when the arg-max
        probability is below ``config.min_probability``.
    """
    terms = _terms(features, config)
    total = sum(terms.values())
    total = total - total.max(axis=1, keepdims=True) if len(features) else total
    probs = np.exp(total)
    probs /= probs.sum(axis=1, keepdims=True)
    cls = np.argmax(probs, axis=1).astype(np.int64)
    if config.min_probability > 0.0 and cls.size:
        cls = np.where(probs[np.arange(cls.size), cls] >= config.min_probability, cls, UNKNOWN)
    return probs, cls


def explain(features: TrackFeatures, i: int, config: ClassifierConfig = DEFAULT_CONFIG) -> dict[str, object]:
    """Why track ``i`` got its class: its features, each term per class (nats), each profile's fit.

    Returns a JSON-ready dict: ``features`` (name -> value), ``terms`` (term -> {class -> nats}),
    ``profiles`` (profile name -> {feature -> nats}, unscaled) and ``probabilities``.
    """
    one = TrackFeatures(**{f.name: getattr(features, f.name)[i : i + 1] for f in dataclasses.fields(features)})
    terms = _terms(one, config)
    probs, _ = classify(one, config)
    m = one.matrix()[0]
    return {
        "features": {name: float(m[f]) for f, name in enumerate(FEATURES)} | {"n_updates": int(one.n_updates[0])},
        "terms": {name: dict(zip(CLASS_NAMES, (float(v) for v in arr[0]))) for name, arr in terms.items()},
        "profiles": {
            p.name: {name: float(_band_loglik(m[f : f + 1], getattr(p, name), config.floor)[0]) for f, name in enumerate(FEATURES)}
            for p in config.profiles
        },
        "probabilities": dict(zip(CLASS_NAMES, (float(v) for v in probs[0]))),
    }
