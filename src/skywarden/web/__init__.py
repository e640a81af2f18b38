"""The operator's web map: static files served by the API process.

`STATIC_DIR` holds `index.html`, `app.js`, `app.css` and the offline basemap; the server mounts
it at `/static` and serves `index.html` at `/`. MapLibre GL JS is not copied into this package:
it comes from the installed `maplibre` Python package, and `vendor_files()` says where, so the
server can serve it at `/static/vendor/<name>`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["STATIC_DIR", "vendor_files"]

STATIC_DIR: Path = Path(__file__).resolve().parent / "static"

_MAPLIBRE_FILES = ("maplibre-gl.js", "maplibre-gl.css")


def vendor_files() -> dict[str, Path]:
    """Map `maplibre-gl.js` and `maplibre-gl.css` to the files shipped by the `maplibre` package.

    The package is located without being imported (importing it pulls in its notebook
    integrations and logs warnings). Raises `FileNotFoundError`, naming what to install, when
    the package or one of its files is missing.
    """
    spec = importlib.util.find_spec("maplibre")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the web map needs MapLibre GL JS from the Python package 'maplibre': pip install maplibre")
    srcjs = Path(next(iter(spec.submodule_search_locations))) / "srcjs"
    files = {name: srcjs / name for name in _MAPLIBRE_FILES}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"the installed 'maplibre' package lacks {', '.join(missing)}: reinstall it (pip install --force-reinstall maplibre)")
    return files
