"""Services: one unit of work (one transaction) per operation.

Each service takes plain inputs and an ``Actor``, loads rows, asks the engine
what to do and writes the result atomically. Failures are ``DomainError``s
with a code from the API contract; a failed operation writes nothing.
"""
