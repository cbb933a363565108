"""An agent's post-call analysis settings as the API takes them: the shape checked on decode
(400), the schema checked as a JSON schema and the optional model resolved like the agent's
own providers (422)."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, Final

import jsonschema_rs
import msgspec

from api.context import ApiContext
from api.errors import FieldError
from api.provider_choice import ProviderChoice, resolve_choice
from providers.base import ProviderKind

# Criteria are read by the model with the whole transcript: a page of them is plenty.
Criteria = Annotated[str, msgspec.Meta(max_length=4_000)]
# The schema goes into every analysis prompt; past this it is a document, not a form.
MAX_SCHEMA_BYTES: Final = 16_000


class AgentAnalysis(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """After each call: a summary, whether the call met `success_criteria` (when given), and
    the data `schema` (a JSON schema of type object) describes, extracted from the call. `llm`
    chooses another language model than the agent's for it."""

    enabled: bool = False
    success_criteria: Criteria = ""
    schema: dict[str, Any] | None = None
    llm: ProviderChoice | None = None


async def analysis_problems(
    context: ApiContext, tenant_id: uuid.UUID, analysis: dict[str, Any]
) -> tuple[dict[str, Any], list[FieldError]]:
    """The settings with their model resolved, and what is wrong with them."""
    found: list[FieldError] = []
    schema = analysis.get("schema")
    if schema is not None:
        found += schema_problems(schema)
    choice = analysis.get("llm")
    if choice is not None:
        resolved, problems = await resolve_choice(
            context, tenant_id, ProviderKind.LLM, msgspec.convert(choice, ProviderChoice)
        )
        found += [FieldError(f"analysis.{p.field}", p.reason) for p in problems]
        analysis = {**analysis, "llm": msgspec.to_builtins(resolved)}
    return analysis, found


def schema_problems(schema: dict[str, Any]) -> list[FieldError]:
    """A JSON schema of an object, small, valid, and with no reference leaving it (a remote
    `$ref` would make the server fetch a tenant's URL)."""
    field = "analysis.schema"
    if len(json.dumps(schema)) > MAX_SCHEMA_BYTES:
        return [FieldError(field, f"must be at most {MAX_SCHEMA_BYTES} bytes as JSON")]
    if schema.get("type") != "object":
        return [FieldError(field, 'must be of type "object"')]
    try:
        # Offline: a `$schema` or `$ref` naming anything outside the schema is refused, never
        # fetched (meta-validation on its own would fetch an unknown meta-schema's URL).
        jsonschema_rs.validator_for(schema, offline=True)
    except jsonschema_rs.ValidationError as exc:
        where = "/".join(str(p) for p in exc.instance_path) or "(root)"
        return [FieldError(field, f"is not a valid JSON schema: {where}: {exc.message}")]
    except (jsonschema_rs.ReferencingError, ValueError) as exc:
        return [FieldError(field, f"cannot be used: {str(exc).splitlines()[0]}")]
    return []
