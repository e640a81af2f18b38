"""Build step: generate the SAPIENT (BSI Flex 335 v2.0) protobuf bindings from the .proto files.

All project metadata lives in pyproject.toml; this file only adds one step to ``build_py``. The
``.proto`` files (Apache-2.0, Crown copyright, Dstl) are kept in the repository under
``src/skywarden/sources/sapient/proto/``; the Python modules generated from them are not (they are
git-ignored), so a fresh clone carries no generated code. ``grpcio-tools`` (listed in
``[build-system].requires``) runs ``protoc`` at build time:

* ``pip install .`` (a wheel): the modules are written into the build directory beside the
  copied package, so they end up in the wheel;
* ``pip install -e .`` (editable): they are written into the source tree, where the editable
  install imports them from.

protoc writes absolute imports named after the proto paths (``from sapient_msg.bsi_flex_335_v2_0
import location_pb2``), which would need a top-level ``sapient_msg`` package (and would clash with
the unrelated ``sapient-msg`` distribution). The step rewrites them to imports inside skywarden's
package. The descriptor pool keeps the proto file names, which is what the wire format and
``json_format`` rely on.
"""

from __future__ import annotations

import re
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
PROTO_PACKAGE = "skywarden.sources.sapient.proto"
PROTO_SRC = HERE / "src" / Path(*PROTO_PACKAGE.split("."))
_IMPORT = re.compile(r"^(from|import) sapient_msg\b", re.MULTILINE)


def generate_sapient_bindings(out_dir: Path) -> list[Path]:
    """Run protoc on every .proto under :data:`PROTO_SRC`; write ``*_pb2.py`` and ``*_pb2.pyi`` below ``out_dir``.

    Returns the generated files. Raises ``RuntimeError`` when protoc fails.
    """
    import grpc_tools  # build requirement; imported here so that metadata-only commands do not need it
    from grpc_tools import protoc

    protos = sorted(p.relative_to(PROTO_SRC).as_posix() for p in PROTO_SRC.rglob("*.proto"))
    out_dir.mkdir(parents=True, exist_ok=True)
    well_known = Path(grpc_tools.__file__).parent / "_proto"  # google/protobuf/timestamp.proto, descriptor.proto
    args = ["grpc_tools.protoc", f"-I{PROTO_SRC}", f"-I{well_known}", f"--python_out={out_dir}", f"--pyi_out={out_dir}", *protos]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on the SAPIENT protos in {PROTO_SRC}")
    generated = sorted([*out_dir.rglob("*_pb2.py"), *out_dir.rglob("*_pb2.pyi")])
    for path in generated:
        text = path.read_text(encoding="utf-8")
        path.write_text(_IMPORT.sub(rf"\1 {PROTO_PACKAGE}.sapient_msg", text), encoding="utf-8")
    return generated


class BuildPyWithProtos(build_py):
    """``build_py`` that also generates the SAPIENT bindings (see the module docstring)."""

    def run(self) -> None:
        super().run()  # in editable mode this copies nothing and returns at once
        if self.editable_mode:
            out = PROTO_SRC
        else:
            out = Path(self.build_lib, *PROTO_PACKAGE.split("."))
        generate_sapient_bindings(out)


setup(cmdclass={"build_py": BuildPyWithProtos})
