"""The billing engine: periods, proration, schedules, amendments and terms.

Pure functions over plain values (dates, ``Decimal`` prices, ``Fraction``
exact values). Nothing here does I/O or knows about the database or the API.

Modules, from the ground up:

- ``money``: currencies (ISO 4217 minor units) and rounding
- ``calendar``: month shifts with a clamped day
- ``series``: billing day, anchor and period boundaries
- ``proration``: the share of a period a partial line is worth, per policy
- ``schedule``: an order product's lines, amounts and due dates
- ``lines``: cutting and joining stored lines
- ``terminations``: ending an order product early
- ``amendments``: quantity changes, new products, cancellations, previews
- ``controls``: billing-date overrides and change of billing day
- ``terms``: contract end dates, renewals, annual value
- ``invoicing``: what goes on an account's next document, and what billing it clears
"""
