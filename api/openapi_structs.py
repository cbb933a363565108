"""OpenAPI schemas of msgspec Structs that say everything the decoder enforces.

Litestar leaves out two things a client must know: a Struct with `forbid_unknown_fields`
refuses extra properties (`additionalProperties: false`), and the constraints of what is inside
a list or a dict (a pattern on each list item, on each key, a length on each value, a dict's
size). Without them, requests the schema allows are refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.typing import FieldDefinition

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator

_KIND = {
    msgspec.inspect.ListType: OpenAPIType.ARRAY,
    msgspec.inspect.DictType: OpenAPIType.OBJECT,
    msgspec.inspect.StrType: OpenAPIType.STRING,
}


def _string(schema: Schema, kind: msgspec.inspect.StrType) -> None:
    schema.pattern = schema.pattern or kind.pattern
    schema.min_length = schema.min_length if schema.min_length is not None else kind.min_length
    schema.max_length = schema.max_length if schema.max_length is not None else kind.max_length


def _fill(schema: Schema, kind: msgspec.inspect.Type) -> None:
    """Add `kind`'s constraints that `schema` lacks, inside lists, dicts and unions too."""
    options = schema.one_of or schema.any_of
    if options:
        members = kind.types if isinstance(kind, msgspec.inspect.UnionType) else (kind,)
        for option in options:
            for member in members:
                if isinstance(option, Schema) and option.type == _KIND.get(type(member)):
                    _fill(option, member)
        return
    if schema.type != _KIND.get(type(kind)):
        return
    if isinstance(kind, msgspec.inspect.StrType):
        _string(schema, kind)
    elif isinstance(kind, msgspec.inspect.ListType):
        schema.min_items = schema.min_items if schema.min_items is not None else kind.min_length
        schema.max_items = schema.max_items if schema.max_items is not None else kind.max_length
        if isinstance(schema.items, Schema):
            _fill(schema.items, kind.item_type)
    elif isinstance(kind, msgspec.inspect.DictType):
        if schema.min_properties is None:
            schema.min_properties = kind.min_length
        if schema.max_properties is None:
            schema.max_properties = kind.max_length
        key = kind.key_type
        if isinstance(key, msgspec.inspect.StrType) and schema.property_names is None:
            names = Schema(type=OpenAPIType.STRING)
            _string(names, key)
            if names.pattern or names.min_length is not None or names.max_length is not None:
                schema.property_names = names
        if isinstance(schema.additional_properties, Schema):
            _fill(schema.additional_properties, kind.value_type)


class StrictStructSchemaPlugin(StructSchemaPlugin):
    def to_openapi_schema(
        self, field_definition: FieldDefinition, schema_creator: SchemaCreator
    ) -> Schema:
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        if not isinstance(info, msgspec.inspect.StructType):
            return schema
        if info.forbid_unknown_fields:
            schema.additional_properties = False
        for field in info.fields:
            prop = (schema.properties or {}).get(field.encode_name)
            if isinstance(prop, Schema):
                _fill(prop, field.type)
        return schema
