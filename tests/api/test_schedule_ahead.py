"""Evergreen schedules beyond the stored horizon (billing-semantics section 12, "reads
never write"): ``schedule(through:)`` and the amendment and cancellation previews
compute those lines in memory and write nothing; the lines are exactly those storing
ahead would add, and a preview is exactly what its mutation then applies.

Today is 2026-02-15 (conftest.TODAY): an evergreen schedule is stored through
2027-03-15 (13 months ahead).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from orbit import clock
from orbit.db import models as db
from orbit.db.models import Role
from orbit.services import controls
from orbit.services.billing import ensure_horizon
from orbit.services.ids import decode, encode
from tests.api import builders
from tests.api.builders import SYSTEM
from tests.api.conftest import Api, assert_unchanged, snapshot

HORIZON = date(2027, 3, 15)
FAR = date(2036, 2, 13)

LINE = "id periodStart periodEnd dueDate fraction amount { amount currency } isCredit invoiced"
SCHEDULE = f"""
query ($id: ID!, $through: Date) {{
  node(id: $id) {{ ... on OrderProduct {{ schedule(through: $through) {{ {LINE} }} }} }}
}}
"""


async def evergreen(price: str = "30.00", **product: Any) -> tuple[db.Account, db.Contract]:
    account = await builders.account("Evergreen Co")
    item = await builders.product(price, **product)
    contract, _ = await builders.contract(account, item, months=None)
    return account, contract


async def viewer(admin: Api) -> Api:
    return admin.as_((await builders.user(Role.VIEWER)).token)


def computed(line_id: str) -> bool:
    decoded = decode(line_id)
    assert decoded is not None and decoded[0] == "ScheduleLine", line_id
    return not decoded[1].isdigit()


async def test_a_schedule_beyond_the_horizon_is_computed_and_writes_nothing(admin: Api) -> None:
    # 33.33 a year, 2 units billed monthly: 5.555 a month, rounded on from the exact
    # running sum (5.56, 5.55, ...), so the computed lines must carry on the stored ones
    _, contract = await evergreen("33.33", pricing_term_months=12)
    op = await db.OrderProduct.get(contract_id=contract.id)
    assert op.scheduled_through == HORIZON
    await builders.run(date(2026, 1, 1))
    # February (unbilled) and every unbilled line after it wait for 2027-06-01
    await controls.override_billing_dates(
        SYSTEM,
        controls.OverrideInput(order_product_id=op.id, next_billing_date=date(2027, 6, 1)),
    )
    api = await viewer(admin)
    op_id = encode("OrderProduct", op.id)
    before = await snapshot()
    lines = (await api.data(SCHEDULE, {"id": op_id, "through": str(FAR)}))["node"]["schedule"]
    assert_unchanged(before, await snapshot())

    assert len(lines) == 122  # 2026-01 to 2036-02
    assert [ln["periodStart"] for ln in lines[:2]] == ["2026-01-01", "2026-02-01"]
    assert lines[-1]["periodStart"] == "2036-02-01" and lines[-1]["periodEnd"] == "2036-02-29"
    stored = [ln for ln in lines if not computed(ln["id"])]
    ahead = [ln for ln in lines if computed(ln["id"])]
    assert [ln["periodStart"] for ln in stored][-1] == "2027-03-01"
    assert ahead[0]["periodStart"] == "2027-04-01" and len(ahead) == 107
    assert ahead[0]["id"] == encode("ScheduleLine", f"{op.id}@2027-04-01")
    assert all(not ln["invoiced"] and not ln["isCredit"] for ln in ahead)
    amounts = [Decimal(ln["amount"]["amount"]) for ln in lines]
    assert amounts[:4] == [Decimal("5.56"), Decimal("5.55"), Decimal("5.56"), Decimal("5.55")]
    assert sum(amounts) == Decimal("677.71")  # 5.555 x 122, rounded once
    assert len({ln["fraction"] for ln in lines}) == 1
    dues = {ln["periodStart"]: ln["dueDate"] for ln in lines}
    assert dues["2026-01-01"] == "2026-01-01"  # billed
    assert dues["2026-02-01"] == dues["2027-03-01"] == "2027-06-01"  # stored, waiting
    assert dues["2027-04-01"] == dues["2027-05-01"] == "2027-06-01"  # computed, waiting
    assert dues["2027-06-01"] == "2027-06-01" and dues["2036-02-01"] == "2036-02-01"

    # a computed line's ID names it, but resolves to nothing; a stored one resolves
    node = "query ($id: ID!) { node(id: $id) { id } }"
    assert (await api.data(node, {"id": ahead[0]["id"]}))["node"] is None
    assert (await api.data(node, {"id": stored[-1]["id"]}))["node"] == {"id": stored[-1]["id"]}
    # without through: one year ahead (to 2027-02-14), all stored
    default = (await api.data(SCHEDULE, {"id": op_id}))["node"]["schedule"]
    assert [ln["periodStart"] for ln in default][-1] == "2027-02-01"

    # storing the schedule ahead adds exactly the lines computed, as computed
    await ensure_horizon([op], FAR, clock.today())
    again = (await api.data(SCHEDULE, {"id": op_id, "through": str(FAR)}))["node"]["schedule"]
    assert not any(computed(ln["id"]) for ln in again)
    assert [{**ln, "id": None} for ln in again] == [{**ln, "id": None} for ln in lines]


PREVIEW = f"""
  effectiveDate total {{ amount }}
  changes {{
    quantityBefore quantityAfter unitPrice startDate endDate total {{ amount }}
    schedule {{ {LINE.removeprefix("id ").replace(" invoiced", "")} }}
  }}
  terminations {{
    endDate totalChange {{ amount }}
    removedLines {{ periodStart periodEnd dueDate amount {{ amount }} }}
    keptLine {{ periodStart periodEnd amount {{ amount }} }}
    creditLines {{ periodStart periodEnd dueDate amount {{ amount }} }}
    orderProduct {{ id }}
  }}
"""


async def test_previews_beyond_the_horizon_write_nothing_and_are_what_is_applied(
    admin: Api,
) -> None:
    _, contract = await evergreen()
    line = await db.ContractLine.get(contract_id=contract.id)
    item = await builders.product("12.00")
    await builders.run(date(2026, 2, 1))  # January and February billed
    api = await viewer(admin)
    contract_id = encode("Contract", contract.id)
    change = {
        "contractId": contract_id,
        "effectiveDate": "2028-07-01",
        "changes": [
            {"contractLineId": encode("ContractLine", line.id), "quantity": 0},
            {"productId": encode("Product", item.id), "quantity": 1},
        ],
    }
    before = await snapshot()
    preview = (
        await api.data(
            f"query ($input: AmendContractInput!) {{ amendmentPreview(input: $input) {{ "
            f"preview {{ {PREVIEW} }} userErrors {{ code }} }} }}",
            {"input": change},
        )
    )["amendmentPreview"]
    assert_unchanged(before, await snapshot())
    plan = preview["preview"]
    assert plan["total"] is None  # evergreen
    (termination,) = plan["terminations"]
    # lines of 2028-07 to 2029-06 (the default horizon: effective + 12 months - 1 day)
    # are removed; none of them is stored yet
    removed = termination["removedLines"]
    assert (removed[0]["periodStart"], removed[-1]["periodStart"]) == ("2028-07-01", "2029-06-01")
    assert len(removed) == 12 and termination["totalChange"]["amount"] == "-720.00"
    assert termination["endDate"] == "2028-06-30" and termination["creditLines"] == []
    (added,) = plan["changes"]
    assert len(added["schedule"]) == 12 and added["schedule"][0]["periodStart"] == "2028-07-01"

    applied = (
        await admin.data(
            f"mutation ($input: AmendContractInput!) {{ amendContract(input: $input) {{ "
            f"preview {{ {PREVIEW} }} userErrors {{ code }} }} }}",
            {"input": change},
        )
    )["amendContract"]
    assert applied["userErrors"] == [] and applied["preview"] == plan
    op = await db.OrderProduct.get(id=builders.row_of(termination["orderProduct"]["id"]))
    assert op.end_date == date(2028, 6, 30)
    last = await db.ScheduleLine.filter(order_product_id=op.id, removed=False).order_by(
        "-period_start"
    )
    assert last[0].period_end == date(2028, 6, 30)

    # a cancellation further out still, beyond the new product's stored horizon
    # (2029-08-01): quoted with the default horizon, and through a later date
    cancel = {"contractId": contract_id, "effectiveDate": "2029-03-01"}
    quote = (
        "query ($input: CancelContractInput!, $through: Date) { "
        "cancelContractPreview(input: $input, through: $through) { preview { " + PREVIEW + " } } }"
    )
    before = await snapshot()
    quoted = (await api.data(quote, {"input": cancel}))["cancelContractPreview"]["preview"]
    further = (await api.data(quote, {"input": cancel, "through": "2031-02-28"}))[
        "cancelContractPreview"
    ]["preview"]
    assert_unchanged(before, await snapshot())
    (ended,) = quoted["terminations"]  # the 12.00 product's; the original ended before
    assert ended["endDate"] == "2029-02-28"
    assert [ln["periodStart"] for ln in ended["removedLines"]][::11] == [
        "2029-03-01",
        "2030-02-01",
    ]
    assert ended["totalChange"]["amount"] == "-144.00"
    (far,) = further["terminations"]
    assert len(far["removedLines"]) == 24 and far["totalChange"]["amount"] == "-288.00"

    cancelled = (
        await admin.data(
            "mutation ($input: CancelContractInput!) { cancelContract(input: $input) { preview { "
            + PREVIEW
            + " } userErrors { code } } }",
            {"input": cancel},
        )
    )["cancelContract"]
    assert cancelled["userErrors"] == [] and cancelled["preview"] == quoted
    assert (await db.Contract.get(id=contract.id)).end_date == date(2029, 2, 28)
