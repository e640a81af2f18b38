#!/usr/bin/env python3
"""Build the web map's offline basemap: Natural Earth 1:50m countries as GeoJSON.

The source is the npm package world-atlas 2.0.2 (Natural Earth 4.1.0 admin-0 countries as
TopoJSON). Fetch it with the npm client (only this fetch needs it), then convert:

    npm pack world-atlas@2.0.2
    python tools/build_basemap.py world-atlas-2.0.2.tgz

The output (src/skywarden/web/static/basemap/countries-50m.geojson by default) is committed, so
neither step runs at install or run time. The conversion is deterministic: the same input gives
the same bytes.

TopoJSON in brief (https://github.com/topojson/topojson-specification): shared borders are
stored once, as "arcs"; with a "transform", each arc is a list of integer positions where the
first is absolute and every other is a delta from the one before, and a position maps to
longitude/latitude by `x * scale + translate`. A polygon ring is a list of arc indices; index
`~i` (that is, `-1 - i`) means arc `i` reversed. Consecutive arcs share their joining point.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tarfile
from itertools import accumulate
from pathlib import Path

SOURCE_MEMBER = "package/countries-50m.json"
EXPECTED_PACKAGE = ("world-atlas", "2.0.2")
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "src/skywarden/web/static/basemap/countries-50m.geojson"

Position = tuple[float, float]
Ring = list[Position]


def load_topology(source: Path) -> dict:
    """Read the TopoJSON topology from the npm tarball, an unpacked package, or the file itself."""
    if source.is_dir():
        source = source / "countries-50m.json"
    if tarfile.is_tarfile(source):
        with tarfile.open(source) as tar:
            package = json.load(tar.extractfile("package/package.json"))
            found = (package.get("name"), package.get("version"))
            if found != EXPECTED_PACKAGE:
                print(f"warning: {source} is {found[0]}@{found[1]}, not {'@'.join(EXPECTED_PACKAGE)}", file=sys.stderr)
            return json.load(io.TextIOWrapper(tar.extractfile(SOURCE_MEMBER), encoding="utf-8"))
    with open(source, encoding="utf-8") as f:
        return json.load(f)


def decode_arcs(topology: dict) -> list[list[Position]]:
    """Every arc as absolute longitude/latitude positions."""
    transform = topology.get("transform")
    if transform is None:  # unquantized topology: positions are already absolute
        return [[(x, y) for x, y, *_ in arc] for arc in topology["arcs"]]
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    decoded = []
    for arc in topology["arcs"]:
        xs = accumulate(p[0] for p in arc)
        ys = accumulate(p[1] for p in arc)
        decoded.append([(x * sx + tx, y * sy + ty) for x, y in zip(xs, ys)])
    return decoded


def stitch_ring(indices: list[int], arcs: list[list[Position]]) -> Ring:
    """Join a ring's arcs, reversing those given as ~i and dropping each shared joining point."""
    ring: Ring = []
    for index in indices:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        ring.extend(arc[1:] if ring else arc)
    return ring


def planar_ring(ring: Ring) -> Ring | None:
    """The ring as a plane figure in longitude/latitude, continuous across the antimeridian.

    world-atlas rings are spherical: a ring may step from 179.9 to -179.9 (Fiji, Chukotka) or
    go once round a pole (the Antarctic coast). Longitudes are unwrapped so that no step is
    longer than 180 degrees (some then lie beyond +-180), and a ring round a pole is closed
    through the pole. A ring within 0.01 degree of a pole (a cap of no area) gives None.
    """
    out = [ring[0]]
    shift = 0.0
    for (x0, _), (x, y) in zip(ring, ring[1:]):
        if x - x0 > 180:
            shift -= 360
        elif x - x0 < -180:
            shift += 360
        out.append((x + shift, y))
    if abs(out[-1][0] - out[0][0]) > 180:  # once round a pole
        if all(abs(y) > 89.99 for _, y in out):
            return None
        pole = -90.0 if sum(y for _, y in out) < 0 else 90.0
        out += [(out[-1][0], pole), (out[0][0], pole), out[0]]
    return out


def clip_ring(ring: Ring, west: float, east: float) -> Ring:
    """Sutherland-Hodgman clip of a closed ring to the band west <= lon <= east."""
    for edge, keep in ((west, lambda x: x >= west), (east, lambda x: x <= east)):
        if not ring:
            break
        if all(keep(x) for x, _ in ring):
            continue
        clipped: Ring = []
        for (xa, ya), (xb, yb) in zip(ring, ring[1:]):
            if keep(xa):
                clipped.append((xa, ya))
            if keep(xa) != keep(xb):
                clipped.append((edge, ya + (edge - xa) / (xb - xa) * (yb - ya)))
        ring = clipped + clipped[:1]
    return ring


def clean_ring(ring: Ring, digits: int) -> Ring | None:
    """Round, drop repeated positions, close the ring; None if nothing with an area is left."""
    out: Ring = []
    for lon, lat in ring:
        p = (round(lon, digits), round(lat, digits))
        if not out or p != out[-1]:
            out.append(p)
    if out and out[0] != out[-1]:
        out.append(out[0])
    return out if len(out) >= 4 and signed_area(out) != 0 else None


def signed_area(ring: Ring) -> float:
    """Twice the planar signed area of a closed ring (positive when counter-clockwise)."""
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:]))


def oriented(ring: Ring, counter_clockwise: bool) -> Ring:
    return ring if (signed_area(ring) > 0) == counter_clockwise else ring[::-1]


def polygons(rings_arcs: list[list[int]], arcs: list[list[Position]], digits: int) -> list[list[Ring]]:
    """One TopoJSON polygon as RFC 7946 polygons: cut at the antimeridian (section 3.1.9),
    exteriors counter-clockwise, holes clockwise (section 3.1.6)."""
    rings = [r for indices in rings_arcs if (r := planar_ring(stitch_ring(indices, arcs)))]
    if not rings:
        return []
    # When the exterior was a polar cap of no area (Antarctica's), the next ring is the exterior.
    exterior, holes = rings[0], rings[1:]
    lons = [x for x, _ in exterior]
    out = []
    for offset in (-360.0, 0.0, 360.0):  # the world copies the unwrapped exterior reaches into
        if min(lons) >= offset + 180 or max(lons) <= offset - 180:
            continue
        if (outer := world_piece(exterior, offset, digits)) is None:
            continue
        inner = [oriented(h, False) for hole in holes if (h := world_piece(hole, offset, digits))]
        out.append([oriented(outer, True), *inner])
    return out


def world_piece(ring: Ring, offset: float, digits: int) -> Ring | None:
    """The part of an unwrapped ring in the world copy centred on `offset`, moved into [-180, 180]."""
    clipped = clip_ring(ring, offset - 180, offset + 180)
    return clean_ring([(x - offset, y) for x, y in clipped], digits)


def to_feature(geometry: dict, arcs: list[list[Position]], digits: int) -> dict | None:
    kind = geometry.get("type")
    if kind == "Polygon":
        parts = polygons(geometry["arcs"], arcs, digits)
    elif kind == "MultiPolygon":
        parts = [p for rings_arcs in geometry["arcs"] for p in polygons(rings_arcs, arcs, digits)]
    else:
        return None  # a null geometry, or a kind a countries layer does not hold
    if not parts:
        return None
    props = geometry.get("properties") or {}
    properties = {"name": props.get("name", ""), "iso_n3": geometry.get("id")}
    if len(parts) == 1:
        shape = {"type": "Polygon", "coordinates": parts[0]}
    else:
        shape = {"type": "MultiPolygon", "coordinates": parts}
    return {"type": "Feature", "properties": properties, "geometry": shape}


def convert(topology: dict, object_name: str = "countries", digits: int = 4) -> dict:
    arcs = decode_arcs(topology)
    collection = topology["objects"][object_name]
    features = [f for g in collection["geometries"] if (f := to_feature(g, arcs, digits))]
    features.sort(key=lambda f: (f["properties"]["name"], f["properties"]["iso_n3"] or ""))
    return {"type": "FeatureCollection", "features": features}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="world-atlas-2.0.2.tgz (from `npm pack world-atlas@2.0.2`), its unpacked folder, or countries-50m.json")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="GeoJSON file to write (default: %(default)s)")
    parser.add_argument("--digits", type=int, default=4, help="decimal places kept in coordinates (default: %(default)s, about 11 m)")
    args = parser.parse_args(argv)

    geojson = convert(load_topology(args.source), digits=args.digits)
    text = json.dumps(geojson, separators=(",", ":"), ensure_ascii=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    positions = sum(len(r) for f in geojson["features"] for r in _rings(f["geometry"]))
    print(f"{args.out}: {len(geojson['features'])} countries, {positions} positions, {len(text.encode()) / 1e6:.2f} MB")
    return 0


def _rings(geometry: dict) -> list[Ring]:
    if geometry["type"] == "Polygon":
        return geometry["coordinates"]
    return [ring for poly in geometry["coordinates"] for ring in poly]


if __name__ == "__main__":
    sys.exit(main())
