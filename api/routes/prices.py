"""Prices: what each vendor's usage costs, shipped defaults and the tenant's own rows."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec
from litestar import Router, get, put
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from api.auth import Principal, authenticate, authenticate_writer
from api.common import audit
from api.context import ApiContext
from api.errors import FieldError, invalid_fields, problems
from providers.pricing import CURRENCY, DEFAULT_PRICES, DEFAULTS_CHECKED, Price
from store.repositories.post_call import TenantPriceRepository

# Every vendor and model we ship, several times over.
MAX_PRICES = 200


class Prices(msgspec.Struct, kw_only=True):
    """`prices` are the tenant's own rows: each replaces the default of the same kind, vendor
    and model (`*`: the vendor's other models). Calls are priced when they end, with the
    prices of that moment."""

    currency: str
    defaults: list[Price]
    defaults_checked: date
    prices: list[Price]


class PricesUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    prices: Annotated[list[Price], msgspec.Meta(max_length=MAX_PRICES)]


async def _prices(context: ApiContext, principal: Principal) -> Prices:
    rows = await TenantPriceRepository(context.pool).get(principal.tenant_id)
    return Prices(
        currency=CURRENCY,
        defaults=list(DEFAULT_PRICES),
        defaults_checked=DEFAULTS_CHECKED,
        prices=msgspec.convert(rows, list[Price]),
    )


@get("/", operation_id="getPrices", responses=problems(401, 429))
async def get_prices(
    principal: NamedDependency[Principal], context: NamedDependency[ApiContext]
) -> Prices:
    """The shipped default prices and the tenant's own."""
    return await _prices(context, principal)


@put(
    "/",
    operation_id="replacePrices",
    responses=problems(400, 401, 403, 422, 429),
    dependencies={"principal": Provide(authenticate_writer)},
)
async def replace_prices(
    principal: NamedDependency[Principal],
    context: NamedDependency[ApiContext],
    data: JSONBody[PricesUpdate],
) -> Prices:
    """Replace the tenant's own prices (an empty list goes back to the defaults)."""
    seen: set[tuple[str, str, str]] = set()
    errors = []
    for index, price in enumerate(data.prices):
        key = (price.kind, price.vendor, price.model)
        if key in seen:
            errors.append(
                FieldError(f"prices[{index}]", "prices this kind, vendor and model twice")
            )
        seen.add(key)
    if errors:
        raise invalid_fields(errors)
    repository = TenantPriceRepository(context.pool)
    before = await repository.get(principal.tenant_id)
    after = msgspec.to_builtins(data.prices)
    await repository.replace(principal.tenant_id, after)
    await audit(
        context,
        principal,
        "update",
        "prices",
        principal.tenant_id,
        before={"prices": before},
        after={"prices": after},
    )
    return await _prices(context, principal)


router = Router(
    path="/prices",
    route_handlers=[get_prices, replace_prices],
    tags=["prices"],
    security=[{"bearer": []}],
    dependencies={"principal": Provide(authenticate)},
)
