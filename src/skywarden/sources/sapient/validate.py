"""Validation of SAPIENT messages against the ICD's own rules, read from the proto descriptors.

The v2.0 protos mark fields with a custom option (``proto_options.proto``)::

    optional string object_id = 2 [(field_options) = {is_mandatory: true, is_ulid: true}];

and oneofs with ``(oneof_options) = {is_mandatory: true}``. Rather than re-typing these rules,
:func:`violations` reads them from the descriptors of the generated classes once per message type
and checks a message tree against them: mandatory fields set (repeated: non-empty; proto3 scalars
without presence: not the default), mandatory oneofs set, ULIDs (26 Crockford base-32 characters,
first one 0-7) and UUIDs (8-4-4-4-12 hex digits) well formed.

Example:
    >>> from skywarden.sources.sapient.bindings import SapientMessage
    >>> msg = SapientMessage(node_id="not-a-uuid")
    >>> [(v.reason, v.path) for v in violations(msg)]
    [('missing_field', 'timestamp'), ('invalid_uuid', 'node_id'), ('missing_field', 'content')]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from skywarden.sources.sapient.bindings import proto_options_pb2

__all__ = ["Violation", "violations", "is_ulid", "is_uuid"]

_ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}", re.IGNORECASE)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_FIELD_OPTIONS = proto_options_pb2.field_options
_ONEOF_OPTIONS = proto_options_pb2.oneof_options


def is_ulid(text: str) -> bool:
    """True when ``text`` is a ULID: 26 Crockford base-32 characters, at most 2**128 - 1.

    >>> is_ulid("01GGYFBAXGDG7AGAHRZ6XSNY12"), is_ulid("81GGYFBAXGDG7AGAHRZ6XSNY12"), is_ulid("01GGYFBAXGDG7AGAHRZ6XSNYU2")
    (True, False, False)
    """
    return _ULID.fullmatch(text) is not None


def is_uuid(text: str) -> bool:
    """True when ``text`` is a UUID in its canonical 8-4-4-4-12 hexadecimal form.

    >>> is_uuid("a8654cdf-4328-47de-81fa-c495589e30c9"), is_uuid("a8654cdf432847de81fac495589e30c9")
    (True, False)
    """
    return _UUID.fullmatch(text) is not None


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: ``reason`` is ``missing_field``, ``invalid_ulid`` or ``invalid_uuid``;
    ``path`` names the field, e.g. ``detection_report.classification[0].type``."""

    reason: str
    path: str


_REPEATED, _PRESENCE, _IMPLICIT = 0, 1, 2  # how "is set" is told, per field


@dataclass(frozen=True, slots=True)
class _Rules:
    """One message type's rules as plain tuples (reading descriptors per message costs 3x more)."""

    mandatory: tuple[tuple[str, int, object], ...]
    """(field name, how "is set" is told, the default of an implicit-presence scalar)"""
    ids: tuple[tuple[str, bool, object, str], ...]
    """(field name, repeated, checker, reason) of ULID and UUID fields"""
    mandatory_oneofs: tuple[str, ...]
    children: dict[str, bool]
    """field name -> repeated, of the SAPIENT sub-message fields to descend into"""


def _field_flags(field: FieldDescriptor) -> proto_options_pb2.ValidationOptions | None:
    options = field.GetOptions()
    return options.Extensions[_FIELD_OPTIONS] if options.HasExtension(_FIELD_OPTIONS) else None


def _in_real_oneof(field: FieldDescriptor) -> bool:
    """True for a member of a declared ``oneof``; False for a proto3 ``optional`` field, which protoc
    wraps in a synthetic one-member oneof named ``_<field>`` (the Python descriptor API does not
    flag those)."""
    oneof = field.containing_oneof
    return oneof is not None and not (len(oneof.fields) == 1 and oneof.name == "_" + field.name)


@cache
def _rules(descriptor: Descriptor) -> _Rules:
    mandatory, ids, children = [], [], []
    for field in descriptor.fields:
        if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.full_name.startswith("sapient_msg."):
            children.append((field.name, field.is_repeated))
        flags = _field_flags(field)
        if flags is None:
            continue
        # A field inside a oneof is never mandatory on its own: the oneof's own option says
        # whether one of its members must be set.
        if flags.is_mandatory and not _in_real_oneof(field):
            if field.is_repeated:
                mandatory.append((field.name, _REPEATED, None))
            elif field.has_presence:
                mandatory.append((field.name, _PRESENCE, None))
            else:  # proto3 scalar without presence (e.g. ConfigurationData.manufacturer): unset == default
                mandatory.append((field.name, _IMPLICIT, field.default_value))
        if flags.is_ulid:
            ids.append((field.name, field.is_repeated, is_ulid, "invalid_ulid"))
        if flags.is_uuid:
            ids.append((field.name, field.is_repeated, is_uuid, "invalid_uuid"))
    oneofs = []
    for oneof in descriptor.oneofs:
        options = oneof.GetOptions()
        if options.HasExtension(_ONEOF_OPTIONS) and options.Extensions[_ONEOF_OPTIONS].is_mandatory:
            oneofs.append(oneof.name)
    return _Rules(tuple(mandatory), tuple(ids), tuple(oneofs), dict(children))


def _is_set(message: Message, name: str, how: int, default: object) -> bool:
    if how == _PRESENCE:
        return message.HasField(name)
    if how == _REPEATED:
        return len(getattr(message, name)) > 0
    return getattr(message, name) != default


def _check_ids(values: list[str], check, reason: str, path: str, out: list[Violation]) -> None:
    for i, value in enumerate(values):
        if value and not check(value):
            out.append(Violation(reason, path if len(values) == 1 else f"{path}[{i}]"))


def violations(message: Message, prefix: str = "", limit: int = 20) -> list[Violation]:
    """Every rule of the ICD that ``message`` (and the sub-messages it carries) breaks, up to ``limit``."""
    out: list[Violation] = []
    _walk(message, prefix, out, limit)
    return out


def _walk(message: Message, prefix: str, out: list[Violation], limit: int) -> None:
    rules = _rules(message.DESCRIPTOR)
    for name, how, default in rules.mandatory:
        if not _is_set(message, name, how, default):
            out.append(Violation("missing_field", prefix + name))
    for name, repeated, check, reason in rules.ids:
        value = getattr(message, name)
        _check_ids(list(value) if repeated else [value], check, reason, prefix + name, out)
    for name in rules.mandatory_oneofs:
        if message.WhichOneof(name) is None:
            out.append(Violation("missing_field", prefix + name))
    if not rules.children:
        return
    children = rules.children
    for field, value in message.ListFields():  # only the set fields: reports are sparse
        name = field.name
        if name not in children:
            continue
        if len(out) >= limit:
            return
        if children[name]:
            for i, item in enumerate(value):
                _walk(item, f"{prefix}{name}[{i}].", out, limit)
                if len(out) >= limit:
                    return
        else:
            _walk(value, f"{prefix}{name}.", out, limit)
