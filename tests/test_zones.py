"""Zones v1: parsing, validation errors naming the feature, and 3-D containment."""

import json

import numpy as np
import pytest

from skywarden.zones.geojson import ZoneFileError, load_zones, parse_zones, zones_to_geojson
from skywarden.zones.index import ZoneIndex

SQUARE = [[[0.0, 0.0], [0.01, 0.0], [0.01, 0.01], [0.0, 0.01], [0.0, 0.0]]]


def fc(*features):
    return {"type": "FeatureCollection", "features": list(features)}


def feature(geometry, **props):
    return {"type": "Feature", "geometry": geometry, "properties": props}


def test_polygon_circle_and_multipolygon_parse_with_defaults():
    zones = parse_zones(fc(
        feature({"type": "Polygon", "coordinates": SQUARE}, id="sq", name="Square"),
        feature({"type": "Point", "coordinates": [1.0, 1.0]}, id="c", radius_m=500, upper_m=120, allow_uas_ids=["OK1"]),
        feature({"type": "MultiPolygon", "coordinates": [SQUARE]}, id="m", lower_m=50, upper_m=400),
    ))
    assert [z.id for z in zones] == ["sq", "c", "m"]
    assert zones[0].lower_m == 0.0 and zones[0].upper_m == float("inf")
    assert zones[1].radius_m == 500.0 and zones[1].allow_uas_ids == frozenset({"OK1"})
    assert zones_to_geojson(zones)["features"][1]["properties"]["radius_m"] == 500.0
    assert [z.id for z in parse_zones(zones_to_geojson(zones))] == ["sq", "c", "m"]


@pytest.mark.parametrize(
    "bad, message",
    [
        (feature({"type": "Point", "coordinates": [1, 1]}, id="nope"), "feature #1 (id 'nope'): a Point zone needs properties.radius_m"),
        (feature({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}, id="bow"), "feature #1 (id 'bow'): Polygon is not a valid polygon"),
        (feature({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}, id="line"), "geometry type 'LineString' is not supported"),
        (feature({"type": "Polygon", "coordinates": SQUARE}, id="band", lower_m=100, upper_m=50), "upper_m (50.0) must be above lower_m (100.0)"),
        (feature({"type": "Polygon", "coordinates": SQUARE}), "feature #1: properties.id is required"),
        (feature({"type": "Point", "coordinates": [200, 1]}, id="far", radius_m=5), "is not a WGS84 position"),
        (feature({"type": "Polygon", "coordinates": SQUARE}, id="sq"), "duplicate zone id"),
        (feature({"type": "Polygon", "coordinates": SQUARE}, id="al", allow_uas_ids="X"), "allow_uas_ids must be a list"),
    ],
)
def test_invalid_features_are_named(bad, message):
    good = feature({"type": "Polygon", "coordinates": SQUARE}, id="sq")
    with pytest.raises(ZoneFileError) as err:
        parse_zones(fc(good, bad))
    assert message in str(err.value)


def test_load_zones_reports_file_and_json_position(tmp_path):
    p = tmp_path / "z.geojson"
    p.write_text('{"type": "FeatureCollection", "features": [}')
    with pytest.raises(ZoneFileError, match=r"z.geojson: not valid JSON at line 1"):
        load_zones(p)
    with pytest.raises(ZoneFileError, match="cannot read"):
        load_zones(tmp_path / "missing.geojson")
    p.write_text(json.dumps({"type": "Feature"}))
    with pytest.raises(ZoneFileError, match="FeatureCollection"):
        load_zones(p)


def test_inside_checks_footprint_and_altitude_band():
    zones = parse_zones(fc(
        feature({"type": "Polygon", "coordinates": SQUARE}, id="sq", lower_m=10, upper_m=100),
        feature({"type": "Point", "coordinates": [0.5, 0.0]}, id="c", radius_m=1000),
    ))
    index = ZoneIndex(zones)
    lat = [0.005, 0.005, 0.005, 0.02, 0.0, 0.0]
    lon = [0.005, 0.005, 0.005, 0.005, 0.5 + 0.0089, 0.5 + 0.0091]  # 0.0089 deg ~ 991 m, 0.0091 ~ 1013 m
    alt = [50, 5, 150, 50, 0, 0]
    inside = index.inside(lat, lon, alt)
    assert inside[:, 0].tolist() == [True, False, False, False, False, False]
    assert inside[:, 1].tolist() == [False, False, False, False, True, False]


def test_inside_matches_shapely_on_random_points():
    import shapely
    from shapely.geometry import Point, shape

    rng = np.random.default_rng(5)
    poly = {"type": "Polygon", "coordinates": [[[0, 0], [0.02, 0.005], [0.01, 0.03], [-0.01, 0.01], [0, 0]]]}
    index = ZoneIndex(parse_zones(fc(feature(poly, id="p"))))
    lon = rng.uniform(-0.02, 0.03, 2000)
    lat = rng.uniform(-0.01, 0.04, 2000)
    got = index.inside(lat, lon, np.zeros(2000))[:, 0]
    want = shapely.contains_xy(shape(poly), lon, lat)
    assert np.array_equal(got, want)
    assert 100 < got.sum() < 1900
    assert Point(0.0, 0.0)  # shapely available
